// The CPU form of Augmenter::Apply: the five augmentation steps fused into one pass per image,
// images in parallel on LibTorch's intra-op threads. The step-by-step tensor form (what runs on a
// GPU) reads and writes the whole batch five times and runs grid_sample's and a grouped
// convolution's general kernels; on a 2-core CPU that was 15 ms of a 64-image view, about 5% of
// a ResNet18 training step. Same arithmetic as the tensor form, to float rounding (tested).
// Include only from .cc files using LibTorch.
#ifndef GALAXY_MODEL_AUGMENT_CPU_H_
#define GALAXY_MODEL_AUGMENT_CPU_H_

#include <torch/torch.h>

#include <vector>

namespace galaxy {

struct FusedAugmentInputs {
  torch::Tensor images;       // N x C x S x S float32, CPU
  torch::Tensor catalog_ebv;  // N: de-reddening E(B-V)
  torch::Tensor theta;        // N x 2 x 3 affine, normalised coordinates (align_corners false)
  torch::Tensor dust_ebv;     // N: added reddening E(B-V)
  torch::Tensor blur_sigma;   // N, pixels (clamped below at 1e-3, as the tensor form does)
  torch::Tensor noise;        // N x C x crop x crop, or undefined: no noise
  torch::Tensor noise_sigma;  // N x C: the noise field's scale per image and band
  // Step 0 (Augmenter::MaskOutskirts): the stored pixels farther than outskirt_radius (N; +inf:
  // none; undefined: no image) from the centre become outskirt_sky (N x C x S x S standard
  // normals) times sky_sigma (C; empty: 0).
  torch::Tensor outskirt_radius;
  torch::Tensor outskirt_sky;
  std::vector<float> sky_sigma;
};

// The extinction coefficients R_b as `bands` floats: bands past the end of `extinction` get 0
// (no correction). Shared by the fused kernel and the tensor form.
std::vector<float> ExtinctionPerBand(const std::vector<double>& extinction, int64_t bands);

// crop: output side; blur_radius: half-width of the blur kernel, pixels (>= 1, < crop);
// extinction: R_b per band (missing bands: 0). Returns N x C x crop x crop float32.
torch::Tensor FusedAugmentCpu(const FusedAugmentInputs& in, int64_t crop, int64_t blur_radius,
                              const std::vector<double>& extinction);

}  // namespace galaxy

#endif  // GALAXY_MODEL_AUGMENT_CPU_H_
