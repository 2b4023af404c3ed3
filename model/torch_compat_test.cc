#include "model/torch_compat.h"

#include <gtest/gtest.h>

#include <vector>

namespace galaxy {
namespace {

// Two identical parameter sets with identical gradients each step.
struct Twins {
  std::vector<torch::Tensor> a, b;
  explicit Twins(uint64_t seed) {
    torch::manual_seed(seed);
    for (const auto& shape : std::vector<std::vector<int64_t>>{{8, 3, 3, 3}, {8}, {16, 8}, {5}}) {
      a.push_back(torch::randn(shape).requires_grad_());
      b.push_back(a.back().detach().clone().requires_grad_());
    }
  }
  void SetGradients(int step) {
    torch::manual_seed(100 + step);
    for (size_t i = 0; i < a.size(); ++i) {
      // The last parameter gets no gradient in the first step, so its buffer starts later.
      if (i + 1 == a.size() && step == 0) continue;
      const torch::Tensor g = torch::randn_like(a[i]);
      a[i].mutable_grad() = g.clone();
      b[i].mutable_grad() = g.clone();
    }
  }
};

TEST(TorchCompatTest, ToDoublesReadsAnyTypeInRowMajorOrderOfTheView) {
  // A transposed (non-contiguous) float view: its values in the view's own order.
  const torch::Tensor m = torch::tensor({1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f}).view({2, 3}).t();
  EXPECT_EQ(ToDoubles(m), (std::vector<double>{1.5, 4.5, 2.5, 5.5, 3.5, 6.5}));
  EXPECT_EQ(ToDoubles(torch::tensor({7, -2}, torch::kInt64)), (std::vector<double>{7.0, -2.0}));
  // bfloat16 (what autocast gives on a GPU) widens exactly for values it holds.
  EXPECT_EQ(ToDoubles(torch::tensor({0.25, -8.0}).to(torch::kBFloat16)), (std::vector<double>{0.25, -8.0}));
  EXPECT_TRUE(ToDoubles(torch::empty({0, 4})).empty());
}

TEST(TorchCompatTest, MultiTensorSgdStepIsSgdStepAndSharesItsState) {
  Twins t(5);
  const auto options = torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(1e-3).dampening(0.1);
  torch::optim::SGD plain(t.a, options), multi(t.b, options);
  for (int step = 0; step < 4; ++step) {
    t.SetGradients(step);
    plain.step();
    MultiTensorSgdStep(multi);
  }
  // The momentum buffers are the optimizer's own state: a plain step continues from them.
  t.SetGradients(4);
  plain.step();
  multi.step();
  for (size_t i = 0; i < t.a.size(); ++i) {
    EXPECT_TRUE(torch::allclose(t.a[i], t.b[i], 1e-6, 1e-6)) << "parameter " << i << ": "
                                                             << (t.a[i] - t.b[i]).abs().max().item<float>();
  }
  EXPECT_EQ(multi.state().size(), t.b.size());
  // Not a trivial agreement: the parameters moved.
  Twins start(5);
  EXPECT_GT((t.a[0] - start.a[0]).abs().max().item<float>(), 0.05);
}

TEST(TorchCompatTest, MultiTensorSgdStepWithoutMomentumKeepsNoState) {
  Twins t(6);
  torch::optim::SGD plain(t.a, torch::optim::SGDOptions(0.1)), multi(t.b, torch::optim::SGDOptions(0.1));
  t.SetGradients(1);
  plain.step();
  MultiTensorSgdStep(multi);
  for (size_t i = 0; i < t.a.size(); ++i) EXPECT_TRUE(torch::allclose(t.a[i], t.b[i])) << i;
  EXPECT_TRUE(multi.state().empty());
}

TEST(TorchCompatTest, AutocastGuardsNestAndRestore) {
  ASSERT_FALSE(CudaAutocastEnabled());
  {
    CudaAutocast on(true);
    EXPECT_TRUE(CudaAutocastEnabled());
    {
      NoCudaAutocast off;
      EXPECT_FALSE(CudaAutocastEnabled());
      NoCudaAutocast nested;
      EXPECT_FALSE(CudaAutocastEnabled());
    }
    EXPECT_TRUE(CudaAutocastEnabled());
  }
  EXPECT_FALSE(CudaAutocastEnabled());
  {
    NoCudaAutocast off;  // outside any autocast region: nothing to switch off or back on
    EXPECT_FALSE(CudaAutocastEnabled());
  }
  EXPECT_FALSE(CudaAutocastEnabled());
}

}  // namespace
}  // namespace galaxy
