#include "model/heads.h"

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

RedshiftHeadImpl::RedshiftHeadImpl(int64_t in, int64_t bins, bool input_norm)
    : fc1(register_module("fc1", torch::nn::Linear(in, std::max<int64_t>(in / 2, 32)))),
      fc2(register_module("fc2", torch::nn::Linear(std::max<int64_t>(in / 2, 32), bins))) {
  if (input_norm) norm = register_module("norm", torch::nn::BatchNorm1d(in));
}

torch::Tensor RedshiftHeadImpl::forward(const torch::Tensor& features) {
  torch::Tensor x = features;
  if (norm && norm_sync && norm->is_training()) {
    x = SyncBatchNorm(x, norm->weight, norm->bias, norm->running_mean, norm->running_var, norm->num_batches_tracked,
                      norm->options.momentum().value_or(0.1), norm->options.eps(), *norm_sync);
  } else if (norm) {
    x = norm(x);
  }
  return fc2(torch::relu(fc1(x)));
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

PdfScores ScorePdf(const torch::Tensor& pdf, const torch::Tensor& z_true, const RedshiftBins& bins) {
  const torch::Tensor p = pdf.to(torch::kFloat64);
  const torch::Tensor z = z_true.to(p.device(), torch::kFloat64);
  const int64_t n_bins = p.size(1);
  const double width = bins.width();
  // CDF at each bin's upper edge, and below each bin's lower edge.
  const torch::Tensor upper = p.cumsum(1);
  const torch::Tensor lower = upper - p;
  // Position of z in bin units, clamped to the range; the CDF is linear inside a bin.
  const torch::Tensor u = ((z - bins.z_min) / width).clamp(0, static_cast<double>(n_bins));
  const torch::Tensor k = u.floor().clamp_max(static_cast<double>(n_bins - 1)).to(torch::kInt64).unsqueeze(1);
  const torch::Tensor frac = (u.unsqueeze(1) - k.to(torch::kFloat64)).clamp(0, 1);
  PdfScores out;
  out.pit = (lower.gather(1, k) + p.gather(1, k) * frac).squeeze(1);
  // CRPS, exactly for a CDF linear inside each bin: the bins wholly below z add
  // integral F^2, those wholly above add integral (1 - F)^2, and z's own bin is split at z.
  // For F going linearly from a to b over a length L: integral F^2 = L (a^2 + ab + b^2) / 3.
  auto squares = [](const torch::Tensor& a, const torch::Tensor& b) { return (a * a + a * b + b * b) / 3; };
  const torch::Tensor index = torch::arange(n_bins, p.options().dtype(torch::kInt64)).unsqueeze(0);
  const torch::Tensor below = (index < k).to(torch::kFloat64), above = (index > k).to(torch::kFloat64);
  const torch::Tensor whole = (below * squares(lower, upper) + above * squares(1 - lower, 1 - upper)).sum(1) * width;
  const torch::Tensor a = lower.gather(1, k).squeeze(1), b = upper.gather(1, k).squeeze(1);
  const torch::Tensor f = frac.squeeze(1), at_z = a + (b - a) * f;
  const torch::Tensor own = (f * squares(a, at_z) + (1 - f) * squares(1 - at_z, 1 - b)) * width;
  out.crps = whole + own;
  return out;
}

}  // namespace galaxy
