// Checkpoint files: one LibTorch archive holding the metadata (JSON, model/model_metadata.h) and
// named parts (modules, tensors, the optimizer state). Written through a temporary file and a
// rename, so a crash mid-save keeps the previous checkpoint intact.
//
// The network a checkpoint describes (GalaxyNet) is loadable without the trainer: the indexer and
// the server call LoadGalaxyNet(). Include only from .cc files that already use LibTorch.
#ifndef GALAXY_MODEL_CHECKPOINT_H_
#define GALAXY_MODEL_CHECKPOINT_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/embedder.h"
#include "model/heads.h"
#include "model/model_metadata.h"
#include "model/resnet.h"

namespace galaxy {

class CheckpointWriter {
 public:
  explicit CheckpointWriter(ModelMetadata metadata) : metadata_(std::move(metadata)) {}
  void AddModule(const std::string& name, const torch::nn::Module& module);
  void AddTensor(const std::string& name, const torch::Tensor& tensor);
  void AddOptimizer(const torch::optim::Optimizer& optimizer);
  // Writes the archive to `path` atomically. INTERNAL on I/O failure.
  absl::Status Save(const std::string& path);

 private:
  ModelMetadata metadata_;
  torch::serialize::OutputArchive archive_;
};

class CheckpointReader {
 public:
  // Opens and parses the metadata. NOT_FOUND for a missing file; DATA_LOSS for a file that is
  // not a readable checkpoint (truncated, corrupt, another format); errors name the path.
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& path);

  const ModelMetadata& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }
  // Loads part `name` into `module`. NOT_FOUND when absent; DATA_LOSS when shapes do not match
  // (the message names the part).
  absl::Status LoadModule(const std::string& name, torch::nn::Module& module);
  absl::StatusOr<torch::Tensor> LoadTensor(const std::string& name);
  absl::Status LoadOptimizer(torch::optim::Optimizer& optimizer);

 private:
  CheckpointReader() = default;
  std::string path_;
  ModelMetadata metadata_;
  torch::serialize::InputArchive archive_;
};

// One batch's representation, as every embedding reads it (GalaxyNet::Infer, the trainer's
// EmbedImages): `x` preprocessed (PreprocessForModel) on the modules' device, run through the
// backbone (every stage's pooled output with `stages`, ResNetImpl::StageFeatures) and, with
// `head`, the head's projection of the last stage's features, without touching the modules'
// mode. Each is float32 and not normalised, for the image as given (view 0) and as the mean
// over its first `views` turns and mirrors (DihedralView; 1 to kDihedralViewCount, one forward
// pass each). `last` is view 0's last-stage features in the pass's own precision: what a
// redshift head reads. `projections` and `first_projections` are undefined without a head.
struct Representation {
  torch::Tensor features, projections;              // the mean over the views
  torch::Tensor first_features, first_projections;  // view 0
  torch::Tensor last;
};
Representation Represent(ResNetImpl& backbone, ProjectionHeadImpl* head, const torch::Tensor& x, bool stages,
                         int views);

// The inference network of a checkpoint.
struct GalaxyNet {
  ModelMetadata metadata;
  ResNet backbone{nullptr};
  ProjectionHead projection{nullptr};  // when metadata.has_projection_head
  RedshiftHead redshift{nullptr};      // when metadata.has_redshift_head
  RedshiftBins bins;

  // What the network makes of raw images (N x C x H x W fluxes, any device, H and W at least
  // metadata.image_size) with catalog E(B-V) `e_bv` (N): de-reddened and centre-cropped
  // (PreprocessForModel), moved to `device`, without gradients, with the modules in whatever
  // mode they are in. `embedding`: L2-normalised float32, parts.features' (the backbone's when
  // the projection is asked of a model without one; only with parts.embedding); `redshift`: the head's
  // estimate (only with parts.redshift and a redshift head; pdf, mean and sigma undefined
  // otherwise). On CUDA, parts.cuda_fast runs channels-last under bf16 autocast, as served.
  // With parts.turn_average (and parts.embedding), `turn_averaged` is the same features
  // averaged over the image's eight turns and mirrors (DihedralView), then L2-normalised: eight
  // forward passes, the first of them `embedding`'s.
  // The one forward pass of inference: the Embedder (model/embedder.h) and the trainer's
  // redshift evaluation both run it, and its representation is Represent's, which the trainer's
  // embeddings (EmbedImages: the probe, the monitor, the quality measures) run too.
  struct Parts {
    bool embedding = true;
    bool redshift = false;
    bool turn_average = false;
    bool cuda_fast = false;
    EmbeddingFeatures features = EmbeddingFeatures::kBackbone;
  };
  struct Output {
    torch::Tensor embedding;
    torch::Tensor turn_averaged;
    RedshiftEstimate redshift;
  };
  Output Infer(const torch::Tensor& images, const torch::Tensor& e_bv, const torch::Device& device,
               const Parts& parts);
};

// The Embedder (model/embedder.h) of a network already in memory, on `device`, embedding
// `features`: what LoadEmbedder makes of a checkpoint (BatchNorm folded, channels-last on CUDA).
// The training benchmark times its freshly built network through it. INVALID_ARGUMENT for the
// projection of a network without one.
absl::StatusOr<std::unique_ptr<Embedder>> MakeEmbedder(GalaxyNet net, torch::Device device,
                                                       EmbeddingFeatures features);

// The backbone a checkpoint's metadata describes: architecture, stem, bands, input stretch.
ResNetConfig BackboneConfig(const ModelMetadata& metadata);

// Loads backbone and heads for inference, in eval mode, on `device`. Errors as CheckpointReader,
// plus INVALID_ARGUMENT for metadata that names an unknown architecture.
absl::StatusOr<GalaxyNet> LoadGalaxyNet(const std::string& path, torch::Device device);

// Names of the parts, shared by writers and readers.
inline constexpr char kBackbonePart[] = "backbone";
inline constexpr char kProjectionPart[] = "projection";
// Pretraining's photometric pretext head (PretrainOptions::photometry_weight), kept for resuming.
inline constexpr char kPhotometryHeadPart[] = "photometry_head";
inline constexpr char kRedshiftPart[] = "redshift_head";

}  // namespace galaxy

#endif  // GALAXY_MODEL_CHECKPOINT_H_
