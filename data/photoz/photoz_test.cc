#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "core/random.h"
#include "data/hdf5_dataset.h"
#include "data/photoz/photoz_baseline.h"
#include "data/photoz/photoz_metrics.h"
#include "data/sim/synth_survey.h"

namespace galaxy {
namespace {

TEST(PhotozMetricsTest, PerfectPredictionsScoreZero) {
  std::vector<double> z = {0.05, 0.1, 0.2, 0.3};
  PhotozMetrics m = *ComputePhotozMetrics(z, z);
  EXPECT_EQ(m.count, 4);
  EXPECT_DOUBLE_EQ(m.sigma_mad, 0);
  EXPECT_DOUBLE_EQ(m.bias, 0);
  EXPECT_DOUBLE_EQ(m.outlier_rate, 0);
}

TEST(PhotozMetricsTest, DefinitionsByHand) {
  // dz = (zp - zs) / (1 + zs) = {0.01, -0.01, 0.02, 0.10}
  std::vector<double> zs = {0.0, 0.0, 0.0, 0.0}, zp = {0.01, -0.01, 0.02, 0.10};
  PhotozMetrics m = *ComputePhotozMetrics(zp, zs);
  // median(dz) = 0.015; |dz - med| = {0.005, 0.025, 0.005, 0.085}; median = 0.015.
  EXPECT_NEAR(m.sigma_mad, 1.4826 * 0.015, 1e-12);
  EXPECT_NEAR(m.bias, 0.03, 1e-12);
  EXPECT_NEAR(m.outlier_rate, 0.25, 1e-12);
}

TEST(PhotozMetricsTest, RejectsBadInput) {
  EXPECT_FALSE(ComputePhotozMetrics({0.1}, {0.1, 0.2}).ok());
  EXPECT_FALSE(ComputePhotozMetrics({}, {}).ok());
  EXPECT_FALSE(ComputePhotozMetrics({NAN}, {0.1}).ok());
}

TEST(PhotozMetricsTest, PerBinSplitsOnTrueRedshift) {
  std::vector<double> zs = {0.02, 0.07, 0.12}, zp = {0.02, 0.08, 0.12};
  auto bins = *ComputePhotozMetricsPerBin(zp, zs, {0.0, 0.05, 0.1, 0.15, 0.2});
  ASSERT_EQ(bins.size(), 4u);
  EXPECT_EQ(bins[0].count, 1);
  EXPECT_EQ(bins[1].count, 1);
  EXPECT_NEAR(bins[1].bias, 0.01 / 1.07, 1e-9);
  EXPECT_EQ(bins[3].count, 0);
}

TEST(KnnRegressorTest, RecoversASmoothFunction) {
  Random rng(1, 2);
  std::vector<double> x, y, qx, qy;
  for (int i = 0; i < 2000; ++i) {
    const double a = rng.Uniform(), b = rng.Uniform();
    x.insert(x.end(), {a, b});
    y.push_back(a + 2 * b);
  }
  for (int i = 0; i < 100; ++i) {
    const double a = rng.Uniform(0.1, 0.9), b = rng.Uniform(0.1, 0.9);
    qx.insert(qx.end(), {a, b});
    qy.push_back(a + 2 * b);
  }
  KnnRegressor knn = *KnnRegressor::Fit(x, 2, y, 5);
  std::vector<double> p = knn.Predict(qx, 2);
  for (size_t i = 0; i < qy.size(); ++i) EXPECT_NEAR(p[i], qy[i], 0.1);
}

// Acceptance: redshift is learnable from the synthetic images: the kNN-on-colours baseline's
// sigma_MAD is clearly below the spread of z itself and below predicting the mean.
TEST(PhotozBaselineTest, KnnOnColoursBeatsThePriorClearly) {
  const std::string path = (std::filesystem::path(::testing::TempDir()) / "photoz_baseline.h5").string();
  SynthOptions options;
  options.count = 6000;
  options.seed = 99;
  ASSERT_TRUE(WriteSyntheticSurvey(options, path, 0).ok());
  ColourTable table = *MeasureColourTable(path);
  EXPECT_EQ(table.dim, 5);
  PhotozBaselineReport report = *RunColourKnnBaseline(table, 20, SplitFractions(), 0);
  EXPECT_GT(report.test_count, 400);
  // Measured at 6000 galaxies: sigma_MAD ~0.013 against a spread of ~0.046. Demand < 1/2.
  EXPECT_LT(report.test.sigma_mad, 0.5 * report.z_spread) << PhotozBaselineJson(report);
  EXPECT_LT(report.test.sigma_mad, 0.5 * report.predict_mean.sigma_mad);
  EXPECT_LT(std::abs(report.test.bias), 0.01);
  EXPECT_LT(report.test.outlier_rate, 0.1);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace galaxy
