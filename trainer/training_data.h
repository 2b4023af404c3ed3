// A dataset (or a part of it) loaded into tensors for training and evaluation.
#ifndef GALAXY_TRAINER_TRAINING_DATA_H_
#define GALAXY_TRAINER_TRAINING_DATA_H_

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset_split.h"
#include "data/galaxy_batch.h"
#include "model/augment.h"
#include "trainer/dataset_cache.h"

namespace galaxy {

// Which rows to load.
struct RowSelection {
  // Only this part of the ID-hash split (unset: every row).
  bool use_split = false;
  SplitPart part = SplitPart::kTrain;
  SplitFractions fractions;
  uint64_t split_seed = 0;
  // Only rows with a known redshift (finite, >= 0).
  bool require_redshift = false;
  // Keep this fraction of the selected rows, chosen by a second ID hash; nested: the rows kept at
  // 0.01 are among those kept at 0.05, and so on. Default 1 (all).
  double label_fraction = 1.0;
  // Extra columns to load as tensors (e.g. "type"); missing ones are skipped.
  std::vector<std::string> extra_columns;
};

// The galaxies with a known redshift in one part of the ID-hash split.
RowSelection LabelledPart(SplitPart part, const SplitFractions& fractions, uint64_t split_seed);

struct TrainingData {
  std::string path;
  DatasetLayout layout;
  torch::Tensor images;    // N x C x H x W float32, CPU
  torch::Tensor e_bv;      // N float32
  torch::Tensor redshift;  // N float32, NaN = unknown
  std::vector<int64_t> ids;
  std::map<std::string, torch::Tensor> extra;  // N float64 each
  int64_t size() const { return images.defined() ? images.size(0) : 0; }
};

// Loads the selected rows (from memory under a ScopedDatasetCache). RESOURCE_EXHAUSTED when they would take more than `max_bytes` of
// memory (the message gives the size and what to do); FAILED_PRECONDITION when no row is
// selected. Errors of the reader (file, key) pass through.
absl::StatusOr<TrainingData> LoadTrainingData(const std::string& path,
                                              const RowSelection& selection,
                                              int64_t max_bytes = 0);

// Moves the images and the per-galaxy columns (E(B-V), redshift) to `device` (a GPU) so that
// batches never cross the bus; true when they fit. When they do not, `data` stays as it was (on
// the CPU), a warning says so, and false comes back: batches are then copied each step.
bool MoveToDeviceIfItFits(TrainingData* data, const torch::Device& device);

// The order in which training visits the data: a fresh permutation of the rows per epoch,
// drawn from the seed, so that a run (and a resumed run) sees the same batches.
class EpochOrder {
 public:
  EpochOrder(int64_t rows, uint64_t seed) : rows_(rows), seed_(seed) {}
  // Row indices of the `batch` galaxies of step `step` (batch <= rows).
  torch::Tensor Batch(int64_t step, int64_t batch);

 private:
  int64_t rows_;
  uint64_t seed_;
  int64_t epoch_ = -1;
  std::vector<int64_t> perm_;
};

// Whether galaxy `id` is inside the label fraction (the nested second hash).
bool InLabelFraction(int64_t id, double fraction);

// Whether a catalog redshift is known (finite and >= 0; NaN or negative: unlabelled).
inline bool HasKnownRedshift(float z) { return std::isfinite(z) && z >= 0; }

// The augmentations of training on labels (redshift, and the probe's network from scratch):
// geometric ones, blur up to 0.5 px and noise up to the data's `band_noise`; no dust reddening
// (colours carry the redshift); no extinction correction for other than 5 bands.
AugmentOptions LabelTrainingAugmentations(int64_t crop, const std::vector<double>& band_noise, int64_t bands);

// Sets the learning rate of each of the optimizer's parameter groups (rates in group order).
void SetLearningRates(torch::optim::Adam& optimizer, const std::vector<double>& rates);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAINING_DATA_H_
