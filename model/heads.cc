#include "model/heads.h"

#include <cmath>

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

RedshiftEstimate EstimateRedshift(const torch::Tensor& logits, const RedshiftBins& bins, double temperature) {
  RedshiftEstimate e;
  e.logits = logits.to(torch::kFloat32);
  const torch::Tensor own = torch::softmax(e.logits, /*dim=*/1);
  e.pdf = temperature == 1.0 ? own : torch::softmax(e.logits / temperature, /*dim=*/1);
  const torch::Tensor centres = bins.Centres(logits.device());
  // The point estimate is the head's own pdf's mean, whatever the calibration; sigma is the
  // (calibrated) pdf's root-mean-square distance from it, its standard deviation at T = 1.
  e.mean = (own * centres).sum(1);
  const torch::Tensor var = (e.pdf * (centres - e.mean.unsqueeze(1)).pow(2)).sum(1);
  e.sigma = var.clamp_min(0).sqrt();
  return e;
}

PdfTemperatureFit FitPdfTemperature(const torch::Tensor& logits, const torch::Tensor& z_true,
                                    const RedshiftBins& bins) {
  torch::NoGradGuard no_grad;
  PdfTemperatureFit fit;
  if (logits.size(0) == 0) return fit;
  const torch::Tensor l = logits.to(torch::kFloat64);
  const torch::Tensor z = z_true.to(l.device(), torch::kFloat64);
  const auto crps = [&](double log_t) {
    return ScorePdf(torch::softmax(l / std::exp(log_t), 1), z, bins).crps.mean().item<double>();
  };
  // Golden-section search on log T: it keeps the minimum of a function with one minimum in
  // the bracket, as the mean CRPS is over a family of ever wider pdfs.
  const double ratio = (std::sqrt(5.0) - 1) / 2;
  double lo = std::log(kMinPdfTemperature), hi = std::log(kMaxPdfTemperature);
  double x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo);
  double f1 = crps(x1), f2 = crps(x2);
  while (hi - lo > 1e-3) {
    if (f1 <= f2) {
      hi = x2, x2 = x1, f2 = f1;
      x1 = hi - ratio * (hi - lo), f1 = crps(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2;
      x2 = lo + ratio * (hi - lo), f2 = crps(x2);
    }
  }
  const double best = (lo + hi) / 2;
  fit.crps_before = fit.crps_after = crps(0);
  // The head's own pdfs stay unless the fitted temperature scores better.
  if (const double score = crps(best); score < fit.crps_before) {
    fit.temperature = std::exp(best);
    fit.crps_after = score;
  }
  return fit;
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
