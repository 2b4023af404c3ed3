#include "trainer/redshift_plots.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "trainer/plot.h"

namespace galaxy {

std::string SiblingPath(const std::string& path, const std::string& suffix) {
  const std::filesystem::path p(path);
  return (p.parent_path() / (p.stem().string() + suffix + p.extension().string())).string();
}

absl::Status WriteRedshiftPlots(const std::string& path, const EvalReport& report, const std::string& title) {
  const PhotozMetrics& m = report.overall;
  PlotOptions o;
  o.title = title;
  o.x_label = "true redshift (spectroscopic)";
  o.y_label = "predicted redshift";
  o.x_lo = o.y_lo = 0;
  o.x_hi = o.y_hi = 0.4;
  o.diagonal = true;
  o.notes = {absl::StrFormat("N = %d", m.count), absl::StrFormat("sigma_MAD = %.4f", m.sigma_mad),
             absl::StrFormat("bias = %+.4f", m.bias), absl::StrFormat("outliers (|dz|/(1+z) > 0.05) = %.2f%%", 100 * m.outlier_rate)};
  GALAXY_RETURN_IF_ERROR(WriteDensityPlotPng(path, report.z_spec, report.z_phot, 80, o));

  PlotSeries sigma{"sigma_MAD", {}, {}, 31, 119, 180, true, {}};
  PlotSeries bias{"bias", {}, {}, 214, 39, 40, true, {}};
  PlotSeries eta{"outlier rate / 10", {}, {}, 44, 160, 44, true, {}};
  for (const PhotozMetrics& bin : report.per_bin) {
    if (bin.count < 20) continue;  // too few galaxies for a robust width
    const double centre = 0.5 * (bin.z_lo + bin.z_hi);
    sigma.x.push_back(centre);
    sigma.y.push_back(bin.sigma_mad);
    bias.x.push_back(centre);
    bias.y.push_back(bin.bias);
    eta.x.push_back(centre);
    eta.y.push_back(bin.outlier_rate / 10);
  }
  if (!sigma.x.empty()) {
    PlotOptions b;
    b.title = "metrics per true-redshift bin";
    b.x_label = "true redshift";
    b.y_label = "sigma_MAD, bias, outlier rate / 10";
    b.x_lo = 0;
    b.x_hi = 0.4;
    GALAXY_RETURN_IF_ERROR(WritePlotPng(SiblingPath(path, "_per_bin"), {sigma, bias, eta}, b));
  }
  if (!report.pit_histogram.empty()) {
    std::vector<double> edges, heights;
    const double bins = static_cast<double>(report.pit_histogram.size());
    const double total = std::max<double>(1, static_cast<double>(report.pit.size()));
    for (size_t i = 0; i <= report.pit_histogram.size(); ++i) edges.push_back(static_cast<double>(i) / bins);
    for (int64_t c : report.pit_histogram) heights.push_back(static_cast<double>(c) / total * bins);
    PlotOptions p;
    p.title = "PIT histogram (flat at 1 when the pdfs are calibrated)";
    p.x_label = "PIT = CDF(true redshift)";
    p.y_label = "density";
    p.notes = {absl::StrFormat("CRPS = %.4f", report.crps_mean),
               absl::StrFormat("68%% interval holds %.1f%%", 100 * report.coverage_68),
               absl::StrFormat("95%% interval holds %.1f%%", 100 * report.coverage_95)};
    GALAXY_RETURN_IF_ERROR(WriteBarPlotPng(SiblingPath(path, "_pit"), edges, heights, 1.0, p));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
