// Calibration scores of binned redshift pdfs, against values worked out by hand; the pdfs'
// temperature, fitted and stored with the model.
#include "model/heads.h"

#include <gtest/gtest.h>

#include "model/model_metadata.h"

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

// Redshifts drawn from known pdfs softmax(base); the fitter is given logits `scale` times too
// sharp, so the temperature that describes the draws is `scale`.
struct DrawnRedshifts {
  torch::Tensor logits, z;
};
DrawnRedshifts DrawFromPdfs(const RedshiftBins& bins, double scale, int64_t n = 6000) {
  torch::manual_seed(11);
  // Smooth pdfs: a bump of random centre and width per galaxy over the bins.
  const torch::Tensor centre = torch::rand({n, 1}, torch::kFloat64) * bins.bins;
  const torch::Tensor width = 2 + torch::rand({n, 1}, torch::kFloat64) * 6;
  const torch::Tensor index = torch::arange(bins.bins, torch::kFloat64).unsqueeze(0);
  const torch::Tensor base = -0.5 * ((index - centre) / width).pow(2);
  const torch::Tensor drawn = torch::multinomial(torch::softmax(base, 1), 1).squeeze(1).to(torch::kFloat64);
  DrawnRedshifts d;
  d.z = bins.z_min + (drawn + torch::rand({n}, torch::kFloat64)) * bins.width();
  d.logits = base * scale;
  return d;
}

TEST(PdfTemperatureTest, FitFindsTheTemperatureOfPdfsTooSureOrTooUnsure) {
  RedshiftBins bins;
  bins.bins = 60;
  for (double scale : {2.5, 1.0, 0.5}) {
    SCOPED_TRACE(scale);
    const DrawnRedshifts d = DrawFromPdfs(bins, scale);
    const PdfTemperatureFit fit = FitPdfTemperature(d.logits, d.z, bins);
    EXPECT_NEAR(fit.temperature, scale, 0.08 * scale);
    EXPECT_LE(fit.crps_after, fit.crps_before);
    // The fitted pdfs hold the draws in their central 68% interval about 68% of the time; the
    // head's own ones do not when they are too sharp or too wide.
    const auto coverage = [&](double t) {
      const torch::Tensor pit = ScorePdf(EstimateRedshift(d.logits, bins, t).pdf, d.z, bins).pit;
      return ((pit >= 0.16) & (pit <= 0.84)).to(torch::kFloat64).mean().item<double>();
    };
    EXPECT_NEAR(coverage(fit.temperature), 0.68, 0.03);
    if (scale == 2.5) {
      EXPECT_LT(coverage(1.0), 0.5);
    }
    if (scale == 0.5) {
      EXPECT_GT(coverage(1.0), 0.78);
    }
  }
  // Beyond the searched range the fit stops at its end.
  const DrawnRedshifts far = DrawFromPdfs(bins, 10.0, 2000);
  EXPECT_NEAR(FitPdfTemperature(far.logits, far.z, bins).temperature, kMaxPdfTemperature, 0.01);
  // No galaxies: nothing to fit, the head's own pdfs.
  EXPECT_EQ(FitPdfTemperature(torch::zeros({0, 60}), torch::zeros({0}), bins).temperature, 1.0);
}

TEST(PdfTemperatureTest, EstimateDividesTheLogitsAndTheModelKeepsIt) {
  RedshiftBins bins;
  // Bumps well inside the range, so that a wider pdf is a wider spread about the estimate (a
  // pdf with mass at both ends could narrow about its mean as it flattens).
  const torch::Tensor centre = torch::tensor({60.0f, 90.0f, 120.0f}).unsqueeze(1);
  const torch::Tensor width = torch::tensor({3.0f, 6.0f, 10.0f}).unsqueeze(1);
  const torch::Tensor logits = -0.5 * ((torch::arange(180, torch::kFloat32).unsqueeze(0) - centre) / width).pow(2);
  const RedshiftEstimate own = EstimateRedshift(logits, bins), wide = EstimateRedshift(logits, bins, 2.0);
  EXPECT_TRUE(torch::allclose(wide.pdf, torch::softmax(logits / 2, 1)));
  EXPECT_TRUE(torch::equal(wide.logits, logits));
  EXPECT_TRUE((wide.sigma > own.sigma).all().item<bool>());
  // The point estimate is the head's own, whatever the calibration.
  EXPECT_TRUE(torch::allclose(wide.mean, own.mean));
  EXPECT_TRUE(torch::allclose(own.mean, (torch::softmax(logits, 1) * bins.Centres()).sum(1)));

  ModelMetadata m;
  m.redshift_temperature = 1.75;
  absl::StatusOr<ModelMetadata> back = ModelMetadata::FromJson(m.ToJson());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->redshift_temperature, 1.75);
  // Models written before calibration have none: their pdfs are the head's own.
  std::string old = ModelMetadata().ToJson();
  const size_t at = old.find("\"redshift_temperature\"");
  ASSERT_NE(at, std::string::npos);
  old.erase(at, old.find('\n', at) - at + 1);
  back = ModelMetadata::FromJson(old);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->redshift_temperature, 1.0);
  m.redshift_temperature = -1;
  back = ModelMetadata::FromJson(m.ToJson());
  ASSERT_FALSE(back.ok());
  EXPECT_NE(back.status().message().find("redshift_temperature is -1"), std::string::npos) << back.status();
}

}  // namespace
}  // namespace galaxy
