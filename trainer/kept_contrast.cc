#include "trainer/kept_contrast.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "model/torch_compat.h"
#include "trainer/pretrain.h"

namespace galaxy {

absl::StatusOr<std::unique_ptr<KeptContrast>> KeptContrast::Start(const FinetuneOptions& options,
                                                                  const SplitFractions& fractions, GalaxyNet& net,
                                                                  torch::Device device, int64_t batch) {
  if (!net.projection) {
    return absl::FailedPreconditionError(absl::StrCat("--ssl-weight: ", options.init_path, " is a ",
                                                      net.metadata.kind, " model without a projection head; ",
                                                      "fine-tune a pretrained one"));
  }
  absl::StatusOr<PretrainOptions> pretraining = PretrainingOf(net.metadata.training_json);
  if (!pretraining.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("--ssl-weight: ", options.init_path, ": ",
                                                      pretraining.status().message()));
  }
  auto kept = std::unique_ptr<KeptContrast>(new KeptContrast());
  RowSelection rows = LabelledPart(SplitPart::kTrain, fractions, options.split_seed);
  rows.require_redshift = false;
  GALAXY_ASSIGN_OR_RETURN(kept->pool_, LoadTrainingData(options.data_path, rows));
  if (kept->pool_.size() < batch) {
    return absl::InvalidArgumentError(absl::StrCat("--ssl-weight: the training part has ", kept->pool_.size(),
                                                   " galaxies, fewer than the batch ", batch));
  }
  MocoConfig moco;
  moco.queue = std::max<int64_t>(batch, pretraining->queue / batch * batch);  // a multiple of the batch
  moco.momentum = pretraining->momentum;
  moco.temperature = pretraining->temperature;
  moco.projection_dim = net.metadata.embedding_dim;
  kept->bn_splits_ = batch % pretraining->bn_splits == 0 ? pretraining->bn_splits : 1;
  moco.bn_splits = kept->bn_splits_;
  kept->moco_ = Moco(BackboneConfig(net.metadata), moco);
  kept->moco_->to(device);
  // The network being fine-tuned is the query side; the key side starts as its copy.
  kept->moco_->UseQueryEncoder(net.backbone, net.projection);
  kept->moco_->encoder_k->SetBatchNormSplits(kept->bn_splits_);
  kept->moco_->encoder_k->train();
  kept->moco_->head_k->train();
  const int64_t crop = net.metadata.image_size;
  AugmentOptions aug = ContrastiveViews(*pretraining, kept->pool_, net.metadata.band_noise, crop);
  aug.noise_on_device = device.is_cuda();
  kept->augmenter_.emplace(aug, kept->pool_.layout.bands, kept->pool_.layout.height);
  kept->seed_ = options.seed ^ 0xC0A7A57ull;
  kept->order_.emplace(kept->pool_.size(), kept->seed_);
  kept->batch_ = batch;
  log::Info(absl::StrFormat("contrastive loss kept (weight %g): %d galaxies of the training part, queue %d, "
                            "temperature %g, %d BatchNorm sub-batches, the pretraining's views",
                            options.ssl_weight, kept->pool_.size(), moco.queue, moco.temperature, kept->bn_splits_));
  return kept;
}

torch::Tensor KeptContrast::Backward(int64_t step, torch::Device device, bool autocast, double weight) {
  const torch::Tensor index = ToDeviceAsync(order_->Batch(step, batch_), pool_.images.device());
  const torch::Tensor x = ToDeviceAsync(pool_.images.index_select(0, index), device);
  const torch::Tensor ebv = ToDeviceAsync(pool_.e_bv.index_select(0, index), device);
  const torch::Tensor view_q =
      augmenter_->Apply(x, ebv, augmenter_->Draw(batch_, seed_, 2 * static_cast<uint64_t>(step)));
  const torch::Tensor view_k =
      augmenter_->Apply(x, ebv, augmenter_->Draw(batch_, seed_, 2 * static_cast<uint64_t>(step) + 1));
  std::vector<torch::Tensor> statistics;
  for (const torch::Tensor& b : moco_->encoder_q->buffers()) statistics.push_back(b.clone());
  moco_->encoder_q->SetBatchNormSplits(bn_splits_);
  MocoStep out;
  {
    CudaAutocast scope(autocast);
    out = moco_->forward(view_q, view_k, torch::randperm(batch_, torch::TensorOptions().dtype(torch::kInt64)));
  }
  (weight * out.loss).backward();
  moco_->encoder_q->SetBatchNormSplits(1);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> now = moco_->encoder_q->buffers();
  for (size_t i = 0; i < now.size(); ++i) now[i].copy_(statistics[i]);
  return out.loss.detach();
}

void KeptContrast::AfterStep() {
  moco_->MomentumUpdate();
  moco_->Enqueue(moco_->last_keys());
}

}  // namespace galaxy
