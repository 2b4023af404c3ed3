// Folding BatchNorm into the convolutions changes nothing a caller can see but the speed.
#include "model/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/augment.h"
#include "model/checkpoint.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

// A network whose BatchNorms hold non-trivial running statistics and affine parameters.
ResNet TrainedLooking(const std::string& arch, const std::string& stem) {
  torch::manual_seed(5);
  ResNetConfig config;
  config.arch = arch;
  config.stem = stem;
  ResNet net(config);
  net->train();
  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) net(torch::randn({4, 5, 64, 64}) * 2 + 0.5);  // running statistics
    for (auto& item : net->named_parameters()) {
      if (item.key().find("bn") != std::string::npos || item.key().find("downsample.1") != std::string::npos) {
        item.value().copy_(torch::rand_like(item.value()) + 0.5);
      }
    }
  }
  net->eval();
  return net;
}

TEST(ResNetTest, FoldedBatchNormGivesTheSameFeatures) {
  for (const auto& [arch, stem] : std::vector<std::pair<std::string, std::string>>{
           {"tiny", "torchvision"}, {"tiny", "half"}, {"small", "torchvision"}, {"resnet18", "torchvision"},
           {"resnet50", "paper"}}) {
    ResNet net = TrainedLooking(arch, stem);
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::randn({3, 5, 64, 64});
    const torch::Tensor before = net(x);
    net->FoldBatchNorm();
    net->FoldBatchNorm();  // idempotent
    ASSERT_TRUE(net->folded());
    const torch::Tensor after = net(x);
    const double scale = before.abs().max().item<double>();
    EXPECT_GT(scale, 0.01) << arch;
    EXPECT_LT((after - before).abs().max().item<double>(), 1e-4 * scale) << arch << " " << stem;
  }
}

// What each stem hands the first block of a 64x64 image: 64, 32 or 16 px (model/resnet.h), and the
// blocks see nothing else.
TEST(ResNetTest, EachStemKeepsTheResolutionItDocuments) {
  for (const auto& [stem, side] : std::vector<std::pair<std::string, int64_t>>{
           {"paper", 64}, {"half", 32}, {"torchvision", 16}}) {
    ResNet net = TrainedLooking("tiny", stem);
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::randn({2, 5, 64, 64});
    torch::Tensor stemmed = net->stem_bn(net->stem_conv(x)).relu();
    if (stem == "torchvision") stemmed = torch::max_pool2d(stemmed, 3, 2, 1);
    EXPECT_EQ(stemmed.size(2), side) << stem;
    EXPECT_EQ(stemmed.size(3), side) << stem;
    const torch::Tensor pooled = net->layers->forward(stemmed).mean({2, 3});
    EXPECT_TRUE(torch::allclose(pooled, net(x), 1e-4, 1e-5)) << stem;
  }
  ResNetConfig bad;
  bad.stem = "quarter";
  EXPECT_EQ(bad.Validate().message(), "stem: unknown 'quarter' (expected paper, half or torchvision)");
}

// Every stage's pooled output, in order of depth: one part per stage (not per block), the last
// the ordinary features.
TEST(ResNetTest, StageFeaturesEndWithTheFeaturesAndHaveOnePartPerStage) {
  for (const auto& [arch, width] : std::vector<std::pair<std::string, int64_t>>{
           {"tiny", 16 + 32 + 64 + 128}, {"resnet18", 64 + 128 + 256 + 512}, {"resnet50", 256 + 512 + 1024 + 2048}}) {
    ResNet net = TrainedLooking(arch, "torchvision");
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::randn({3, 5, 64, 64});
    const torch::Tensor features = net(x), stages = net->StageFeatures(x);
    ASSERT_EQ(stages.size(1), width) << arch;
    EXPECT_EQ(net->config.stage_features_dim(), width) << arch;
    const int64_t d = net->config.feature_dim();
    EXPECT_TRUE(torch::allclose(stages.narrow(1, width - d, d), features, 1e-5, 1e-6)) << arch;
    EXPECT_GT(stages.narrow(1, 0, width - d).abs().max().item<double>(), 0) << arch;  // the earlier stages
    net->FoldBatchNorm();  // what the Embedder serves: the same to float rounding
    const double scale = stages.abs().max().item<double>();
    EXPECT_LT((net->StageFeatures(x) - stages).abs().max().item<double>(), 1e-4 * scale) << arch;
  }
}

TEST(ResNetTest, FoldingNeedsEvalModeAndForbidsTrainingAndSaving) {
  ResNet net = TrainedLooking("tiny", "torchvision");
  net->train();
  EXPECT_THROW(net->FoldBatchNorm(), c10::Error);
  EXPECT_FALSE(net->folded());
  net->eval();
  net->FoldBatchNorm();
  net->train();
  try {
    net(torch::randn({2, 5, 64, 64}));
    ADD_FAILURE() << "a folded network ran a training-mode forward";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("folded"), std::string::npos) << e.what();
  }
  CheckpointWriter writer(ModelMetadata{});
  try {
    writer.AddModule(kBackbonePart, *net);
    ADD_FAILURE() << "a folded network was written to a checkpoint";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("folded"), std::string::npos) << e.what();
  }
}

TEST(ResNetTest, SmallIsTinyAtTwiceTheWidth) {
  ResNetConfig tiny, small, wrong;
  tiny.arch = "tiny";
  small.arch = "small";
  wrong.arch = "medium";
  EXPECT_EQ(tiny.feature_dim(), 128);
  EXPECT_EQ(small.feature_dim(), 256);
  ASSERT_TRUE(small.Validate().ok());
  EXPECT_NE(wrong.Validate().message().find("unknown 'medium' (expected resnet50, resnet18, small or tiny)"),
            std::string::npos)
      << wrong.Validate();
  auto count = [](const ResNetConfig& c) {
    int64_t n = 0;
    for (const torch::Tensor& p : ResNet(c)->parameters()) n += p.numel();
    return n;
  };
  // Twice the width of every convolution: about four times the weights.
  const double ratio = static_cast<double>(count(small)) / static_cast<double>(count(tiny));
  EXPECT_GT(ratio, 3.5);
  EXPECT_LT(ratio, 4.1);
}

// The asinh input stretch is the network's first step: the same weights on asinh(x / s) give
// the same features, a star's core hundreds of times the noise enters as a few units, and the
// softening travels in the checkpoint, so that every reader applies it.
TEST(ResNetTest, InputStretchIsPartOfTheNetworkAndItsCheckpoint) {
  const std::vector<double> softening = {0.05, 0.02, 0.03, 0.04, 0.1};
  ResNetConfig linear_config;
  linear_config.arch = "tiny";
  linear_config.stem = "torchvision";
  ResNetConfig config = linear_config;
  config.input_softening = softening;
  ASSERT_TRUE(config.Validate().ok());
  torch::manual_seed(3);
  ResNet linear(linear_config);
  torch::manual_seed(3);
  ResNet stretched(config);
  linear->eval();
  stretched->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor s = torch::tensor(std::vector<float>(softening.begin(), softening.end())).view({1, 5, 1, 1});
  torch::Tensor x = torch::randn({2, 5, 64, 64}) * 0.05;
  x.index_put_({0, torch::indexing::Slice(), 32, 32}, 800.0);  // a saturated star's core
  const torch::Tensor expected = linear(torch::asinh(x / s));
  const torch::Tensor got = stretched(x);
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-5 * expected.abs().max().item<double>() + 1e-6);
  EXPECT_GT((linear(x) - got).abs().max().item<double>(), 1e-3);  // the stretch does something

  ModelMetadata meta;
  meta.arch = "tiny";
  meta.stem = "torchvision";
  meta.kind = "supervised";
  meta.has_projection_head = false;
  meta.embedding_dim = config.feature_dim();
  meta.feature_dim = config.feature_dim();
  meta.input_softening = softening;
  testutil::ScopedTempDir dir;
  CheckpointWriter writer(meta);
  writer.AddModule(kBackbonePart, *stretched);
  ASSERT_TRUE(writer.Save(dir.File("model.pt")).ok());
  absl::StatusOr<GalaxyNet> loaded = LoadGalaxyNet(dir.File("model.pt"), torch::kCPU);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->metadata.input_softening, softening);
  EXPECT_LT((loaded->backbone(x) - got).abs().max().item<double>(), 1e-6);
  // A model from before the stretch (no softening in its metadata) loads as linear flux.
  meta.input_softening.clear();
  CheckpointWriter old_writer(meta);
  old_writer.AddModule(kBackbonePart, *linear);
  ASSERT_TRUE(old_writer.Save(dir.File("old.pt")).ok());
  absl::StatusOr<GalaxyNet> old = LoadGalaxyNet(dir.File("old.pt"), torch::kCPU);
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_LT((old->backbone(x) - linear(x)).abs().max().item<double>(), 1e-6);

  ResNetConfig bad = config;
  bad.input_softening = {0.05, 0.02};
  EXPECT_NE(bad.Validate().message().find("2 values for 5 bands"), std::string::npos) << bad.Validate();
  bad.input_softening = {0.05, 0.02, 0.0, 0.04, 0.1};
  EXPECT_NE(bad.Validate().message().find("not a positive number"), std::string::npos) << bad.Validate();
}

TEST(ResNetTest, InputSofteningFollowsTheBandNoise) {
  absl::StatusOr<std::vector<double>> s = InputSoftening("asinh", {0.05, 0.0, 0.2});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 3u);
  EXPECT_DOUBLE_EQ((*s)[0], 0.05 * kSofteningInNoise);
  EXPECT_DOUBLE_EQ((*s)[1], 0.002 * kSofteningInNoise);  // a noise-free band: 1% of the largest
  EXPECT_DOUBLE_EQ((*s)[2], 0.2 * kSofteningInNoise);
  s = InputSoftening("asinh", {0.0, 0.0});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, (std::vector<double>{kSofteningInNoise, kSofteningInNoise}));
  s = InputSoftening("linear", {0.05});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  EXPECT_NE(InputSoftening("log", {0.05}).status().message().find("--input-stretch: unknown 'log'"),
            std::string::npos);
}

}  // namespace
}  // namespace galaxy
