#include "model/augment_cpu.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>

namespace galaxy {
namespace {

// grid_sample's source coordinate for reflection padding with align_corners = false: the
// normalised coordinate to pixels, reflected about -0.5 and size - 0.5, then clipped to the
// image (as ATen's GridSampler does).
inline float SourceCoordinate(float normalised, int64_t size) {
  const float span = static_cast<float>(size);
  float x = ((normalised + 1) * span - 1) / 2;
  if (x < -0.5f || x > span - 0.5f) {  // outside the image (rare for a crop): reflect
    const float in = std::fabs(x + 0.5f);
    const float flips = std::floor(in / span);
    const float extra = in - flips * span;
    x = std::fmod(flips, 2.0f) == 0 ? extra - 0.5f : span - extra - 0.5f;
  }
  return std::min(span - 1, std::max(x, 0.0f));
}

// F::pad's kReflect index (the edge pixel is not repeated), for -size < j < 2 size - 1.
inline int64_t ReflectIndex(int64_t j, int64_t size) {
  if (j < 0) return -j;
  if (j >= size) return 2 * (size - 1) - j;
  return j;
}

// Per-image working memory, reused across the images one thread handles.
struct Scratch {
  std::vector<int64_t> offset;  // crop^2: top-left source pixel of each output pixel
  std::vector<int64_t> dx, dy;  // crop^2: steps to its right and lower neighbours (0 past the edge)
  std::vector<float> wx, wy;    // crop^2: bilinear weights of the right and lower neighbours
  std::vector<float> sampled;   // C x crop x crop: resampled and reddened
  std::vector<float> rows;      // C x crop x crop: after the horizontal blur
  std::vector<float> padded;    // crop + 2 radius: one reflect-padded row
  std::vector<float> kernel;    // 2 radius + 1
  std::vector<float> factor;    // C: the net extinction factor per band
  std::vector<float> masked;    // C x S x S: the stored image with its outskirts masked
};

}  // namespace

std::vector<float> ExtinctionPerBand(const std::vector<double>& extinction, int64_t bands) {
  std::vector<float> r(static_cast<size_t>(bands), 0.0f);
  for (int64_t b = 0; b < bands && b < static_cast<int64_t>(extinction.size()); ++b) {
    r[static_cast<size_t>(b)] = static_cast<float>(extinction[static_cast<size_t>(b)]);
  }
  return r;
}

torch::Tensor FusedAugmentCpu(const FusedAugmentInputs& in, int64_t crop, int64_t blur_radius,
                              const std::vector<double>& extinction) {
  TORCH_CHECK(in.images.dim() == 4 && in.images.size(2) == in.images.size(3),
              "augmentation: images must be N x C x S x S, got ", in.images.sizes());
  TORCH_CHECK(blur_radius >= 1 && blur_radius < crop, "augmentation: blur radius ", blur_radius,
              " must be in [1, crop ", crop, ")");
  const int64_t n = in.images.size(0), bands = in.images.size(1), size = in.images.size(2);
  const int64_t plane = crop * crop, taps = 2 * blur_radius + 1;
  const auto as_float = [](const torch::Tensor& t) { return t.to(torch::kCPU, torch::kFloat32).contiguous(); };
  const torch::Tensor images = as_float(in.images), catalog = as_float(in.catalog_ebv), theta = as_float(in.theta);
  const torch::Tensor dust = as_float(in.dust_ebv), blur = as_float(in.blur_sigma);
  const bool noisy = in.noise.defined();
  torch::Tensor noise, noise_sigma;
  if (noisy) {
    noise = as_float(in.noise);
    noise_sigma = as_float(in.noise_sigma);
    TORCH_CHECK(noise.sizes() == torch::IntArrayRef({n, bands, crop, crop}) && noise_sigma.numel() == n * bands,
                "augmentation: noise field ", noise.sizes(), " and scale ", noise_sigma.sizes(),
                " do not match the images ", in.images.sizes(), " and crop ", crop);
  }
  TORCH_CHECK(catalog.numel() == n && dust.numel() == n && blur.numel() == n && theta.numel() == 6 * n,
              "augmentation: per-image draws do not match the batch of ", n);
  const bool masking = in.outskirt_radius.defined();
  torch::Tensor outskirt_radius, outskirt_sky;
  if (masking) {
    outskirt_radius = as_float(in.outskirt_radius);
    TORCH_CHECK(outskirt_radius.numel() == n, "augmentation: ", outskirt_radius.numel(),
                " outskirt radii for a batch of ", n);
    TORCH_CHECK(in.sky_sigma.empty() || static_cast<int64_t>(in.sky_sigma.size()) == bands,
                "augmentation: ", in.sky_sigma.size(), " sky noise levels for ", bands, " bands");
    if (!in.sky_sigma.empty()) {
      outskirt_sky = as_float(in.outskirt_sky);
      TORCH_CHECK(outskirt_sky.sizes() == in.images.sizes(), "augmentation: outskirt sky ", outskirt_sky.sizes(),
                  " does not match the images ", in.images.sizes());
    }
  }
  const std::vector<float> coefficient = ExtinctionPerBand(extinction, bands);
  torch::Tensor result = torch::empty({n, bands, crop, crop}, torch::kFloat32);
  const float* src_all = images.data_ptr<float>();
  float* out_all = result.data_ptr<float>();

  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    Scratch s;
    s.offset.resize(static_cast<size_t>(plane));
    s.dx.resize(static_cast<size_t>(plane));
    s.dy.resize(static_cast<size_t>(plane));
    s.wx.resize(static_cast<size_t>(plane));
    s.wy.resize(static_cast<size_t>(plane));
    s.sampled.resize(static_cast<size_t>(bands * plane));
    s.rows.resize(static_cast<size_t>(bands * plane));
    s.padded.resize(static_cast<size_t>(crop + 2 * blur_radius));
    s.kernel.resize(static_cast<size_t>(taps));
    s.factor.resize(static_cast<size_t>(bands));
    for (int64_t i = begin; i < end; ++i) {
      // 0. The outskirts replaced by sky, in a copy of the stored image.
      const float* image = src_all + i * bands * size * size;
      const float radius = masking ? outskirt_radius.data_ptr<float>()[i] : 0.0f;
      if (masking && std::isfinite(radius)) {
        s.masked.resize(static_cast<size_t>(bands * size * size));
        const float r2 = radius * radius, centre = static_cast<float>(size - 1) / 2;
        for (int64_t b = 0; b < bands; ++b) {
          const int64_t at = b * size * size;
          const float level = in.sky_sigma.empty() ? 0.0f : in.sky_sigma[static_cast<size_t>(b)];
          const float* sky = in.sky_sigma.empty() ? nullptr : outskirt_sky.data_ptr<float>() + i * bands * size * size + at;
          for (int64_t y = 0; y < size; ++y) {
            const float dy = static_cast<float>(y) - centre;
            for (int64_t x = 0; x < size; ++x) {
              const float dx = static_cast<float>(x) - centre;
              const int64_t k = at + y * size + x;
              const bool outside = dy * dy + dx * dx > r2;
              s.masked[static_cast<size_t>(k)] = !outside ? image[k] : sky == nullptr ? 0.0f : sky[k - at] * level;
            }
          }
        }
        image = s.masked.data();
      }
      // 1 + 3. De-reddening and reddening are per-band factors, so they commute with the
      // resampling and blur: one factor 10^(0.4 R_b (E_catalog - E_dust)) per band.
      const float e_catalog = catalog.data_ptr<float>()[i], e_dust = dust.data_ptr<float>()[i];
      for (int64_t b = 0; b < bands; ++b) {
        const float r = coefficient[static_cast<size_t>(b)];
        s.factor[static_cast<size_t>(b)] = std::pow(10.0f, e_catalog * r * 0.4f) * std::pow(10.0f, e_dust * r * -0.4f);
      }
      // 2. The affine resampling: where each output pixel comes from (shared by the bands).
      const float* t = theta.data_ptr<float>() + 6 * i;
      for (int64_t y = 0; y < crop; ++y) {
        const float yn = (2.0f * static_cast<float>(y) + 1) / static_cast<float>(crop) - 1;
        for (int64_t x = 0; x < crop; ++x) {
          const float xn = (2.0f * static_cast<float>(x) + 1) / static_cast<float>(crop) - 1;
          const float ix = SourceCoordinate(t[0] * xn + t[1] * yn + t[2], size);
          const float iy = SourceCoordinate(t[3] * xn + t[4] * yn + t[5], size);
          // ix, iy >= 0 after the clip: truncation is the floor (and cheaper than the call).
          const int64_t x0 = static_cast<int64_t>(ix), y0 = static_cast<int64_t>(iy);
          const int64_t k = y * crop + x;
          s.offset[static_cast<size_t>(k)] = y0 * size + x0;
          // A neighbour past the last row or column has weight 0 (the coordinate was clipped to
          // size - 1): step to the pixel itself rather than out of bounds.
          s.dx[static_cast<size_t>(k)] = x0 + 1 < size ? 1 : 0;
          s.dy[static_cast<size_t>(k)] = y0 + 1 < size ? size : 0;
          s.wx[static_cast<size_t>(k)] = ix - static_cast<float>(x0);
          s.wy[static_cast<size_t>(k)] = iy - static_cast<float>(y0);
        }
      }
      for (int64_t b = 0; b < bands; ++b) {
        const float* src = image + b * size * size;
        float* dst = s.sampled.data() + b * plane;
        const float f = s.factor[static_cast<size_t>(b)];
        for (int64_t k = 0; k < plane; ++k) {
          const int64_t o = s.offset[static_cast<size_t>(k)];
          const float wx = s.wx[static_cast<size_t>(k)], wy = s.wy[static_cast<size_t>(k)];
          const int64_t dx = s.dx[static_cast<size_t>(k)], dy = s.dy[static_cast<size_t>(k)];
          const float top = src[o] + wx * (src[o + dx] - src[o]);
          const float bottom = src[o + dy] + wx * (src[o + dy + dx] - src[o + dy]);
          dst[k] = (top + wy * (bottom - top)) * f;
        }
      }
      // 4. Separable Gaussian blur with reflect padding.
      const float sigma = std::max(blur.data_ptr<float>()[i], 1e-3f);
      float total = 0;
      for (int64_t k = 0; k < taps; ++k) {
        const float u = static_cast<float>(k - blur_radius) / sigma;
        s.kernel[static_cast<size_t>(k)] = std::exp(-0.5f * u * u);
        total += s.kernel[static_cast<size_t>(k)];
      }
      for (float& w : s.kernel) w /= total;
      for (int64_t row = 0; row < bands * crop; ++row) {
        const float* line = s.sampled.data() + row * crop;
        float* padded = s.padded.data() + blur_radius;
        std::copy(line, line + crop, padded);
        for (int64_t j = 1; j <= blur_radius; ++j) {
          padded[-j] = line[ReflectIndex(-j, crop)];
          padded[crop - 1 + j] = line[ReflectIndex(crop - 1 + j, crop)];
        }
        float* acc = s.rows.data() + row * crop;
        std::fill(acc, acc + crop, 0.0f);
        for (int64_t k = 0; k < taps; ++k) {
          const float w = s.kernel[static_cast<size_t>(k)];
          const float* p = s.padded.data() + k;
          for (int64_t x = 0; x < crop; ++x) acc[x] += w * p[x];
        }
      }
      // 5. Vertical blur, then the noise, straight into the result.
      for (int64_t b = 0; b < bands; ++b) {
        const float* rows = s.rows.data() + b * plane;
        const float* field = noisy ? noise.data_ptr<float>() + (i * bands + b) * plane : nullptr;
        const float level = noisy ? noise_sigma.data_ptr<float>()[i * bands + b] : 0.0f;
        for (int64_t y = 0; y < crop; ++y) {
          float* acc = out_all + (i * bands + b) * plane + y * crop;
          std::fill(acc, acc + crop, 0.0f);
          for (int64_t k = 0; k < taps; ++k) {
            const float w = s.kernel[static_cast<size_t>(k)];
            const float* p = rows + ReflectIndex(y + k - blur_radius, crop) * crop;
            for (int64_t x = 0; x < crop; ++x) acc[x] += w * p[x];
          }
          if (field != nullptr) {
            const float* z = field + y * crop;
            for (int64_t x = 0; x < crop; ++x) acc[x] += z[x] * level;
          }
        }
      }
    }
  });
  return result;
}

}  // namespace galaxy
