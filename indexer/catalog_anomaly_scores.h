// The anomaly phase of a snapshot build: every galaxy's anomaly score (indexer/anomaly_score.h)
// from the build's scratch file of embeddings and the index just built over them.
#ifndef GALAXY_INDEXER_CATALOG_ANOMALY_SCORES_H_
#define GALAXY_INDEXER_CATALOG_ANOMALY_SCORES_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/whitening/catalog_whitening.h"
#include "indexer/anomaly_score.h"
#include "indexer/vector_index.h"
#include "indexer/vector_scratch.h"

namespace galaxy {

// The catalog a build scores: n L2-normalised embeddings of `dim` values in `scratch`, galaxy i
// with ID ids[i], and the search index over all of them. For kMahalanobisTurns, `scored` holds
// the vectors that score reads (n x ScoredDimension: each embedding joined with its turn
// average); null for the other kinds, which score the embeddings themselves.
struct ScoredCatalog {
  const VectorScratch& scratch;
  const std::vector<int64_t>& ids;
  const VectorIndex& index;
  int64_t n = 0;
  int dim = 0;
  const VectorScratch* scored = nullptr;
};

// Reports how far scoring is (phase, done, total); a non-OK answer (a cancelled build) stops it
// with that status.
using ScoringProgress = std::function<absl::Status(const std::string& phase, int64_t done, int64_t total)>;

struct CatalogScores {
  // Every galaxy's score, in the catalog's order.
  std::vector<float> scores;
  // The scale of "near" (SnapshotManifest::neighbour_distance_median): the median kNN score of
  // up to 1,000 evenly spaced galaxies (Mahalanobis) or of every galaxy (kNN).
  double neighbour_distance_median = 0;
  // Mahalanobis: the catalog's whitening, which the snapshot stores to score uploads; null for kNN.
  std::unique_ptr<CatalogWhitening> whitening;
};

// Scores every galaxy of `catalog` with `kind` (INVALID_ARGUMENT for kMahalanobisTurns without
// catalog.scored), using its k = min(anomaly_k, n - 1) nearest
// others for the kNN score (and for the Mahalanobis snapshot's distance scale). A kNN score of
// an exact index over more than 50,000 galaxies searches a graph index built for it instead (an
// exact one would take n^2 work). Errors of reading, searching and the whitening pass through.
absl::StatusOr<CatalogScores> ScoreCatalog(const ScoredCatalog& catalog, AnomalyScoreKind kind, int anomaly_k,
                                           const ScoringProgress& progress);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_CATALOG_ANOMALY_SCORES_H_
