// `nmode plot`: an SVG line plot from a CSV file with a header row, one series
// per distinct value of the --group column(s), points sorted by x; the
// experiment scripts in tools/experiments/ draw their curves with it.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>

#include "cli.hpp"
#include "nmode/error.hpp"
#include "nmode/svg_plot.hpp"

namespace nmode::cli {
namespace {

struct PlotArgs {
  std::string csv, x, y, title, xlabel, ylabel, out;
  std::vector<std::string> group, filter;
  bool log_x = false;
};

// One CSV record: fields split on commas; a field in double quotes may hold
// commas, and "" inside it is one quote (RFC 4180, without line breaks).
std::vector<std::string> split_csv_line(const std::string& line, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  if (quoted) throw IoError(where + ": unterminated quoted field");
  return fields;
}

size_t column_index(const std::vector<std::string>& header, const std::string& name, const std::string& option,
                    const std::string& csv) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it != header.end()) return static_cast<size_t>(it - header.begin());
  std::string have;
  for (const std::string& h : header) have += (have.empty() ? "" : ", ") + h;
  throw InvalidArgument(option + " '" + name + "': no such column in " + csv + " (columns: " + have + ")");
}

double parse_number(const std::string& text, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' || errno == ERANGE)
    throw InvalidArgument(where + ": '" + text + "' is not a number");
  return v;
}

std::vector<Series> read_series(const PlotArgs& a) {
  std::ifstream in(a.csv);
  if (!in) throw IoError("cannot open " + a.csv);
  std::string line;
  std::vector<std::string> header;
  int64_t line_no = 0;
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) header = split_csv_line(line, a.csv + ":" + std::to_string(line_no));
  }
  if (header.empty()) throw IoError(a.csv + ": no header row (the file is empty)");
  const size_t xi = column_index(header, a.x, "--x", a.csv), yi = column_index(header, a.y, "--y", a.csv);
  std::vector<size_t> gi;
  for (const std::string& g : a.group) gi.push_back(column_index(header, g, "--group", a.csv));
  std::vector<std::pair<size_t, std::string>> filters;
  for (const std::string& f : a.filter) {
    const size_t eq = f.find('=');
    if (eq == std::string::npos)
      throw InvalidArgument("--filter '" + f + "': expected COLUMN=VALUE, e.g. --filter attack=pgd");
    filters.emplace_back(column_index(header, f.substr(0, eq), "--filter", a.csv), f.substr(eq + 1));
  }

  // Series in order of first appearance, so the CSV's row order sets the legend's.
  std::vector<Series> series;
  std::map<std::string, size_t> index;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = a.csv + ":" + std::to_string(line_no);
    const std::vector<std::string> f = split_csv_line(line, where);
    if (f.size() != header.size())
      throw IoError(where + ": " + std::to_string(f.size()) + " fields, but the header has " +
                    std::to_string(header.size()));
    bool keep = true;
    for (const auto& [col, value] : filters) keep = keep && f[col] == value;
    if (!keep) continue;
    std::string name;
    for (size_t g : gi) name += (name.empty() ? "" : ", ") + f[g];
    if (gi.empty()) name = a.y;
    auto [it, fresh] = index.emplace(name, series.size());
    if (fresh) series.push_back({name, {}, {}});
    Series& s = series[it->second];
    s.x.push_back(parse_number(f[xi], where + ", column " + a.x));
    s.y.push_back(parse_number(f[yi], where + ", column " + a.y));
  }
  if (series.empty())
    throw InvalidArgument(a.csv + ": no data rows" + std::string(filters.empty() ? "" : " match the --filter options"));
  for (Series& s : series) {
    std::vector<size_t> order(s.x.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t p, size_t q) { return s.x[p] < s.x[q]; });
    Series sorted{s.name, {}, {}};
    for (size_t k : order) sorted.x.push_back(s.x[k]), sorted.y.push_back(s.y[k]);
    s = std::move(sorted);
  }
  return series;
}

void run(const PlotArgs& a) {
  const std::vector<Series> series = read_series(a);
  write_svg_line_plot(a.out, a.title, a.xlabel.empty() ? a.x : a.xlabel, a.ylabel.empty() ? a.y : a.ylabel, series,
                      PlotOptions{a.log_x});
  size_t points = 0;
  for (const Series& s : series) points += s.x.size();
  std::printf("wrote %s (%zu series, %zu points)\n", a.out.c_str(), series.size(), points);
}

}  // namespace

void register_plot(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  CLI::App* sub = app.add_subcommand("plot", "SVG line plot of CSV columns (one line per group)");
  sub->add_option("--csv", a->csv, "CSV file with a header row")->required()->check(CLI::ExistingFile);
  sub->add_option("--x", a->x, "Column for the x axis")->required();
  sub->add_option("--y", a->y, "Column for the y axis")->required();
  sub->add_option("--group", a->group, "Column(s) whose values name the series (default: one series)")
      ->expected(0, -1);
  sub->add_option("--filter", a->filter, "Keep only rows with COLUMN=VALUE (repeatable; all must hold)");
  sub->add_option("--title", a->title, "Plot title");
  sub->add_option("--xlabel", a->xlabel, "x axis label (default: the --x column)");
  sub->add_option("--ylabel", a->ylabel, "y axis label (default: the --y column)");
  sub->add_flag("--log-x", a->log_x, "Logarithmic x axis");
  sub->add_option("--out", a->out, "SVG file to write")->required();
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
