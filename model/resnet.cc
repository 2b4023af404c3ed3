#include "model/resnet.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "model/arch.h"

namespace galaxy {
namespace {

namespace nn = torch::nn;

nn::Conv2d Conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false));
}

struct Plan {
  bool bottleneck;
  std::vector<int64_t> blocks, widths;
  int64_t stem_width;
};

Plan PlanFor(const std::string& arch) {
  if (arch == "resnet18") return {false, {2, 2, 2, 2}, {64, 128, 256, 512}, 64};
  if (arch == "tiny") return {false, {1, 1, 1, 1}, {16, 32, 64, 128}, 16};
  if (arch == "small") return {false, {1, 1, 1, 1}, {32, 64, 128, 256}, 32};
  return {true, {3, 4, 6, 3}, {64, 128, 256, 512}, 64};
}

// Folds eval-mode `bn` into `conv` (no bias before): w' = w s, b' = beta - mean s, with
// s = gamma / sqrt(var + eps) per output channel.
void FoldInto(nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl& bn) {
  torch::NoGradGuard no_grad;
  const torch::Tensor scale = bn.weight / torch::sqrt(bn.running_var + bn.options.eps());
  conv.weight.mul_(scale.view({-1, 1, 1, 1}).to(conv.weight.dtype()));
  const torch::Tensor shift = bn.bias - bn.running_mean * scale;
  conv.bias = conv.bias.defined() ? conv.bias * scale + shift : shift.to(conv.weight.dtype());
}

// `bn` on x (N x C x H x W). With splits > 1 in training mode, each of `splits` sub-batches
// (images i with i mod splits == g) is normalised with its own statistics, in one batch_norm call
// over x viewed as N/splits x (splits C) x H x W, and the running statistics become the mean of
// the sub-batches' (the split BatchNorm of the MoCo reference code).
// With `sync` (and training mode), the statistics are the whole batch's across the processes of
// the group (SyncBatchNorm); splits are then 1.
torch::Tensor Normalize(nn::BatchNorm2dImpl& bn, const torch::Tensor& x, int64_t splits, BatchNormSync* sync) {
  if (sync != nullptr && bn.is_training()) {
    return SyncBatchNorm(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked,
                         bn.options.momentum().value_or(0.1), bn.options.eps(), *sync);
  }
  if (splits <= 1 || !bn.is_training()) return bn.forward(x);
  const int64_t n = x.size(0), c = x.size(1);
  TORCH_CHECK(n % splits == 0, "split BatchNorm: batch ", n, " is not a multiple of ", splits, " sub-batches");
  torch::Tensor mean = bn.running_mean.repeat(splits), var = bn.running_var.repeat(splits);
  const torch::Tensor y = torch::batch_norm(x.reshape({n / splits, c * splits, x.size(2), x.size(3)}),
                                            bn.weight.repeat(splits), bn.bias.repeat(splits), mean, var,
                                            /*training=*/true, bn.options.momentum().value_or(0.1),
                                            bn.options.eps(), /*cudnn_enabled=*/true);
  {
    torch::NoGradGuard no_grad;
    bn.running_mean.copy_(mean.view({splits, c}).mean(0));
    bn.running_var.copy_(var.view({splits, c}).mean(0));
    bn.num_batches_tracked.add_(1);
  }
  return y.view(x.sizes());
}

}  // namespace

absl::Status ResNetConfig::Validate() const {
  GALAXY_RETURN_IF_ERROR(ValidateArch(arch, "arch"));
  GALAXY_RETURN_IF_ERROR(ValidateStem(stem, "stem"));
  if (in_channels < 1 || in_channels > 64) {
    return absl::InvalidArgumentError(absl::StrCat("bands: ", in_channels, " is outside 1..64"));
  }
  if (!input_softening.empty() && input_softening.size() != static_cast<size_t>(in_channels)) {
    return absl::InvalidArgumentError(absl::StrCat("input softening: ", input_softening.size(), " values for ",
                                                   in_channels, " bands"));
  }
  for (double s : input_softening) {
    if (!(std::isfinite(s) && s > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("input softening: ", s, " is not a positive number"));
    }
  }
  return absl::OkStatus();
}

int64_t ResNetConfig::feature_dim() const {
  const Plan plan = PlanFor(arch);
  return plan.widths.back() * (plan.bottleneck ? 4 : 1);
}

int64_t ResNetConfig::stage_features_dim() const {
  const Plan plan = PlanFor(arch);
  int64_t dim = 0;
  for (int64_t width : plan.widths) dim += width * (plan.bottleneck ? 4 : 1);
  return dim;
}

std::vector<int64_t> ResNetConfig::stage_blocks() const { return PlanFor(arch).blocks; }

BlockImpl::BlockImpl(int64_t in, int64_t width, int64_t stride, bool bottleneck_)
    : bottleneck(bottleneck_) {
  const int64_t out = bottleneck ? width * 4 : width;
  if (bottleneck) {
    conv1 = register_module("conv1", Conv(in, width, 1, 1, 0));
    conv2 = register_module("conv2", Conv(width, width, 3, stride, 1));
    conv3 = register_module("conv3", Conv(width, out, 1, 1, 0));
    bn3 = register_module("bn3", nn::BatchNorm2d(out));
  } else {
    conv1 = register_module("conv1", Conv(in, width, 3, stride, 1));
    conv2 = register_module("conv2", Conv(width, width, 3, 1, 1));
  }
  bn1 = register_module("bn1", nn::BatchNorm2d(width));
  bn2 = register_module("bn2", nn::BatchNorm2d(width));
  if (stride != 1 || in != out) {
    downsample = register_module(
        "downsample", nn::Sequential(Conv(in, out, 1, stride, 0), nn::BatchNorm2d(out)));
  }
}

void BlockImpl::FoldBatchNorm() {
  if (folded) return;
  FoldInto(*conv1, *bn1);
  FoldInto(*conv2, *bn2);
  if (bottleneck) FoldInto(*conv3, *bn3);
  if (downsample) {
    FoldInto(*downsample[0]->as<nn::Conv2d>(), *downsample[1]->as<nn::BatchNorm2d>());
  }
  folded = true;
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x) {
  if (folded) {
    torch::Tensor y = conv1(x).relu_();
    y = bottleneck ? conv3(conv2(y).relu_()) : conv2(y);
    y += downsample ? downsample[0]->as<nn::Conv2d>()->forward(x) : x;
    return y.relu_();
  }
  // In-place ReLUs, as torchvision: less memory traffic, same gradients.
  torch::Tensor y = Normalize(*bn1, conv1(x), bn_splits, bn_sync.get()).relu_();
  if (bottleneck) {
    y = Normalize(*bn2, conv2(y), bn_splits, bn_sync.get()).relu_();
    y = Normalize(*bn3, conv3(y), bn_splits, bn_sync.get());
  } else {
    y = Normalize(*bn2, conv2(y), bn_splits, bn_sync.get());
  }
  if (downsample) {
    y += Normalize(*downsample[1]->as<nn::BatchNorm2d>(), downsample[0]->as<nn::Conv2d>()->forward(x), bn_splits,
                   bn_sync.get());
  } else {
    y += x;
  }
  return y.relu_();
}

ResNetImpl::ResNetImpl(const ResNetConfig& config_) : config(config_) {
  const Plan plan = PlanFor(config.arch);
  const bool paper = config.stem == "paper";
  stem_conv = register_module("stem_conv", Conv(config.in_channels, plan.stem_width, 7,
                                                /*stride=*/paper ? 1 : 2, /*padding=*/3));
  stem_bn = register_module("stem_bn", nn::BatchNorm2d(plan.stem_width));
  if (!config.input_softening.empty()) {
    const std::vector<float> softening(config.input_softening.begin(), config.input_softening.end());
    softening_ = register_buffer("input_softening",
                                 torch::tensor(softening).view({1, config.in_channels, 1, 1}));
  }
  layers = nn::Sequential();
  int64_t in = plan.stem_width;
  for (size_t stage = 0; stage < plan.blocks.size(); ++stage) {
    for (int64_t b = 0; b < plan.blocks[stage]; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      layers->push_back(Block(in, plan.widths[stage], stride, plan.bottleneck));
      in = plan.widths[stage] * (plan.bottleneck ? 4 : 1);
    }
  }
  register_module("layers", layers);
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, /*a=*/0, torch::kFanOut, torch::kReLU);
    }
  }
}

void ResNetImpl::FoldBatchNorm() {
  TORCH_CHECK(!is_training(), "FoldBatchNorm: the network must be in eval mode (folding uses the running statistics)");
  if (folded_) return;
  FoldInto(*stem_conv, *stem_bn);
  for (const auto& block : layers->children()) block->as<Block>()->FoldBatchNorm();
  folded_ = true;
}

torch::Tensor ResNetImpl::Stem(torch::Tensor x) {
  TORCH_CHECK(!(folded_ && is_training()),
              "ResNet: BatchNorm was folded for inference; this network cannot be trained");
  if (softening_.defined()) x = torch::asinh(x / softening_);
  x = folded_ ? stem_conv(x).relu_() : Normalize(*stem_bn, stem_conv(x), bn_splits_, bn_sync_.get()).relu_();
  if (config.stem == "torchvision") {
    x = torch::max_pool2d(x, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  }
  return x;
}

torch::Tensor ResNetImpl::forward(torch::Tensor x) {
  x = layers->forward(Stem(std::move(x)));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

torch::Tensor ResNetImpl::StageFeatures(torch::Tensor x) {
  x = Stem(std::move(x));
  // A stage's blocks share their output width and the next stage's is wider: the pool after a
  // block replaces the one before it while the width stays.
  std::vector<torch::Tensor> pooled;
  int64_t width = -1;
  for (const auto& block : layers->children()) {
    x = block->as<Block>()->forward(x);
    torch::Tensor p = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    if (x.size(1) == width) {
      pooled.back() = std::move(p);
    } else {
      pooled.push_back(std::move(p));
    }
    width = x.size(1);
  }
  return torch::cat(pooled, 1);
}

void ResNetImpl::SetBatchNormSplits(int64_t splits) {
  TORCH_CHECK(splits >= 1, "SetBatchNormSplits: ", splits, " < 1");
  bn_splits_ = splits;
  for (const auto& block : layers->children()) block->as<Block>()->bn_splits = splits;
}

void ResNetImpl::SetBatchNormSync(std::shared_ptr<BatchNormSync> sync) {
  TORCH_CHECK(sync == nullptr || bn_splits_ == 1, "SetBatchNormSync: the network normalises ", bn_splits_,
              " sub-batches apart; synchronised BatchNorm needs 1");
  bn_sync_ = sync;
  for (const auto& block : layers->children()) block->as<Block>()->bn_sync = sync;
}

void ToChannelsLast(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
}

}  // namespace galaxy
