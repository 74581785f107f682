// The CSV reader of `nmode plot` (see csv_series.hpp).
#include "csv_series.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>

#include "nmode/error.hpp"

namespace nmode::cli {
namespace {

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

// A value in the file is data, not an option: anything wrong with it is an IoError.
double parse_number(const std::string& text, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end == text.c_str() || *end != '\0' || errno == ERANGE)
    throw IoError(where + ": '" + text + "' is not a number");
  if (!std::isfinite(v)) throw IoError(where + ": '" + text + "' is not a finite number (a plot needs finite values)");
  return v;
}

}  // namespace

std::vector<Series> read_csv_series(const CsvSeriesQuery& query) {
  std::ifstream in(query.csv);
  if (!in) throw IoError("cannot open " + query.csv);
  std::string line;
  std::vector<std::string> header;
  int64_t line_no = 0;
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) header = split_csv_line(line, query.csv + ":" + std::to_string(line_no));
  }
  if (header.empty()) throw IoError(query.csv + ": no header row (the file is empty)");
  const size_t xi = column_index(header, query.x, "--x", query.csv), yi = column_index(header, query.y, "--y", query.csv);
  std::vector<size_t> gi;
  for (const std::string& g : query.group) gi.push_back(column_index(header, g, "--group", query.csv));
  std::vector<std::pair<size_t, std::string>> filters;
  for (const std::string& f : query.filter) {
    const size_t eq = f.find('=');
    if (eq == std::string::npos)
      throw InvalidArgument("--filter '" + f + "': expected COLUMN=VALUE, e.g. --filter attack=pgd");
    filters.emplace_back(column_index(header, f.substr(0, eq), "--filter", query.csv), f.substr(eq + 1));
  }

  // Series in order of first appearance, so the CSV's row order sets the legend's.
  std::vector<Series> series;
  std::map<std::string, size_t> index;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = query.csv + ":" + std::to_string(line_no);
    const std::vector<std::string> f = split_csv_line(line, where);
    if (f.size() != header.size())
      throw IoError(where + ": " + std::to_string(f.size()) + " fields, but the header has " +
                    std::to_string(header.size()));
    bool keep = true;
    for (const auto& [col, value] : filters) keep = keep && f[col] == value;
    if (!keep) continue;
    std::string name;
    for (size_t g : gi) name += (name.empty() ? "" : ", ") + f[g];
    if (gi.empty()) name = query.y;
    auto [it, fresh] = index.emplace(name, series.size());
    if (fresh) series.push_back({name, {}, {}});
    Series& s = series[it->second];
    s.x.push_back(parse_number(f[xi], where + ", column " + query.x));
    s.y.push_back(parse_number(f[yi], where + ", column " + query.y));
  }
  if (series.empty())
    throw IoError(query.csv + ": no data rows" + std::string(filters.empty() ? "" : " match the --filter options"));
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

}  // namespace nmode::cli
