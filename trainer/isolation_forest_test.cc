#include "trainer/isolation_forest.h"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(IsolationForestTest, AveragePathLengthMatchesItsDefinition) {
  EXPECT_EQ(AveragePathLength(1), 0);
  EXPECT_EQ(AveragePathLength(2), 1);
  // c(256) = 2 (ln 255 + gamma) - 2 * 255 / 256 = 10.2448...
  EXPECT_NEAR(AveragePathLength(256), 10.2448, 1e-3);
}

TEST(IsolationForestTest, OutliersScoreAboveEveryInlier) {
  // 2,000 points of a 16-d unit Gaussian and 10 scattered points 6 sigma out on every axis
  // (axis-parallel splits isolate what lies outside the bulk on the axes they pick).
  const int64_t dim = 16, inliers = 2000, outliers = 10;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0, 1);
  std::vector<float> x;
  for (int64_t i = 0; i < inliers * dim; ++i) x.push_back(normal(rng));
  for (int64_t i = 0; i < outliers; ++i) {
    for (int64_t d = 0; d < dim; ++d) x.push_back(2 * normal(rng) + 6.0f);
  }
  const std::vector<double> s = IsolationForestScores(x.data(), inliers + outliers, dim, {});
  ASSERT_EQ(s.size(), static_cast<size_t>(inliers + outliers));
  const double max_inlier = *std::max_element(s.begin(), s.begin() + inliers);
  const double min_outlier = *std::min_element(s.begin() + inliers, s.end());
  EXPECT_GT(min_outlier, max_inlier);
  std::vector<double> in(s.begin(), s.begin() + inliers);
  std::nth_element(in.begin(), in.begin() + inliers / 2, in.end());
  EXPECT_LT(in[inliers / 2], 0.5);  // ordinary rows score below 0.5
  EXPECT_GT(min_outlier, 0.6);
  for (double v : s) {
    EXPECT_GT(v, 0);
    EXPECT_LE(v, 1);
  }
}

TEST(IsolationForestTest, DeterministicForASeedAndDifferentAcrossSeeds) {
  std::vector<float> x;
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 500 * 4; ++i) x.push_back(u(rng));
  IsolationForestOptions a;
  a.trees = 50;
  IsolationForestOptions b = a;
  b.seed = 1;
  EXPECT_EQ(IsolationForestScores(x.data(), 500, 4, a), IsolationForestScores(x.data(), 500, 4, a));
  EXPECT_NE(IsolationForestScores(x.data(), 500, 4, a), IsolationForestScores(x.data(), 500, 4, b));
  EXPECT_TRUE(IsolationForestScores(x.data(), 1, 4, a).empty());
}

TEST(IsolationForestTest, IdenticalRowsAreLeavesNotAnInfiniteSplit) {
  std::vector<float> x(300 * 3, 1.0f);
  x[0] = 5;  // one row differs
  const std::vector<double> s = IsolationForestScores(x.data(), 300, 3, {});
  ASSERT_EQ(s.size(), 300u);
  EXPECT_GT(s[0], s[1]);
}

}  // namespace
}  // namespace galaxy
