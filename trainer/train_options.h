// Hyper-parameters of MoCo v2 pretraining, with the defaults of the published recipe
// (../shared/DESIGN.md: queue 65536, momentum 0.999, temperature 0.2, head 2048->2048->128,
// SGD momentum 0.9, weight decay 1e-4, cosine schedule, lr 0.03 per 256 images).
#ifndef GALAXY_TRAINER_TRAIN_OPTIONS_H_
#define GALAXY_TRAINER_TRAIN_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace galaxy {

struct PretrainOptions {
  // Dataset in the native HDF5 layout. Required.
  std::string data_path;
  // Output directory for checkpoints and logs. Required.
  std::string out_dir;
  // Backbone: "resnet50" (default), "resnet18", or "tiny" (CPU tests).
  std::string arch = "resnet50";
  // Stem: "paper" (7x7 stride 1, no max-pool; default) or "torchvision" (stride 2 + max-pool).
  std::string stem = "paper";
  // Training length: epochs over the dataset, or (when > 0) an exact number of steps.
  int epochs = 100;
  int64_t steps = 0;
  // Images per step. Default 256.
  int batch = 256;
  // Negatives queue length K; must be a multiple of batch. Default 65536.
  int queue = 65536;
  // Key-encoder momentum. Default 0.999.
  double momentum = 0.999;
  // InfoNCE temperature. Default 0.2.
  double temperature = 0.2;
  // SGD learning rate per 256 images (scaled linearly with batch). Default 0.03.
  double lr_per_256 = 0.03;
  // SGD weight decay and momentum. Defaults 1e-4 and 0.9.
  double weight_decay = 1e-4;
  double sgd_momentum = 0.9;
  // "cpu", "cuda" or "auto" (default: cuda when present).
  std::string device = "auto";
  // Seed of every random draw (initialisation, augmentation, sampling). Default 0.
  uint64_t seed = 0;

  // INVALID_ARGUMENT naming the first bad field, e.g. "--queue: 1000 is not a multiple of
  // --batch 256".
  absl::Status Validate() const;
};

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAIN_OPTIONS_H_
