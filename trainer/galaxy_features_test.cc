// The frozen embedding's dihedral average is exactly invariant to turns and mirrors, and is the
// mean of the eight single embeddings.
#include "trainer/galaxy_features.h"

#include <gtest/gtest.h>

#include "model/heads.h"
#include "model/resnet.h"

namespace galaxy {
namespace {

TEST(EmbedImagesTest, DihedralAverageIsInvariantToTurnsAndMirrors) {
  torch::manual_seed(3);
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  ResNet backbone(config);
  ProjectionHead head(config.feature_dim(), 16);
  backbone->eval();
  head->eval();
  const torch::Tensor images = torch::rand({6, 5, 64, 64}) * torch::linspace(0.5, 2, 64).view({1, 1, 1, 64});
  const torch::Tensor ebv = torch::full({6}, 0.03);
  const torch::Device cpu(torch::kCPU);
  auto embed = [&](const torch::Tensor& x, bool dihedral) {
    EmbedOptions views;
    views.dihedral = dihedral;
    return EmbedImages(*backbone, head.get(), x, ebv, 64, cpu, {}, views);
  };
  const Embeddings plain = embed(images, false), turned_plain = embed(torch::rot90(images, 1, {2, 3}), false);
  // A single embedding is not invariant (so the comparison below could fail).
  EXPECT_GT((plain.features - turned_plain.features).abs().max().item<float>(), 1e-3f);

  const Embeddings d = embed(images, true);
  for (const torch::Tensor& changed :
       {torch::rot90(images, 1, {2, 3}), torch::rot90(images, 3, {2, 3}), images.flip({3}), images.flip({2})}) {
    const Embeddings e = embed(changed, true);
    EXPECT_TRUE(torch::allclose(e.features, d.features, 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(e.projections, d.projections, 1e-4, 1e-5));
  }
  torch::Tensor mean = torch::zeros_like(d.features);
  for (int turn = 0; turn < 4; ++turn) {
    const torch::Tensor t = torch::rot90(images, turn, {2, 3});
    mean += embed(t, false).features + embed(t.flip({3}), false).features;
  }
  EXPECT_TRUE(torch::allclose(mean / 8, d.features, 1e-4, 1e-5));
}

}  // namespace
}  // namespace galaxy
