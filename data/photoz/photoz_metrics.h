// Photometric-redshift quality metrics, with dz = (z_phot - z_spec) / (1 + z_spec):
//   sigma_MAD = 1.4826 * median(|dz - median(dz)|)   (robust scatter)
//   bias      = mean(dz)
//   outlier rate eta = fraction of |dz| > 0.05
// The single implementation used by the dataset tools, the trainer and the evaluation.
#ifndef GALAXY_DATA_PHOTOZ_PHOTOZ_METRICS_H_
#define GALAXY_DATA_PHOTOZ_PHOTOZ_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct PhotozMetrics {
  int64_t count = 0;
  double sigma_mad = 0;
  double bias = 0;
  double outlier_rate = 0;
  // Bin bounds when this is one bin of a per-bin breakdown (on z_spec); 0 otherwise.
  double z_lo = 0, z_hi = 0;
};

// Metrics of predictions against truth. INVALID_ARGUMENT when the lengths differ, the input is
// empty, or a value is not finite or z_spec <= -1.
absl::StatusOr<PhotozMetrics> ComputePhotozMetrics(const std::vector<double>& z_phot,
                                                   const std::vector<double>& z_spec);

// The same per z_spec bin [edges[i], edges[i+1]); empty bins are reported with count 0.
absl::StatusOr<std::vector<PhotozMetrics>> ComputePhotozMetricsPerBin(
    const std::vector<double>& z_phot, const std::vector<double>& z_spec,
    const std::vector<double>& edges);

// Robust spread of z itself: 1.4826 * median(|z - median(z)| / (1 + z)), the sigma_MAD of
// predicting the median redshift for everything. A useful model must be well below it.
double RedshiftSpread(const std::vector<double>& z_spec);

// The median of `values` (copied); NaN when empty.
double Median(std::vector<double> values);

// One JSON object: {"count":..,"sigma_mad":..,"bias":..,"outlier_rate":..}.
std::string PhotozMetricsJson(const PhotozMetrics& m);

}  // namespace galaxy

#endif  // GALAXY_DATA_PHOTOZ_PHOTOZ_METRICS_H_
