// The augmentations of self-supervised training, as batched tensor operations on the training
// device (docs/SCIENCE.md, "Augmentations"):
//   1. de-redden with the catalog E(B-V):     x_b *= 10^(0.4 R_b E(B-V))
//   2. ONE affine resampling per image: rotation U(0, 360 deg), horizontal flip (p = 0.5),
//      jitter of the centre by up to +-7 px, scale U(0.9, 1.1), and the centre crop to 64 px,
//      composed into a single matrix and applied with one bilinear grid_sample;
//   3. dust reddening with a new E(B-V):        x_b *= 10^(-0.4 R_b E), E drawn from the
//      survey's own distribution (a lognormal fitted to the catalog, as Stein et al. 2021) or
//      from U(0, max_dust);
//   4. PSF blur with a Gaussian of random width sigma ~ U(0, max_blur) px (separable);
//   5. Gaussian noise per band at a level u * sigma_b, u ~ U(0, max_noise), where sigma_b is the
//      data's own per-band noise.
// The random draws (AugmentDraws) are separate from their application so that the same draws
// can be applied on CPU and GPU and compared. Include only from .cc files using LibTorch.
#ifndef GALAXY_MODEL_AUGMENT_H_
#define GALAXY_MODEL_AUGMENT_H_

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

struct AugmentOptions {
  // Output side, pixels. Default 64.
  int64_t crop = 64;
  // Largest centre jitter, pixels. Default 7.
  double max_jitter = 7;
  // Scale range. Default 0.9 .. 1.1.
  double min_scale = 0.9, max_scale = 1.1;
  // The new dust reddening E(B-V): lognormal with median `dust_median` and standard deviation
  // `dust_log_sigma` of ln E when dust_log_sigma > 0 (FitDustDistribution gives the survey's
  // own), otherwise U(0, max_dust). Defaults: U(0, 0.5); 0 and 0: no dust change.
  double dust_median = 0;
  double dust_log_sigma = 0;
  double max_dust = 0.5;
  // Largest PSF blur sigma, pixels. Default 1.0.
  double max_blur = 1.0;
  // Per-band noise level of the data (nanomaggies per pixel); the added noise is up to
  // max_noise times this. Empty: no noise is added.
  std::vector<double> band_noise;
  // Largest added noise, in units of band_noise (each band of each view: U(0, max_noise)).
  // Default 1; 0 adds none (the masked outskirts' sky still has the data's noise).
  double max_noise = 1.0;
  // Draw the noise field on the images' device at Apply time (torch::randn with that device's
  // generator) instead of on the CPU in Draw: what training on a GPU wants. The CPU path keeps
  // drawing it in Draw, reproducibly. Default false.
  bool noise_on_device = false;
  // Galactic extinction coefficients R_b per band. Default SDSS u, g, r, i, z.
  std::vector<double> extinction = {4.239, 3.303, 2.285, 1.698, 1.263};
  // Share of the views whose outskirts are masked (step 0), and the range of the radius that is
  // kept, in pixels of the stored cutout around its centre. Defaults: none; 12 .. 32 px.
  // Without band_noise the masked sky is 0.
  double outskirt_mask_prob = 0;
  double outskirt_min_radius = 12, outskirt_max_radius = 32;
};

// Every random number of one batch's augmentation. CPU float32 tensors.
struct AugmentDraws {
  torch::Tensor theta;       // N x 2 x 3 affine (normalised coordinates, see Augmenter)
  torch::Tensor dust_ebv;    // N
  torch::Tensor blur_sigma;  // N, pixels
  torch::Tensor noise_level; // N x C, fraction of band_noise
  torch::Tensor noise;       // N x C x crop x crop standard normals (undefined: none, or drawn on
                             // the device by Apply when noise_on_device)
  torch::Tensor outskirt_radius;  // N, pixels of the stored cutout kept around its centre;
                                  // +infinity: not masked. Undefined: no view is masked.
  torch::Tensor outskirt_sky;     // N x C x S x S standard normals, the masked views' new sky
                                  // (zero for the others); undefined: none, no band_noise, or
                                  // drawn on the device (noise_on_device)

  // The draws of the images `rows` (int64 indices into N), in that order: one process's share
  // of a batch drawn whole, in data-parallel training.
  AugmentDraws Rows(const torch::Tensor& rows) const;
};

class Augmenter {
 public:
  // input_size: side of the stored images (>= crop).
  Augmenter(const AugmentOptions& options, int64_t bands, int64_t input_size);

  // Draws the randomness of one batch of n images from (seed, stream): deterministic.
  AugmentDraws Draw(int64_t n, uint64_t seed, uint64_t stream) const;

  // Applies the five steps to `images` (N x C x S x S, on any device) with catalog E(B-V) `e_bv`
  // (N). Draws are moved to the images' device. Returns N x C x crop x crop, float32. float32
  // images on the CPU take the fused kernel (model/augment_cpu.h); others ApplyOnDevice.
  torch::Tensor Apply(const torch::Tensor& images, const torch::Tensor& e_bv,
                      const AugmentDraws& draws) const;
  // The same for a GPU, with nothing that makes the host wait for the device: every per-image
  // number crosses in one asynchronous copy; the two extinction steps become one factor per
  // image and band applied after the (linear) resampling and blur; the blur, with its
  // reflection at the edges, is one small matrix per image applied by batched matmuls; float32
  // throughout, also inside an autocast region. Runs on the CPU too (tests compare it there).
  torch::Tensor ApplyOnDevice(const torch::Tensor& images, const torch::Tensor& e_bv,
                              const AugmentDraws& draws) const;
  // The same as batched tensor operations, one step after another, as the steps are written:
  // the reference the other forms are tested against.
  torch::Tensor ApplyStepByStep(const torch::Tensor& images, const torch::Tensor& e_bv,
                                const AugmentDraws& draws) const;

  // The individual steps, for tests and for evaluation-time preprocessing.
  torch::Tensor Deredden(const torch::Tensor& images, const torch::Tensor& e_bv) const;
  torch::Tensor Redden(const torch::Tensor& images, const torch::Tensor& e_bv) const;
  torch::Tensor Resample(const torch::Tensor& images, const torch::Tensor& theta) const;
  torch::Tensor Blur(const torch::Tensor& images, const torch::Tensor& sigma) const;
  // The central crop x crop pixels (no augmentation): what the model sees at inference.
  torch::Tensor CentreCrop(const torch::Tensor& images) const;
  // Step 0: the images (N x C x S x S, any device) with every pixel farther than `radius` (N,
  // stored-cutout pixels) from the centre replaced by `sky` (N x C x S x S standard normals,
  // undefined: drawn on the images' device) times the band noise (0 without one).
  torch::Tensor MaskOutskirts(const torch::Tensor& images, const torch::Tensor& radius, const torch::Tensor& sky) const;

  // The affine matrix of one draw: rotation `radians`, flip, jitter (dx, dy) px, scale.
  torch::Tensor AffineTheta(double radians, bool flip, double dx, double dy, double scale) const;

  const AugmentOptions& options() const { return options_; }

 private:
  std::array<float, 6> AffineCoefficients(double radians, bool flip, double dx, double dy, double scale) const;
  // Half-width of the blur kernel: 3 max_blur, at least 1 pixel.
  int64_t BlurRadius() const;
  // Whether Apply adds noise: the data's noise is known and the field was drawn, or is drawn at
  // Apply time (noise_on_device).
  bool AddsNoise(const AugmentDraws& draws) const;
  // N x C: the noise field's scale, noise_level x band_noise, on `device`.
  torch::Tensor NoiseSigma(const AugmentDraws& draws, const torch::Device& device) const;
  // Whether the draws mask the outskirts of any view (step 0).
  bool MasksAny(const AugmentDraws& draws) const;

  AugmentOptions options_;
  int64_t bands_, input_size_;
};

// What the model sees at inference (and on validation): de-reddened with the catalog E(B-V)
// (SDSS coefficients for five bands; no correction for other band counts) and centre-cropped to
// `crop` pixels. images: N x C x S x S; e_bv: N.
torch::Tensor PreprocessForModel(const torch::Tensor& images, const torch::Tensor& e_bv, int64_t crop);

// The eight symmetries of a square image that every view of training may show (turns by
// multiples of 90 degrees, and their mirror images): view v of images (N x C x S x S) is turned
// by v / 2 quarter turns, and mirrored when v is odd; v in 0..7, view 0 the image itself.
// Averaging a network's output over the eight makes it exactly invariant to them.
inline constexpr int kDihedralViewCount = 8;
torch::Tensor DihedralView(const torch::Tensor& images, int v);

// The lognormal that fits the positive values of a catalog's E(B-V) (N): median and standard
// deviation of ln E(B-V). {0, 0} when fewer than two values are positive and finite.
struct DustDistribution {
  double median = 0;
  double log_sigma = 0;
};
DustDistribution FitDustDistribution(const torch::Tensor& e_bv);

// Robust per-band noise estimate of images (N x C x H x W): 1.4826 * median |x - median| over the
// outer 8-pixel frame of each image, then the median over images. C values.
std::vector<double> EstimateBandNoise(const torch::Tensor& images);

// The network's input stretch (ResNetConfig::input_softening) for `stretch`: "asinh" softens
// each band at kSofteningInNoise times its noise (`band_noise`; a band without a measured noise,
// e.g. noise-free images, at 1% of the largest band noise, or 1 when none is known); "linear":
// none (empty). INVALID_ARGUMENT for another name.
//
// kSofteningInNoise = 10: faint outskirts stay linear, a galaxy's core (~100x the noise)
// enters as ~3, a saturated star's (~10^4x) as ~8. Measured on the 50,000-galaxy survey
// (docs/SCIENCE.md, "The input stretch"): 1x the noise was worse, 100x the same as 10x.
inline constexpr double kSofteningInNoise = 10;
absl::StatusOr<std::vector<double>> InputSoftening(absl::string_view stretch, const std::vector<double>& band_noise);

}  // namespace galaxy

#endif  // GALAXY_MODEL_AUGMENT_H_
