// The Mahalanobis outlier score of `galaxy-train quality` (trainer/representation_quality.h).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "trainer/representation_quality.h"

namespace galaxy {
namespace {

TEST(MahalanobisScoresTest, WeighsEachDirectionByHowMuchTheRowsVaryAlongIt) {
  // 4,000 rows: standard deviation 1 along axis 0, 0.01 along axis 1, 0.1 along the rest.
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({4000, 8}, torch::kFloat32) * 0.1;
  x.select(1, 0).mul_(10);
  x.select(1, 1).mul_(0.1);
  // Row 0 is 0.05 out along the quiet axis (5 sigma), row 1 the same distance along the loud
  // one (0.05 sigma): the quiet direction's outlier scores far higher.
  x[0].zero_();
  x[0][1] = 0.05;
  x[1].zero_();
  x[1][0] = 0.05;
  const auto scores = [&](double shrinkage) { return MahalanobisScores(x.data_ptr<float>(), 4000, 8, shrinkage); };
  const std::vector<double> s = scores(/*shrinkage=*/1e-6);
  ASSERT_EQ(s.size(), 4000u);
  EXPECT_NEAR(s[0], 25.0, 2.5);   // (0.05 / 0.01)^2
  EXPECT_LT(s[1], 0.1);           // (0.05 / 1)^2
  // The mean over rows is the dimension (8), as for any covariance it is estimated from.
  double mean = 0;
  for (double v : s) mean += v / static_cast<double>(s.size());
  EXPECT_NEAR(mean, 8.0, 0.05);
  // Shrinkage caps what the quietest direction can contribute.
  EXPECT_LT(scores(1.0)[0], 0.2 * s[0]);
}

}  // namespace
}  // namespace galaxy
