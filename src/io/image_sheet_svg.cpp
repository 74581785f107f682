// A labelled sheet as a standalone SVG: each tile an embedded PNG (data: URI,
// base64) that the viewer magnifies without smoothing, labels and captions as
// XML-escaped <text>, so the file is small and its text is selectable.
#include <sstream>

#include "io/labelled_sheet.hpp"
#include "io/png_encode.hpp"
#include "io/xml_text.hpp"

namespace nmode {
namespace {

constexpr int kFontSize = 16;  // monospace: ~10 units per character, under kSheetAdvance

std::string base64(const std::vector<uint8_t>& b) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((b.size() + 2) / 3 * 4);
  for (size_t i = 0; i < b.size(); i += 3) {
    const uint32_t n = uint32_t{b[i]} << 16 | (i + 1 < b.size() ? uint32_t{b[i + 1]} << 8 : 0u) |
                       (i + 2 < b.size() ? uint32_t{b[i + 2]} : 0u);
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += i + 1 < b.size() ? kDigits[n >> 6 & 63] : '=';
    out += i + 2 < b.size() ? kDigits[n & 63] : '=';
  }
  return out;
}

// The image at its own resolution: the SVG scales it, so the file stays small.
std::string tile_uri(const float* img, const SheetLayout& l, const std::string& path) {
  Raster r("write_labelled_sheet", l.image_cols, l.image_rows, 1, 0);
  for (int64_t y = 0; y < l.image_rows; ++y)
    for (int64_t x = 0; x < l.image_cols; ++x) *r.at(x, y) = gray_byte(img[y * l.image_cols + x]);
  return "data:image/png;base64," + base64(encode_png(r, path));
}

void put_tile(std::ostringstream& o, const SheetLayout& l, size_t row, size_t t, const SheetRow& r,
              const std::string& path) {
  const int64_t x = l.tile_left(t), y = l.row_top(row), cy = y + l.tile_h;
  const int predicted = r.predicted[t], truth = r.truth[t];
  const bool right = predicted == truth;
  o << "<g><title>predicted " << predicted << ", true " << truth << "</title>"
    << "<image x=\"" << x << "\" y=\"" << y << "\" width=\"" << l.tile_w << "\" height=\"" << l.tile_h
    << "\" preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\" style=\"image-rendering:pixelated\" "
    << "xlink:href=\"" << tile_uri(r.images[t], l, path) << "\"/></g>\n";
  o << "<rect x=\"" << x << "\" y=\"" << cy << "\" width=\"" << l.tile_w << "\" height=\"" << kSheetCaptionHeight
    << "\" fill=\"" << (right ? kSheetRightHex : kSheetWrongHex) << "\"/>\n";
  const int64_t baseline = cy + kSheetCaptionPad + kSheetTextHeight;
  o << "<text x=\"" << x + kSheetCaptionPad << "\" y=\"" << baseline << "\" fill=\"#fff\">"
    << xml_escape(sheet_caption(predicted)) << "</text>\n";
  if (!right)
    o << "<text x=\"" << x + l.tile_w - kSheetCaptionPad << "\" y=\"" << baseline
      << "\" text-anchor=\"end\" fill=\"#fff\">x</text>\n";
}

}  // namespace

std::string render_sheet_svg(const std::vector<SheetRow>& rows, const SheetLayout& l, const std::string& path) {
  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" << l.width
    << "\" height=\"" << l.height << "\" viewBox=\"0 0 " << l.width << " " << l.height << "\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
    << "<g font-family=\"monospace\" font-size=\"" << kFontSize << "\">\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    o << "<text x=\"" << kSheetMargin << "\" y=\"" << l.label_top(i) + kSheetTextHeight << "\">"
      << xml_escape(rows[i].label) << "</text>\n";
    for (size_t t = 0; t < rows[i].images.size(); ++t) put_tile(o, l, i, t, rows[i], path);
  }
  o << "</g>\n</svg>\n";
  return o.str();
}

}  // namespace nmode
