// Small plots written as PNG, so that a person can see a result without other software:
// scatter plots (predicted vs true redshift) and line plots (sigma_MAD vs number of labels).
// Text uses a built-in 5x7 pixel font (upper-case letters, digits, a few symbols).
#ifndef GALAXY_CORE_PLOT_H_
#define GALAXY_CORE_PLOT_H_

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
};

struct PlotOptions {
  std::string title, x_label, y_label;
  // Axis ranges; when lo >= hi the range is taken from the data.
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  bool log_x = false;
  // Draw the y = x diagonal (for predicted vs true).
  bool diagonal = false;
  int width = 640, height = 480;
};

// Renders the series and writes a PNG (through a temporary file).
absl::Status WritePlotPng(const std::string& path, const std::vector<PlotSeries>& series,
                          const PlotOptions& options);

}  // namespace galaxy

#endif  // GALAXY_CORE_PLOT_H_
