// Fuzz target: the CSV reader of `nmode plot`, asked for the columns the seed
// files have (x, y, grouped by g, rows with f=1). It must return series of
// matching lengths sorted by x, or throw an nmode::Error.
#include <algorithm>
#include <cstdlib>

#include "csv_series.hpp"
#include "nmode/error.hpp"
#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmode::fuzz::ScratchFile file(".csv");
  nmode::cli::CsvSeriesQuery query;
  query.csv = file.write(data, size);
  query.x = "x";
  query.y = "y";
  query.group = {"g"};
  query.filter = {"f=1"};
  try {
    for (const nmode::Series& s : nmode::cli::read_csv_series(query)) {
      if (s.x.empty() || s.x.size() != s.y.size() || !std::is_sorted(s.x.begin(), s.x.end())) std::abort();
    }
  } catch (const nmode::Error&) {
  }
  return 0;
}
