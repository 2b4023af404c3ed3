// The ResNet backbone (LibTorch module) that turns a multi-band galaxy image into a feature
// vector. Include only from .cc files that already use LibTorch (this header pulls it in).
//
// Depths: resnet50 (bottleneck blocks 3-4-6-3, 2048-d features), resnet18 (basic blocks 2-2-2-2,
// 512-d), small (basic blocks 1-1-1-1, widths 32-64-128-256, 256-d; CPU science runs) and tiny
// (the same at half the width, 128-d; for CPU tests). The accepted names: model/arch.h.
// Stems: "paper" keeps full resolution (7x7 stride 1, no max-pool: a 64x64 input reaches the last
// stage at 8x8), as published for galaxies; "half" halves it once (7x7 stride 2, no max-pool:
// last stage 4x4); "torchvision" is the ImageNet stem (7x7 stride 2 + 3x3 max-pool: 2x2). Each
// step down costs the blocks ~4x fewer operations; the weights are the same shapes for all three.
#ifndef GALAXY_MODEL_RESNET_H_
#define GALAXY_MODEL_RESNET_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/sync_batch_norm.h"

namespace galaxy {

struct ResNetConfig {
  // "resnet50" (default), "resnet18", "small" or "tiny".
  std::string arch = "resnet50";
  // "paper" (default), "half" or "torchvision".
  std::string stem = "paper";
  // Input bands. Default 5 (u, g, r, i, z).
  int in_channels = 5;
  // Softening of the input stretch, per band (flux units, e.g. the sky noise): the network's
  // first step maps each band's flux x to asinh(x / softening), Lupton et al. (1999)'s asinh
  // magnitudes: linear within the noise, logarithmic beyond it, so that a bright star's core
  // (thousands of times the noise) cannot swamp a batch's BatchNorm statistics. Saved with the
  // weights. Empty (the default, and every model before it): linear flux.
  std::vector<double> input_softening;

  // INVALID_ARGUMENT naming an unknown arch or stem, bands outside 1..64, or a softening that
  // is not one positive number per band.
  absl::Status Validate() const;
  // Dimension of the pooled features: 2048, 512 or 128.
  int64_t feature_dim() const;
  // Dimension of every stage's pooled features concatenated (ResNetImpl::StageFeatures): 3840,
  // 960, 480 or 240.
  int64_t stage_features_dim() const;
  // Residual blocks per stage ({3, 4, 6, 3} for resnet50): ResNetImpl::layers holds them in
  // order, stage after stage (torchvision's layer1..layer4).
  std::vector<int64_t> stage_blocks() const;
};

struct BlockImpl : torch::nn::Module {
  // A basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion) residual block.
  BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck);
  torch::Tensor forward(const torch::Tensor& x);
  // See ResNetImpl::FoldBatchNorm.
  void FoldBatchNorm();

  bool bottleneck;
  bool folded = false;
  int64_t bn_splits = 1;  // see ResNetImpl::SetBatchNormSplits
  std::shared_ptr<BatchNormSync> bn_sync;  // see ResNetImpl::SetBatchNormSync
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Block);

struct ResNetImpl : torch::nn::Module {
  // `config` must be valid (Validate()).
  explicit ResNetImpl(const ResNetConfig& config);
  // x: N x C x H x W -> N x feature_dim (global average pool of the last stage).
  torch::Tensor forward(torch::Tensor x);
  // The global average pool of each stage's output, concatenated: N x (the sum of the stages'
  // output widths: 240 for tiny, 480 small, 960 resnet18, 3840 resnet50), its last part equal
  // to forward(x). What a linear probe across depths reads (features of several layers, as
  // self-supervised evaluations concatenate them).
  torch::Tensor StageFeatures(torch::Tensor x);

  // For inference only: folds each eval-mode BatchNorm (a per-channel scale and shift with its
  // running statistics) into the convolution before it, which gains a bias, and skips the
  // BatchNorms from then on. Same outputs to float rounding; one pass over every activation
  // fewer per BatchNorm (20 in ResNet18, 53 in ResNet50). Irreversible: the module must be in
  // eval mode, stays there (forward in training mode throws), and must not be saved as a
  // checkpoint (CheckpointWriter refuses it). Idempotent.
  void FoldBatchNorm();
  bool folded() const { return folded_; }

  // In training mode, normalise each of `splits` sub-batches (the images i with
  // i mod splits == g) with its own BatchNorm statistics, as if each ran on its own device: what
  // MoCo's shuffling BatchNorm needs on one device. The batch must then be a multiple of
  // `splits`. 1 (default): ordinary BatchNorm. Evaluation mode is unaffected.
  void SetBatchNormSplits(int64_t splits);
  int64_t batch_norm_splits() const { return bn_splits_; }
  // In training mode, normalise with the statistics of the whole batch across the processes of
  // `sync` (SyncBatchNorm, model/sync_batch_norm.h): data-parallel training that computes what
  // one process would. Needs 1 split; nullptr (default): each process's own batch.
  void SetBatchNormSync(std::shared_ptr<BatchNormSync> sync);

  ResNetConfig config;
  torch::nn::Conv2d stem_conv{nullptr};
  torch::nn::BatchNorm2d stem_bn{nullptr};
  torch::nn::Sequential layers{nullptr};

 private:
  // The input stretch and the stem: what every block sees first.
  torch::Tensor Stem(torch::Tensor x);

  bool folded_ = false;
  int64_t bn_splits_ = 1;
  std::shared_ptr<BatchNormSync> bn_sync_;
  torch::Tensor softening_;  // 1 x C x 1 x 1 when config.input_softening is set
};
TORCH_MODULE(ResNet);

// Puts every 4-D parameter of `module` in channels-last layout (faster convolutions with oneDNN
// on CPU and tensor cores on GPU); feed it channels-last inputs (x.contiguous(ChannelsLast)).
void ToChannelsLast(torch::nn::Module& module);

}  // namespace galaxy

#endif  // GALAXY_MODEL_RESNET_H_
