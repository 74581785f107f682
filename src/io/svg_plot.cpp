// SVG line plots: axis ranges with "nice" ticks, one polyline per series, a
// legend, XML-escaped text, and an atomic write (temporary file + rename).
#include "nmode/svg_plot.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <sstream>

#include "io/atomic_file.hpp"
#include "nmode/error.hpp"
#include "io/xml_text.hpp"

namespace nmode {
namespace {

// Canvas layout in SVG user units (pixels).
constexpr double kPlotRight = 560, kMinHeight = 480;
constexpr double kLeft = 80, kTop = 50, kBottomMargin = 60, kMinLegendWidth = 200;
constexpr double kCharWidth = 7;  // a generous average for 12-px sans-serif
constexpr double kLegendRow = 20;
constexpr size_t kMaxMarkedPoints = 50;  // above this, markers only clutter the line

// matplotlib's tab10: ten colours that stay distinguishable side by side.
constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

std::string hex_colour(double r, double g, double b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", static_cast<unsigned>(std::lround(r * 255)),
                static_cast<unsigned>(std::lround(g * 255)), static_cast<unsigned>(std::lround(b * 255)));
  return buf;
}

// Past the palette, hues advance by the golden angle so that consecutive
// series stay far apart on the colour wheel (HSL with s = 0.65, l = 0.42).
std::string series_colour(size_t i) {
  if (i < kPaletteSize) return kPalette[i];
  const double h = std::fmod(static_cast<double>(i - kPaletteSize) * 137.508 + 15.0, 360.0) / 60.0;
  const double s = 0.65, l = 0.42;
  const double c = (1 - std::fabs(2 * l - 1)) * s, x = c * (1 - std::fabs(std::fmod(h, 2.0) - 1)), m = l - c / 2;
  double r = 0, g = 0, b = 0;
  switch (static_cast<int>(h)) {
    case 0: r = c, g = x; break;
    case 1: r = x, g = c; break;
    case 2: g = c, b = x; break;
    case 3: g = x, b = c; break;
    case 4: r = x, b = c; break;
    default: r = c, b = x; break;
  }
  return hex_colour(r + m, g + m, b + m);
}

// Code points, not bytes, so names like "t̄" or "δ" are not counted twice.
size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (char ch : s) n += (static_cast<unsigned char>(ch) & 0xC0) != 0x80;
  return n;
}

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Marker shapes cycle with the series, so lines that coincide (two attacks that
// find the same points) still show both: circle, square, triangle, diamond,
// downward triangle.
constexpr int kMarkerShapes = 5;

void write_marker(std::ostringstream& o, size_t series_index, double x, double y) {
  char buf[160];
  const double r = 3.5;
  switch (static_cast<int>(series_index % kMarkerShapes)) {
    case 0: std::snprintf(buf, sizeof buf, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"/>", x, y, r); break;
    case 1:
      std::snprintf(buf, sizeof buf, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", x - r, y - r,
                    2 * r, 2 * r);
      break;
    case 2:
      std::snprintf(buf, sizeof buf, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\"/>", x, y - 1.2 * r, x + r,
                    y + 0.8 * r, x - r, y + 0.8 * r);
      break;
    case 3:
      std::snprintf(buf, sizeof buf, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f\"/>", x, y - 1.3 * r,
                    x + 1.3 * r, y, x, y + 1.3 * r, x - 1.3 * r, y);
      break;
    default:
      std::snprintf(buf, sizeof buf, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\"/>", x, y + 1.2 * r, x + r,
                    y - 0.8 * r, x - r, y - 0.8 * r);
      break;
  }
  o << buf << "\n";
}

// An axis maps data values to [0, 1] and carries its tick values and labels.
struct Axis {
  bool log = false;
  double lo = 0, hi = 1;  // in log10 units on a log axis
  std::vector<double> ticks;
  std::vector<std::string> labels;

  double unit(double v) const { return ((log ? std::log10(v) : v) - lo) / (hi - lo); }
};

// 1, 2 or 5 times a power of ten, near range / target.
double nice_step(double range, double target) {
  const double raw = range / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

Axis linear_axis(double vmin, double vmax) {
  if (vmax - vmin <= std::max(std::fabs(vmin), std::fabs(vmax)) * 1e-12) {
    // A single value: centre it in a window of +-10% (or +-1 around zero).
    const double pad = vmin == 0 ? 1.0 : std::fabs(vmin) * 0.1;
    vmin -= pad;
    vmax += pad;
  }
  const double step = nice_step(vmax - vmin, 6);
  Axis a;
  const double k0 = std::floor(vmin / step * (1 + 1e-12)), k1 = std::ceil(vmax / step * (1 - 1e-12));
  a.lo = k0 * step;
  a.hi = k1 * step;
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  const std::string format = "%." + std::to_string(decimals) + "f";
  for (double k = k0; k <= k1 + 0.5; k += 1) {
    double v = k * step;
    if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0.00"
    a.ticks.push_back(v);
    a.labels.push_back(fmt(format.c_str(), v));
  }
  return a;
}

// Sweeps on a log axis (widths 256..4096, t_end 0.05..5) read best with a tick
// at every swept value; denser data gets ticks at 1, 2, 5 x 10^k.
Axis log_axis(const std::vector<Series>& series, double vmin, double vmax) {
  Axis a;
  a.log = true;
  double lo = std::log10(vmin), hi = std::log10(vmax);
  if (hi - lo < 1e-12) lo -= 0.5, hi += 0.5;  // a single value: one decade around it
  const double pad = 0.04 * (hi - lo);
  a.lo = lo - pad;
  a.hi = hi + pad;
  std::vector<double> distinct;
  for (const Series& s : series) distinct.insert(distinct.end(), s.x.begin(), s.x.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  constexpr size_t kMaxDataTicks = 12;
  if (distinct.size() <= kMaxDataTicks) {
    a.ticks = distinct;
  } else {
    const auto collect = [&](std::initializer_list<double> mantissas) {
      a.ticks.clear();
      for (int e = static_cast<int>(std::floor(a.lo)) - 1; e <= static_cast<int>(std::ceil(a.hi)); ++e)
        for (double m : mantissas) {
          const double v = m * std::pow(10.0, e), l = std::log10(v);
          if (l >= a.lo && l <= a.hi) a.ticks.push_back(v);
        }
    };
    collect({1, 2, 5});
    if (a.ticks.size() > 10) collect({1});
    if (a.ticks.size() < 2) a.ticks = {vmin, vmax};
  }
  for (double v : a.ticks) a.labels.push_back(fmt("%g", v));
  return a;
}


void validate(const std::string& path, const std::vector<Series>& series, const PlotOptions& options) {
  if (path.empty()) throw InvalidArgument("write_svg_line_plot: path is empty; pass the .svg file to write");
  if (series.empty()) throw InvalidArgument("write_svg_line_plot: no series to plot; pass at least one");
  for (size_t s = 0; s < series.size(); ++s) {
    const Series& sr = series[s];
    const std::string who = "series " + std::to_string(s) + " ('" + sr.name + "')";
    if (sr.x.size() != sr.y.size())
      throw InvalidArgument("write_svg_line_plot: " + who + " has " + std::to_string(sr.x.size()) + " x values but " +
                            std::to_string(sr.y.size()) + " y values; they must match");
    if (sr.x.empty()) throw InvalidArgument("write_svg_line_plot: " + who + " has no points");
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!std::isfinite(sr.x[i]) || !std::isfinite(sr.y[i]))
        throw InvalidArgument("write_svg_line_plot: " + who + " point " + std::to_string(i) + " is not finite (x = " +
                              fmt("%g", sr.x[i]) + ", y = " + fmt("%g", sr.y[i]) + ")");
      if (options.log_x && !(sr.x[i] > 0))
        throw InvalidArgument("write_svg_line_plot: " + who + " point " + std::to_string(i) + " has x = " +
                              fmt("%g", sr.x[i]) + ", but a log x axis needs x > 0");
    }
  }
}

}  // namespace

void write_svg_line_plot(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series, const PlotOptions& options) {
  validate(path, series, options);
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Series& s : series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      xmin = std::min(xmin, s.x[i]), xmax = std::max(xmax, s.x[i]);
      ymin = std::min(ymin, s.y[i]), ymax = std::max(ymax, s.y[i]);
    }
  const Axis ax = options.log_x ? log_axis(series, xmin, xmax) : linear_axis(xmin, xmax);
  const Axis ay = linear_axis(ymin, ymax);

  // The legend may need more room than the default width and height give.
  size_t longest = 0;
  for (const Series& s : series) longest = std::max(longest, utf8_length(s.name));
  const double legend_width = std::max(kMinLegendWidth, 60 + kCharWidth * static_cast<double>(longest));
  const double width = kPlotRight + legend_width;
  const double height =
      std::max(kMinHeight, kTop + kLegendRow * static_cast<double>(series.size()) + 10 + kBottomMargin);
  const double left = kLeft, right = kPlotRight, top = kTop, bottom = height - kBottomMargin;
  const auto px = [&](double x) { return left + ax.unit(x) * (right - left); };
  const auto py = [&](double y) { return bottom - ay.unit(y) * (bottom - top); };
  const auto num = [](double v) { return fmt("%.2f", v); };

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\"" << num(height)
    << "\" viewBox=\"0 0 " << num(width) << " " << num(height) << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect x=\"0\" y=\"0\" width=\"" << num(width) << "\" height=\"" << num(height) << "\" fill=\"white\"/>\n"
    << "<text x=\"" << num((left + right) / 2) << "\" y=\"" << num(top / 2 + 5)
    << "\" text-anchor=\"middle\" font-size=\"16\">" << xml_escape(title) << "</text>\n";

  o << "<g class=\"grid\" stroke=\"#e0e0e0\" stroke-width=\"1\">\n";
  for (double t : ax.ticks)
    o << "<line x1=\"" << num(px(t)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(px(t)) << "\" y2=\""
      << num(bottom) << "\"/>\n";
  for (double t : ay.ticks)
    o << "<line x1=\"" << num(left) << "\" y1=\"" << num(py(t)) << "\" x2=\"" << num(right) << "\" y2=\""
      << num(py(t)) << "\"/>\n";
  o << "</g>\n";

  o << "<g class=\"axes\" stroke=\"black\" stroke-width=\"1\" fill=\"none\">\n"
    << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(right - left) << "\" height=\""
    << num(bottom - top) << "\"/>\n";
  for (double t : ax.ticks)
    o << "<line x1=\"" << num(px(t)) << "\" y1=\"" << num(bottom) << "\" x2=\"" << num(px(t)) << "\" y2=\""
      << num(bottom + 5) << "\"/>\n";
  for (double t : ay.ticks)
    o << "<line x1=\"" << num(left - 5) << "\" y1=\"" << num(py(t)) << "\" x2=\"" << num(left) << "\" y2=\""
      << num(py(t)) << "\"/>\n";
  o << "</g>\n";

  o << "<g class=\"x-ticks\" text-anchor=\"middle\">\n";
  for (size_t i = 0; i < ax.ticks.size(); ++i)
    o << "<text x=\"" << num(px(ax.ticks[i])) << "\" y=\"" << num(bottom + 19) << "\">" << xml_escape(ax.labels[i])
      << "</text>\n";
  o << "</g>\n<g class=\"y-ticks\" text-anchor=\"end\">\n";
  for (size_t i = 0; i < ay.ticks.size(); ++i)
    o << "<text x=\"" << num(left - 8) << "\" y=\"" << num(py(ay.ticks[i]) + 4) << "\">" << xml_escape(ay.labels[i])
      << "</text>\n";
  o << "</g>\n";
  o << "<text class=\"x-label\" x=\"" << num((left + right) / 2) << "\" y=\"" << num(bottom + 45)
    << "\" text-anchor=\"middle\" font-size=\"14\">" << xml_escape(x_label) << "</text>\n";
  const double ylx = 20, yly = (top + bottom) / 2;
  o << "<text class=\"y-label\" x=\"" << num(ylx) << "\" y=\"" << num(yly) << "\" transform=\"rotate(-90 "
    << num(ylx) << " " << num(yly) << ")\" text-anchor=\"middle\" font-size=\"14\">" << xml_escape(y_label)
    << "</text>\n";

  for (size_t s = 0; s < series.size(); ++s) {
    const Series& sr = series[s];
    const std::string colour = series_colour(s);
    // Past the palette, a dash pattern separates series whose hues come close.
    const std::string dash = s < kPaletteSize ? "" : " stroke-dasharray=\"6 3\"";
    o << "<polyline class=\"series\" fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\"" << dash
      << " points=\"";
    for (size_t i = 0; i < sr.x.size(); ++i) o << (i ? " " : "") << num(px(sr.x[i])) << "," << num(py(sr.y[i]));
    o << "\"/>\n";
    if (sr.x.size() <= kMaxMarkedPoints) {
      o << "<g class=\"markers\" fill=\"" << colour << "\">\n";
      for (size_t i = 0; i < sr.x.size(); ++i) write_marker(o, s, px(sr.x[i]), py(sr.y[i]));
      o << "</g>\n";
    }
  }

  o << "<g class=\"legend\">\n";
  for (size_t s = 0; s < series.size(); ++s) {
    const double y = top + 10 + kLegendRow * static_cast<double>(s);
    const std::string dash = s < kPaletteSize ? "" : " stroke-dasharray=\"6 3\"";
    o << "<line x1=\"" << num(right + 15) << "\" y1=\"" << num(y) << "\" x2=\"" << num(right + 40) << "\" y2=\""
      << num(y) << "\" stroke=\"" << series_colour(s) << "\" stroke-width=\"2\"" << dash << "/>\n"
      << "<g fill=\"" << series_colour(s) << "\">\n";
    write_marker(o, s, right + 27.5, y);
    o << "</g>\n"
      << "<text x=\"" << num(right + 46) << "\" y=\"" << num(y + 4) << "\">" << xml_escape(series[s].name)
      << "</text>\n";
  }
  o << "</g>\n</svg>\n";
  const std::string text = o.str();
  try {
    write_file_atomically(path, text.data(), text.size());
  } catch (const IoError& e) {
    throw IoError(std::string("write_svg_line_plot: ") + e.what());
  }
}

}  // namespace nmode
