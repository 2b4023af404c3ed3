#include "core/whitening/catalog_whitening.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.h"

namespace galaxy {
namespace {

constexpr int kDim = 6;

// `n` rows whose coordinate k is Gaussian with standard deviation sigma[k], plus offset[k]; the
// first two coordinates correlated.
std::vector<float> Catalog(int n, const std::vector<double>& sigma, const std::vector<double>& offset,
                           uint64_t seed) {
  Random rng(seed, 0);
  std::vector<float> out;
  for (int i = 0; i < n; ++i) {
    const double shared = rng.Normal();
    for (int k = 0; k < kDim; ++k) {
      const double x = k < 2 ? shared + 0.5 * rng.Normal() : rng.Normal();
      out.push_back(static_cast<float>(offset[static_cast<size_t>(k)] + sigma[static_cast<size_t>(k)] * x));
    }
  }
  return out;
}

// Covariance of rows x kDim.
std::vector<double> Covariance(const std::vector<float>& rows) {
  const size_t n = rows.size() / kDim;
  std::vector<double> mean(kDim, 0.0), cov(kDim * kDim, 0.0);
  for (size_t i = 0; i < rows.size(); ++i) mean[i % kDim] += rows[i] / static_cast<double>(n);
  for (size_t r = 0; r < n; ++r) {
    for (int a = 0; a < kDim; ++a) {
      for (int b = 0; b < kDim; ++b) {
        cov[a * kDim + b] += (rows[r * kDim + a] - mean[a]) * (rows[r * kDim + b] - mean[b]) / (n - 1.0);
      }
    }
  }
  return cov;
}

const std::vector<double> kSigma = {3.0, 1.0, 0.3, 0.1, 0.03, 0.01};  // a 300x range, as embeddings have
const std::vector<double> kOffset = {0.5, -0.2, 0.1, 0.0, 0.3, -0.1};

TEST(CatalogWhiteningTest, WhitenedCatalogVariesAlikeInEveryDirection) {
  const std::vector<float> catalog = Catalog(20000, kSigma, kOffset, 1);
  absl::StatusOr<CatalogWhitening> w = FitCatalogWhitening(catalog.data(), 20000, kDim, /*shrinkage=*/1e-8);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->rows, 20000);
  for (int k = 0; k < kDim; ++k) EXPECT_NEAR(w->mean[k], kOffset[k], 0.05 * kSigma[k]) << k;
  const std::vector<double> cov = Covariance(Whiten(*w, catalog));
  for (int a = 0; a < kDim; ++a) {
    for (int b = 0; b < kDim; ++b) EXPECT_NEAR(cov[a * kDim + b], a == b ? 1.0 : 0.0, 0.01) << a << "," << b;
  }
  // Shrinkage keeps the quietest directions from being stretched to unit variance: with 0.1 of
  // the mean variance added, a direction of variance 1e-4 stays far below 1.
  w = FitCatalogWhitening(catalog.data(), 20000, kDim, 0.1);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::vector<double> shrunk = Covariance(Whiten(*w, catalog));
  EXPECT_NEAR(shrunk[0], 1.0, 0.02);
  EXPECT_LT(shrunk[kDim * kDim - 1], 0.01);
}

TEST(CatalogWhiteningTest, ASampleOfEvenlySpacedRowsEstimatesTheCovariance) {
  const std::vector<float> catalog = Catalog(50000, kSigma, kOffset, 2);
  absl::StatusOr<CatalogWhitening> w = FitCatalogWhitening(catalog.data(), 50000, kDim, 1e-8, /*max_rows=*/5000);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->rows, 5000);
  const std::vector<double> cov = Covariance(Whiten(*w, catalog));
  for (int k = 0; k < kDim; ++k) EXPECT_NEAR(cov[k * kDim + k], 1.0, 0.05) << k;
}

double Linear(const std::vector<float>& w, float b, const float* x) {
  double sum = b;
  for (int k = 0; k < kDim; ++k) sum += static_cast<double>(w[k]) * x[k];
  return sum;
}

TEST(CatalogWhiteningTest, ALinearFunctionOfWhitenedVectorsIsTheSameOnTheCatalogsOwn) {
  const std::vector<float> catalog = Catalog(3000, kSigma, kOffset, 3);
  absl::StatusOr<CatalogWhitening> w = FitCatalogWhitening(catalog.data(), 3000, kDim);
  ASSERT_TRUE(w.ok()) << w.status();
  const std::vector<float> whitened = {0.3f, -1.2f, 0.7f, 2.0f, -0.4f, 1.1f};
  std::vector<float> raw = whitened;
  float bias = -0.25f;
  ToCatalogCoordinates(*w, &raw, &bias);
  const std::vector<float> z = Whiten(*w, catalog);
  const std::vector<double> norms = SquaredWhitenedNorms(*w, catalog.data(), 3000);
  ASSERT_EQ(norms.size(), 3000u);
  for (int i = 0; i < 3000; i += 97) {
    const double in_whitened = Linear(whitened, -0.25f, z.data() + i * kDim);
    EXPECT_NEAR(Linear(raw, bias, catalog.data() + i * kDim), in_whitened, 1e-3 * (1 + std::fabs(in_whitened))) << i;
    double norm = 0;
    for (int k = 0; k < kDim; ++k) norm += static_cast<double>(z[i * kDim + k]) * z[i * kDim + k];
    EXPECT_NEAR(norms[static_cast<size_t>(i)], norm, 1e-6 * (1 + norm)) << i;
  }
}

TEST(CatalogWhiteningTest, AConstantOrTinyCatalogOnlyCentres) {
  const std::vector<float> same(10 * kDim, 0.25f);
  for (int n : {1, 10}) {
    absl::StatusOr<CatalogWhitening> w = FitCatalogWhitening(same.data(), n, kDim);
    ASSERT_TRUE(w.ok()) << w.status();
    const std::vector<float> x = {1, 2, 3, 4, 5, 6};
    const std::vector<float> z = Whiten(*w, x);
    for (int k = 0; k < kDim; ++k) EXPECT_FLOAT_EQ(z[k], x[k] - 0.25f) << n;
  }
}

TEST(CatalogWhiteningTest, SquaredNormIsTheMahalanobisDistanceFromTheMean) {
  // 4,000 independent rows: standard deviation 1 along axis 0, 0.01 along axis 1, 0.1 along the rest.
  Random rng(4, 0);
  std::vector<float> x;
  for (int i = 0; i < 4000; ++i) {
    for (int k = 0; k < kDim; ++k) x.push_back(static_cast<float>((k == 0 ? 1.0 : k == 1 ? 0.01 : 0.1) * rng.Normal()));
  }
  // Row 0 is 0.05 out along the quiet axis (5 sigma), row 1 the same distance along the loud one
  // (0.05 sigma): the quiet direction's outlier scores far higher.
  std::fill(x.begin(), x.begin() + 2 * kDim, 0.0f);
  x[1] = 0.05f;
  x[kDim] = 0.05f;
  const auto norms = [&](double shrinkage) {
    absl::StatusOr<CatalogWhitening> w = FitCatalogWhitening(x.data(), 4000, kDim, shrinkage);
    EXPECT_TRUE(w.ok()) << w.status();
    return SquaredWhitenedNorms(*w, x.data(), 4000);
  };
  const std::vector<double> s = norms(1e-6);
  ASSERT_EQ(s.size(), 4000u);
  EXPECT_NEAR(s[0], 25.0, 2.5);  // (0.05 / 0.01)^2
  EXPECT_LT(s[1], 0.1);          // (0.05 / 1)^2
  // The mean over the rows is the dimension, as for any covariance estimated from them.
  double mean = 0;
  for (double v : s) mean += v / static_cast<double>(s.size());
  EXPECT_NEAR(mean, kDim, 0.05);
  // Shrinkage caps what the quietest direction can contribute.
  EXPECT_LT(norms(1.0)[0], 0.2 * s[0]);
}

TEST(CatalogWhiteningTest, RefusesBadArguments) {
  const std::vector<float> rows(10 * kDim, 1.0f);
  EXPECT_EQ(FitCatalogWhitening(rows.data(), 10, 0).status().message(), "whitening: dimension 0");
  EXPECT_EQ(FitCatalogWhitening(rows.data(), 10, kDim, 0).status().message(), "whitening: shrinkage 0 is not positive");
  EXPECT_EQ(FitCatalogWhitening(rows.data(), 10, kDim, 0.1, 0).status().message(), "whitening: max_rows 0");
}

}  // namespace
}  // namespace galaxy
