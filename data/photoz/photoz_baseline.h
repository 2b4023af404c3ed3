// The classical photometric-redshift baseline: k nearest neighbours in the space of de-reddened
// colours and r magnitude, measured by aperture photometry on the images themselves. It works on
// any dataset with spectroscopic redshifts and is the reference the neural models must beat.
#ifndef GALAXY_DATA_PHOTOZ_PHOTOZ_BASELINE_H_
#define GALAXY_DATA_PHOTOZ_PHOTOZ_BASELINE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset_split.h"
#include "data/photoz/photoz_metrics.h"

namespace galaxy {

// k-nearest-neighbour regression on standardised features (Euclidean distance).
class KnnRegressor {
 public:
  // features: n x dim, row-major; targets: n values. INVALID_ARGUMENT for empty or mismatched
  // input, k < 1, or non-finite values.
  static absl::StatusOr<KnnRegressor> Fit(const std::vector<double>& features, int dim,
                                          const std::vector<double>& targets, int k);
  // Mean target of the k nearest training rows, for each of the m rows of `features` (m x dim).
  // Uses `threads` threads (<= 0: all CPUs).
  std::vector<double> Predict(const std::vector<double>& features, int threads = 0) const;

  int dim() const { return dim_; }
  int k() const { return k_; }

 private:
  int dim_ = 0, k_ = 0;
  std::vector<double> mean_, inv_std_;
  std::vector<float> train_;  // standardised, n x dim
  std::vector<double> targets_;
};

// Colour features and redshifts of one dataset's galaxies with a known redshift.
struct ColourTable {
  int dim = 0;
  std::vector<double> features;  // rows x dim
  std::vector<double> z;
  std::vector<int64_t> ids;
};

// Reads `path` in batches, measures aperture photometry and colour features (data/photoz/photometry.h)
// of every galaxy with a finite, non-negative specz_redshift. FAILED_PRECONDITION when the file
// has no redshifts.
absl::StatusOr<ColourTable> MeasureColourTable(const std::string& path, int threads = 0);

struct PhotozBaselineReport {
  int k = 0;
  int64_t train_count = 0, test_count = 0;
  PhotozMetrics test;                      // kNN on the test part
  std::vector<PhotozMetrics> per_bin;      // on z_spec bins of 0.05
  PhotozMetrics predict_mean;              // predicting the training mean z for everything
  double z_spread = 0;                     // RedshiftSpread of the test redshifts
};

// The same features from the catalog's own magnitudes instead of the pixels: the columns
// mag_u .. mag_z (dust-corrected total magnitudes; on a synthetic survey, noise-free truth),
// giving the r magnitude and the four colours. It measures how much of the redshift the colours
// themselves hold, whatever the photometric noise. NOT_FOUND naming a missing column;
// FAILED_PRECONDITION when the file has no redshifts.
absl::StatusOr<ColourTable> CatalogColourTable(const std::string& path);

// Splits by ID hash (data/dataset_split.h), fits on train, evaluates on test.
absl::StatusOr<PhotozBaselineReport> RunColourKnnBaseline(const ColourTable& table, int k,
                                                          const SplitFractions& fractions,
                                                          uint64_t split_seed, int threads = 0);

// The report as one JSON object.
std::string PhotozBaselineJson(const PhotozBaselineReport& report);

}  // namespace galaxy

#endif  // GALAXY_DATA_PHOTOZ_PHOTOZ_BASELINE_H_
