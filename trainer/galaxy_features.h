// Per-galaxy feature vectors for evaluation: a frozen network's representation, and the
// classical aperture colours it is compared with. Include only from .cc files using LibTorch.
#ifndef GALAXY_TRAINER_GALAXY_FEATURES_H_
#define GALAXY_TRAINER_GALAXY_FEATURES_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/photoz/photometry.h"
#include "model/checkpoint.h"
#include "trainer/training_data.h"

namespace galaxy {

// How EmbedImages reads each image.
struct EmbedOptions {
  // The mean over the image's eight turns by multiples of 90 degrees and their mirror images:
  // exactly invariant to those, at 8x the cost.
  bool dihedral = false;
  // The features are every stage's pooled output concatenated (ResNetImpl::StageFeatures), not
  // only the last stage's; the projection head still reads the last.
  bool stages = false;
};

// Backbone features and, with `head`, projection outputs of images (N x C x S x S, raw fluxes,
// any device) with catalog E(B-V) `e_bv` (N), or only of rows `rows` (int64 on the images'
// device; undefined: all): de-reddened, centre-cropped to `crop`, moved to `device`, in batches
// of 256, without gradients, by the forward pass inference runs (Represent, model/checkpoint.h).
// The modules are used in whatever mode they are in (callers put them in evaluation mode).
// Both float32 on the CPU, not normalised; `projections` undefined without a head.
struct Embeddings {
  torch::Tensor features, projections;
};
Embeddings EmbedImages(ResNetImpl& backbone, ProjectionHeadImpl* head, const torch::Tensor& images,
                       const torch::Tensor& e_bv, int64_t crop, const torch::Device& device,
                       const torch::Tensor& rows = {}, const EmbedOptions& options = {});

// A checkpoint loaded for frozen use: in evaluation mode on the device `device_name` names
// (cpu | cuda | auto), with `threads` CPU threads; `projection` says whether the representation
// is the projection head's output (`features` "projection") or the backbone's ("backbone", or
// "stages": every stage's pooled output, embed.stages); embed.dihedral averages it over each
// image's turns and mirrors (EmbedImages).
struct FrozenModel {
  GalaxyNet net;
  torch::Device device = torch::kCPU;
  bool projection = false;
  EmbedOptions embed;
};
// INVALID_ARGUMENT naming --features and the choices when `features` is none of FeatureKinds()
// (trainer/probe.h).
absl::Status ValidateFeatureKind(const std::string& features);

// INVALID_ARGUMENT naming --features when it is none of FeatureKinds() (trainer/probe.h), or "projection" for a model
// without that head; errors of the checkpoint reader and device resolution pass through. Sets
// the CPU threads and, for the embedding passes that follow, KeepFreedMemoryForReuse
// (model/torch_info.h): for galaxy-train's probe and quality, not for a server.
absl::StatusOr<FrozenModel> LoadFrozenModel(const std::string& model_path, const std::string& features,
                                            const std::string& device_name, int threads);

// The frozen representation of every image (or of rows `rows` of `images`, in that order): the
// projection output when model.projection, else the backbone features. N x D float32 on the CPU,
// not normalised.
torch::Tensor FrozenFeatures(FrozenModel& model, const torch::Tensor& images, const torch::Tensor& e_bv,
                             const torch::Tensor& rows = {});

// The classical photo-z features (data/photoz/photometry.h: de-reddened aperture r magnitude and
// colours) of rows `rows` of `data`, row-major: rows.size() x dim values; *dim is set. The
// aperture's radius is `radius_px` pixels (default 3 arcsec). The images are copied a few
// thousand at a time, so any number of rows fits.
std::vector<double> ApertureColourRows(const TrainingData& data, const std::vector<int64_t>& rows, int* dim,
                                       double radius_px = kDefaultApertureRadiusPx);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_GALAXY_FEATURES_H_
