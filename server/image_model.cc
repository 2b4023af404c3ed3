#include "server/image_model.h"

#include <torch/torch.h>

#include <cmath>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"

namespace galaxy {

struct ImageModel::Impl {
  GalaxyNet net;
  torch::Device device = torch::kCPU;
  bool cuda = false;
  std::mutex mu;  // one forward pass at a time: modules are not safe to run concurrently on GPU
};

ImageModel::ImageModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ImageModel::~ImageModel() = default;

const ModelMetadata& ImageModel::metadata() const { return impl_->net.metadata; }
bool ImageModel::on_gpu() const { return impl_->cuda; }

absl::StatusOr<std::unique_ptr<ImageModel>> ImageModel::Load(const std::string& path, const std::string& device) {
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(device));
  auto impl = std::make_unique<Impl>();
  impl->cuda = kind == DeviceKind::kCuda;
  impl->device = impl->cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  GALAXY_ASSIGN_OR_RETURN(impl->net, LoadGalaxyNet(path, impl->device));
  // Inference only, as the indexer's embedding (the same folding on both sides).
  impl->net.backbone->FoldBatchNorm();
  if (impl->cuda) ToChannelsLast(*impl->net.backbone);
  return std::unique_ptr<ImageModel>(new ImageModel(std::move(impl)));
}

absl::StatusOr<ImageModelOutput> ImageModel::Run(const std::vector<float>& images, const std::vector<float>& e_bv,
                                                 int n) const {
  const ModelMetadata& m = impl_->net.metadata;
  const int64_t s = m.image_size;
  if (n <= 0 || images.size() != static_cast<size_t>(n) * m.bands() * s * s || e_bv.size() != static_cast<size_t>(n)) {
    return absl::InternalError(absl::StrCat("image model: ", images.size(), " values for ", n, " images"));
  }
  ImageModelOutput out;
  try {
    std::lock_guard<std::mutex> lock(impl_->mu);
    torch::NoGradGuard no_grad;
    const torch::Tensor x0 =
        torch::from_blob(const_cast<float*>(images.data()), {n, m.bands(), s, s}, torch::kFloat32);
    const torch::Tensor ebv = torch::from_blob(const_cast<float*>(e_bv.data()), {n}, torch::kFloat32);
    torch::Tensor x = PreprocessForModel(x0.to(impl_->device), ebv.to(impl_->device), s);
    if (impl_->cuda) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    CudaAutocast autocast(impl_->cuda);
    GalaxyNet& net = impl_->net;
    const torch::Tensor features = net.backbone(x);
    const torch::Tensor e = net.projection ? net.projection(features) : features;
    const torch::Tensor embedding =
        torch::nn::functional::normalize(e.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1))
            .to(torch::kCPU)
            .contiguous();
    out.embeddings.assign(embedding.data_ptr<float>(), embedding.data_ptr<float>() + embedding.numel());
    if (net.redshift) {
      const RedshiftEstimate est = EstimateRedshift(net.redshift(features).to(torch::kFloat32), net.bins);
      const torch::Tensor pdf = est.pdf.to(torch::kFloat32).to(torch::kCPU).contiguous();
      const torch::Tensor mean = est.mean.to(torch::kFloat32).to(torch::kCPU).contiguous();
      const torch::Tensor sigma = est.sigma.to(torch::kFloat32).to(torch::kCPU).contiguous();
      out.pdf.assign(pdf.data_ptr<float>(), pdf.data_ptr<float>() + pdf.numel());
      out.z_mean.assign(mean.data_ptr<float>(), mean.data_ptr<float>() + mean.numel());
      out.z_sigma.assign(sigma.data_ptr<float>(), sigma.data_ptr<float>() + sigma.numel());
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, "running the model");
  }
  for (float v : out.embeddings) {
    if (!std::isfinite(v)) return absl::InternalError("the model gave a non-finite embedding");
  }
  return out;
}

}  // namespace galaxy
