#include "trainer/galaxy_features.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/photoz/photometry.h"
#include "model/augment.h"
#include "model/torch_info.h"
#include "trainer/probe.h"

namespace galaxy {

Embeddings EmbedImages(ResNetImpl& backbone, ProjectionHeadImpl* head, const torch::Tensor& images,
                       const torch::Tensor& e_bv, int64_t crop, const torch::Device& device, const torch::Tensor& rows,
                       const EmbedOptions& options) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> features, projections;
  const int64_t n = rows.defined() ? rows.size(0) : images.size(0);
  // A line every half minute: at full resolution on one core 50,000 galaxies take about 14 minutes
  // (eight times that averaged over the turns); short calls (the monitor, uploads) log nothing.
  Progress progress(options.dihedral ? absl::StrCat("embedding (", kDihedralViewCount, " views)") : "embedding",
                    "galaxies", n, absl::Seconds(30));
  for (int64_t start = 0; start < n; start += 256) {
    const int64_t m = std::min<int64_t>(256, n - start);
    torch::Tensor x, ebv;
    if (rows.defined()) {
      const torch::Tensor chunk = rows.narrow(0, start, m);
      x = images.index_select(0, chunk);
      ebv = e_bv.index_select(0, chunk);
    } else {
      x = images.narrow(0, start, m);
      ebv = e_bv.narrow(0, start, m);
    }
    const torch::Tensor input = PreprocessForModel(x.to(device), ebv.to(device), crop);
    const Representation r =
        Represent(backbone, head, input, options.stages, options.dihedral ? kDihedralViewCount : 1);
    features.push_back(r.features.to(torch::kCPU));
    if (head != nullptr) projections.push_back(r.projections.to(torch::kCPU));
    progress.Update(start + m);
  }
  Embeddings out;
  out.features = torch::cat(features);
  if (head != nullptr) out.projections = torch::cat(projections);
  return out;
}

absl::Status ValidateFeatureKind(const std::string& features) {
  const std::vector<std::string>& kinds = FeatureKinds();
  if (std::find(kinds.begin(), kinds.end(), features) != kinds.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--features: unknown '", features, "' (",
                                                 absl::StrJoin(kinds.begin(), kinds.end() - 1, ", "), " or ",
                                                 kinds.back(), ")"));
}

absl::StatusOr<FrozenModel> LoadFrozenModel(const std::string& model_path, const std::string& features,
                                            const std::string& device_name, int threads) {
  GALAXY_RETURN_IF_ERROR(ValidateFeatureKind(features));
  SetCpuThreads(threads);
  KeepFreedMemoryForReuse();  // probe and quality embed batch after batch of the same shapes
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(device_name));
  FrozenModel model;
  model.device = kind == DeviceKind::kCuda ? torch::kCUDA : torch::kCPU;
  model.projection = features == "projection";
  model.embed.stages = features == "stages";
  GALAXY_ASSIGN_OR_RETURN(model.net, LoadGalaxyNet(model_path, model.device));
  if (model.projection && !model.net.projection) {
    return absl::InvalidArgumentError(absl::StrCat("--features projection: ", model_path, " has no projection head"));
  }
  model.net.backbone->eval();
  if (model.net.projection) model.net.projection->eval();
  return model;
}

torch::Tensor FrozenFeatures(FrozenModel& model, const torch::Tensor& images, const torch::Tensor& e_bv,
                             const torch::Tensor& rows) {
  GalaxyNet& net = model.net;
  const int64_t crop = std::min<int64_t>(net.metadata.image_size, images.size(2));
  const Embeddings e = EmbedImages(*net.backbone, model.projection ? net.projection.get() : nullptr, images, e_bv,
                                   crop, model.device, rows, model.embed);
  return model.projection ? e.projections : e.features;
}

std::vector<double> ApertureColourRows(const TrainingData& data, const std::vector<int64_t>& rows, int* dim,
                                       double radius_px) {
  const torch::Tensor ebv = data.e_bv.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* ebv_p = ebv.data_ptr<double>();
  const torch::Tensor index = torch::tensor(rows, torch::kInt64).to(data.images.device());
  constexpr int64_t kChunk = 2048;  // images copied at a time: all of a survey would be gigabytes
  std::vector<double> out;
  *dim = 0;
  for (int64_t start = 0; start < index.size(0); start += kChunk) {
    const torch::Tensor chunk = index.narrow(0, start, std::min(kChunk, index.size(0) - start));
    const torch::Tensor images = data.images.index_select(0, chunk).to(torch::kCPU, torch::kFloat32).contiguous();
    const int64_t c = images.size(1), h = images.size(2), w = images.size(3);
    for (int64_t i = 0; i < images.size(0); ++i) {
      const std::vector<double> fluxes = ApertureFluxes(images.data_ptr<float>() + i * c * h * w, static_cast<int>(c),
                                                        static_cast<int>(h), static_cast<int>(w), radius_px);
      const std::vector<double> f = ColourFeatures(fluxes, ebv_p[rows[static_cast<size_t>(start + i)]]);
      *dim = static_cast<int>(f.size());
      out.insert(out.end(), f.begin(), f.end());
    }
  }
  return out;
}

}  // namespace galaxy
