#include "trainer/galaxy_features.h"

#include <algorithm>

#include "core/model/augment.h"
#include "core/photometry.h"

namespace galaxy {

torch::Tensor FrozenFeatures(GalaxyNet& net, const torch::Tensor& images, const torch::Tensor& e_bv,
                             bool projection, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  net.backbone->eval();
  if (net.projection) net.projection->eval();
  std::vector<torch::Tensor> parts;
  const int64_t crop = std::min<int64_t>(net.metadata.image_size, images.size(2));
  for (int64_t start = 0; start < images.size(0); start += 256) {
    const int64_t n = std::min<int64_t>(256, images.size(0) - start);
    const torch::Tensor x =
        PreprocessForModel(images.narrow(0, start, n).to(device), e_bv.narrow(0, start, n).to(device), crop);
    torch::Tensor f = net.backbone(x);
    if (projection) f = net.projection(f);
    parts.push_back(f.to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts);
}

std::vector<double> ApertureColourRows(const TrainingData& data, const std::vector<int64_t>& rows, int* dim) {
  const torch::Tensor images = data.images.index_select(0, torch::tensor(rows, torch::kInt64).to(data.images.device()))
                                   .to(torch::kCPU, torch::kFloat32)
                                   .contiguous();
  const torch::Tensor ebv = data.e_bv.to(torch::kCPU, torch::kFloat64).contiguous();
  const double* ebv_p = ebv.data_ptr<double>();
  const int64_t c = images.size(1), h = images.size(2), w = images.size(3);
  std::vector<double> out;
  *dim = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<double> fluxes =
        ApertureFluxes(images.data_ptr<float>() + static_cast<int64_t>(i) * c * h * w, static_cast<int>(c),
                       static_cast<int>(h), static_cast<int>(w), kDefaultApertureRadiusPx);
    const std::vector<double> f = ColourFeatures(fluxes, ebv_p[rows[i]]);
    *dim = static_cast<int>(f.size());
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

}  // namespace galaxy
