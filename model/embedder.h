// The one inference path: what a trained network makes of images. The server (uploaded images),
// the indexer (every galaxy of a survey) and the training benchmark all embed through an
// Embedder; LoadEmbedder gives the LibTorch one, and tests give a fake (tests/fake_embedder.h),
// so that code which only moves images and answers around needs no trained model.
// No LibTorch type appears here: the server and indexer compile without LibTorch headers.
#ifndef GALAXY_MODEL_EMBEDDER_H_
#define GALAXY_MODEL_EMBEDDER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model/model_metadata.h"

namespace galaxy {

// Which of the network's outputs are the embeddings that are indexed and searched.
//  - kBackbone: the backbone's pooled features (2048 values for ResNet50), the standard
//    representation of a self-supervised model for downstream use. Measured better than the
//    projection for same-type neighbours, redshift and anomaly scores (docs/SCIENCE.md, "Which
//    features are served"): the default.
//  - kProjection: the MoCo projection head's output (128 values), the space the contrastive loss
//    shaped: more stable under turns of the image, and a 16th of the memory per galaxy for
//    ResNet50.
//  - kStages: every stage's pooled features, concatenated (ResNetImpl::StageFeatures: 240 values
//    for tiny, 3840 for ResNet50), the last stage's among them. The earlier stages keep the small
//    structure (rings, companions) the last one pools away: higher anomaly AUC for every kind at
//    the same same-type neighbours (docs/SCIENCE.md, "Which features are served"), for ~1.9x the
//    memory per galaxy.
enum class EmbeddingFeatures { kBackbone, kProjection, kStages };
inline constexpr char kEmbeddingFeaturesNames[] = "backbone, stages, projection";
const char* EmbeddingFeaturesName(EmbeddingFeatures features);
// INVALID_ARGUMENT naming the accepted values for anything else.
absl::StatusOr<EmbeddingFeatures> ParseEmbeddingFeatures(absl::string_view name);

// What is asked of the model besides the embeddings.
struct EmbedParts {
  // The redshift pdfs (when the model has a redshift head).
  bool redshift = false;
  // The embeddings averaged over each image's eight turns and mirrors (model/augment.h,
  // DihedralView): eight forward passes instead of one. The anomaly score that reads both
  // (indexer/anomaly_score.h, kMahalanobisTurns) needs them.
  bool turn_average = false;
};

// What the model makes of n images.
struct EmbedOutput {
  // n x Embedder::embedding_dim(), L2-normalised.
  std::vector<float> embeddings;
  // n x Embedder::embedding_dim(), L2-normalised: the features averaged over the eight turns and
  // mirrors of each image (the first of them the image itself); empty unless asked for.
  std::vector<float> turn_averaged;
  // n x metadata().redshift_bins redshift probabilities (calibrated by the model's temperature),
  // the point estimate and its sigma (n each; model/heads.h EstimateRedshift); empty unless asked
  // for and the model has a redshift head.
  std::vector<float> pdf;
  std::vector<float> z_mean, z_sigma;

  // Rows [first, first + n) of these `total` images' results.
  EmbedOutput Rows(int total, int first, int n) const;
  // The first image (of `total`) with a non-finite embedding (or turn-averaged) value, or -1: a
  // corrupt model's sign, which each caller reports in its own terms.
  int FirstNonFinite(int total) const;
};

// The images an Embedder reads: n x bands x height x width raw fluxes (nanomaggies), row-major,
// with each galaxy's catalog E(B-V). height and width are at least metadata().image_size; the
// model sees the centre crop of that size, de-reddened (model/augment.h, PreprocessForModel).
struct ImageBatch {
  const float* pixels = nullptr;
  const float* e_bv = nullptr;
  int n = 0, height = 0, width = 0;
};

// Where the centre crop of `crop` pixels starts along an axis of `extent` pixels: what the model
// sees of a larger cutout (PreprocessForModel crops with it; the server's batcher crops uploads
// of different sizes with it before they share a forward pass).
inline int CentreCropStart(int extent, int crop) { return (extent - crop) / 2; }

// Copies the centre `crop` x `crop` of each band of a bands x height x width image to `out`.
void AppendCentreCrop(const float* image, int bands, int height, int width, int crop, std::vector<float>* out);

class Embedder {
 public:
  virtual ~Embedder() = default;
  virtual const ModelMetadata& metadata() const = 0;
  virtual bool on_gpu() const = 0;
  // Which features the embeddings are, and their dimension (the checkpoint's feature_dim for the
  // backbone, its embedding_dim for the projection, the sum of the stages' widths for the stages).
  virtual EmbeddingFeatures features() const = 0;
  virtual int64_t embedding_dim() const = 0;
  // The embeddings of `images`, with the redshift pdfs when parts.redshift (and the model has a
  // redshift head) and the turn-averaged embeddings when parts.turn_average. Thread-safe.
  // INVALID_ARGUMENT when the batch does not fit the model (CheckImageBatch); INTERNAL naming
  // LibTorch's reason when the forward pass fails. A corrupt model's non-finite embeddings are
  // returned as they are (EmbedOutput::FirstNonFinite).
  virtual absl::StatusOr<EmbedOutput> Embed(const ImageBatch& images, const EmbedParts& parts) const = 0;
};

// The LibTorch embedder of a checkpoint, for inference on `device` ("cpu", "cuda", "auto"), whose
// embeddings are `features`: BatchNorm folded into the convolutions, channels-last and bf16
// autocast on CUDA. Calls are serialised inside (modules are not safe to run concurrently on the
// GPU); the server's batcher makes concurrent callers share one call instead. Errors of the
// checkpoint reader and of device resolution pass through; INVALID_ARGUMENT for kProjection from
// a model without a projection head.
absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedder(const std::string& checkpoint, const std::string& device,
                                                       EmbeddingFeatures features);

// Makes the Embedder of a checkpoint file for a device: LoadEmbedder, unless a test gives a fake
// to the snapshot builder or the server.
using EmbedderLoader = std::function<absl::StatusOr<std::unique_ptr<Embedder>>(
    const std::string& checkpoint, const std::string& device, EmbeddingFeatures features)>;

// INVALID_ARGUMENT naming what does not fit when `images` cannot be embedded by a model with
// `metadata` (shared by every implementation, so that a fake refuses what the real one refuses).
absl::Status CheckImageBatch(const ImageBatch& images, const ModelMetadata& metadata);

}  // namespace galaxy

#endif  // GALAXY_MODEL_EMBEDDER_H_
