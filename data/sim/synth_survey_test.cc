// The synthetic survey carries real physics: colours redden with redshift as the 4000 A break
// moves from g into r, galaxies shrink with distance, the flux limit holds, anomalies come at the
// requested rate, and the same seed gives the same survey whatever the thread count.
#include "data/sim/synth_survey.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "data/bands.h"
#include "data/photoz/photometry.h"
#include "data/photoz/photoz_baseline.h"
#include "data/photoz/photoz_metrics.h"
#include "data/sim/synth_render.h"

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

TEST_F(SynthSurveyTest, BarsComeInDisksAtTheirShares) {
  std::vector<int> barred(kGalaxyTypes, 0), all(kGalaxyTypes, 0);
  for (int64_t i = 0; i < batch_->count; ++i) {
    const GalaxyTruth g = model_->Draw(i);
    ASSERT_EQ(batch_->extra["bar"][i], g.bar ? 1 : 0) << "galaxy " << i;
    barred[static_cast<int>(g.type)] += g.bar;
    all[static_cast<int>(g.type)] += 1;
    if (g.bar) {
      EXPECT_GT(g.bar_share, 0);
      EXPECT_LT(g.bar_share, 0.5);
      EXPECT_LT(g.bar_q, 0.5);
    }
  }
  EXPECT_EQ(barred[static_cast<int>(GalaxyType::kElliptical)], 0);
  EXPECT_EQ(barred[static_cast<int>(GalaxyType::kIrregular)], 0);
  const double expected[] = {0, 0.25, 0.45, 0.35, 0};
  for (int t = 1; t <= 3; ++t) {
    ASSERT_GT(all[t], 300) << t;
    EXPECT_NEAR(static_cast<double>(barred[t]) / all[t], expected[t], 0.06) << GalaxyTypeName(static_cast<GalaxyType>(t));
  }
  SynthOptions none = *options_;
  none.bar_scale = 0;
  const SurveyModel unbarred(none);
  for (int i = 0; i < 500; ++i) ASSERT_FALSE(unbarred.Draw(i).bar) << i;
}

// Second moments of the positive part of `image` (size x size) about its centre: the axis ratio
// (minor over major) and the major axis's angle, radians in [0, pi).
std::pair<double, double> PositiveShape(const std::vector<float>& image, int size, double cx, double cy) {
  double xx = 0, yy = 0, xy = 0;
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      const double w = std::max(0.0f, image[static_cast<size_t>(y * size + x)]);
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      xx += w * dx * dx, yy += w * dy * dy, xy += w * dx * dy;
    }
  }
  const double mean = (xx + yy) / 2, diff = std::hypot((xx - yy) / 2, xy);
  const double angle = std::fmod(0.5 * std::atan2(2 * xy, xx - yy) + M_PI, M_PI);
  return {std::sqrt((mean - diff) / (mean + diff)), angle};
}

TEST_F(SynthSurveyTest, ABarIsAnElongatedShareOfTheDisksLight) {
  // A face-on-ish barred galaxy, drawn with its bar and without: the same noise draws, so the
  // difference is the bar less the light it took from the disk.
  const int size = options_->image_size, pixels = size * size, band = kBandR;
  int checked = 0;
  for (int64_t i = 0; i < batch_->count && checked < 3; ++i) {
    GalaxyTruth g = model_->Draw(i);
    if (!g.bar || g.anomaly != AnomalyKind::kNone || g.disk_q < 0.8 || g.bar_share < 0.15 ||
        g.bar_length_px < 4 || g.bulge_fraction_r > 0.4) {
      continue;
    }
    g.neighbours.clear();
    std::vector<float> with(5 * pixels), without(5 * pixels);
    RenderGalaxy(*model_, g, i, with.data());
    GalaxyTruth plain = g;
    plain.bar = false;
    RenderGalaxy(*model_, plain, i, without.data());
    std::vector<float> bar(pixels);
    double total = 0, moved = 0;
    for (int p = 0; p < pixels; ++p) {
      bar[p] = with[band * pixels + p] - without[band * pixels + p];
      total += without[band * pixels + p];
      moved += bar[p];
    }
    EXPECT_LT(std::abs(moved), 0.02 * total) << "galaxy " << i << ": the bar must move light, not add it";
    const double cx = size / 2.0 + g.center_dx, cy = size / 2.0 + g.center_dy;
    const auto [ratio, angle] = PositiveShape(bar, size, cx, cy);
    EXPECT_LT(ratio, 0.6) << "galaxy " << i;
    const double expected = std::fmod(g.position_angle +
                                          std::atan2(g.disk_q * std::sin(g.bar_angle), std::cos(g.bar_angle)) + 2 * M_PI,
                                      M_PI);
    const double off = std::abs(angle - expected);
    EXPECT_LT(std::min(off, M_PI - off), 0.35) << "galaxy " << i << ": bar at " << angle << ", drawn at " << expected;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST_F(SynthSurveyTest, NeighboursComeAtTheirDensitiesMoreInDensePlacesAndAwayFromTheCentre) {
  const double half = options_->image_size / 2.0;
  double sources = 0;
  double dense = 0, sparse = 0;
  int n_dense = 0, n_sparse = 0;
  for (int64_t i = 0; i < batch_->count; ++i) {
    const GalaxyTruth g = model_->Draw(i);
    ASSERT_EQ(batch_->extra["neighbours"][i], static_cast<double>(g.neighbours.size())) << "galaxy " << i;
    sources += static_cast<double>(g.neighbours.size());
    int physical = 0;
    for (const Neighbour& n : g.neighbours) {
      EXPECT_GE(std::hypot(n.dx, n.dy), 3.0 / kSdssPixelScale - 1e-9);
      EXPECT_LE(std::max(std::abs(n.dx), std::abs(n.dy)), half);
      EXPECT_GT(n.mag_r, 15.0);
      if (!n.star && n.z == g.z) ++physical;
    }
    if (g.environment > 1) dense += physical, ++n_dense;
    if (g.environment < -1) sparse += physical, ++n_sparse;
  }
  // 0.3 physical neighbours (times e^(0.6 environment)), 2.5 background galaxies and 0.6 stars
  // per arcmin^2 over a 25.3" cutout: ~0.9 sources per cutout.
  EXPECT_NEAR(sources / static_cast<double>(batch_->count), 0.9, 0.25);
  ASSERT_GT(n_dense, 200);
  ASSERT_GT(n_sparse, 200);
  EXPECT_GT(dense / n_dense, 2 * sparse / n_sparse);
}

TEST_F(SynthSurveyTest, ANeighbourIsLightAtItsPlace) {
  // A galaxy with a bright neighbouring galaxy well inside the cutout, drawn with it and alone.
  const int size = options_->image_size, pixels = size * size, band = kBandR;
  int checked = 0;
  for (int64_t i = 0; i < batch_->count && checked < 3; ++i) {
    GalaxyTruth g = model_->Draw(i);
    const Neighbour* bright = nullptr;
    for (const Neighbour& n : g.neighbours) {
      if (!n.star && n.mag_r < 19.5 && std::max(std::abs(n.dx), std::abs(n.dy)) < size / 2.0 - 8) bright = &n;
    }
    if (bright == nullptr) continue;
    std::vector<float> with(5 * pixels), alone(5 * pixels);
    RenderGalaxy(*model_, g, i, with.data());
    const double x = size / 2.0 + g.center_dx + bright->dx, y = size / 2.0 + g.center_dy + bright->dy;
    const double expected = MagToNanomaggies(bright->mag_r + kSdssExtinction[band] * g.e_bv);
    g.neighbours.clear();
    RenderGalaxy(*model_, g, i, alone.data());
    double added = 0;
    for (int py = static_cast<int>(y) - 4; py <= static_cast<int>(y) + 4; ++py) {
      for (int px = static_cast<int>(x) - 4; px <= static_cast<int>(x) + 4; ++px) {
        const size_t p = static_cast<size_t>(band * pixels + py * size + px);
        added += with[p] - alone[p];
      }
    }
    // Most of a compact faint galaxy's light lands within 4 pixels (1.6") of its centre, and
    // none of it is more than it has.
    EXPECT_GT(added, 0.3 * expected) << "galaxy " << i;
    EXPECT_LT(added, 1.1 * expected) << "galaxy " << i;
    ++checked;
  }
  EXPECT_EQ(checked, 3);
}

TEST_F(SynthSurveyTest, BarsAndNeighboursDrawFromTheirOwnStreams) {
  // Without bars and neighbours, a survey is the same galaxies, pixel for pixel, as the default
  // survey's with its bars and neighbours taken out: adding them changed nothing else.
  SynthOptions alone_options = *options_;
  alone_options.bar_scale = 0;
  alone_options.neighbour_scale = 0;
  const SurveyModel alone(alone_options);
  const int pixels = 5 * options_->image_size * options_->image_size;
  int barred = 0, crowded = 0;
  for (int64_t i = 0; i < 60; ++i) {
    GalaxyTruth g = model_->Draw(i);
    barred += g.bar;
    crowded += !g.neighbours.empty();
    g.bar = false;
    g.neighbours.clear();
    const GalaxyTruth a = alone.Draw(i);
    ASSERT_EQ(a.z, g.z);
    ASSERT_TRUE(a.neighbours.empty());
    std::vector<float> mine(pixels), theirs(pixels);
    RenderGalaxy(*model_, g, i, mine.data());
    RenderGalaxy(alone, a, i, theirs.data());
    ASSERT_EQ(mine, theirs) << "galaxy " << i;
  }
  EXPECT_GT(barred, 3);
  EXPECT_GT(crowded, 10);
}

// sigma_MAD of kNN (k = 20) on the noise-free catalog colours (r magnitude and four colours) of
// `count` galaxies of a survey with the given spectral scatter: first 80% train, rest test.
double CatalogColourKnnSigmaMad(double spectral_scatter, int count) {
  SynthOptions o;
  o.count = count;
  o.seed = 11;
  o.anomaly_fraction = 0;
  o.spectral_scatter = spectral_scatter;
  const SurveyModel model(o);
  std::vector<double> train_x, test_x, train_z, test_z;
  for (int i = 0; i < count; ++i) {
    const GalaxyTruth g = model.Draw(i);
    const bool train = i < count * 8 / 10;
    auto& x = train ? train_x : test_x;
    x.push_back(g.mag[kBandR]);
    for (int b = 0; b + 1 < kSdssBands; ++b) x.push_back(g.mag[b] - g.mag[b + 1]);
    (train ? train_z : test_z).push_back(g.z);
  }
  absl::StatusOr<KnnRegressor> knn = KnnRegressor::Fit(train_x, kSdssBands, train_z, 20);
  EXPECT_TRUE(knn.ok()) << knn.status();
  absl::StatusOr<PhotozMetrics> m = ComputePhotozMetrics(knn->Predict(test_x, 1), test_z);
  EXPECT_TRUE(m.ok()) << m.status();
  return m->sigma_mad;
}

TEST(SynthSpectraTest, CatalogColoursAreAsDegenerateWithRedshiftAsOnTheRealSky) {
  // The real sky's noise-free colours leave sigma_MAD ~0.01 (the continuous variety of
  // spectra); one spectrum per type leaves almost none, and then no image can beat colours.
  const double calibrated = CatalogColourKnnSigmaMad(1.0, 10000);
  const double fixed = CatalogColourKnnSigmaMad(0.0, 10000);
  EXPECT_GT(calibrated, 0.008);
  EXPECT_LT(calibrated, 0.015);
  EXPECT_LT(fixed, 0.5 * calibrated);
}

TEST(SynthSpectraTest, StarFormationFollowsTypeSizeAndEnvironment) {
  SynthOptions o;
  o.count = 6000;
  o.seed = 5;
  o.anomaly_fraction = 0;
  const SurveyModel model(o);
  // Mean disk young fraction per type rises from S0 to irregulars; within late spirals it is
  // higher for larger-than-typical disks and lower in dense places.
  std::vector<double> sum(kGalaxyTypes, 0), n(kGalaxyTypes, 0);
  double big = 0, small = 0, dense = 0, sparse = 0;
  int nb = 0, ns = 0, nd = 0, nsp = 0;
  for (int i = 0; i < o.count; ++i) {
    const GalaxyTruth g = model.Draw(i);
    const int t = static_cast<int>(g.type);
    sum[t] += g.disk_spectrum.young;
    n[t] += 1;
    if (g.type != GalaxyType::kLateSpiral) continue;
    if (g.size_residual > 1) big += g.disk_spectrum.young, ++nb;
    if (g.size_residual < -1) small += g.disk_spectrum.young, ++ns;
    if (g.environment > 0.8) dense += g.disk_spectrum.young, ++nd;
    if (g.environment < -1.2) sparse += g.disk_spectrum.young, ++nsp;
    // Young light is a part of the disk's light in every band.
    for (int b = 0; b < kSdssBands; ++b) {
      ASSERT_GE(g.disk_young_flux[b], 0);
      ASSERT_LE(g.disk_young_flux[b], g.disk_flux[b] * (1 + 1e-9));
    }
  }
  for (int t = 2; t < kGalaxyTypes; ++t) EXPECT_GT(sum[t] / n[t], sum[t - 1] / n[t - 1]) << t;
  ASSERT_GT(nb, 20);
  ASSERT_GT(ns, 20);
  ASSERT_GT(nd, 20);
  ASSERT_GT(nsp, 20);
  EXPECT_GT(big / nb, small / ns);
  EXPECT_LT(dense / nd, sparse / nsp);
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
  o = SynthOptions();
  o.spectral_scatter = -1;
  EXPECT_NE(ValidateSynthOptions(o).message().find("--spectral-scatter"), std::string::npos);
  o = SynthOptions();
  o.bar_scale = -0.5;
  EXPECT_NE(ValidateSynthOptions(o).message().find("--bars"), std::string::npos);
  o = SynthOptions();
  o.neighbour_scale = std::nan("");
  EXPECT_NE(ValidateSynthOptions(o).message().find("--neighbours"), std::string::npos);
}

}  // namespace
}  // namespace galaxy
