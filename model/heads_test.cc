// Calibration scores of binned redshift pdfs, against values worked out by hand.
#include "model/heads.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(PdfScoreTest, PitAndCrpsOfDeltaUniformAndMisplacedPdfs) {
  RedshiftBins bins;  // 180 bins on [0, 0.4]
  const double w = bins.width();
  torch::Tensor pdf = torch::zeros({3, 180}, torch::kFloat64);
  pdf[0][90] = 1.0;             // all mass in bin 90: [0.2, 0.2 + w)
  pdf[1].fill_(1.0 / 180);      // uniform over the range
  pdf[2][157] = 1.0;            // all mass near z = 0.35
  const torch::Tensor z = torch::tensor({0.2 + w / 2, 0.2, 0.05}, torch::kFloat64);
  const PdfScores s = ScorePdf(pdf, z, bins);
  // Truth at the middle of the mass: PIT 0.5; CRPS of a uniform-in-bin pdf is w / 12.
  EXPECT_NEAR(s.pit[0].item<double>(), 0.5, 1e-9);
  EXPECT_NEAR(s.crps[0].item<double>(), w / 12, 1e-9);
  // Uniform on [0, 0.4], truth at 0.2: PIT 0.5; CRPS = 2 * 0.4 * 0.5^3 / 3.
  EXPECT_NEAR(s.pit[1].item<double>(), 0.5, 1e-9);
  EXPECT_NEAR(s.crps[1].item<double>(), 2 * 0.4 * 0.125 / 3, 1e-9);
  // All mass far above the truth: PIT 0; CRPS ~ the distance to the mass.
  EXPECT_NEAR(s.pit[2].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(s.crps[2].item<double>(), (157 + 0.5) * w - 0.05, w);
}

}  // namespace
}  // namespace galaxy
