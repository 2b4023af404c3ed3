// Folding BatchNorm into the convolutions changes nothing a caller can see but the speed.
#include "core/model/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/model/checkpoint.h"

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
           {"tiny", "torchvision"}, {"resnet18", "torchvision"}, {"resnet50", "paper"}}) {
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

}  // namespace
}  // namespace galaxy
