// MoCo v2 pretraining (galaxy-train pretrain).
#ifndef GALAXY_TRAINER_PRETRAIN_H_
#define GALAXY_TRAINER_PRETRAIN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/train_options.h"

namespace galaxy {

struct PretrainResult {
  int64_t steps = 0;           // total steps done (including resumed ones)
  std::vector<double> losses;  // loss of each step run in this call
  double images_per_second = 0;
  std::string checkpoint;      // out_dir/checkpoint.pt
  std::string model;           // out_dir/model.pt (written when training completes)
  // The representation monitor's readings of this call, as JSON objects (SslMonitorReading).
  std::vector<std::string> monitor;
};

// Trains, logging progress (loss, accuracy, img/s, ETA), checkpointing every
// options.checkpoint_every steps. With options.resume, continues from out_dir/checkpoint.pt
// exactly (same data order, augmentations and optimizer state), refusing a checkpoint made with
// other settings or data (FAILED_PRECONDITION naming the difference). A non-finite loss stops
// the run (ABORTED, naming the step) and leaves the last good checkpoint in place.
// `stop_after` > 0 stops after that many steps of this call (for tests of resume).
absl::StatusOr<PretrainResult> RunPretrain(const PretrainOptions& options, int64_t stop_after = 0);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PRETRAIN_H_
