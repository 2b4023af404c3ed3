// The contrastive loss kept while fine-tuning (FinetuneOptions::ssl_weight): pretraining's MoCo
// on the training part's galaxies, labelled or not, whose query encoder and projection head are
// the network being fine-tuned. Include only from .cc files that already use LibTorch.
#ifndef GALAXY_TRAINER_KEPT_CONTRAST_H_
#define GALAXY_TRAINER_KEPT_CONTRAST_H_

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/moco.h"
#include "trainer/train_options.h"
#include "trainer/training_data.h"

namespace galaxy {

class KeptContrast {
 public:
  // `net` is the pretrained network (with its projection head) on `device`; `fractions` is the
  // run's split. Loads the training part, labelled or not, and takes the views, queue, momentum,
  // temperature and shuffling BatchNorm from the pretraining recorded in the model's metadata.
  static absl::StatusOr<std::unique_ptr<KeptContrast>> Start(const FinetuneOptions& options,
                                                             const SplitFractions& fractions, GalaxyNet& net,
                                                             torch::Device device, int64_t batch);

  // Step `step`'s contrastive pass on two fresh views of a batch of the training part: forward,
  // and backward at `weight` (the gradients add to what the redshift loss's backward pass adds
  // next). The backbone's BatchNorm statistics go back to what they were: they stay those of the
  // labelled images. Returns the InfoNCE loss (no graph). Call AfterStep() after the optimizer's
  // step.
  torch::Tensor Backward(int64_t step, torch::Device device, bool autocast, double weight);

  // After the optimizer's step: the key side follows the query side, and the keys join the queue.
  void AfterStep();

 private:
  KeptContrast() = default;

  TrainingData pool_;
  Moco moco_{nullptr};
  std::optional<Augmenter> augmenter_;
  std::optional<EpochOrder> order_;
  int64_t bn_splits_ = 1, batch_ = 0;
  uint64_t seed_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_TRAINER_KEPT_CONTRAST_H_
