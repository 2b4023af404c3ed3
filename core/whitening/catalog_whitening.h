// The catalog's whitening: its mean and its shrunk covariance, factored. Two uses:
//  - The anomaly score: the squared norm of a whitened embedding, the Mahalanobis distance from
//    the catalog's mean (shrinkage kAnomalyShrinkage). The indexer stores it for every galaxy
//    (indexer/anomaly_score.h) and `galaxy-train quality` measures it (trainer/
//    representation_quality.h), both through this one definition.
//  - Few-shot classifiers (server/rank_by_examples.h). A self-supervised embedding varies far
// more along a few directions than along the rest (on the science model, the covariance's
// eigenvalues span 3,000x), and rare kinds differ from ordinary galaxies mostly along the quiet
// directions. A logistic regression with an L2 penalty on the raw vectors spends its penalty on
// those quiet directions and ranks by the loud ones; fitted on whitened vectors (each direction of
// the catalog scaled to unit variance, after a shrinkage that keeps the quietest from being
// amplified without bound) it weighs them by how much they separate the examples. This is the
// penalty w^T S w instead of w^T w, S the shrunk covariance: Fisher's discriminant with the
// catalog's covariance, made robust. Measured: docs/SCIENCE.md, "Few-shot discovery".
//
// Uses BLAS (ssyrk, dtrsm, dtrsv) and LAPACK (dpotrf); no gRPC, FAISS or LibTorch here.
#ifndef GALAXY_CORE_WHITENING_CATALOG_WHITENING_H_
#define GALAXY_CORE_WHITENING_CATALOG_WHITENING_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

// Shrinkage towards a multiple of the identity: S = covariance + shrinkage * (trace / dim) I.
inline constexpr double kWhiteningShrinkage = 0.1;
// The anomaly score's shrinkage, smaller: an outlier along a quiet direction must stay one.
inline constexpr double kAnomalyShrinkage = 0.01;
// The covariance is estimated from at most this many catalog rows, evenly spaced.
inline constexpr int64_t kWhiteningMaxRows = 20000;

// Row j (0 <= j < rows) of the evenly spaced sample of `rows` out of a catalog of n: the same
// rows every time, for FitCatalogWhitening and for callers that gather the sample themselves
// (the indexer reads its vectors from disk).
inline int64_t WhiteningSampleRow(int64_t j, int64_t n, int64_t rows) { return j * n / rows; }

struct CatalogWhitening {
  int dim = 0;
  int64_t rows = 0;  // catalog rows the covariance was estimated from
  double shrinkage = 0;
  std::vector<double> mean;      // dim
  std::vector<double> cholesky;  // dim x dim, column-major, lower: L L^T = S (identity when the catalog is constant)
};

// The whitening of the `n` rows of `vectors` (n x dim, row-major). INVALID_ARGUMENT for a bad
// dimension, shrinkage or row limit; INTERNAL naming LAPACK's code when the factorisation fails.
absl::StatusOr<CatalogWhitening> FitCatalogWhitening(const float* vectors, int64_t n, int dim,
                                                     double shrinkage = kWhiteningShrinkage,
                                                     int64_t max_rows = kWhiteningMaxRows);

// L^-1 (x - mean) of each row of `rows` (rows x dim, row-major).
std::vector<float> Whiten(const CatalogWhitening& whitening, const std::vector<float>& rows);

// |L^-1 (x - mean)|^2 of each of the `n` rows of `rows` (n x dim): the squared Mahalanobis
// distance from the catalog's mean.
std::vector<double> SquaredWhitenedNorms(const CatalogWhitening& whitening, const float* rows, int64_t n);

// A linear function of whitened vectors, v . z + b, as one of the catalog's own vectors: `weights`
// becomes L^-T v and `bias` b - (L^-T v) . mean, the same value for every vector.
void ToCatalogCoordinates(const CatalogWhitening& whitening, std::vector<float>* weights, float* bias);

}  // namespace galaxy

#endif  // GALAXY_CORE_WHITENING_CATALOG_WHITENING_H_
