// The augmentations do what the physics says, exactly.
#include "model/augment.h"

#include <gtest/gtest.h>

#include <cmath>

namespace galaxy {
namespace {

const std::vector<double> kR = {4.239, 3.303, 2.285, 1.698, 1.263};

Augmenter Make(int64_t input, double max_blur = 1.0, std::vector<double> noise = {}, double mask_prob = 0) {
  AugmentOptions o;
  o.max_blur = max_blur;
  o.band_noise = std::move(noise);
  o.outskirt_mask_prob = mask_prob;
  return Augmenter(o, 5, input);
}

TEST(AugmentTest, ReddeningDimsEachBandByExactlyItsExtinction) {
  Augmenter a = Make(64);
  const torch::Tensor ones = torch::ones({2, 5, 64, 64});
  const torch::Tensor ebv = torch::tensor({0.0f, 0.3f});
  const torch::Tensor red = a.Redden(ones, ebv);
  for (int b = 0; b < 5; ++b) {
    EXPECT_FLOAT_EQ(red[0][b][10][10].item<float>(), 1.0f);
    EXPECT_NEAR(red[1][b][10][10].item<double>(), std::pow(10.0, -0.4 * kR[b] * 0.3), 1e-6) << b;
  }
  // u is dimmed most, z least.
  EXPECT_LT(red[1][0][0][0].item<float>(), red[1][1][0][0].item<float>());
  EXPECT_GT(red[1][4][0][0].item<float>(), red[1][3][0][0].item<float>());
  // De-reddening undoes it.
  EXPECT_TRUE(torch::allclose(a.Deredden(red, ebv), ones, 1e-5, 1e-6));
}

TEST(AugmentTest, SurveyDustIsTheLognormalFittedToTheCatalog) {
  // A catalog whose E(B-V) is lognormal with median 0.03 and sigma(ln) 0.5 (and a few
  // zero and NaN entries, which the fit ignores).
  torch::manual_seed(1);
  torch::Tensor ebv = 0.03 * torch::exp(0.5 * torch::randn({20000}, torch::kFloat64));
  ebv.narrow(0, 0, 10).zero_();
  ebv[10] = std::nan("");
  const DustDistribution fit = FitDustDistribution(ebv);
  EXPECT_NEAR(fit.median, 0.03, 0.001);
  EXPECT_NEAR(fit.log_sigma, 0.5, 0.02);
  AugmentOptions o;
  o.dust_median = fit.median;
  o.dust_log_sigma = fit.log_sigma;
  const Augmenter a(o, 5, 64);
  const torch::Tensor drawn = a.Draw(4000, /*seed=*/3, /*stream=*/0).dust_ebv;
  // The views' dust follows the survey's: median ~0.03, 95% below ~0.07; never the 0.25 that
  // U(0, 0.5) gives on average.
  EXPECT_NEAR(drawn.median().item<double>(), 0.03, 0.003);
  EXPECT_LT(drawn.quantile(0.95).item<double>(), 0.08);
  EXPECT_GT(drawn.min().item<double>(), 0.0);
  EXPECT_EQ(FitDustDistribution(torch::zeros({5})).log_sigma, 0.0);
}

TEST(AugmentTest, IdentityAffineReproducesTheImage) {
  Augmenter a = Make(64);
  const torch::Tensor x = torch::randn({1, 5, 64, 64});
  const torch::Tensor theta = a.AffineTheta(0, false, 0, 0, 1).unsqueeze(0);
  EXPECT_TRUE(torch::allclose(a.Resample(x, theta), x, 1e-4, 1e-5));
}

TEST(AugmentTest, QuarterTurnAndFlipAndJitterMovePixelsWhereExpected) {
  Augmenter a = Make(64);
  const torch::Tensor x = torch::randn({1, 5, 64, 64});
  // A quarter turn is a rot90 (one of its two directions), exactly at pixel centres.
  const torch::Tensor turned = a.Resample(x, a.AffineTheta(M_PI / 2, false, 0, 0, 1).unsqueeze(0));
  const bool ccw = torch::allclose(turned, torch::rot90(x, 1, {2, 3}), 1e-4, 1e-4);
  const bool cw = torch::allclose(turned, torch::rot90(x, -1, {2, 3}), 1e-4, 1e-4);
  EXPECT_TRUE(ccw || cw);
  const torch::Tensor flipped = a.Resample(x, a.AffineTheta(0, true, 0, 0, 1).unsqueeze(0));
  EXPECT_TRUE(torch::allclose(flipped, torch::flip(x, {3}), 1e-4, 1e-4));
  // A jitter of 3 px to the right samples the input 3 px further right.
  const torch::Tensor moved = a.Resample(x, a.AffineTheta(0, false, 3, 0, 1).unsqueeze(0));
  EXPECT_TRUE(torch::allclose(moved.narrow(3, 0, 61), x.narrow(3, 3, 61), 1e-4, 1e-4));
}

TEST(AugmentTest, LargeCutoutsAreCentreCroppedInTheSameResampling) {
  Augmenter a = Make(107);
  const torch::Tensor x = torch::randn({1, 5, 107, 107});
  const torch::Tensor out = a.Resample(x, a.AffineTheta(0, false, 0, 0, 1).unsqueeze(0));
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{1, 5, 64, 64}));
  // 107 - 64 = 43: the crop starts 21.5 px in, so the output is the mean of neighbouring pixels.
  const torch::Tensor expected = (x.narrow(2, 21, 64) + x.narrow(2, 22, 64)) / 2;
  const torch::Tensor both = (expected.narrow(3, 21, 64) + expected.narrow(3, 22, 64)) / 2;
  EXPECT_TRUE(torch::allclose(out, both, 1e-4, 1e-4));
}

TEST(AugmentTest, BlurConservesFluxAndLowersThePeak) {
  Augmenter a = Make(64, 1.5);
  torch::Tensor x = torch::zeros({2, 5, 64, 64});
  x.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), 32, 32}, 100.0f);
  const torch::Tensor out = a.Blur(x, torch::tensor({0.0f, 1.5f}));
  EXPECT_NEAR(out[0].sum().item<double>(), 500.0, 1e-2);
  EXPECT_NEAR(out[1].sum().item<double>(), 500.0, 1e-2);
  EXPECT_NEAR(out[0][2][32][32].item<double>(), 100.0, 1e-3);  // sigma 0: unchanged
  // A Gaussian of sigma 1.5 px puts 1 / (2 pi 1.5^2) ~ 7% of the flux in the central pixel.
  EXPECT_NEAR(out[1][2][32][32].item<double>(), 100.0 / (2 * M_PI * 2.25), 0.6);
}

TEST(AugmentTest, NoiseMatchesTheDrawnLevelPerBand) {
  Augmenter a = Make(64, 1.0, {0.05, 0.05, 0.05, 0.1, 0.2});
  const int64_t n = 64;
  AugmentDraws d = a.Draw(n, 3, 0);
  d.theta = a.AffineTheta(0, false, 0, 0, 1).unsqueeze(0).repeat({n, 1, 1});
  d.dust_ebv.zero_();
  d.blur_sigma.zero_();
  d.noise_level.fill_(1.0f);
  const torch::Tensor out = a.Apply(torch::zeros({n, 5, 64, 64}), torch::zeros({n}), d);
  const double want[] = {0.05, 0.05, 0.05, 0.1, 0.2};
  for (int b = 0; b < 5; ++b) {
    EXPECT_NEAR(out.select(1, b).std().item<double>(), want[b], 0.004) << b;
  }
}

// max_noise scales each view's drawn level and nothing else: half of it halves every level of the
// same draws, 0 adds no noise at all, and the other draws stay those of the default.
TEST(AugmentTest, MaxNoiseScalesTheDrawnLevelsOnly) {
  AugmentOptions o;
  o.band_noise = {0.05, 0.05, 0.05, 0.1, 0.2};
  const Augmenter full(o, 5, 64);
  o.max_noise = 0.5;
  const Augmenter half(o, 5, 64);
  o.max_noise = 0;
  const Augmenter none(o, 5, 64);
  const AugmentDraws f = full.Draw(32, 7, 1), h = half.Draw(32, 7, 1), z = none.Draw(32, 7, 1);
  EXPECT_GT(f.noise_level.max().item<float>(), 0.5f);
  EXPECT_TRUE(torch::allclose(h.noise_level, f.noise_level * 0.5));
  EXPECT_EQ(z.noise_level.abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(h.theta, f.theta));
  EXPECT_TRUE(torch::equal(h.blur_sigma, f.blur_sigma));
  EXPECT_TRUE(torch::equal(h.noise, f.noise));
  // Without added noise a noise-free image stays noise-free.
  AugmentDraws d = z;
  d.theta = none.AffineTheta(0, false, 0, 0, 1).unsqueeze(0).repeat({32, 1, 1});
  const torch::Tensor out = none.Apply(torch::zeros({32, 5, 64, 64}), torch::zeros({32}), d);
  EXPECT_EQ(out.abs().max().item<float>(), 0.0f);
}

TEST(AugmentTest, DrawsAreDeterministicPerSeedAndStream) {
  Augmenter a = Make(64, 1.0, {0.1, 0.1, 0.1, 0.1, 0.1});
  AugmentDraws d1 = a.Draw(8, 5, 9), d2 = a.Draw(8, 5, 9), d3 = a.Draw(8, 5, 10);
  EXPECT_TRUE(torch::equal(d1.theta, d2.theta));
  EXPECT_TRUE(torch::equal(d1.noise, d2.noise));
  EXPECT_FALSE(torch::equal(d1.theta, d3.theta));
  EXPECT_LE(d1.dust_ebv.max().item<float>(), 0.5f);
  EXPECT_GE(d1.dust_ebv.min().item<float>(), 0.0f);
}

// The CPU's fused kernel and the step-by-step tensor form (what a GPU runs) compute the same
// thing: random draws, stored images larger than the crop and equal to it, with and without
// noise, strong blur and none.
// Both faster forms (the fused CPU kernel, and the device form that GPUs run) against the steps
// as written.
TEST(AugmentTest, FusedCpuKernelAndDeviceFormMatchTheStepByStepForm) {
  struct Case {
    int64_t input;
    double max_blur;
    std::vector<double> noise;
    double mask_prob;  // outskirts masked (half the views: some masked, some not)
  };
  const std::vector<Case> cases = {{64, 1.0, {0.05, 0.05, 0.05, 0.1, 0.2}, 0},
                                   {80, 2.0, {}, 0},
                                   {72, 0.3, {0.1, 0.1, 0.1, 0.1, 0.1}, 0},
                                   {64, 1.0, {0.05, 0.05, 0.05, 0.1, 0.2}, 0.5},
                                   {80, 0.3, {}, 0.5}};
  for (const Case& k : cases) {
    Augmenter a = Make(k.input, k.max_blur, k.noise, k.mask_prob);
    const int64_t n = 12;
    torch::manual_seed(k.input);
    const torch::Tensor images = torch::randn({n, 5, k.input, k.input}).abs() + torch::linspace(0, 2, k.input);
    const torch::Tensor ebv = torch::rand({n}) * 0.2;
    AugmentDraws d = a.Draw(n, 11, static_cast<uint64_t>(k.input));
    d.blur_sigma[0] = 0.0f;  // no blur at all for one image
    if (k.mask_prob > 0) {
      const int64_t masked = torch::isfinite(d.outskirt_radius).sum().item<int64_t>();
      ASSERT_GT(masked, 0) << k.input;
      ASSERT_LT(masked, n) << k.input;
    }
    const torch::Tensor reference = a.ApplyStepByStep(images, ebv, d);
    for (const bool device_form : {false, true}) {
      const torch::Tensor fast = device_form ? a.ApplyOnDevice(images, ebv, d) : a.Apply(images, ebv, d);
      ASSERT_EQ(fast.sizes(), reference.sizes());
      const double err = (fast - reference).abs().max().item<double>();
      EXPECT_LT(err, 2e-5 * reference.abs().max().item<double>())
          << "input " << k.input << (device_form ? " device form" : " fused") << ": max |difference| " << err;
      // Not a trivial agreement: the augmentation changed the images.
      EXPECT_GT((fast - a.CentreCrop(images)).abs().mean().item<double>(), 0.05) << k.input;
    }
  }
}

TEST(AugmentTest, MaskedOutskirtsKeepTheGalaxyAndBecomeSkyOfTheBandNoise) {
  const std::vector<double> noise = {0.05, 0.05, 0.05, 0.1, 0.2};
  AugmentOptions o;
  o.band_noise = noise;
  o.outskirt_mask_prob = 1;
  o.outskirt_min_radius = o.outskirt_max_radius = 12;
  const Augmenter a(o, 5, 64);
  const int64_t n = 16;
  AugmentDraws d = a.Draw(n, 3, 0);
  ASSERT_TRUE(torch::allclose(d.outskirt_radius, torch::full({n}, 12.0f)));
  d.theta = a.AffineTheta(0, false, 0, 0, 1).unsqueeze(0).repeat({n, 1, 1});
  d.dust_ebv.zero_();
  d.blur_sigma.zero_();
  d.noise_level.zero_();
  const torch::Tensor out = a.Apply(torch::full({n, 5, 64, 64}, 3.0f), torch::zeros({n}), d);
  // Within 11 px of the centre (31.5, 31.5) the image is untouched; beyond 13 px it is sky.
  const torch::Tensor y = torch::arange(64, torch::kFloat32) - 31.5f;
  const torch::Tensor r = (y.view({64, 1}).pow(2) + y.view({1, 64}).pow(2)).sqrt();
  const torch::Tensor inner = (r < 11).expand({n, 64, 64}), outer = (r > 13).expand({n, 64, 64});
  for (int b = 0; b < 5; ++b) {
    const torch::Tensor band = out.select(1, b);
    EXPECT_TRUE(torch::allclose(band.masked_select(inner), torch::full({1}, 3.0f), 1e-5, 1e-5)) << b;
    const torch::Tensor sky = band.masked_select(outer);
    EXPECT_NEAR(sky.mean().item<double>(), 0.0, 0.01) << b;
    EXPECT_NEAR(sky.std().item<double>(), noise[b], 0.05 * noise[b]) << b;
  }
}

TEST(AugmentTest, OutskirtMasksLeaveTheOtherDrawsAsTheyWere) {
  const std::vector<double> noise = {0.1, 0.1, 0.1, 0.1, 0.1};
  const Augmenter plain = Make(64, 1.0, noise), masking = Make(64, 1.0, noise, 0.5);
  const int64_t n = 400;
  const AugmentDraws a = plain.Draw(n, 5, 2), b = masking.Draw(n, 5, 2);
  EXPECT_FALSE(a.outskirt_radius.defined());
  EXPECT_TRUE(torch::equal(a.theta, b.theta));
  EXPECT_TRUE(torch::equal(a.dust_ebv, b.dust_ebv));
  EXPECT_TRUE(torch::equal(a.noise, b.noise));
  // About half the views masked, with radii in [12, 32); the others' sky left at zero.
  const torch::Tensor finite = torch::isfinite(b.outskirt_radius);
  const double share = finite.to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(share, 0.4);
  EXPECT_LT(share, 0.6);
  const torch::Tensor radii = b.outskirt_radius.masked_select(finite);
  EXPECT_GE(radii.min().item<float>(), 12.0f);
  EXPECT_LT(radii.max().item<float>(), 32.0f);
  const int64_t kept = (~finite).nonzero()[0][0].item<int64_t>();
  EXPECT_EQ(b.outskirt_sky[kept].abs().max().item<float>(), 0.0f);
  const int64_t masked = finite.nonzero()[0][0].item<int64_t>();
  EXPECT_NEAR(b.outskirt_sky[masked].std().item<double>(), 1.0, 0.05);
}

TEST(AugmentTest, FusedCpuKernelRefusesMismatchedDraws) {
  Augmenter a = Make(64);
  AugmentDraws d = a.Draw(4, 1, 1);
  EXPECT_THROW(a.Apply(torch::rand({5, 5, 64, 64}), torch::zeros({5}), d), c10::Error);
}

TEST(AugmentTest, DrawsDoNotDependOnTheThreadCount) {
  Augmenter a = Make(64, 1.0, {0.1, 0.1, 0.1, 0.1, 0.1});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  AugmentDraws one = a.Draw(16, 7, 3);
  at::set_num_threads(2);
  AugmentDraws two = a.Draw(16, 7, 3);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.theta, two.theta));
  EXPECT_TRUE(torch::equal(one.noise, two.noise));
  EXPECT_TRUE(torch::equal(one.blur_sigma, two.blur_sigma));
}

TEST(AugmentTest, BandNoiseEstimateRecoversTheSkyNoise) {
  torch::manual_seed(1);
  torch::Tensor x = torch::randn({50, 5, 64, 64});
  for (int b = 0; b < 5; ++b) x.select(1, b).mul_(0.02 * (b + 1));
  std::vector<double> est = EstimateBandNoise(x);
  for (int b = 0; b < 5; ++b) EXPECT_NEAR(est[b], 0.02 * (b + 1), 0.002 * (b + 1)) << b;
}

}  // namespace
}  // namespace galaxy
