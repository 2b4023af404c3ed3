#include "core/model/moco.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace galaxy {
namespace {

Moco TinyMoco(double momentum) {
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  MocoConfig moco_config;
  moco_config.queue = 32;
  moco_config.momentum = momentum;
  return Moco(config, moco_config);
}

TEST(MocoTest, MomentumUpdateMovesEveryKeyWeightByExactlyOneMinusM) {
  torch::manual_seed(3);
  Moco moco = TinyMoco(0.9);
  std::vector<torch::Tensor> q = moco->encoder_q->parameters(), k = moco->encoder_k->parameters();
  for (const auto& p : moco->head_q->parameters()) q.push_back(p);
  for (const auto& p : moco->head_k->parameters()) k.push_back(p);
  ASSERT_EQ(q.size(), k.size());
  std::vector<torch::Tensor> expected;
  {
    torch::NoGradGuard no_grad;
    // Query weights away from the keys' (they start as copies), so the update has something to do.
    for (auto& p : q) p.add_(torch::randn_like(p));
    for (size_t i = 0; i < q.size(); ++i) expected.push_back(0.9 * k[i] + 0.1 * q[i]);
  }
  moco->MomentumUpdate();
  for (size_t i = 0; i < k.size(); ++i) {
    EXPECT_TRUE(torch::allclose(k[i], expected[i], 1e-5, 1e-6)) << "parameter " << i;
    EXPECT_FALSE(k[i].requires_grad() && k[i].grad().defined()) << "parameter " << i;
  }
}

TEST(MocoTest, EnqueueReplacesTheOldestBatchAndWraps) {
  Moco moco = TinyMoco(0.999);
  const int64_t dim = moco->queue.size(0);
  for (int64_t b = 0; b < 5; ++b) {  // 4 batches of 8 fill the queue of 32; the 5th wraps
    moco->Enqueue(torch::full({8, dim}, static_cast<float>(b + 1)));
  }
  EXPECT_EQ(moco->queue_ptr.item<int64_t>(), 8);
  EXPECT_EQ(moco->queue.index({0, 0}).item<float>(), 5.0f);
  EXPECT_EQ(moco->queue.index({0, 8}).item<float>(), 2.0f);
  EXPECT_EQ(moco->queue.index({0, 31}).item<float>(), 4.0f);
}

}  // namespace
}  // namespace galaxy
