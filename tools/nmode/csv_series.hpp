// Plot series from a CSV file with a header row: one series per distinct value
// of the group column(s), points sorted by x. `nmode plot` draws them; the
// reader is its own unit so the fuzz target can reach it (fuzz/fuzz_csv.cpp).
#pragma once

#include <string>
#include <vector>

#include "nmode/svg_plot.hpp"

namespace nmode::cli {

struct CsvSeriesQuery {
  std::string csv;                  // the file
  std::string x, y;                 // column names
  std::vector<std::string> group;   // columns whose values name a series (none: one series named y)
  std::vector<std::string> filter;  // COLUMN=VALUE: rows must match all
};

// Throws IoError for an unreadable or malformed file (unterminated quote, a row
// of another width, no header, a field that is not a finite number, no matching
// data rows) and InvalidArgument for an unknown column or a malformed --filter;
// messages name the file and line.
std::vector<Series> read_csv_series(const CsvSeriesQuery& query);

}  // namespace nmode::cli
