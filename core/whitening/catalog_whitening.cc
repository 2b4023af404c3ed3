#include "core/whitening/catalog_whitening.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

// Fortran BLAS / LAPACK (OpenBLAS, as FAISS uses), column-major, 32-bit integers.
extern "C" {
void ssyrk_(const char* uplo, const char* trans, const int* n, const int* k, const float* alpha, const float* a,
            const int* lda, const float* beta, float* c, const int* ldc);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dtrsm_(const char* side, const char* uplo, const char* transa, const char* diag, const int* m, const int* n,
            const double* alpha, const double* a, const int* lda, double* b, const int* ldb);
void dtrsv_(const char* uplo, const char* trans, const char* diag, const int* n, const double* a, const int* lda,
            double* x, const int* incx);
}

namespace galaxy {
namespace {

constexpr int64_t kChunkRows = 1024;

void Identity(CatalogWhitening* w) {
  const size_t d = static_cast<size_t>(w->dim);
  w->cholesky.assign(d * d, 0.0);
  for (size_t k = 0; k < d; ++k) w->cholesky[k * d + k] = 1.0;
}

}  // namespace

absl::StatusOr<CatalogWhitening> FitCatalogWhitening(const float* vectors, int64_t n, int dim, double shrinkage,
                                                     int64_t max_rows) {
  if (dim <= 0) return absl::InvalidArgumentError(absl::StrCat("whitening: dimension ", dim));
  if (!(shrinkage > 0 && std::isfinite(shrinkage))) {
    return absl::InvalidArgumentError(absl::StrCat("whitening: shrinkage ", shrinkage, " is not positive"));
  }
  if (max_rows < 1) return absl::InvalidArgumentError(absl::StrCat("whitening: max_rows ", max_rows));
  const size_t d = static_cast<size_t>(dim);
  CatalogWhitening w;
  w.dim = dim;
  w.shrinkage = shrinkage;
  w.rows = std::min(std::max<int64_t>(n, 0), max_rows);
  w.mean.assign(d, 0.0);
  const auto row_of = [&](int64_t j) { return vectors + static_cast<size_t>(WhiteningSampleRow(j, n, w.rows)) * d; };
  for (int64_t j = 0; j < w.rows; ++j) {
    const float* x = row_of(j);
    for (size_t k = 0; k < d; ++k) w.mean[k] += x[k];
  }
  for (double& m : w.mean) m /= std::max<int64_t>(w.rows, 1);
  if (w.rows < 2) {
    Identity(&w);
    return w;
  }
  // Lower triangle of the sum of centred outer products, a chunk of rows at a time.
  std::vector<float> sum(d * d, 0.0f), chunk;
  for (int64_t first = 0; first < w.rows; first += kChunkRows) {
    const int64_t count = std::min(kChunkRows, w.rows - first);
    chunk.resize(static_cast<size_t>(count) * d);
    for (int64_t j = 0; j < count; ++j) {
      const float* x = row_of(first + j);
      for (size_t k = 0; k < d; ++k) chunk[static_cast<size_t>(j) * d + k] = static_cast<float>(x[k] - w.mean[k]);
    }
    const int k_rows = static_cast<int>(count);
    const float one = 1.0f;
    ssyrk_("L", "N", &dim, &k_rows, &one, chunk.data(), &dim, &one, sum.data(), &dim);
  }
  w.cholesky.assign(d * d, 0.0);
  double trace = 0;
  for (size_t c = 0; c < d; ++c) {
    for (size_t r = c; r < d; ++r) w.cholesky[c * d + r] = sum[c * d + r] / static_cast<double>(w.rows - 1);
    trace += w.cholesky[c * d + c];
  }
  if (!(trace > 0 && std::isfinite(trace))) {  // every sampled vector the same (or not finite)
    Identity(&w);
    return w;
  }
  for (size_t k = 0; k < d; ++k) w.cholesky[k * d + k] += shrinkage * trace / static_cast<double>(d);
  int info = 0;
  dpotrf_("L", &dim, w.cholesky.data(), &dim, &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("whitening: LAPACK dpotrf failed (info ", info, ") on the ", dim, "-d covariance of ",
                                            w.rows, " catalog rows"));
  }
  for (size_t c = 0; c < d; ++c) {
    for (size_t r = 0; r < c; ++r) w.cholesky[c * d + r] = 0.0;  // dpotrf leaves the upper triangle as it was
  }
  return w;
}

std::vector<float> Whiten(const CatalogWhitening& whitening, const std::vector<float>& rows) {
  const size_t d = static_cast<size_t>(whitening.dim);
  const int m = static_cast<int>(rows.size() / d);
  if (m == 0) return {};
  // Row-major m x d is column-major d x m: one column per row.
  std::vector<double> b(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) b[i] = rows[i] - whitening.mean[i % d];
  const double one = 1.0;
  dtrsm_("L", "L", "N", "N", &whitening.dim, &m, &one, whitening.cholesky.data(), &whitening.dim, b.data(),
         &whitening.dim);
  return std::vector<float>(b.begin(), b.end());
}

std::vector<double> SquaredWhitenedNorms(const CatalogWhitening& whitening, const float* rows, int64_t n) {
  const size_t d = static_cast<size_t>(whitening.dim);
  std::vector<double> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
  std::vector<float> chunk;
  for (int64_t first = 0; first < n; first += kChunkRows) {
    const int64_t count = std::min(kChunkRows, n - first);
    chunk.assign(rows + static_cast<size_t>(first) * d, rows + static_cast<size_t>(first + count) * d);
    const std::vector<float> z = Whiten(whitening, chunk);
    for (int64_t i = 0; i < count; ++i) {
      double sum = 0;
      for (size_t k = 0; k < d; ++k) sum += static_cast<double>(z[static_cast<size_t>(i) * d + k]) * z[static_cast<size_t>(i) * d + k];
      out.push_back(sum);
    }
  }
  return out;
}

void ToCatalogCoordinates(const CatalogWhitening& whitening, std::vector<float>* weights, float* bias) {
  const size_t d = static_cast<size_t>(whitening.dim);
  std::vector<double> w(weights->begin(), weights->end());
  const int inc = 1;
  dtrsv_("L", "T", "N", &whitening.dim, whitening.cholesky.data(), &whitening.dim, w.data(), &inc);
  double b = *bias;
  for (size_t k = 0; k < d; ++k) {
    (*weights)[k] = static_cast<float>(w[k]);
    b -= w[k] * whitening.mean[k];
  }
  *bias = static_cast<float>(b);
}

}  // namespace galaxy
