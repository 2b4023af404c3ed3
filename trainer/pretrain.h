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
  std::string checkpoint;      // out_dir/checkpoint.pt (empty on ranks other than 0)
  std::string model;           // out_dir/model.pt (written when training completes, by rank 0)
  // Data-parallel training (WORLD_SIZE > 1): this process's rank and the group's size;
  // images_per_second is then the whole group's.
  int rank = 0, world_size = 1;
  // The representation monitor's readings of the run, as JSON objects (SslMonitorReading); a
  // resumed run's include those made before the resume.
  std::vector<std::string> monitor;
};

struct AugmentOptions;
struct TrainingData;

// The two views' augmentation of a pretraining run with `options` on `data` (crop `crop` px,
// noise in units of `band_noise`): what RunPretrain draws from, and what a fine-tuning run that
// keeps the contrastive loss (FinetuneOptions::ssl_weight) draws again. The survey dust
// distribution is fitted to data.e_bv.
AugmentOptions ContrastiveViews(const PretrainOptions& options, const TrainingData& data,
                                const std::vector<double>& band_noise, int64_t crop);

// The options of the pretraining recorded in a model's metadata (ModelMetadata::training_json of
// a galaxy-train pretrain model): queue, momentum, temperature, shuffling BatchNorm and the
// views; what the record lacks keeps its default. INVALID_ARGUMENT when it is not such a record.
// Multi-crop's local views (local_crops) are not read: the contrast fine-tuning keeps
// (--ssl-weight) is the global pair's alone.
absl::StatusOr<PretrainOptions> PretrainingOf(const std::string& training_json);

// Trains, logging progress (loss, accuracy, img/s, ETA), checkpointing every
// options.checkpoint_every steps. With options.resume, continues from out_dir/checkpoint.pt
// exactly (same data order, augmentations and optimizer state), refusing a checkpoint made with
// other settings or data (FAILED_PRECONDITION naming the difference). A non-finite loss stops
// the run (ABORTED, naming the step) and leaves the last good checkpoint in place.
// `stop_after` > 0 stops after that many steps of this call (for tests of resume).
//
// Under torchrun's variables with WORLD_SIZE > 1 (trainer/data_parallel.h), trains as one rank
// of a data-parallel group: each rank takes every WORLD_SIZE-th galaxy of each global batch of
// options.batch, the gradients are averaged, the keys of the whole batch go into every rank's
// queue, and shuffling BatchNorm's options.bn_splits sub-batches are divided among the ranks
// (bn_splits a multiple of WORLD_SIZE) or, with bn_splits 1, BatchNorm is synchronised across
// them: the group computes what one process would, to float rounding. Every rank reads --data
// and, on --resume, the checkpoint in out_dir (the same shared directory); rank 0 alone writes.
absl::StatusOr<PretrainResult> RunPretrain(const PretrainOptions& options, int64_t stop_after = 0);

// True for RunPretrain's refusal of the checkpoint it was to resume from (another kind of model,
// other data, options, network or seed: FAILED_PRECONDITION naming the difference), the error
// after which a caller may pretrain afresh instead; false for any other error.
bool IsResumeRefusal(const absl::Status& status);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PRETRAIN_H_
