#include "model/checkpoint.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "model/augment.h"
#include "model/torch_compat.h"

namespace galaxy {
namespace {
constexpr char kMetaKey[] = "galaxy_metadata";
}  // namespace

void CheckpointWriter::AddModule(const std::string& name, const torch::nn::Module& module) {
  // A folded network's convolutions carry the BatchNorms in their weights and an unregistered
  // bias: saved, it would load as a different network.
  module.apply([&](const torch::nn::Module& m) {
    const auto* resnet = dynamic_cast<const ResNetImpl*>(&m);
    TORCH_CHECK(resnet == nullptr || !resnet->folded(), "checkpoint part '", name,
                "': a network whose BatchNorm was folded for inference cannot be saved");
  });
  torch::serialize::OutputArchive sub;
  module.save(sub);
  archive_.write(name, sub);
}

void CheckpointWriter::AddTensor(const std::string& name, const torch::Tensor& tensor) {
  archive_.write(name, tensor.detach().to(torch::kCPU), /*is_buffer=*/true);
}

void CheckpointWriter::AddOptimizer(const torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive sub;
  optimizer.save(sub);
  archive_.write("optimizer", sub);
}

absl::Status CheckpointWriter::Save(const std::string& path) {
  archive_.write(kMetaKey, c10::IValue(metadata_.ToJson()));
  const std::string tmp = TempPathFor(path);
  try {
    archive_.save_to(tmp);
  } catch (const std::exception& e) {
    ::unlink(tmp.c_str());
    return StatusFromException(e, absl::StrCat("saving checkpoint ", path));
  }
  absl::Status renamed = DurableRename(tmp, path);
  if (!renamed.ok()) ::unlink(tmp.c_str());
  return renamed;
}

absl::StatusOr<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such checkpoint"));
  }
  std::unique_ptr<CheckpointReader> r(new CheckpointReader);
  r->path_ = path;
  try {
    r->archive_.load_from(path);
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    return absl::DataLossError(
        absl::StrCat(path, ": not a readable checkpoint (truncated or corrupt?): ", what));
  }
  c10::IValue meta;
  if (!r->archive_.try_read(kMetaKey, meta) || !meta.isString()) {
    return absl::DataLossError(absl::StrCat(path, ": not a galaxy-search checkpoint (no metadata)"));
  }
  absl::StatusOr<ModelMetadata> metadata = ModelMetadata::FromJson(meta.toStringRef());
  if (!metadata.ok()) return Annotate(metadata.status(), path);
  r->metadata_ = *metadata;
  return r;
}

absl::Status CheckpointReader::LoadModule(const std::string& name, torch::nn::Module& module) {
  torch::serialize::InputArchive sub;
  if (!archive_.try_read(name, sub)) {
    return absl::NotFoundError(absl::StrCat(path_, ": no part '", name, "'"));
  }
  try {
    module.load(sub);
  } catch (const std::exception& e) {
    return absl::DataLossError(absl::StrCat(path_, ": part '", name, "' does not fit the network (",
                                            std::string(e.what()).substr(0, std::string(e.what()).find('\n')),
                                            ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<torch::Tensor> CheckpointReader::LoadTensor(const std::string& name) {
  torch::Tensor t;
  if (!archive_.try_read(name, t)) {
    return absl::NotFoundError(absl::StrCat(path_, ": no tensor '", name, "'"));
  }
  return t;
}

absl::Status CheckpointReader::LoadOptimizer(torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive sub;
  if (!archive_.try_read("optimizer", sub)) {
    return absl::NotFoundError(absl::StrCat(path_, ": no optimizer state"));
  }
  try {
    optimizer.load(sub);
  } catch (const std::exception& e) {
    return StatusFromException(e, absl::StrCat(path_, ": optimizer state"));
  }
  return absl::OkStatus();
}

Representation Represent(ResNetImpl& backbone, ProjectionHeadImpl* head, const torch::Tensor& x, bool stages,
                         int views) {
  TORCH_CHECK(views >= 1 && views <= kDihedralViewCount, "Represent: ", views, " views; 1 to ",
              kDihedralViewCount);
  const int64_t dim = backbone.config.feature_dim();
  Representation r;
  // Summed in view order, then divided once: the mean of every caller alike.
  for (int v = 0; v < views; ++v) {
    const torch::Tensor view = DihedralView(x, v);
    // The stages end with the last stage's pooled features: one pass gives both.
    const torch::Tensor out = stages ? backbone.StageFeatures(view) : backbone.forward(view);
    const torch::Tensor last = stages ? out.narrow(1, out.size(1) - dim, dim) : out;
    const torch::Tensor f = out.to(torch::kFloat32);
    r.features = r.features.defined() ? r.features + f : f;
    torch::Tensor p;
    if (head != nullptr) {
      p = head->forward(last).to(torch::kFloat32);
      r.projections = r.projections.defined() ? r.projections + p : p;
    }
    if (v == 0) {
      r.first_features = f;
      r.first_projections = p;
      r.last = last;
    }
  }
  if (views > 1) {
    r.features = r.features / views;
    if (head != nullptr) r.projections = r.projections / views;
  }
  return r;
}

GalaxyNet::Output GalaxyNet::Infer(const torch::Tensor& images, const torch::Tensor& e_bv,
                                   const torch::Device& device, const Parts& parts) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  const bool fast = parts.cuda_fast && device.is_cuda();
  torch::Tensor x = PreprocessForModel(images.to(device), e_bv.to(device), metadata.image_size);
  if (fast) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
  CudaAutocast autocast(fast);
  const bool stages = parts.embedding && parts.features == EmbeddingFeatures::kStages;
  const bool project = parts.embedding && projection && parts.features == EmbeddingFeatures::kProjection;
  const int views = parts.embedding && parts.turn_average ? kDihedralViewCount : 1;
  const Representation r = Represent(*backbone, project ? projection.get() : nullptr, x, stages, views);
  Output out;
  if (parts.embedding) {
    const auto unit = F::NormalizeFuncOptions().dim(1);
    out.embedding = F::normalize(project ? r.first_projections : r.first_features, unit);
    if (parts.turn_average) out.turn_averaged = F::normalize(project ? r.projections : r.features, unit);
  }
  if (parts.redshift && redshift) {
    out.redshift = EstimateRedshift(redshift(r.last), bins, metadata.redshift_temperature);
  }
  return out;
}

ResNetConfig BackboneConfig(const ModelMetadata& metadata) {
  ResNetConfig config;
  config.arch = metadata.arch;
  config.stem = metadata.stem;
  config.in_channels = metadata.bands();
  config.input_softening = metadata.input_softening;
  return config;
}

absl::StatusOr<GalaxyNet> LoadGalaxyNet(const std::string& path, torch::Device device) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(path));
  GalaxyNet net;
  net.metadata = reader->metadata();
  const ResNetConfig config = BackboneConfig(net.metadata);
  if (absl::Status s = config.Validate(); !s.ok()) return Annotate(s, path);
  net.backbone = ResNet(config);
  GALAXY_RETURN_IF_ERROR(reader->LoadModule(kBackbonePart, *net.backbone));
  if (net.metadata.has_projection_head) {
    net.projection = ProjectionHead(config.feature_dim(), net.metadata.embedding_dim);
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kProjectionPart, *net.projection));
    net.projection->to(device);
    net.projection->eval();
  }
  if (net.metadata.has_redshift_head) {
    net.redshift = RedshiftHead(config.feature_dim(), net.metadata.redshift_bins, net.metadata.redshift_head_norm);
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kRedshiftPart, *net.redshift));
    net.redshift->to(device);
    net.redshift->eval();
  }
  net.bins.z_min = net.metadata.z_min;
  net.bins.z_max = net.metadata.z_max;
  net.bins.bins = net.metadata.redshift_bins;
  net.backbone->to(device);
  net.backbone->eval();
  return net;
}

}  // namespace galaxy
