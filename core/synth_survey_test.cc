// The synthetic survey carries real physics: colours redden with redshift as the 4000 A break
// moves from g into r, galaxies shrink with distance, the flux limit holds, anomalies come at the
// requested rate, and the same seed gives the same survey whatever the thread count.
#include "core/synth_survey.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "core/bands.h"
#include "core/photometry.h"
#include "core/photoz_metrics.h"

namespace galaxy {
namespace {

class SynthSurveyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    options_ = new SynthOptions;
    options_->count = 4000;
    options_->seed = 2024;
    options_->anomaly_fraction = 0.02;
    model_ = new SurveyModel(*options_);
    batch_ = new GalaxyBatch;
    SynthesizeBatch(*model_, 0, options_->count, 0, batch_);
  }
  static void TearDownTestSuite() {
    delete batch_;
    delete model_;
    delete options_;
  }

  // Median of `values` per redshift bin [0,0.05), [0.05,0.1), ... over normal galaxies, for bins
  // holding at least 200 galaxies (so that a median is measured to a few percent).
  static std::map<int, double> MedianByZBin(const std::vector<double>& values, double width) {
    std::map<int, std::vector<double>> bins;
    for (size_t i = 0; i < values.size(); ++i) {
      if (batch_->extra["is_anomaly"][i] != 0) continue;
      bins[static_cast<int>(batch_->redshift[i] / width)].push_back(values[i]);
    }
    std::map<int, double> out;
    for (auto& [bin, v] : bins) {
      if (v.size() >= 200) out[bin] = Median(v);
    }
    return out;
  }

  static SynthOptions* options_;
  static SurveyModel* model_;
  static GalaxyBatch* batch_;
};
SynthOptions* SynthSurveyTest::options_ = nullptr;
SurveyModel* SynthSurveyTest::model_ = nullptr;
GalaxyBatch* SynthSurveyTest::batch_ = nullptr;

TEST_F(SynthSurveyTest, NoNonFinitePixels) {
  EXPECT_EQ(FirstNonFinite(batch_->images.data(), static_cast<int64_t>(batch_->images.size())), -1);
}

TEST_F(SynthSurveyTest, FluxLimitHoldsAndRedshiftsAreInRange) {
  for (int64_t i = 0; i < batch_->count; ++i) {
    EXPECT_LT(batch_->extra["mag_r"][i], options_->r_limit + 1e-4) << "galaxy " << i;
    EXPECT_GT(batch_->redshift[i], 0.0f);
    EXPECT_LE(batch_->redshift[i], options_->z_max);
  }
  // A magnitude-limited sample like the SDSS main sample has its median near z = 0.1.
  std::vector<double> z(batch_->redshift.begin(), batch_->redshift.end());
  EXPECT_NEAR(Median(z), 0.1, 0.03);
}

TEST_F(SynthSurveyTest, MeanGMinusRRisesWithRedshiftInTruthAndInPixels) {
  // Truth magnitudes.
  std::vector<double> truth(batch_->count);
  for (int64_t i = 0; i < batch_->count; ++i) {
    truth[i] = batch_->extra["mag_g"][i] - batch_->extra["mag_r"][i];
  }
  // De-reddened aperture colours measured on the images.
  std::vector<double> measured(batch_->count);
  const int64_t ppi = 5 * 64 * 64;
  for (int64_t i = 0; i < batch_->count; ++i) {
    std::vector<double> flux = ApertureFluxes(batch_->images.data() + i * ppi, 5, 64, 64,
                                              kDefaultApertureRadiusPx);
    measured[i] = ColourFeatures(flux, batch_->e_bv[i])[2];  // g - r
  }
  for (const auto* values : {&truth, &measured}) {
    std::map<int, double> by_z = MedianByZBin(*values, 0.05);
    ASSERT_GE(by_z.size(), 4u);
    double previous = -10;
    for (const auto& [bin, colour] : by_z) {
      EXPECT_GT(colour, previous + 0.02) << "g-r does not redden into z bin " << bin;
      previous = colour;
    }
  }
}

TEST_F(SynthSurveyTest, MedianAngularSizeFallsWithRedshift) {
  std::vector<double> size(batch_->extra["half_light_radius"].begin(),
                           batch_->extra["half_light_radius"].end());
  std::map<int, double> by_z = MedianByZBin(size, 0.05);
  ASSERT_GE(by_z.size(), 4u);
  double previous = 1e9;
  for (const auto& [bin, arcsec] : by_z) {
    EXPECT_LT(arcsec, previous) << "median size does not fall into z bin " << bin;
    previous = arcsec;
  }
}

TEST_F(SynthSurveyTest, AnomaliesComeAtExactlyTheRequestedRateInEveryKind) {
  int64_t anomalies = 0;
  std::map<int, int> kinds;
  for (int64_t i = 0; i < batch_->count; ++i) {
    const bool flagged = batch_->extra["is_anomaly"][i] != 0;
    const int kind = static_cast<int>(batch_->extra["anomaly_kind"][i]);
    EXPECT_EQ(flagged, kind != 0);
    anomalies += flagged;
    kinds[kind]++;
  }
  EXPECT_EQ(anomalies, std::llround(options_->count * options_->anomaly_fraction));
  for (int kind = 1; kind < kAnomalyKinds; ++kind) EXPECT_GT(kinds[kind], 5) << "kind " << kind;
}

TEST_F(SynthSurveyTest, UAndZAreTheNoisiestBands) {
  // Signal-to-noise of the aperture flux per band, median over galaxies: lowest in u and z.
  const int64_t ppi = 5 * 64 * 64;
  std::vector<std::vector<double>> snr(5);
  for (int64_t i = 0; i < 500; ++i) {
    const GalaxyTruth g = model_->Draw(i);
    std::vector<double> flux = ApertureFluxes(batch_->images.data() + i * ppi, 5, 64, 64,
                                              kDefaultApertureRadiusPx);
    const double area = M_PI * kDefaultApertureRadiusPx * kDefaultApertureRadiusPx;
    for (int b = 0; b < 5; ++b) snr[b].push_back(flux[b] / (g.sky_sigma[b] * std::sqrt(area)));
  }
  std::vector<double> median(5);
  for (int b = 0; b < 5; ++b) median[b] = Median(snr[b]);
  for (int noisy : {0, 4}) {
    for (int quiet : {1, 2, 3}) EXPECT_LT(median[noisy], median[quiet]) << noisy << " vs " << quiet;
  }
}

TEST_F(SynthSurveyTest, SameSeedSameSurveyWhateverTheThreadCount) {
  GalaxyBatch one, many;
  SynthesizeBatch(*model_, 100, 40, 1, &one);
  SynthesizeBatch(*model_, 100, 40, 3, &many);
  EXPECT_EQ(one.images, many.images);
  EXPECT_EQ(one.ids, many.ids);
  // And the rows equal the same rows generated as part of the big batch.
  EXPECT_EQ(one.ids[0], batch_->ids[100]);
  EXPECT_EQ(one.images[0], batch_->images[100 * 5 * 64 * 64]);
}

TEST_F(SynthSurveyTest, IdsAreUnique) {
  std::set<int64_t> ids(batch_->ids.begin(), batch_->ids.end());
  EXPECT_EQ(static_cast<int64_t>(ids.size()), batch_->count);
}

TEST(SynthOptionsTest, BadOptionsAreNamed) {
  SynthOptions o;
  o.count = 0;
  EXPECT_NE(ValidateSynthOptions(o).message().find("--count"), std::string::npos);
  o = SynthOptions();
  o.image_size = 8;
  EXPECT_NE(ValidateSynthOptions(o).message().find("--size"), std::string::npos);
  o = SynthOptions();
  o.anomaly_fraction = 1.5;
  EXPECT_NE(ValidateSynthOptions(o).message().find("--anomaly-fraction"), std::string::npos);
}

}  // namespace
}  // namespace galaxy
