// The frozen embedding's dihedral average is exactly invariant to turns and mirrors, and is the
// mean of the eight single embeddings; the trainer's embeddings are what inference serves.
#include "trainer/galaxy_features.h"

#include <gtest/gtest.h>

#include "model/checkpoint.h"
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

// The probe, the monitor and the quality measures (EmbedImages) read the representation the
// indexer and the server embed (GalaxyNet::Infer), for every feature kind, with and without the
// turns: both run Represent, so the two agree exactly.
TEST(EmbedImagesTest, AgreesWithInference) {
  namespace F = torch::nn::functional;
  torch::manual_seed(5);
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  GalaxyNet net;
  net.metadata.image_size = 48;
  net.backbone = ResNet(config);
  net.projection = ProjectionHead(config.feature_dim(), 16);
  net.backbone->eval();
  net.projection->eval();
  const torch::Tensor images = torch::rand({5, 5, 64, 64}) * torch::linspace(0.5, 2, 64).view({1, 1, 1, 64});
  const torch::Tensor ebv = torch::linspace(0, 0.1, 5);
  const torch::Device cpu(torch::kCPU);
  const auto unit = F::NormalizeFuncOptions().dim(1);
  for (const EmbeddingFeatures kind :
       {EmbeddingFeatures::kBackbone, EmbeddingFeatures::kProjection, EmbeddingFeatures::kStages}) {
    const bool project = kind == EmbeddingFeatures::kProjection;
    ProjectionHeadImpl* head = project ? net.projection.get() : nullptr;
    EmbedOptions options;
    options.stages = kind == EmbeddingFeatures::kStages;
    const Embeddings single = EmbedImages(*net.backbone, head, images, ebv, 48, cpu, {}, options);
    options.dihedral = true;
    const Embeddings turned = EmbedImages(*net.backbone, head, images, ebv, 48, cpu, {}, options);
    GalaxyNet::Parts parts;
    parts.features = kind;
    parts.turn_average = true;
    const GalaxyNet::Output served = net.Infer(images, ebv, cpu, parts);
    const int64_t dim = options.stages ? config.stage_features_dim() : project ? 16 : config.feature_dim();
    ASSERT_EQ(served.embedding.size(1), dim);
    EXPECT_TRUE(torch::equal(F::normalize(project ? single.projections : single.features, unit), served.embedding));
    EXPECT_TRUE(
        torch::equal(F::normalize(project ? turned.projections : turned.features, unit), served.turn_averaged));
    // The turns change the representation, so the two comparisons above are not one.
    EXPECT_GT((served.embedding - served.turn_averaged).abs().max().item<float>(), 1e-4f);
  }
}

}  // namespace
}  // namespace galaxy
