// Heads on top of the backbone: the MoCo projection MLP and the photometric-redshift classifier.
// Include only from .cc files that already use LibTorch.
#ifndef GALAXY_CORE_MODEL_HEADS_H_
#define GALAXY_CORE_MODEL_HEADS_H_

#include <torch/torch.h>

namespace galaxy {

// MoCo v2 projection head: Linear(d, d) - ReLU - Linear(d, out) (2048 -> 2048 -> 128 for
// ResNet50).
struct ProjectionHeadImpl : torch::nn::Module {
  ProjectionHeadImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ProjectionHead);

// The binning of the redshift classifier: `bins` equal bins on [z_min, z_max].
struct RedshiftBins {
  double z_min = 0.0, z_max = 0.4;
  int64_t bins = 180;
  double width() const { return (z_max - z_min) / static_cast<double>(bins); }
  // Bin centres, `bins` values.
  torch::Tensor Centres(torch::Device device = torch::kCPU) const;
  // Index of the bin holding z (clamped to the range). z: N -> N int64.
  torch::Tensor Index(const torch::Tensor& z) const;
};

// Redshift head: Linear(d, d/2) - ReLU - Linear(d/2, bins), logits over redshift bins.
struct RedshiftHeadImpl : torch::nn::Module {
  RedshiftHeadImpl(int64_t in, int64_t bins);
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(RedshiftHead);

// From logits (N x bins): pdf (softmax), mean z (sum p_i z_i) and its standard deviation.
struct RedshiftEstimate {
  torch::Tensor pdf, mean, sigma;
};
RedshiftEstimate EstimateRedshift(const torch::Tensor& logits, const RedshiftBins& bins);

}  // namespace galaxy

#endif  // GALAXY_CORE_MODEL_HEADS_H_
