#include "trainer/train_commands.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "trainer/plot.h"
#include "trainer/redshift_plots.h"

namespace galaxy {

absl::Status RunEvalCommand(const EvalOptions& options, const std::string& json_path,
                            const std::string& plot_path, bool print_json) {
  GALAXY_ASSIGN_OR_RETURN(EvalReport report, RunEval(options));
  const std::string json = EvalReportJson(report);
  if (!json_path.empty()) GALAXY_RETURN_IF_ERROR(WriteFileAtomically(json_path, json + "\n"));
  if (!plot_path.empty()) {
    GALAXY_RETURN_IF_ERROR(WriteRedshiftPlots(plot_path, report, absl::StrCat(report.model_kind, " (test part)")));
  }
  if (print_json) {
    std::cout << json << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("%-22s %8s %10s %9s %8s\n", "model (test part)", "n", "sigma_MAD", "bias", "eta");
  std::cout << absl::StrFormat("%-22s %8d %10.4f %+9.4f %8.3f\n", report.model_kind, report.overall.count,
                               report.overall.sigma_mad, report.overall.bias, report.overall.outlier_rate);
  if (report.has_baseline) {
    const PhotozMetrics& b = report.baseline.test;
    std::cout << absl::StrFormat("%-22s %8d %10.4f %+9.4f %8.3f\n", "kNN on colours", b.count, b.sigma_mad,
                                 b.bias, b.outlier_rate);
    std::cout << absl::StrFormat("%-22s %8d %10.4f\n", "predict the mean", report.baseline.predict_mean.count,
                                 report.baseline.predict_mean.sigma_mad);
  }
  std::string pit;
  for (int64_t c : report.pit_histogram) absl::StrAppend(&pit, pit.empty() ? "" : " ", c);
  std::cout << absl::StrFormat(
      "redshift pdfs (temperature %.3f): mean CRPS %.4f; true z inside the 68%% interval %.3f, the 95%% interval "
      "%.3f\n"
      "  PIT histogram (10 bins, flat when calibrated): %s\n",
      report.pdf_temperature, report.crps_mean, report.coverage_68, report.coverage_95, pit);
  std::cout << "per z_spec bin:\n";
  for (const PhotozMetrics& m : report.per_bin) {
    if (m.count == 0) continue;
    std::cout << absl::StrFormat("  %.2f-%.2f  n=%-6d sigma_MAD %.4f  bias %+.4f  eta %.3f\n", m.z_lo, m.z_hi,
                                 m.count, m.sigma_mad, m.bias, m.outlier_rate);
  }
  return absl::OkStatus();
}

}  // namespace galaxy
