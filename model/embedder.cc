#include "model/embedder.h"

#include <torch/torch.h>

#include <cmath>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "model/checkpoint.h"
#include "model/resnet.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"

namespace galaxy {
namespace {

std::vector<float> ToHost(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kFloat32).contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

class TorchEmbedder : public Embedder {
 public:
  TorchEmbedder(GalaxyNet net, torch::Device device, EmbeddingFeatures features)
      : net_(std::move(net)), device_(device), features_(features) {}

  const ModelMetadata& metadata() const override { return net_.metadata; }
  bool on_gpu() const override { return device_.is_cuda(); }
  EmbeddingFeatures features() const override { return features_; }
  int64_t embedding_dim() const override {
    switch (features_) {
      case EmbeddingFeatures::kProjection: return net_.metadata.embedding_dim;
      case EmbeddingFeatures::kStages: return BackboneConfig(net_.metadata).stage_features_dim();
      case EmbeddingFeatures::kBackbone: break;
    }
    return BackboneConfig(net_.metadata).feature_dim();
  }

  absl::StatusOr<EmbedOutput> Embed(const ImageBatch& images, const EmbedParts& wanted) const override {
    GALAXY_RETURN_IF_ERROR(CheckImageBatch(images, net_.metadata));
    EmbedOutput out;
    try {
      std::lock_guard<std::mutex> lock(mu_);
      const torch::Tensor x = torch::from_blob(const_cast<float*>(images.pixels),
                                               {images.n, net_.metadata.bands(), images.height, images.width},
                                               torch::kFloat32);
      const torch::Tensor ebv = torch::from_blob(const_cast<float*>(images.e_bv), {images.n}, torch::kFloat32);
      GalaxyNet::Parts parts;
      parts.redshift = wanted.redshift;
      parts.turn_average = wanted.turn_average;
      parts.cuda_fast = true;
      parts.features = features_;
      const GalaxyNet::Output o = net_.Infer(x, ebv, device_, parts);
      out.embeddings = ToHost(o.embedding);
      if (o.turn_averaged.defined()) out.turn_averaged = ToHost(o.turn_averaged);
      if (o.redshift.pdf.defined()) {
        out.pdf = ToHost(o.redshift.pdf);
        out.z_mean = ToHost(o.redshift.mean);
        out.z_sigma = ToHost(o.redshift.sigma);
      }
    } catch (const std::exception& e) {
      return StatusFromException(e, "running the model");
    }
    return out;
  }

 private:
  mutable GalaxyNet net_;
  const torch::Device device_;
  const EmbeddingFeatures features_;
  mutable std::mutex mu_;
};

}  // namespace

const char* EmbeddingFeaturesName(EmbeddingFeatures features) {
  switch (features) {
    case EmbeddingFeatures::kProjection: return "projection";
    case EmbeddingFeatures::kStages: return "stages";
    case EmbeddingFeatures::kBackbone: break;
  }
  return "backbone";
}

absl::StatusOr<EmbeddingFeatures> ParseEmbeddingFeatures(absl::string_view name) {
  if (name == "backbone") return EmbeddingFeatures::kBackbone;
  if (name == "projection") return EmbeddingFeatures::kProjection;
  if (name == "stages") return EmbeddingFeatures::kStages;
  return absl::InvalidArgumentError(
      absl::StrCat("features '", name, "': expected one of ", kEmbeddingFeaturesNames));
}

void AppendCentreCrop(const float* image, int bands, int height, int width, int crop, std::vector<float>* out) {
  const int top = CentreCropStart(height, crop), left = CentreCropStart(width, crop);
  for (int b = 0; b < bands; ++b) {
    for (int y = 0; y < crop; ++y) {
      const float* row = image + (static_cast<size_t>(b) * height + top + y) * width + left;
      out->insert(out->end(), row, row + crop);
    }
  }
}

EmbedOutput EmbedOutput::Rows(int total, int first, int n) const {
  EmbedOutput out;
  const auto rows = [&](const std::vector<float>& v, std::vector<float>* dst) {
    if (v.empty() || total <= 0) return;
    const size_t width = v.size() / static_cast<size_t>(total);
    dst->assign(v.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(first) * width),
                v.begin() + static_cast<ptrdiff_t>(static_cast<size_t>(first + n) * width));
  };
  rows(embeddings, &out.embeddings);
  rows(turn_averaged, &out.turn_averaged);
  rows(pdf, &out.pdf);
  rows(z_mean, &out.z_mean);
  rows(z_sigma, &out.z_sigma);
  return out;
}

int EmbedOutput::FirstNonFinite(int total) const {
  if (total <= 0) return -1;
  int first = -1;
  for (const std::vector<float>* v : {&embeddings, &turn_averaged}) {
    if (v->empty()) continue;
    const size_t width = v->size() / static_cast<size_t>(total);
    for (size_t i = 0; i < v->size(); ++i) {
      if (std::isfinite((*v)[i])) continue;
      const int row = static_cast<int>(i / width);
      if (first < 0 || row < first) first = row;
      break;
    }
  }
  return first;
}

absl::Status CheckImageBatch(const ImageBatch& images, const ModelMetadata& metadata) {
  if (images.n <= 0 || images.pixels == nullptr || images.e_bv == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("embedding ", images.n, " images: nothing to embed"));
  }
  if (images.height < metadata.image_size || images.width < metadata.image_size) {
    return absl::InvalidArgumentError(absl::StrCat("images are ", images.height, " x ", images.width,
                                                   " px, smaller than the model's ", metadata.image_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Embedder>> MakeEmbedder(GalaxyNet net, torch::Device device,
                                                       EmbeddingFeatures features) {
  if (features == EmbeddingFeatures::kProjection && !net.projection) {
    return absl::InvalidArgumentError(absl::StrCat("features 'projection': the ", net.metadata.kind,
                                                   " model has no projection head; use the backbone's features"));
  }
  // Inference only: BatchNorm folded into the convolutions.
  net.backbone->FoldBatchNorm();
  if (device.is_cuda()) ToChannelsLast(*net.backbone);
  return std::make_unique<TorchEmbedder>(std::move(net), device, features);
}

absl::StatusOr<std::unique_ptr<Embedder>> LoadEmbedder(const std::string& checkpoint, const std::string& device,
                                                       EmbeddingFeatures features) {
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(device));
  const torch::Device d = kind == DeviceKind::kCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet net, LoadGalaxyNet(checkpoint, d));
  absl::StatusOr<std::unique_ptr<Embedder>> embedder = MakeEmbedder(std::move(net), d, features);
  if (!embedder.ok()) return Annotate(embedder.status(), checkpoint);
  return embedder;
}

}  // namespace galaxy
