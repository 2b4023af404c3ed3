#include "indexer/catalog_anomaly_scores.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"

namespace galaxy {
namespace {

// Vectors read from the scratch file at a time.
constexpr int64_t kChunk = 65536;

// The evenly spaced sample of `rows` of the n vectors of `dim` values in `scratch`
// (WhiteningSampleRow), rows x dim.
absl::StatusOr<std::vector<float>> SampleRows(const VectorScratch& scratch, int64_t n, int dim, int64_t rows) {
  const size_t d = static_cast<size_t>(dim);
  std::vector<float> chunk, sample;
  sample.reserve(static_cast<size_t>(rows) * d);
  int64_t next = 0;  // the next sample row to gather
  for (int64_t first = 0; first < n && next < rows; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    GALAXY_RETURN_IF_ERROR(scratch.Read(first, count, &chunk));
    for (; next < rows; ++next) {
      const int64_t row = WhiteningSampleRow(next, n, rows);
      if (row >= first + count) break;
      const size_t at = static_cast<size_t>(row - first) * d;
      sample.insert(sample.end(), chunk.begin() + static_cast<ptrdiff_t>(at),
                    chunk.begin() + static_cast<ptrdiff_t>(at + d));
    }
  }
  return sample;
}

// The catalog's whitening of the scored vectors (the embeddings, or ScoredCatalog::scored) from
// up to kWhiteningMaxRows evenly spaced galaxies, then every galaxy's squared whitened norm; and
// the neighbour distance scale from the kNN score of up to 1,000 evenly spaced galaxies.
absl::StatusOr<CatalogScores> MahalanobisScores(const ScoredCatalog& c, int anomaly_k, const ScoringProgress& progress) {
  const int64_t n = c.n;
  const int dim = c.dim;
  const size_t d = static_cast<size_t>(dim);
  const int64_t rows = std::min(n, kWhiteningMaxRows);
  const VectorScratch& scored = c.scored != nullptr ? *c.scored : c.scratch;
  const int scored_dim = c.scored != nullptr ? 2 * dim : dim;
  std::vector<float> chunk;
  GALAXY_ASSIGN_OR_RETURN(std::vector<float> sample, SampleRows(c.scratch, n, dim, rows));
  CatalogWhitening w;
  if (c.scored != nullptr) {
    GALAXY_ASSIGN_OR_RETURN(const std::vector<float> scored_sample, SampleRows(scored, n, scored_dim, rows));
    GALAXY_ASSIGN_OR_RETURN(w, FitCatalogWhitening(scored_sample.data(), rows, scored_dim, kAnomalyShrinkage, rows));
  } else {
    GALAXY_ASSIGN_OR_RETURN(w, FitCatalogWhitening(sample.data(), rows, dim, kAnomalyShrinkage, rows));
  }
  CatalogScores out;
  out.scores.reserve(static_cast<size_t>(n));
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    GALAXY_RETURN_IF_ERROR(scored.Read(first, count, &chunk));
    for (double s : SquaredWhitenedNorms(w, chunk.data(), count)) out.scores.push_back(static_cast<float>(s));
    GALAXY_RETURN_IF_ERROR(progress("scoring anomalies", first + count, n));
  }
  out.whitening = std::make_unique<CatalogWhitening>(std::move(w));
  // The scale of "near": the kNN score of up to 1,000 of the sampled galaxies (sample i * rows /
  // probes), in one search of the index just built.
  const int k = static_cast<int>(std::min<int64_t>(anomaly_k, n - 1));
  const int64_t probes = std::min<int64_t>(rows, 1000);
  if (k > 0) {
    std::vector<float> queries;
    for (int64_t i = 0; i < probes; ++i) {
      const size_t at = static_cast<size_t>(i * rows / probes) * d;
      queries.insert(queries.end(), sample.begin() + static_cast<ptrdiff_t>(at),
                     sample.begin() + static_cast<ptrdiff_t>(at + d));
    }
    const int fetch = k + 1;
    std::vector<float> sims(static_cast<size_t>(probes * fetch));
    std::vector<int64_t> found(static_cast<size_t>(probes * fetch));
    GALAXY_RETURN_IF_ERROR(c.index.Search(queries.data(), probes, fetch, sims.data(), found.data()));
    std::vector<float> near;
    for (int64_t i = 0; i < probes; ++i) {
      const int64_t row = WhiteningSampleRow(i * rows / probes, n, rows);
      const size_t at = static_cast<size_t>(i * fetch);
      near.push_back(static_cast<float>(
          AnomalyScore(sims.data() + at, found.data() + at, fetch, k, c.ids[static_cast<size_t>(row)])));
    }
    std::nth_element(near.begin(), near.begin() + static_cast<ptrdiff_t>(near.size() / 2), near.end());
    out.neighbour_distance_median = near[near.size() / 2];
  }
  return out;
}

// Every galaxy's mean cosine distance to its k nearest. An exact index over a large catalog
// would take n^2 work: score with a graph index instead.
absl::StatusOr<CatalogScores> KnnScores(const ScoredCatalog& c, int anomaly_k, const ScoringProgress& progress) {
  const int64_t n = c.n;
  const int dim = c.dim;
  std::vector<float> chunk;
  std::unique_ptr<VectorIndex> scoring_holder;
  const VectorIndex* scoring = &c.index;
  if (IsExactKind(c.index.params().kind) && n > 50000) {
    IndexParams hnsw;
    hnsw.kind = IndexKind::kHnsw;
    GALAXY_ASSIGN_OR_RETURN(scoring_holder, VectorIndex::Create(hnsw, dim, n));
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      GALAXY_RETURN_IF_ERROR(c.scratch.Read(first, count, &chunk));
      GALAXY_RETURN_IF_ERROR(scoring_holder->Add(chunk.data(), c.ids.data() + first, count));
    }
    scoring = scoring_holder.get();
  }
  const int k = static_cast<int>(std::min<int64_t>(anomaly_k, n - 1));
  const int fetch = k + 1;
  CatalogScores out;
  std::vector<float>& scores = out.scores;
  scores.resize(static_cast<size_t>(n));
  std::vector<float> sims;
  std::vector<int64_t> found;
  for (int64_t first = 0; first < n; first += 4096) {
    const int64_t count = std::min<int64_t>(4096, n - first);
    GALAXY_RETURN_IF_ERROR(c.scratch.Read(first, count, &chunk));
    sims.resize(static_cast<size_t>(count * fetch));
    found.resize(static_cast<size_t>(count * fetch));
    GALAXY_RETURN_IF_ERROR(scoring->Search(chunk.data(), count, fetch, sims.data(), found.data()));
    for (int64_t i = 0; i < count; ++i) {
      const size_t at = static_cast<size_t>(i * fetch);
      scores[static_cast<size_t>(first + i)] = static_cast<float>(
          AnomalyScore(sims.data() + at, found.data() + at, fetch, k, c.ids[static_cast<size_t>(first + i)]));
    }
    GALAXY_RETURN_IF_ERROR(progress("scoring anomalies", first + count, n));
  }
  // The scale of "near": the median score.
  std::vector<float> sorted = scores;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<ptrdiff_t>(n / 2), sorted.end());
  out.neighbour_distance_median = sorted[static_cast<size_t>(n / 2)];
  return out;
}

}  // namespace

absl::StatusOr<CatalogScores> ScoreCatalog(const ScoredCatalog& catalog, AnomalyScoreKind kind, int anomaly_k,
                                           const ScoringProgress& progress) {
  if (NeedsTurnAverage(kind) && catalog.scored == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("anomaly score ", AnomalyScoreKindName(kind),
                                                   ": the build has no turn-averaged embeddings"));
  }
  if (IsMahalanobis(kind)) return MahalanobisScores(catalog, anomaly_k, progress);
  return KnnScores(catalog, anomaly_k, progress);
}

}  // namespace galaxy
