// Per-galaxy feature vectors for evaluation: a frozen network's representation, and the
// classical aperture colours it is compared with. Include only from .cc files using LibTorch.
#ifndef GALAXY_TRAINER_GALAXY_FEATURES_H_
#define GALAXY_TRAINER_GALAXY_FEATURES_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "core/model/checkpoint.h"
#include "trainer/training_data.h"

namespace galaxy {

// The frozen representation of `images` (N x C x S x S, raw fluxes) with catalog E(B-V) `e_bv`
// (N): de-reddened, centre-cropped to the model's size, through the backbone (and the
// projection head when `projection`), in evaluation mode and batches of 256 on `device`.
// N x D float32 on the CPU, not normalised. `net` must have a projection head when
// `projection`.
torch::Tensor FrozenFeatures(GalaxyNet& net, const torch::Tensor& images, const torch::Tensor& e_bv,
                             bool projection, const torch::Device& device);

// The classical photo-z features (core/photometry.h: de-reddened aperture r magnitude and
// colours) of rows `rows` of `data`, row-major: rows.size() x dim values; *dim is set.
std::vector<double> ApertureColourRows(const TrainingData& data, const std::vector<int64_t>& rows, int* dim);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_GALAXY_FEATURES_H_
