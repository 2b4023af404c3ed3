#include "model/augment.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "model/augment_cpu.h"
#include "model/embedder.h"
#include "model/torch_compat.h"

namespace galaxy {
namespace {

namespace F = torch::nn::functional;

// Per-band factors 10^(sign * 0.4 * R_b * E) as an N x C x 1 x 1 tensor.
torch::Tensor ExtinctionFactors(const std::vector<double>& extinction, int64_t bands,
                                const torch::Tensor& e_bv, double sign) {
  const torch::Tensor coeff = torch::tensor(ExtinctionPerBand(extinction, bands)).to(e_bv.device());
  const torch::Tensor exponent = e_bv.to(torch::kFloat32).view({-1, 1}) * coeff.view({1, -1}) * (sign * 0.4);
  return torch::pow(10.0, exponent).view({-1, bands, 1, 1});
}

// The outskirt masks' own seed: their draws leave every other draw as it was without them.
constexpr uint64_t kOutskirtSeedSalt = 0x6f75747369646573ull;

}  // namespace

Augmenter::Augmenter(const AugmentOptions& options, int64_t bands, int64_t input_size)
    : options_(options), bands_(bands), input_size_(input_size) {}

std::array<float, 6> Augmenter::AffineCoefficients(double radians, bool flip, double dx, double dy,
                                                  double scale) const {
  // Output normalised coordinates span the crop; input ones span the stored image. An output
  // step of one pixel is crop/input of the input's normalised range.
  const double k = static_cast<double>(options_.crop) / static_cast<double>(input_size_) * scale;
  const double c = std::cos(radians) * k, s = std::sin(radians) * k;
  const double f = flip ? -1.0 : 1.0;
  const double tx = 2 * dx / static_cast<double>(input_size_), ty = 2 * dy / static_cast<double>(input_size_);
  return {static_cast<float>(c * f), static_cast<float>(-s), static_cast<float>(tx),
          static_cast<float>(s * f), static_cast<float>(c), static_cast<float>(ty)};
}

torch::Tensor Augmenter::AffineTheta(double radians, bool flip, double dx, double dy,
                                     double scale) const {
  const std::array<float, 6> t = AffineCoefficients(radians, flip, dx, dy, scale);
  return torch::tensor(std::vector<float>(t.begin(), t.end())).view({2, 3});
}

int64_t Augmenter::BlurRadius() const {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * options_.max_blur)));
}

AugmentDraws AugmentDraws::Rows(const torch::Tensor& rows) const {
  auto pick = [&rows](const torch::Tensor& t) { return t.defined() ? t.index_select(0, rows.to(t.device())) : t; };
  AugmentDraws out;
  out.theta = pick(theta);
  out.dust_ebv = pick(dust_ebv);
  out.blur_sigma = pick(blur_sigma);
  out.noise_level = pick(noise_level);
  out.noise = pick(noise);
  out.outskirt_radius = pick(outskirt_radius);
  out.outskirt_sky = pick(outskirt_sky);
  return out;
}

AugmentDraws Augmenter::Draw(int64_t n, uint64_t seed, uint64_t stream) const {
  AugmentDraws d;
  d.theta = torch::empty({n, 2, 3});
  d.dust_ebv = torch::empty({n});
  d.blur_sigma = torch::empty({n});
  d.noise_level = torch::empty({n, bands_});
  const bool noise_here = !options_.band_noise.empty() && !options_.noise_on_device;
  if (noise_here) d.noise = torch::empty({n, bands_, options_.crop, options_.crop});
  float* theta = d.theta.data_ptr<float>();
  float* dust = d.dust_ebv.data_ptr<float>();
  float* blur = d.blur_sigma.data_ptr<float>();
  float* level = d.noise_level.data_ptr<float>();
  float* noise_all = noise_here ? d.noise.data_ptr<float>() : nullptr;
  const int64_t count = bands_ * options_.crop * options_.crop;
  const bool mask = options_.outskirt_mask_prob > 0;
  const bool sky_here = mask && !options_.band_noise.empty() && !options_.noise_on_device;
  if (mask) d.outskirt_radius = torch::full({n}, std::numeric_limits<float>::infinity());
  if (sky_here) d.outskirt_sky = torch::zeros({n, bands_, input_size_, input_size_});
  float* radius = mask ? d.outskirt_radius.data_ptr<float>() : nullptr;
  float* sky_all = sky_here ? d.outskirt_sky.data_ptr<float>() : nullptr;
  const int64_t sky_count = bands_ * input_size_ * input_size_;
  // Each image has its own stream, so the draws do not depend on how the images are split
  // across threads.
  at::parallel_for(0, n, 4, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Random rng(seed, stream * 1000003ull + static_cast<uint64_t>(i));
      const double angle = rng.Uniform(0, 2 * M_PI);
      const bool flip = rng.Uniform() < 0.5;
      const double dx = rng.Uniform(-options_.max_jitter, options_.max_jitter);
      const double dy = rng.Uniform(-options_.max_jitter, options_.max_jitter);
      const double scale = rng.Uniform(options_.min_scale, options_.max_scale);
      const std::array<float, 6> t = AffineCoefficients(angle, flip, dx, dy, scale);
      std::copy(t.begin(), t.end(), theta + 6 * i);
      dust[i] = static_cast<float>(options_.dust_log_sigma > 0
                                       ? options_.dust_median * std::exp(options_.dust_log_sigma * rng.Normal())
                                       : rng.Uniform(0, options_.max_dust));
      blur[i] = static_cast<float>(rng.Uniform(0, options_.max_blur));
      for (int64_t b = 0; b < bands_; ++b) level[i * bands_ + b] = static_cast<float>(rng.Uniform() * options_.max_noise);
      if (noise_all != nullptr) {
        // Table normals (core/random.h): cheap enough that the noise field costs little.
        rng.FastNormals(noise_all + i * count, count);
      }
      if (mask) {
        Random outskirts(seed ^ kOutskirtSeedSalt, stream * 1000003ull + static_cast<uint64_t>(i));
        if (outskirts.Uniform() < options_.outskirt_mask_prob) {
          radius[i] = static_cast<float>(outskirts.Uniform(options_.outskirt_min_radius, options_.outskirt_max_radius));
          if (sky_all != nullptr) outskirts.FastNormals(sky_all + i * sky_count, sky_count);
        }
      }
    }
  });
  return d;
}

torch::Tensor Augmenter::Deredden(const torch::Tensor& images, const torch::Tensor& e_bv) const {
  return images * ExtinctionFactors(options_.extinction, bands_, e_bv, +1.0);
}

torch::Tensor Augmenter::Redden(const torch::Tensor& images, const torch::Tensor& e_bv) const {
  return images * ExtinctionFactors(options_.extinction, bands_, e_bv, -1.0);
}

torch::Tensor Augmenter::Resample(const torch::Tensor& images, const torch::Tensor& theta) const {
  const int64_t n = images.size(0);
  const torch::Tensor grid = F::affine_grid(theta.to(images.device(), images.scalar_type()),
                                            {n, bands_, options_.crop, options_.crop},
                                            /*align_corners=*/false);
  // Reflection keeps sky noise (not a black frame) where a rotated, jittered crop reaches past
  // the stored cutout.
  return F::grid_sample(images, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kReflection)
                            .align_corners(false));
}

torch::Tensor Augmenter::Blur(const torch::Tensor& images, const torch::Tensor& sigma) const {
  const int64_t n = images.size(0), c = images.size(1);
  const int64_t radius = BlurRadius();
  const torch::Tensor offsets =
      torch::arange(-radius, radius + 1, torch::TensorOptions().dtype(torch::kFloat32).device(images.device()));
  // sigma 0 means no blur: a delta kernel (the clamp keeps the division finite).
  const torch::Tensor s = sigma.to(images.device(), torch::kFloat32).clamp_min(1e-3).view({-1, 1});
  torch::Tensor kernel = torch::exp(-0.5 * (offsets.view({1, -1}) / s).pow(2));
  kernel = kernel / kernel.sum(1, /*keepdim=*/true);                    // N x K
  kernel = kernel.repeat_interleave(c, 0).to(images.scalar_type());   // N*C x K
  const int64_t k = 2 * radius + 1;
  torch::Tensor x = images.reshape({1, n * c, images.size(2), images.size(3)});
  x = F::pad(x, F::PadFuncOptions({radius, radius, radius, radius}).mode(torch::kReflect));
  x = F::conv2d(x, kernel.view({n * c, 1, 1, k}), F::Conv2dFuncOptions().groups(n * c));
  x = F::conv2d(x, kernel.view({n * c, 1, k, 1}), F::Conv2dFuncOptions().groups(n * c));
  return x.view_as(images);
}

torch::Tensor Augmenter::CentreCrop(const torch::Tensor& images) const {
  const int64_t h = images.size(2), w = images.size(3);
  const int64_t top = CentreCropStart(static_cast<int>(h), static_cast<int>(options_.crop));
  const int64_t left = CentreCropStart(static_cast<int>(w), static_cast<int>(options_.crop));
  return images.narrow(2, top, options_.crop).narrow(3, left, options_.crop);
}

torch::Tensor Augmenter::MaskOutskirts(const torch::Tensor& images, const torch::Tensor& radius,
                                       const torch::Tensor& sky) const {
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto on_device = torch::TensorOptions().device(images.device()).dtype(torch::kFloat32);
  const torch::Tensor y = torch::arange(h, on_device) - static_cast<float>(h - 1) / 2;
  const torch::Tensor x = torch::arange(w, on_device) - static_cast<float>(w - 1) / 2;
  const torch::Tensor distance2 = (y.view({h, 1}) * y.view({h, 1}) + x.view({1, w}) * x.view({1, w})).view({1, 1, h, w});
  const torch::Tensor r = radius.to(images.device(), torch::kFloat32).view({n, 1, 1, 1});
  const torch::Tensor outside = distance2 > r * r;
  torch::Tensor fill = torch::zeros({1, c, 1, 1}, on_device);
  if (!options_.band_noise.empty()) {
    std::vector<float> level(options_.band_noise.begin(), options_.band_noise.end());
    const torch::Tensor field = sky.defined() ? sky.to(images.device(), torch::kFloat32) : torch::randn({n, c, h, w}, on_device);
    fill = field * torch::tensor(level).to(images.device()).view({1, c, 1, 1});
  }
  return torch::where(outside, fill, images.to(torch::kFloat32)).to(images.scalar_type());
}

bool Augmenter::MasksAny(const AugmentDraws& draws) const {
  return draws.outskirt_radius.defined() && torch::isfinite(draws.outskirt_radius).any().item<bool>();
}

bool Augmenter::AddsNoise(const AugmentDraws& draws) const {
  return !options_.band_noise.empty() && (draws.noise.defined() || options_.noise_on_device);
}

torch::Tensor Augmenter::NoiseSigma(const AugmentDraws& draws, const torch::Device& device) const {
  std::vector<float> noise(options_.band_noise.begin(), options_.band_noise.end());
  return draws.noise_level.to(device) * torch::tensor(noise).to(device).view({1, -1});
}

torch::Tensor Augmenter::Apply(const torch::Tensor& images, const torch::Tensor& e_bv,
                               const AugmentDraws& draws) const {
  if (!images.is_cpu() || images.scalar_type() != torch::kFloat32 || images.requires_grad()) {
    return ApplyOnDevice(images, e_bv, draws);
  }
  FusedAugmentInputs in;
  in.images = images;
  in.catalog_ebv = e_bv;
  in.theta = draws.theta;
  in.dust_ebv = draws.dust_ebv;
  in.blur_sigma = draws.blur_sigma;
  if (AddsNoise(draws)) {
    in.noise = draws.noise.defined() ? draws.noise
                                     : torch::randn({images.size(0), bands_, options_.crop, options_.crop});
    in.noise_sigma = NoiseSigma(draws, torch::kCPU);
  }
  if (MasksAny(draws)) {
    in.outskirt_radius = draws.outskirt_radius;
    in.sky_sigma.assign(options_.band_noise.begin(), options_.band_noise.end());
    if (!in.sky_sigma.empty()) {
      in.outskirt_sky = draws.outskirt_sky.defined() ? draws.outskirt_sky : torch::randn(images.sizes());
    }
  }
  return FusedAugmentCpu(in, options_.crop, BlurRadius(), options_.extinction);
}

torch::Tensor Augmenter::ApplyOnDevice(const torch::Tensor& images, const torch::Tensor& e_bv,
                                       const AugmentDraws& draws) const {
  NoCudaAutocast float32;
  const torch::Device device = images.device();
  const int64_t n = images.size(0), c = bands_, crop = options_.crop;
  const bool noise = AddsNoise(draws);
  // 1. Every per-image number and the per-band constants, packed on the host, one copy.
  std::vector<torch::Tensor> parts = {
      draws.theta.reshape({-1}), draws.dust_ebv.reshape({-1}), draws.blur_sigma.reshape({-1}),
      torch::tensor(ExtinctionPerBand(options_.extinction, c)).to(torch::kFloat32)};
  const bool masks = MasksAny(draws);
  if (masks) parts.push_back(draws.outskirt_radius.reshape({-1}));
  const bool ebv_on_host = !e_bv.device().is_cuda() && device.is_cuda();
  if (ebv_on_host) parts.push_back(e_bv.reshape({-1}));
  if (noise) {
    std::vector<float> band_noise(options_.band_noise.begin(), options_.band_noise.end());
    parts.push_back(draws.noise_level.reshape({-1}));
    parts.push_back(torch::tensor(band_noise));
  }
  for (torch::Tensor& part : parts) part = part.to(torch::kCPU, torch::kFloat32);
  const torch::Tensor packed = ToDeviceAsync(torch::cat(parts), device);
  int64_t at = 0;
  auto take = [&](int64_t count) {
    const torch::Tensor slice = packed.narrow(0, at, count);
    at += count;
    return slice;
  };
  const torch::Tensor theta = take(6 * n).view({n, 2, 3});
  const torch::Tensor dust = take(n);
  const torch::Tensor sigma = take(n).clamp_min(1e-3).view({n, 1});  // 0: a delta kernel
  const torch::Tensor coeff = take(c);
  const torch::Tensor kept_radius = masks ? take(n) : torch::Tensor();
  const torch::Tensor catalog = ebv_on_host ? take(n) : e_bv.to(device, torch::kFloat32).reshape({-1});
  // 2. De-redden (catalog) times redden (drawn dust), per image and band: 10^(0.4 R (E_cat - E)).
  const torch::Tensor factor =
      torch::exp((catalog - dust).view({n, 1}) * coeff.view({1, c}) * (0.4 * std::log(10.0))).view({n, c, 1, 1});
  // 3. The affine resampling, as in Resample.
  const torch::Tensor grid = F::affine_grid(theta, {n, c, crop, crop}, /*align_corners=*/false);
  const torch::Tensor input = masks ? MaskOutskirts(images, kept_radius, draws.outskirt_sky) : images;
  torch::Tensor x = F::grid_sample(input.to(torch::kFloat32), grid,
                                   F::GridSampleFuncOptions()
                                       .mode(torch::kBilinear)
                                       .padding_mode(torch::kReflection)
                                       .align_corners(false));
  // 4. The blur as B x B^T per image, B[i][j] = sum of the Gaussian's weights at the offsets t
  //    with reflect(i + t) == j: the same sums as the reflect-padded convolution of Blur.
  const int64_t radius = BlurRadius(), k = 2 * radius + 1;
  const auto on_device = torch::TensorOptions().device(device);
  const torch::Tensor offsets = torch::arange(-radius, radius + 1, on_device.dtype(torch::kFloat32));
  torch::Tensor weights = torch::exp(-0.5 * (offsets.view({1, -1}) / sigma).pow(2));
  weights = weights / weights.sum(1, /*keepdim=*/true);  // N x K
  torch::Tensor source = torch::arange(crop, on_device.dtype(torch::kInt64)).view({-1, 1}) +
                         torch::arange(-radius, radius + 1, on_device.dtype(torch::kInt64)).view({1, -1});
  source = source.abs();                                               // reflect at 0
  source = torch::where(source > crop - 1, 2 * (crop - 1) - source, source);  // and at crop - 1
  const torch::Tensor blur =
      torch::zeros({n, crop, crop}, on_device.dtype(torch::kFloat32))
          .scatter_add_(2, source.view({1, crop, k}).expand({n, crop, k}).contiguous(),
                        weights.view({n, 1, k}).expand({n, crop, k}).contiguous());
  x = torch::matmul(torch::matmul(blur.unsqueeze(1), x), blur.transpose(1, 2).unsqueeze(1));
  // 5. The factor, then the noise.
  x.mul_(factor);
  if (noise) {
    const torch::Tensor level = take(n * c).view({n, c});
    const torch::Tensor band_noise = take(c).view({1, c});
    const torch::Tensor field = draws.noise.defined() ? draws.noise.to(device, torch::kFloat32)
                                                      : torch::randn(x.sizes(), x.options());
    x.addcmul_(field, (level * band_noise).view({n, c, 1, 1}));
  }
  return x;
}

torch::Tensor Augmenter::ApplyStepByStep(const torch::Tensor& images, const torch::Tensor& e_bv,
                                         const AugmentDraws& draws) const {
  const torch::Device device = images.device();
  torch::Tensor x = MasksAny(draws) ? MaskOutskirts(images, draws.outskirt_radius, draws.outskirt_sky) : images;
  x = Deredden(x, e_bv.to(device));
  x = Resample(x, draws.theta);
  x = Redden(x, draws.dust_ebv.to(device));
  x = Blur(x, draws.blur_sigma);
  if (AddsNoise(draws)) {
    const torch::Tensor sigma = NoiseSigma(draws, device);
    const torch::Tensor field = draws.noise.defined() ? draws.noise.to(device, x.scalar_type())
                                                      : torch::randn(x.sizes(), x.options());
    x = x + field * sigma.view({-1, bands_, 1, 1}).to(x.scalar_type());
  }
  return x;
}

torch::Tensor PreprocessForModel(const torch::Tensor& images, const torch::Tensor& e_bv, int64_t crop) {
  const int64_t bands = images.size(1);
  AugmentOptions options;
  options.crop = crop;
  if (bands != 5) options.extinction.assign(static_cast<size_t>(bands), 0.0);
  const Augmenter augmenter(options, bands, images.size(2));
  return augmenter.CentreCrop(augmenter.Deredden(images, e_bv.to(images.device())));
}

torch::Tensor DihedralView(const torch::Tensor& images, int v) {
  TORCH_CHECK(v >= 0 && v < kDihedralViewCount, "DihedralView: view ", v, " is outside 0..7");
  torch::Tensor view = v / 2 == 0 ? images : torch::rot90(images, v / 2, {2, 3});
  return v % 2 == 1 ? view.flip({3}) : view;
}

DustDistribution FitDustDistribution(const torch::Tensor& e_bv) {
  const torch::Tensor v = e_bv.to(torch::kCPU, torch::kFloat64).flatten();
  const torch::Tensor logs = v.masked_select(torch::isfinite(v) & (v > 0)).log();
  DustDistribution d;
  if (logs.numel() < 2) return d;
  d.median = std::exp(logs.median().item<double>());
  d.log_sigma = logs.std().item<double>();
  return d;
}

absl::StatusOr<std::vector<double>> InputSoftening(absl::string_view stretch, const std::vector<double>& band_noise) {
  if (stretch == "linear") return std::vector<double>{};
  if (stretch != "asinh") {
    return absl::InvalidArgumentError(absl::StrCat("--input-stretch: unknown '", stretch, "' (expected asinh or linear)"));
  }
  double largest = 0;
  for (double s : band_noise) {
    if (std::isfinite(s)) largest = std::max(largest, s);
  }
  const double fallback = largest > 0 ? 0.01 * largest : 1.0;
  std::vector<double> softening;
  for (double s : band_noise) softening.push_back(kSofteningInNoise * (std::isfinite(s) && s > 0 ? s : fallback));
  return softening;
}

std::vector<double> EstimateBandNoise(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = images.to(torch::kCPU, torch::kFloat32);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t border = std::min<int64_t>(8, std::min(h, w) / 4);
  // The outer frame of each image: mostly sky.
  const torch::Tensor top = x.narrow(2, 0, border).reshape({n, c, -1});
  const torch::Tensor bottom = x.narrow(2, h - border, border).reshape({n, c, -1});
  const torch::Tensor left = x.narrow(2, border, h - 2 * border).narrow(3, 0, border).reshape({n, c, -1});
  const torch::Tensor right = x.narrow(2, border, h - 2 * border).narrow(3, w - border, border).reshape({n, c, -1});
  const torch::Tensor frame = torch::cat({top, bottom, left, right}, 2);
  const torch::Tensor med = std::get<0>(frame.median(2, /*keepdim=*/true));
  const torch::Tensor mad = std::get<0>((frame - med).abs().median(2)) * 1.4826;  // N x C
  const torch::Tensor per_band = std::get<0>(mad.median(0));
  std::vector<double> out(static_cast<size_t>(c));
  for (int64_t b = 0; b < c; ++b) out[static_cast<size_t>(b)] = per_band[b].item<double>();
  return out;
}

}  // namespace galaxy
