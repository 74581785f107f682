// Line plots as standalone SVG files (accuracy vs delta, vs t_end, vs width), so
// experiment results can be looked at in a browser without a plotting stack.
#pragma once

#include <string>
#include <vector>

namespace nmode {

// One line of the plot: points (x[i], y[i]) joined in the given order.
struct Series {
  std::string name;  // shown in the legend
  std::vector<double> x, y;
};

struct PlotOptions {
  bool log_x = false;  // logarithmic x axis (every x must then be > 0)
};

// Writes an SVG with the title on top, both axes with ticks and labels (linear:
// steps of 1, 2 or 5 times a power of ten; log: a tick at every distinct x when
// there are at most 12 (a sweep), else at 1, 2, 5 x 10^k or at decades), one
// <polyline> per series in its own colour, point markers (a shape per series:
// circle, square, triangle, diamond, downward triangle) for series of up to 50
// points, and a legend on the right naming every series in order. Text is XML-escaped. The
// file is written to a temporary name beside path and renamed, so readers
// never see half a plot.
// Throws InvalidArgument for an empty path, no series, a series without
// points, x and y of different lengths, non-finite values, or x <= 0 on a log
// axis; IoError when the file cannot be written.
void write_svg_line_plot(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series,
                         const PlotOptions& options = {});

}  // namespace nmode
