#include "data/photoz/photoz_baseline.h"

#include <algorithm>
#include <cmath>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/parallel.h"
#include "core/status_macros.h"
#include "data/bands.h"
#include "data/hdf5_dataset.h"
#include "data/photoz/photometry.h"

namespace galaxy {

absl::StatusOr<KnnRegressor> KnnRegressor::Fit(const std::vector<double>& features, int dim,
                                               const std::vector<double>& targets, int k) {
  if (dim < 1 || targets.empty() || features.size() != targets.size() * static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(absl::StrCat("kNN: ", features.size(), " feature values for ",
                                                   targets.size(), " targets of dimension ", dim));
  }
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("kNN: k = ", k, " < 1"));
  for (double v : features) {
    if (!std::isfinite(v)) return absl::InvalidArgumentError("kNN: non-finite feature");
  }
  KnnRegressor r;
  r.dim_ = dim;
  r.k_ = std::min<int>(k, static_cast<int>(targets.size()));
  const size_t n = targets.size();
  r.mean_.assign(dim, 0.0);
  r.inv_std_.assign(dim, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) r.mean_[d] += features[i * dim + d];
  }
  for (double& m : r.mean_) m /= static_cast<double>(n);
  for (size_t i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) {
      const double x = features[i * dim + d] - r.mean_[d];
      r.inv_std_[d] += x * x;
    }
  }
  for (double& s : r.inv_std_) {
    const double sd = std::sqrt(s / static_cast<double>(n));
    s = sd > 0 ? 1 / sd : 1;
  }
  r.train_.resize(features.size());
  for (size_t i = 0; i < n; ++i) {
    for (int d = 0; d < dim; ++d) {
      r.train_[i * dim + d] = static_cast<float>((features[i * dim + d] - r.mean_[d]) * r.inv_std_[d]);
    }
  }
  r.targets_ = targets;
  return r;
}

std::vector<double> KnnRegressor::Predict(const std::vector<double>& features, int threads) const {
  const size_t m = features.size() / static_cast<size_t>(dim_);
  const size_t n = targets_.size();
  std::vector<double> out(m);
  ParallelFor(static_cast<int64_t>(m), threads, [&](int64_t begin, int64_t end) {
    std::vector<float> q(static_cast<size_t>(dim_));
    std::priority_queue<std::pair<float, size_t>> best;  // max-heap of the k smallest distances
    for (int64_t row = begin; row < end; ++row) {
      for (int d = 0; d < dim_; ++d) {
        q[d] = static_cast<float>((features[row * dim_ + d] - mean_[d]) * inv_std_[d]);
      }
      for (size_t i = 0; i < n; ++i) {
        const float* t = train_.data() + i * dim_;
        float dist = 0;
        for (int d = 0; d < dim_; ++d) {
          const float diff = t[d] - q[d];
          dist += diff * diff;
        }
        if (best.size() < static_cast<size_t>(k_)) {
          best.emplace(dist, i);
        } else if (dist < best.top().first) {
          best.pop();
          best.emplace(dist, i);
        }
      }
      double sum = 0;
      const size_t count = best.size();
      while (!best.empty()) {
        sum += targets_[best.top().second];
        best.pop();
      }
      out[static_cast<size_t>(row)] = sum / static_cast<double>(count);
    }
  });
  return out;
}

absl::StatusOr<ColourTable> MeasureColourTable(const std::string& path, int threads) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(path));
  if (!reader->has_redshift()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": no '", kRedshiftKey, "' column: the baseline needs redshifts"));
  }
  const DatasetLayout& layout = reader->layout();
  ColourTable table;
  GalaxyBatch batch;
  const int64_t step = 2048;
  const int64_t ppi = layout.pixels_per_image();
  for (int64_t start = 0; start < reader->count(); start += step) {
    const int64_t n = std::min(step, reader->count() - start);
    GALAXY_RETURN_IF_ERROR(reader->Read(start, n, &batch));
    std::vector<std::vector<double>> rows(static_cast<size_t>(n));
    ParallelFor(n, threads, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        const std::vector<double> flux = ApertureFluxes(
            batch.images.data() + i * ppi, layout.bands, layout.height, layout.width,
            kDefaultApertureRadiusPx);
        rows[static_cast<size_t>(i)] = ColourFeatures(flux, batch.e_bv[static_cast<size_t>(i)]);
      }
    });
    for (int64_t i = 0; i < n; ++i) {
      const double z = batch.redshift[static_cast<size_t>(i)];
      if (!std::isfinite(z) || z < 0) continue;
      const std::vector<double>& f = rows[static_cast<size_t>(i)];
      table.dim = static_cast<int>(f.size());
      table.features.insert(table.features.end(), f.begin(), f.end());
      table.z.push_back(z);
      table.ids.push_back(batch.ids[static_cast<size_t>(i)]);
    }
  }
  if (table.z.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": no galaxy has a redshift"));
  }
  return table;
}

absl::StatusOr<ColourTable> CatalogColourTable(const std::string& path) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(path));
  if (!reader->has_redshift()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": no '", kRedshiftKey, "' column: the baseline needs redshifts"));
  }
  std::vector<std::vector<double>> mags;
  for (const char* band : kSdssBandNames) {
    absl::StatusOr<std::vector<double>> column = reader->ReadColumn(absl::StrCat("mag_", band));
    if (!column.ok()) {
      return absl::NotFoundError(absl::StrCat(path, ": no catalog magnitude column 'mag_", band,
                                              "' (--colours catalog needs mag_u .. mag_z)"));
    }
    mags.push_back(*std::move(column));
  }
  GALAXY_ASSIGN_OR_RETURN(std::vector<double> z, reader->ReadColumn(kRedshiftKey));
  GALAXY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, reader->ReadIds());
  ColourTable table;
  table.dim = kSdssBands;
  for (size_t i = 0; i < z.size(); ++i) {
    if (!std::isfinite(z[i]) || z[i] < 0) continue;
    bool finite = true;
    for (const auto& m : mags) finite = finite && std::isfinite(m[i]);
    if (!finite) continue;
    table.features.push_back(mags[kBandR][i]);
    for (int b = 0; b + 1 < kSdssBands; ++b) table.features.push_back(mags[b][i] - mags[b + 1][i]);
    table.z.push_back(z[i]);
    table.ids.push_back(ids[i]);
  }
  if (table.z.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": no galaxy has a redshift and finite magnitudes"));
  }
  return table;
}

absl::StatusOr<PhotozBaselineReport> RunColourKnnBaseline(const ColourTable& table, int k,
                                                          const SplitFractions& fractions,
                                                          uint64_t split_seed, int threads) {
  std::vector<double> train_x, test_x, train_z, test_z;
  const size_t dim = static_cast<size_t>(table.dim);
  for (size_t i = 0; i < table.z.size(); ++i) {
    const SplitPart part = SplitOf(table.ids[i], split_seed, fractions);
    if (part == SplitPart::kValidation) continue;
    auto& x = part == SplitPart::kTrain ? train_x : test_x;
    auto& z = part == SplitPart::kTrain ? train_z : test_z;
    x.insert(x.end(), table.features.begin() + i * dim, table.features.begin() + (i + 1) * dim);
    z.push_back(table.z[i]);
  }
  if (train_z.empty() || test_z.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the split leaves ", train_z.size(), " training and ", test_z.size(),
        " test galaxies with redshifts; both must be non-empty"));
  }
  GALAXY_ASSIGN_OR_RETURN(KnnRegressor knn, KnnRegressor::Fit(train_x, table.dim, train_z, k));
  const std::vector<double> pred = knn.Predict(test_x, threads);
  PhotozBaselineReport report;
  report.k = knn.k();
  report.train_count = static_cast<int64_t>(train_z.size());
  report.test_count = static_cast<int64_t>(test_z.size());
  GALAXY_ASSIGN_OR_RETURN(report.test, ComputePhotozMetrics(pred, test_z));
  std::vector<double> edges;
  for (double e = 0; e < 0.4 + 1e-9; e += 0.05) edges.push_back(e);
  GALAXY_ASSIGN_OR_RETURN(report.per_bin, ComputePhotozMetricsPerBin(pred, test_z, edges));
  double mean = 0;
  for (double z : train_z) mean += z;
  mean /= static_cast<double>(train_z.size());
  GALAXY_ASSIGN_OR_RETURN(report.predict_mean,
                          ComputePhotozMetrics(std::vector<double>(test_z.size(), mean), test_z));
  report.z_spread = RedshiftSpread(test_z);
  return report;
}

std::string PhotozBaselineJson(const PhotozBaselineReport& r) {
  std::string bins;
  for (const PhotozMetrics& m : r.per_bin) {
    absl::StrAppend(&bins, bins.empty() ? "" : ",", PhotozMetricsJson(m));
  }
  return absl::StrFormat(
      "{\"method\":\"knn-colours\",\"k\":%d,\"train_count\":%d,\"test_count\":%d,"
      "\"test\":%s,\"per_bin\":[%s],\"predict_mean\":%s,\"z_spread\":%.6f}",
      r.k, r.train_count, r.test_count, PhotozMetricsJson(r.test), bins,
      PhotozMetricsJson(r.predict_mean), r.z_spread);
}

}  // namespace galaxy
