// Tests for the SVG line plot writer: the file is well-formed XML, holds one
// polyline per series with every point, maps data to pixels monotonically (and
// affinely, in log10 x on a log axis), labels ticks where the mapping puts them,
// names every series in the legend, and rejects bad input with typed errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nmode/error.hpp"
#include "nmode/svg_plot.hpp"

namespace fs = std::filesystem;
using nmode::PlotOptions;
using nmode::Series;
using nmode::write_svg_line_plot;

namespace {

// Coordinates are written with two decimals: a rounding of 0.005 per value.
constexpr double kPixelTol = 0.011;

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::string text;   // character data directly inside (for <text>)
  std::string group;  // class of the nearest enclosing element that has one
};

// A small, strict XML reader: every tag closes in order, attributes are quoted
// and unique, '&' starts one of the five predefined entities, and no '<' or
// '>' appears in character data. Returns the elements in document order.
std::vector<Element> parse_xml(const std::string& doc) {
  std::vector<Element> out;
  std::vector<std::string> stack, classes;  // open tags and their inherited classes
  std::vector<size_t> open_index;
  size_t i = 0;
  const auto fail = [&](const std::string& why) {
    ADD_FAILURE() << why << " at offset " << i;
    throw std::runtime_error(why);
  };
  const auto check_entities = [&](const std::string& s) {
    for (size_t k = 0; k < s.size(); ++k) {
      if (s[k] == '<' || s[k] == '>') fail("raw angle bracket in text or attribute");
      if (s[k] != '&') continue;
      bool ok = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
        if (s.compare(k, std::strlen(e), e) == 0) ok = true;
      if (!ok) fail("bare '&'");
    }
  };
  if (doc.rfind("<?xml", 0) != 0) fail("missing XML declaration");
  i = doc.find("?>");
  if (i == std::string::npos) fail("unterminated XML declaration");
  i += 2;
  while (i < doc.size()) {
    const size_t lt = doc.find('<', i);
    const std::string text = doc.substr(i, lt == std::string::npos ? std::string::npos : lt - i);
    check_entities(text);
    if (!open_index.empty()) out[open_index.back()].text += text;
    if (lt == std::string::npos) break;
    i = lt;
    const size_t gt = doc.find('>', i);
    if (gt == std::string::npos) fail("unterminated tag");
    std::string tag = doc.substr(i + 1, gt - i - 1);
    i = gt + 1;
    if (!tag.empty() && tag[0] == '/') {
      if (stack.empty() || stack.back() != tag.substr(1)) fail("mismatched closing tag </" + tag.substr(1) + ">");
      stack.pop_back();
      classes.pop_back();
      open_index.pop_back();
      continue;
    }
    const bool self_closing = !tag.empty() && tag.back() == '/';
    if (self_closing) tag.pop_back();
    Element e;
    size_t k = 0;
    while (k < tag.size() && !std::isspace(static_cast<unsigned char>(tag[k]))) e.name += tag[k++];
    if (e.name.empty()) fail("empty tag name");
    while (true) {
      while (k < tag.size() && std::isspace(static_cast<unsigned char>(tag[k]))) ++k;
      if (k >= tag.size()) break;
      const size_t eq = tag.find('=', k);
      if (eq == std::string::npos || eq + 1 >= tag.size() || tag[eq + 1] != '"') fail("unquoted attribute");
      const std::string key = tag.substr(k, eq - k);
      const size_t close = tag.find('"', eq + 2);
      if (close == std::string::npos) fail("unterminated attribute value");
      const std::string value = tag.substr(eq + 2, close - eq - 2);
      check_entities(value);
      if (!e.attrs.emplace(key, value).second) fail("duplicate attribute " + key);
      k = close + 1;
    }
    e.group = classes.empty() ? "" : classes.back();
    out.push_back(e);
    if (!self_closing) {
      stack.push_back(e.name);
      classes.push_back(e.attrs.count("class") ? e.attrs.at("class") : e.group);
      open_index.push_back(out.size() - 1);
    }
  }
  if (!stack.empty()) fail("unclosed <" + stack.back() + ">");
  if (out.empty() || out[0].name != "svg") fail("root element is not <svg>");
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::pair<double, double>> parse_points(const std::string& points) {
  std::vector<std::pair<double, double>> out;
  std::istringstream s(points);
  std::string pair;
  while (s >> pair) {
    const size_t comma = pair.find(',');
    EXPECT_NE(comma, std::string::npos) << pair;
    out.emplace_back(std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1)));
  }
  return out;
}

std::vector<const Element*> with_name(const std::vector<Element>& els, const std::string& name) {
  std::vector<const Element*> out;
  for (const Element& e : els)
    if (e.name == name) out.push_back(&e);
  return out;
}

class SvgPlot : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nmode_test_svg_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes, checks no temporary file is left behind, and parses.
  std::vector<Element> plot(const std::vector<Series>& series, const PlotOptions& options = {},
                            const std::string& title = "title", std::string* raw = nullptr) {
    const fs::path p = dir_ / "plot.svg";
    write_svg_line_plot(p.string(), title, "x label", "y label", series, options);
    size_t files = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      ++files;
      EXPECT_EQ(entry.path().filename(), "plot.svg");
    }
    EXPECT_EQ(files, 1u);
    const std::string text = read_text(p);
    if (raw != nullptr) *raw = text;
    EXPECT_EQ(text.find("nan"), std::string::npos);
    EXPECT_EQ(text.find("inf"), std::string::npos);
    return parse_xml(text);
  }

  fs::path dir_;
};

TEST_F(SvgPlot, OnePolylinePerSeriesWithEveryPoint) {
  std::vector<Series> series;
  for (int s = 0; s < 4; ++s) {
    Series sr{"series " + std::to_string(s), {}, {}};
    for (int i = 0; i <= 3 + s; ++i) sr.x.push_back(0.01 * i), sr.y.push_back(0.9 - 0.05 * i * s);
    series.push_back(sr);
  }
  const auto els = plot(series);
  const auto lines = with_name(els, "polyline");
  ASSERT_EQ(lines.size(), series.size());
  for (size_t s = 0; s < series.size(); ++s)
    EXPECT_EQ(parse_points(lines[s]->attrs.at("points")).size(), series[s].x.size()) << "series " << s;
}

TEST_F(SvgPlot, MapsDataAffinelyAndMonotonicallyInsideTheFrame) {
  // Two series over overlapping ranges: pixels must follow one affine map, so
  // every point's pixel can be predicted from the extreme points.
  const std::vector<Series> series = {{"a", {-1.0, 0.5, 2.0, 7.0}, {3.0, -2.0, 10.0, 4.5}},
                                      {"b", {0.0, 1.0, 3.0}, {0.0, 1.0, 9.0}}};
  const auto els = plot(series);
  const auto lines = with_name(els, "polyline");
  ASSERT_EQ(lines.size(), 2u);
  std::vector<std::pair<double, double>> data, pix;
  for (size_t s = 0; s < 2; ++s) {
    const auto p = parse_points(lines[s]->attrs.at("points"));
    ASSERT_EQ(p.size(), series[s].x.size());
    for (size_t i = 0; i < p.size(); ++i) data.emplace_back(series[s].x[i], series[s].y[i]), pix.push_back(p[i]);
  }
  // Independent reference: the affine maps through (x = -1, x = 7) and (y = -2, y = 10).
  const auto find = [&](double x, double y) {
    for (size_t i = 0; i < data.size(); ++i)
      if (data[i].first == x && data[i].second == y) return pix[i];
    ADD_FAILURE() << "point not found";
    return std::pair<double, double>{};
  };
  const auto xa = find(-1, 3), xb = find(7, 4.5), ya = find(0.5, -2), yb = find(2, 10);
  const double sx = (xb.first - xa.first) / 8.0, sy = (yb.second - ya.second) / 12.0;
  EXPECT_GT(sx, 0);  // x grows to the right
  EXPECT_LT(sy, 0);  // y grows upwards (SVG y points down)
  for (size_t i = 0; i < data.size(); ++i) {
    // Each side of the reference adds up to two roundings of kPixelTol / 2.
    EXPECT_NEAR(pix[i].first, xa.first + sx * (data[i].first + 1), 3 * kPixelTol) << i;
    EXPECT_NEAR(pix[i].second, ya.second + sy * (data[i].second + 2), 3 * kPixelTol) << i;
  }
  // All points lie inside the plot frame (the <rect> of the axes group).
  const Element* frame = nullptr;
  for (const Element& e : els)
    if (e.group == "axes" && e.name == "rect") frame = &e;
  ASSERT_NE(frame, nullptr);
  const double fx = std::stod(frame->attrs.at("x")), fy = std::stod(frame->attrs.at("y"));
  const double fw = std::stod(frame->attrs.at("width")), fh = std::stod(frame->attrs.at("height"));
  for (const auto& p : pix) {
    EXPECT_GE(p.first, fx - kPixelTol);
    EXPECT_LE(p.first, fx + fw + kPixelTol);
    EXPECT_GE(p.second, fy - kPixelTol);
    EXPECT_LE(p.second, fy + fh + kPixelTol);
  }
}

// Tick labels sit where the data mapping puts their values: read the x-tick
// texts, and compare their positions to the map fitted from the polyline.
void expect_ticks_on_map(const std::vector<Element>& els, const Series& s, bool log_x) {
  const auto lines = with_name(els, "polyline");
  ASSERT_EQ(lines.size(), 1u);
  const auto p = parse_points(lines[0]->attrs.at("points"));
  const auto u = [&](double x) { return log_x ? std::log10(x) : x; };
  const double scale = (p.back().first - p.front().first) / (u(s.x.back()) - u(s.x.front()));
  std::vector<double> ticks;
  for (const Element& e : els) {
    if (e.group == "x-ticks" && e.name == "text") {
      const double v = std::stod(e.text);
      ticks.push_back(v);
      // Tick label values are exact for the steps used here (1, 2, 5 x 10^k).
      EXPECT_NEAR(std::stod(e.attrs.at("x")), p.front().first + scale * (u(v) - u(s.x.front())), 3 * kPixelTol)
          << "tick " << e.text;
    }
  }
  ASSERT_GE(ticks.size(), 2u);
  for (size_t i = 1; i < ticks.size(); ++i) EXPECT_GT(ticks[i], ticks[i - 1]);
  if (log_x) {
    EXPECT_EQ(ticks, s.x);  // a short sweep gets a tick at every swept value
  } else {
    EXPECT_LE(ticks.front(), s.x.front());  // a linear axis starts and ends on ticks around the data
    EXPECT_GE(ticks.back(), s.x.back());
  }
}

TEST_F(SvgPlot, LinearTicksFollowTheMap) {
  const Series s{"acc", {0.0, 0.01, 0.03, 0.05, 0.1}, {0.98, 0.97, 0.9, 0.8, 0.4}};
  expect_ticks_on_map(plot({s}), s, false);
}

TEST_F(SvgPlot, LogAxisIsAffineInLog10) {
  const Series s{"width", {256, 512, 1024, 2048, 4096}, {0.9, 0.92, 0.95, 0.96, 0.97}};
  const auto els = plot({s}, PlotOptions{true});
  const auto p = parse_points(with_name(els, "polyline")[0]->attrs.at("points"));
  ASSERT_EQ(p.size(), 5u);
  // Doubling x moves the same distance every time on a log axis.
  for (size_t i = 2; i < p.size(); ++i)
    EXPECT_NEAR(p[i].first - p[i - 1].first, p[1].first - p[0].first, 2 * kPixelTol) << i;
  expect_ticks_on_map(els, s, true);
}

TEST_F(SvgPlot, DenseLogAxisTicksAtDecades) {
  Series s{"dense", {}, {}};
  for (int i = 0; i <= 40; ++i) s.x.push_back(std::pow(10.0, -3 + 0.1 * i)), s.y.push_back(i);
  const auto els = plot({s}, PlotOptions{true});
  std::vector<std::string> labels;
  for (const Element& e : els)
    if (e.group == "x-ticks" && e.name == "text") labels.push_back(e.text);
  // 1e-3 .. 10 spans four decades: 1, 2, 5 per decade would be 13 ticks, too many.
  EXPECT_EQ(labels, (std::vector<std::string>{"0.001", "0.01", "0.1", "1", "10"}));
}

TEST_F(SvgPlot, LegendNamesEverySeriesEscapedAndColoursDiffer) {
  std::vector<Series> series;
  for (int s = 0; s < 15; ++s) series.push_back({"model " + std::to_string(s), {0, 1}, {double(s), double(s) + 1}});
  series[3].name = "a<b & \"c\" 't̄'";
  std::string raw;
  const auto els = plot(series, {}, "T & <title>", &raw);
  std::vector<std::string> legend;
  for (const Element& e : els)
    if (e.group == "legend" && e.name == "text") legend.push_back(e.text);
  ASSERT_EQ(legend.size(), series.size());
  for (size_t s = 0; s < series.size(); ++s)
    if (s != 3) {
      EXPECT_EQ(legend[s], series[s].name);
    }
  EXPECT_EQ(legend[3], "a&lt;b &amp; &quot;c&quot; &apos;t̄&apos;");
  EXPECT_NE(raw.find("T &amp; &lt;title&gt;"), std::string::npos);
  std::set<std::string> colours;
  for (const Element* l : with_name(els, "polyline")) colours.insert(l->attrs.at("stroke"));
  EXPECT_EQ(colours.size(), series.size());
}

TEST_F(SvgPlot, DegenerateRangesStayFinite) {
  // One point, and a constant series: the axes must still have a width.
  const auto els = plot({{"one", {2.0}, {0.5}}, {"flat", {2.0, 2.0}, {0.5, 0.5}}});
  for (const Element* l : with_name(els, "polyline"))
    for (const auto& p : parse_points(l->attrs.at("points"))) EXPECT_TRUE(std::isfinite(p.first + p.second));
  plot({{"zero", {0.0}, {0.0}}});
  plot({{"one", {3.0}, {1.0}}}, PlotOptions{true});
}

TEST_F(SvgPlot, OverwritesAnExistingFile) {
  plot({{"first", {0, 1}, {0, 1}}});
  std::string raw;
  plot({{"second", {0, 1}, {0, 1}}}, {}, "title", &raw);
  EXPECT_EQ(raw.find("first"), std::string::npos);
  EXPECT_NE(raw.find("second"), std::string::npos);
}

TEST_F(SvgPlot, RejectsBadInput) {
  const std::string p = (dir_ / "bad.svg").string();
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  const auto write = [&](const std::vector<Series>& s, PlotOptions o = {}) { write_svg_line_plot(p, "t", "x", "y", s, o); };
  EXPECT_THROW(write({}), nmode::InvalidArgument);
  EXPECT_THROW(write({{"empty", {}, {}}}), nmode::InvalidArgument);
  EXPECT_THROW(write({{"ok", {1}, {1}}, {"mismatch", {1, 2}, {1}}}), nmode::InvalidArgument);
  EXPECT_THROW(write({{"nan", {1, nan}, {1, 2}}}), nmode::InvalidArgument);
  EXPECT_THROW(write({{"inf", {1, 2}, {1, -inf}}}), nmode::InvalidArgument);
  EXPECT_THROW(write({{"log", {0, 1}, {1, 2}}}, PlotOptions{true}), nmode::InvalidArgument);
  EXPECT_THROW(write_svg_line_plot("", "t", "x", "y", {{"a", {1}, {1}}}), nmode::InvalidArgument);
  EXPECT_FALSE(fs::exists(p));
  try {
    write({{"mismatch", {1, 2}, {1}}});
  } catch (const nmode::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("mismatch"), std::string::npos) << "the message names the series";
  }
}

TEST_F(SvgPlot, UnwritablePathIsAnIoError) {
  const std::string p = (dir_ / "no_such_folder" / "plot.svg").string();
  EXPECT_THROW(write_svg_line_plot(p, "t", "x", "y", {{"a", {1}, {1}}}), nmode::IoError);
  EXPECT_FALSE(fs::exists(dir_ / "no_such_folder"));
}

}  // namespace
