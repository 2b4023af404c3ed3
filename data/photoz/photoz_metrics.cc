#include "data/photoz/photoz_metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace galaxy {

double Median(std::vector<double> values) {
  if (values.empty()) return std::nan("");
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

absl::StatusOr<PhotozMetrics> ComputePhotozMetrics(const std::vector<double>& z_phot,
                                                   const std::vector<double>& z_spec) {
  if (z_phot.size() != z_spec.size()) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%d predictions for %d true redshifts", z_phot.size(), z_spec.size()));
  }
  if (z_phot.empty()) return absl::InvalidArgumentError("no redshifts to evaluate");
  std::vector<double> dz(z_phot.size());
  double sum = 0;
  int64_t outliers = 0;
  for (size_t i = 0; i < dz.size(); ++i) {
    if (!std::isfinite(z_phot[i]) || !std::isfinite(z_spec[i]) || z_spec[i] <= -1) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "redshift pair %d is invalid (z_phot %g, z_spec %g)", i, z_phot[i], z_spec[i]));
    }
    dz[i] = (z_phot[i] - z_spec[i]) / (1 + z_spec[i]);
    sum += dz[i];
    outliers += std::abs(dz[i]) > 0.05 ? 1 : 0;
  }
  const double med = Median(dz);
  std::vector<double> dev(dz.size());
  for (size_t i = 0; i < dz.size(); ++i) dev[i] = std::abs(dz[i] - med);
  PhotozMetrics m;
  m.count = static_cast<int64_t>(dz.size());
  m.sigma_mad = 1.4826 * Median(std::move(dev));
  m.bias = sum / static_cast<double>(dz.size());
  m.outlier_rate = static_cast<double>(outliers) / static_cast<double>(dz.size());
  return m;
}

absl::StatusOr<std::vector<PhotozMetrics>> ComputePhotozMetricsPerBin(
    const std::vector<double>& z_phot, const std::vector<double>& z_spec,
    const std::vector<double>& edges) {
  if (edges.size() < 2 || !std::is_sorted(edges.begin(), edges.end())) {
    return absl::InvalidArgumentError("bin edges must be at least two, ascending");
  }
  std::vector<PhotozMetrics> out;
  for (size_t b = 0; b + 1 < edges.size(); ++b) {
    std::vector<double> p, s;
    for (size_t i = 0; i < z_spec.size() && i < z_phot.size(); ++i) {
      if (z_spec[i] >= edges[b] && z_spec[i] < edges[b + 1]) {
        p.push_back(z_phot[i]);
        s.push_back(z_spec[i]);
      }
    }
    PhotozMetrics m;
    if (!p.empty()) {
      absl::StatusOr<PhotozMetrics> r = ComputePhotozMetrics(p, s);
      if (!r.ok()) return r.status();
      m = *r;
    }
    m.z_lo = edges[b];
    m.z_hi = edges[b + 1];
    out.push_back(m);
  }
  return out;
}

double RedshiftSpread(const std::vector<double>& z_spec) {
  if (z_spec.empty()) return std::nan("");
  const double med = Median(z_spec);
  std::vector<double> dev;
  dev.reserve(z_spec.size());
  for (double z : z_spec) dev.push_back(std::abs(z - med) / (1 + z));
  return 1.4826 * Median(std::move(dev));
}

std::string PhotozMetricsJson(const PhotozMetrics& m) {
  std::string out = absl::StrFormat(
      "{\"count\":%d,\"sigma_mad\":%.6f,\"bias\":%.6f,\"outlier_rate\":%.6f", m.count, m.sigma_mad,
      m.bias, m.outlier_rate);
  if (m.z_hi > m.z_lo) absl::StrAppendFormat(&out, ",\"z_lo\":%.4f,\"z_hi\":%.4f", m.z_lo, m.z_hi);
  return out + "}";
}

}  // namespace galaxy
