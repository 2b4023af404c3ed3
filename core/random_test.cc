#include "core/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace galaxy {
namespace {

TEST(RandomTest, StreamsAreReproducibleAndDistinct) {
  Random a(7, 3), b(7, 3), c(7, 4), d(8, 3);
  for (int i = 0; i < 10; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    EXPECT_NE(x, c.Next());
    EXPECT_NE(x, d.Next());
  }
}

TEST(RandomTest, NormalDrawsHaveUnitMomentsAndFastNormalToo) {
  Random rng(1, 1);
  double s1 = 0, s2 = 0, f1 = 0, f2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.Normal(), y = rng.FastNormal();
    s1 += x;
    s2 += x * x;
    f1 += y;
    f2 += y * y;
  }
  EXPECT_NEAR(s1 / n, 0, 0.01);
  EXPECT_NEAR(s2 / n, 1, 0.015);
  EXPECT_NEAR(f1 / n, 0, 0.01);
  EXPECT_NEAR(f2 / n, 1, 0.015);
}

TEST(RandomTest, FastNormalsArePairsThenOneAlone) {
  Random filled(4, 2), by_hand(4, 2);
  std::vector<float> out(7), want(7);
  filled.FastNormals(out.data(), 7);
  for (int k = 0; k < 6; k += 2) by_hand.FastNormalPair(&want[k], &want[k + 1]);
  want[6] = by_hand.FastNormal();
  EXPECT_EQ(out, want);
  EXPECT_EQ(filled.Next(), by_hand.Next());  // the same number of draws consumed
}

TEST(RandomTest, UniformStaysInRange) {
  Random rng(5, 5);
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.Uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    EXPECT_LT(rng.Below(7), 7u);
  }
}

}  // namespace
}  // namespace galaxy
