// Plots written as PNG files with PLplot (its cairo driver, Debian's plplot-driver-cairo), for the
// science reports: line and scatter plots with error bars (sigma_MAD against the number of
// labels), 2-D density plots (predicted against true redshift), bar charts (the PIT histogram)
// and labelled matrices (a confusion matrix). Each call renders one file through a temporary file
// in the same directory, so a reader never sees half a plot. Calls are serialised (PLplot keeps
// global state); they are cheap (a few milliseconds).
#ifndef GALAXY_TRAINER_PLOT_H_
#define GALAXY_TRAINER_PLOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace galaxy {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;
  // RGB colour.
  unsigned char r = 31, g = 119, b = 180;
  // Draw points (scatter) or connected points (line).
  bool line = false;
  // Optional symmetric error bars (empty, or one per point): y +- y_err.
  std::vector<double> y_err;
};

struct PlotOptions {
  std::string title, x_label, y_label;
  // Axis ranges; when lo >= hi the range is taken from the data.
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  bool log_x = false;
  // Draw the y = x diagonal (for predicted vs true).
  bool diagonal = false;
  // Lines of text written in the top-left corner of the plot (e.g. the metrics).
  std::vector<std::string> notes;
  int width = 800, height = 600;
};

// Renders the series (with a legend of their labels) and writes a PNG. INVALID_ARGUMENT for a
// series whose x and y (or y_err) lengths differ, no finite point at all, a non-positive x on a
// log axis, or a size outside 100..8000 px; FAILED_PRECONDITION when PLplot's PNG driver is not
// installed; errors of the file system pass through.
absl::Status WritePlotPng(const std::string& path, const std::vector<PlotSeries>& series,
                          const PlotOptions& options);

// A 2-D histogram of the points (x, y) on a bins x bins grid over the axis ranges, shaded by
// log(1 + count) (white for none), with the diagonal when options.diagonal and the notes.
absl::Status WriteDensityPlotPng(const std::string& path, const std::vector<double>& x,
                                 const std::vector<double>& y, int bins, const PlotOptions& options);

// Bars of `heights` over the consecutive intervals [edges[i], edges[i+1]); a dashed horizontal
// reference line at `reference` when it is positive (e.g. the flat level of a calibrated PIT
// histogram). edges.size() == heights.size() + 1, increasing.
absl::Status WriteBarPlotPng(const std::string& path, const std::vector<double>& edges,
                             const std::vector<double>& heights, double reference, const PlotOptions& options);

// A matrix of counts (rows: true class, columns: predicted class), shaded by each row's share and
// labelled with the counts; row and column names from `names` (one per class).
absl::Status WriteMatrixPlotPng(const std::string& path, const std::vector<std::vector<int64_t>>& matrix,
                                const std::vector<std::string>& names, const PlotOptions& options);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PLOT_H_
