// `nmode plot`: an SVG line plot from a CSV file with a header row, one series
// per distinct value of the --group column(s), points sorted by x; the
// experiment scripts in tools/experiments/ draw their curves with it.
#include <cstdio>

#include "cli.hpp"
#include "csv_series.hpp"
#include "nmode/svg_plot.hpp"

namespace nmode::cli {
namespace {

struct PlotArgs {
  CsvSeriesQuery query;
  std::string title, xlabel, ylabel, out;
  bool log_x = false, json = false;
};

void run(const PlotArgs& a) {
  check_output_path(a.out, "--out");
  const std::vector<Series> series = read_csv_series(a.query);
  const std::string& x_label = a.xlabel.empty() ? a.query.x : a.xlabel;
  const std::string& y_label = a.ylabel.empty() ? a.query.y : a.ylabel;
  write_svg_line_plot(a.out, a.title, x_label, y_label, series, PlotOptions{a.log_x});
  size_t points = 0;
  for (const Series& s : series) points += s.x.size();
  if (a.json) print_json({{"svg", a.out}, {"series", series.size()}, {"points", points}});
  else std::printf("wrote %s (%zu series, %zu points)\n", a.out.c_str(), series.size(), points);
}

}  // namespace

void register_plot(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  CLI::App* sub = app.add_subcommand("plot", "SVG line plot of CSV columns (one line per group)");
  sub->add_option("--csv", a->query.csv, "CSV file with a header row")->required()->check(CLI::ExistingFile);
  sub->add_option("--x", a->query.x, "Column for the x axis")->required();
  sub->add_option("--y", a->query.y, "Column for the y axis")->required();
  sub->add_option("--group", a->query.group, "Column(s) whose values name the series (default: one series)")
      ->expected(0, -1);
  sub->add_option("--filter", a->query.filter, "Keep only rows with COLUMN=VALUE (repeatable; all must hold)");
  sub->add_option("--title", a->title, "Plot title");
  sub->add_option("--xlabel", a->xlabel, "x axis label (default: the --x column)");
  sub->add_option("--ylabel", a->ylabel, "y axis label (default: the --y column)");
  sub->add_flag("--log-x", a->log_x, "Logarithmic x axis");
  sub->add_option("--out", a->out, "SVG file to write")->required();
  sub->add_flag("--json", a->json, "Print what was written as JSON");
  sub->callback([a] { run(*a); });
}

}  // namespace nmode::cli
