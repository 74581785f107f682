// Text for XML attributes and elements: the escaping both SVG writers (plots and
// image sheets) share.
#pragma once

#include <string>

namespace nmode {

inline std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 forbids control characters other than tab, newline and CR.
        out += (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') ? ' ' : ch;
    }
  }
  return out;
}

}  // namespace nmode
