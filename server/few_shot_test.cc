#include "server/few_shot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/random.h"

namespace galaxy {
namespace {

constexpr int kDim = 16;

// `n` unit vectors scattered around unit vector e_axis (noise `spread`).
std::vector<float> Cluster(int n, int axis, double spread, uint64_t seed) {
  Random rng(seed, 0);
  std::vector<float> out;
  for (int i = 0; i < n; ++i) {
    std::vector<double> v(kDim);
    double norm = 0;
    for (int d = 0; d < kDim; ++d) {
      v[static_cast<size_t>(d)] = (d == axis ? 1.0 : 0.0) + spread * rng.Uniform(-1, 1);
      norm += v[static_cast<size_t>(d)] * v[static_cast<size_t>(d)];
    }
    for (double x : v) out.push_back(static_cast<float>(x / std::sqrt(norm)));
  }
  return out;
}

TEST(FewShotTest, FitsASeparableProblemWithUnbalancedClasses) {
  // 5 positives around axis 0 against 500 negatives around axis 1.
  const std::vector<float> pos = Cluster(5, 0, 0.3, 1), neg = Cluster(500, 1, 0.3, 2);
  absl::StatusOr<LinearClassifier> c = FitClassifier(pos, neg, kDim, 10);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->positives, 5);
  EXPECT_EQ(c->negatives, 500);
  EXPECT_DOUBLE_EQ(c->training_accuracy, 1.0);
  EXPECT_GT(c->weights[0], 0);  // towards the positives' axis
  EXPECT_LT(c->weights[1], 0);  // away from the negatives'
  // Balanced classes: a new point of each cluster falls on its own side, with room.
  const std::vector<float> new_pos = Cluster(20, 0, 0.3, 3), new_neg = Cluster(20, 1, 0.3, 4);
  for (int i = 0; i < 20; ++i) {
    EXPECT_GT(c->Decision(new_pos.data() + i * kDim), 0.5f);
    EXPECT_LT(c->Decision(new_neg.data() + i * kDim), -0.5f);
  }
  // Stronger regularisation (smaller C) gives smaller weights.
  absl::StatusOr<LinearClassifier> smooth = FitClassifier(pos, neg, kDim, 0.01);
  ASSERT_TRUE(smooth.ok());
  EXPECT_LT(std::abs(smooth->weights[0]), std::abs(c->weights[0]));
}

TEST(FewShotTest, WeighsTheClassesEquallyThroughTheBias) {
  // Both classes drawn alike, tightly around one axis, 5 against 500: the fitted bias (large,
  // against the weights' component along that axis) keeps the two classes' mean decisions on
  // either side of 0 and the whole near 0, not at the 1:100 prior.
  const std::vector<float> pos = Cluster(5, 0, 0.01, 6), neg = Cluster(500, 0, 0.01, 7);
  absl::StatusOr<LinearClassifier> c = FitClassifier(pos, neg, kDim, 100);
  ASSERT_TRUE(c.ok()) << c.status();
  double mean_pos = 0, mean_neg = 0;
  for (int i = 0; i < 5; ++i) mean_pos += c->Decision(pos.data() + i * kDim) / 5;
  for (int i = 0; i < 500; ++i) mean_neg += c->Decision(neg.data() + i * kDim) / 500;
  EXPECT_GT(mean_pos, 0);
  EXPECT_LT(mean_neg, 0);
  EXPECT_LT(std::abs(mean_pos + mean_neg), 1.0);
  EXPECT_GT(std::abs(c->bias), 0.1f);
}

TEST(FewShotTest, RefusesAnEmptyClassOrABadC) {
  const std::vector<float> pos = Cluster(3, 0, 0.1, 1);
  EXPECT_EQ(FitClassifier({}, pos, kDim, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitClassifier(pos, {}, kDim, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitClassifier(pos, pos, kDim, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitClassifier(pos, pos, kDim, std::nan("")).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FewShotTest, RanksLikeAFullSortOnAnyThreadCount) {
  const int n = 20000;
  std::vector<float> rows = Cluster(n, 2, 1.0, 5);
  // Rows 100..109 copy row 7: ties, ranked by lower row.
  for (int r = 100; r < 110; ++r) std::copy_n(rows.begin() + 7 * kDim, kDim, rows.begin() + r * kDim);
  LinearClassifier c;
  c.weights.assign(kDim, 0.1f);
  c.weights[2] = 1;
  c.bias = -0.2f;
  const auto keep = [](int64_t row) { return row % 3 != 0; };
  // The reference: every kept row's decision, fully sorted.
  std::vector<std::pair<int64_t, float>> all;
  for (int r = 0; r < n; ++r) {
    const float d = c.Decision(rows.data() + r * kDim);
    if (keep(r) && d >= 0.1f) all.emplace_back(r, d);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  for (int threads : {1, 2, 7}) {
    for (size_t want : {size_t{0}, size_t{1}, size_t{50}, static_cast<size_t>(n)}) {
      const RankedRows ranked = RankRows(rows.data(), n, kDim, c, want, 0.1f, keep, threads);
      EXPECT_EQ(ranked.passing, static_cast<int64_t>(all.size()));
      const size_t expect = std::min(want, all.size());
      ASSERT_EQ(ranked.top.size(), expect) << threads << " threads, want " << want;
      EXPECT_TRUE(std::equal(ranked.top.begin(), ranked.top.end(), all.begin())) << threads << " threads";
    }
  }
  // Without a filter or a threshold, every row passes.
  const RankedRows everything = RankRows(rows.data(), n, kDim, c, 3, -INFINITY, nullptr, 2);
  EXPECT_EQ(everything.passing, n);
}

}  // namespace
}  // namespace galaxy
