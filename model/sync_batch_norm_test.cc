// SyncBatchNorm in a group of one process is torch::batch_norm: same output, gradients and
// running statistics (the two-process case is tested through training, trainer/data_parallel_test).
#include "model/sync_batch_norm.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

namespace galaxy {
namespace {

class Alone final : public BatchNormSync {
 public:
  void AllReduceSum(torch::Tensor&) override { ++calls; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  int calls = 0;
};

TEST(SyncBatchNormTest, AloneItIsBatchNormWithTheSameGradientsAndRunningStatistics) {
  torch::manual_seed(4);
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{16, 6, 5, 5}, std::vector<int64_t>{32, 6}}) {
    // A large mean beside a small spread: what E[x^2] - mean^2 in float32 gets wrong.
    const torch::Tensor input = torch::randn(shape) * 0.1 + 40;
    const torch::Tensor weight = torch::rand({6}) + 0.5, bias = torch::randn({6});
    torch::Tensor x1 = input.clone().requires_grad_(), x2 = input.clone().requires_grad_();
    torch::Tensor w1 = weight.clone().requires_grad_(), w2 = weight.clone().requires_grad_();
    torch::Tensor b1 = bias.clone().requires_grad_(), b2 = bias.clone().requires_grad_();
    torch::Tensor mean1 = torch::zeros({6}), var1 = torch::ones({6}), mean2 = mean1.clone(), var2 = var1.clone();
    torch::Tensor tracked = torch::zeros({}, torch::kInt64);
    Alone alone;
    const torch::Tensor y1 = SyncBatchNorm(x1, w1, b1, mean1, var1, tracked, 0.1, 1e-5, alone);
    const torch::Tensor y2 = torch::batch_norm(x2, w2, b2, mean2, var2, /*training=*/true, 0.1, 1e-5, false);
    EXPECT_EQ(alone.calls, 1);
    EXPECT_EQ(tracked.item<int64_t>(), 1);
    EXPECT_TRUE(torch::allclose(y1, y2, 1e-4, 1e-4)) << (y1 - y2).abs().max();
    const torch::Tensor upstream = torch::randn(shape);
    (y1 * upstream).sum().backward();
    (y2 * upstream).sum().backward();
    EXPECT_EQ(alone.calls, 2);  // the backward pass sums too
    EXPECT_TRUE(torch::allclose(x1.grad(), x2.grad(), 1e-3, 1e-3)) << (x1.grad() - x2.grad()).abs().max();
    EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 1e-3, 1e-3));
    EXPECT_TRUE(torch::allclose(b1.grad(), b2.grad(), 1e-4, 1e-4));
    EXPECT_TRUE(torch::allclose(mean1, mean2, 1e-5, 1e-5));
    EXPECT_TRUE(torch::allclose(var1, var2, 1e-5, 1e-5)) << var1 << var2;
  }
}

// Two "processes" as two threads: AllReduceSum waits for both and gives each the sum.
class TwoThreads {
 public:
  class Member final : public BatchNormSync {
   public:
    Member(TwoThreads* group, int rank) : group_(group), rank_(rank) {}
    void AllReduceSum(torch::Tensor& t) override { group_->Sum(rank_, t); }
    int rank() const override { return rank_; }
    int world_size() const override { return 2; }

   private:
    TwoThreads* group_;
    int rank_;
  };

  void Sum(int rank, torch::Tensor& t) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t round = round_;
    parts_[rank] = t.clone();
    if (++arrived_ == 2) {
      total_ = parts_[0] + parts_[1];
      arrived_ = 0;
      ++round_;
      done_.notify_all();
    } else {
      done_.wait(lock, [&] { return round_ != round; });
    }
    t.copy_(total_);
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  torch::Tensor parts_[2], total_;
  int arrived_ = 0;
  int64_t round_ = 0;
};

TEST(SyncBatchNormTest, TwoProcessesHalvesOfABatchGetWhatTheWholeBatchGets) {
  torch::manual_seed(6);
  const torch::Tensor input = torch::randn({16, 6, 5, 5}) * 2 + 3;
  const torch::Tensor upstream = torch::randn({16, 6, 5, 5});
  const torch::Tensor weight = torch::rand({6}) + 0.5, bias = torch::randn({6});
  // The whole batch in one process.
  torch::Tensor x = input.clone().requires_grad_(), w = weight.clone().requires_grad_(), b = bias.clone().requires_grad_();
  torch::Tensor mean = torch::zeros({6}), var = torch::ones({6});
  const torch::Tensor y = torch::batch_norm(x, w, b, mean, var, /*training=*/true, 0.1, 1e-5, false);
  (y * upstream).sum().backward();
  // Rows 0, 2, 4, ... on rank 0 and 1, 3, 5, ... on rank 1, unequal in size on purpose: 10 and 6.
  const torch::Tensor rows[2] = {torch::tensor({0, 2, 4, 6, 8, 10, 12, 13, 14, 15}, torch::kInt64),
                                 torch::tensor({1, 3, 5, 7, 9, 11}, torch::kInt64)};
  TwoThreads group;
  torch::Tensor ys[2], xgrads[2], wgrads[2], bgrads[2], means[2], vars[2];
  auto rank = [&](int r) {
    TwoThreads::Member sync(&group, r);
    torch::Tensor xr = input.index_select(0, rows[r]).requires_grad_();
    torch::Tensor wr = weight.clone().requires_grad_(), br = bias.clone().requires_grad_();
    means[r] = torch::zeros({6});
    vars[r] = torch::ones({6});
    torch::Tensor tracked = torch::zeros({}, torch::kInt64);
    ys[r] = SyncBatchNorm(xr, wr, br, means[r], vars[r], tracked, 0.1, 1e-5, sync);
    (ys[r] * upstream.index_select(0, rows[r])).sum().backward();
    xgrads[r] = xr.grad();
    wgrads[r] = wr.grad();
    bgrads[r] = br.grad();
  };
  std::thread other(rank, 1);
  rank(0);
  other.join();
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(torch::allclose(ys[r], y.detach().index_select(0, rows[r]), 1e-5, 1e-5)) << "rank " << r;
    EXPECT_TRUE(torch::allclose(xgrads[r], x.grad().index_select(0, rows[r]), 1e-5, 1e-5))
        << "rank " << r << ": " << (xgrads[r] - x.grad().index_select(0, rows[r])).abs().max();
    EXPECT_TRUE(torch::allclose(means[r], mean, 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(vars[r], var, 1e-6, 1e-6)) << vars[r] << var;
  }
  // Each rank's parameter gradients are its share; their sum is the whole batch's.
  EXPECT_TRUE(torch::allclose(wgrads[0] + wgrads[1], w.grad(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(bgrads[0] + bgrads[1], b.grad(), 1e-5, 1e-5));
}

}  // namespace
}  // namespace galaxy
