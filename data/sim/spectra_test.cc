#include "data/sim/spectra.h"

#include <gtest/gtest.h>

#include <cmath>

#include "data/bands.h"
#include "data/sim/cosmology.h"

namespace galaxy {
namespace {

TEST(CosmologyTest, DistancesMatchFlatLcdmReferenceValues) {
  FlatLcdm c(70, 0.3);
  // Reference values for H0=70, Om=0.3 flat (e.g. Wright 2006 calculator).
  EXPECT_NEAR(c.ComovingDistance(0.1), 418.4, 1.0);
  EXPECT_NEAR(c.AngularDiameterDistance(0.1), 380.4, 1.0);
  EXPECT_NEAR(c.LuminosityDistance(1.0), 6607.7, 10);
  EXPECT_NEAR(c.DistanceModulus(0.1), 38.32, 0.02);
  // Angular size falls with z at these redshifts.
  EXPECT_GT(c.ArcsecPerKpc(0.05), c.ArcsecPerKpc(0.1));
  EXPECT_GT(c.ArcsecPerKpc(0.1), c.ArcsecPerKpc(0.4));
}

TEST(SpectraTest, FourThousandAngstromBreakMovesFromGIntoR) {
  FlatLcdm c;
  MagnitudeTable old(MakeGalaxySpectrum({0.0, 1.6, 0}), c);
  // u - g is large (break between u and g) at z=0; g - r reddens strongly by z=0.4 as the break
  // enters r.
  auto z0 = old.Offsets(0.0), z4 = old.Offsets(0.4);
  EXPECT_GT(z0[0] - z0[1], 1.5);
  EXPECT_GT((z4[1] - z4[2]) - (z0[1] - z0[2]), 0.8);
  // Young populations are bluer at every redshift.
  MagnitudeTable young(MakeGalaxySpectrum({0.75, 1.3, 70}), c);
  for (double z : {0.0, 0.1, 0.2, 0.3}) {
    auto o = old.Offsets(z), y = young.Offsets(z);
    EXPECT_LT(y[1] - y[2], o[1] - o[2]) << z;
  }
}

TEST(SpectraTest, MagnitudeOffsetIncludesTheDistanceModulus) {
  FlatLcdm c;
  MagnitudeTable table(MakeGalaxySpectrum({0.3, 1.5, 10}), c);
  // At low z the r-band K-correction is small: m_r - M_r ~ DM.
  EXPECT_NEAR(table.Offsets(0.02)[kBandR], c.DistanceModulus(0.02), 0.05);
}

TEST(SpectralFamilyTest, TabulatedMixtureMatchesIntegratingTheMixedSpectrum) {
  // The family's photometry is a weighted sum of tabulated basis photometry; it must equal
  // integrating the mixed spectrum through the filters directly.
  FlatLcdm c;
  SpectralFamily family;
  SpectralParams p;
  p.metallicity = 0.3;
  p.d4000 = 1.7;
  p.intermediate = 0.1;
  p.young = 0.35;
  p.young_hotness = 0.7;
  p.halpha_ew = 40;
  p.excitation = 0.4;
  MagnitudeTable direct(family.Make(p), c);
  for (double z : {0.01, 0.1, 0.23, 0.4}) {
    const auto tab = family.Offsets(p, z, c), ref = direct.Offsets(z);
    for (int b = 0; b < kSdssBands; ++b) EXPECT_NEAR(tab[b], ref[b], 0.01) << "z " << z << " band " << b;
  }
}

TEST(SpectralFamilyTest, EachParameterMovesTheColoursTheWayPhysicsSays) {
  FlatLcdm c;
  SpectralFamily family;
  auto g_minus_r = [&](const SpectralParams& p, double z) {
    const auto o = family.Offsets(p, z, c);
    return o[1] - o[2];
  };
  auto r_minus_i = [&](const SpectralParams& p, double z) {
    const auto o = family.Offsets(p, z, c);
    return o[2] - o[3];
  };
  SpectralParams base;
  base.young = 0.2;
  for (double z : {0.05, 0.2, 0.35}) {
    SpectralParams younger = base, richer = base, dusty = base;
    younger.young = 0.5;
    richer.metallicity = 0.9;
    dusty.internal_ebv = 0.2;
    EXPECT_LT(g_minus_r(younger, z), g_minus_r(base, z) - 0.05) << z;
    // A metal-rich (cooler) old population reddens the rest-frame optical, which r - i samples
    // at every redshift here (at z > 0.3 g samples the rest-frame UV, where young light rules).
    EXPECT_GT(r_minus_i(richer, z), r_minus_i(base, z) + 0.05) << z;
    EXPECT_GT(g_minus_r(dusty, z), g_minus_r(base, z) + 0.05) << z;
  }
  // The young part is a share of the total in every band, largest in u.
  SpectralParams p = base;
  p.halpha_ew = 20;
  const ComponentFluxes f = family.Fluxes(p, 0.1);
  for (int b = 0; b < kSdssBands; ++b) {
    EXPECT_GT(f.young[b], 0) << b;
    EXPECT_LT(f.young[b], f.total[b]) << b;
  }
  EXPECT_GT(f.young[0] / f.total[0], f.young[4] / f.total[4]);
  // Normalisation: the rest-frame r flux of the undusted spectrum is 1.
  EXPECT_NEAR(family.Fluxes(p, 0.0).total[kBandR], 1.0, 1e-6);
}

TEST(SpectraTest, HotterStarsAreBluer) {
  auto cool = RestFrameColoursMinusR(MakeBlackbodySpectrum(3500));
  auto hot = RestFrameColoursMinusR(MakeBlackbodySpectrum(9000));
  EXPECT_GT(cool[1], hot[1]);  // g - r
  EXPECT_GT(cool[0], hot[0]);  // u - r
}

TEST(BandsTest, DereddeningUndoesExtinctionBandByBand) {
  // E(B-V) = 0.1 dims u by 10^(-0.4*0.4239) and z by 10^(-0.4*0.1263).
  EXPECT_NEAR(DereddenFactor(0, 0.1), std::pow(10.0, 0.4 * 0.4239), 1e-12);
  EXPECT_NEAR(DereddenFactor(4, 0.1), std::pow(10.0, 0.4 * 0.1263), 1e-12);
  EXPECT_NEAR(NanomaggiesToMag(1.0), 22.5, 1e-12);
  EXPECT_NEAR(MagToNanomaggies(17.5), 100.0, 1e-9);
  // Asinh magnitudes match AB magnitudes for bright sources and stay finite at zero flux.
  EXPECT_NEAR(AsinhMag(100.0, 2), 17.5, 1e-3);
  EXPECT_TRUE(std::isfinite(AsinhMag(0.0, 0)));
  EXPECT_TRUE(std::isfinite(AsinhMag(-1.0, 0)));
}

}  // namespace
}  // namespace galaxy
