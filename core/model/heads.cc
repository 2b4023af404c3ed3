#include "core/model/heads.h"

namespace galaxy {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in, int64_t out)
    : fc1(register_module("fc1", torch::nn::Linear(in, in))),
      fc2(register_module("fc2", torch::nn::Linear(in, out))) {}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& x) {
  return fc2(torch::relu(fc1(x)));
}

torch::Tensor RedshiftBins::Centres(torch::Device device) const {
  return torch::arange(bins, torch::TensorOptions().dtype(torch::kFloat32).device(device))
      .add(0.5)
      .mul(width())
      .add(z_min);
}

torch::Tensor RedshiftBins::Index(const torch::Tensor& z) const {
  return ((z - z_min) / width()).floor().clamp(0, bins - 1).to(torch::kInt64);
}

RedshiftHeadImpl::RedshiftHeadImpl(int64_t in, int64_t bins)
    : fc1(register_module("fc1", torch::nn::Linear(in, std::max<int64_t>(in / 2, 32)))),
      fc2(register_module("fc2", torch::nn::Linear(std::max<int64_t>(in / 2, 32), bins))) {}

torch::Tensor RedshiftHeadImpl::forward(const torch::Tensor& features) {
  return fc2(torch::relu(fc1(features)));
}

RedshiftEstimate EstimateRedshift(const torch::Tensor& logits, const RedshiftBins& bins) {
  RedshiftEstimate e;
  e.pdf = torch::softmax(logits.to(torch::kFloat32), /*dim=*/1);
  const torch::Tensor centres = bins.Centres(logits.device());
  e.mean = (e.pdf * centres).sum(1);
  const torch::Tensor var = (e.pdf * (centres - e.mean.unsqueeze(1)).pow(2)).sum(1);
  e.sigma = var.clamp_min(0).sqrt();
  return e;
}

}  // namespace galaxy
