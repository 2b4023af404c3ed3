// The anomaly score and its percentile: one definition for the builder (every galaxy of a
// snapshot) and the server (an uploaded image, ScoreAnomaly).
#ifndef GALAXY_INDEXER_ANOMALY_SCORE_H_
#define GALAXY_INDEXER_ANOMALY_SCORE_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// How a snapshot scores anomalies (SnapshotManifest::anomaly_score, `galaxy-index build
// --anomaly-score`):
//  - kMahalanobis: the squared Mahalanobis distance of the embedding from the catalog's mean,
//    under the catalog's covariance shrunk by kAnomalyShrinkage of its mean variance
//    (core/whitening/catalog_whitening.h, which defines both; the whitening is stored with the
//    snapshot for uploads). A global score: a tight group of alike anomalies is not called
//    normal. The default since 2026-12-02 (better on every anomaly kind: docs/SCIENCE.md,
//    "Anomaly scores").
//  - kMahalanobisTurns: the same distance of the embedding joined with its average over the
//    image's eight turns and mirrors ([v, a], twice the dimensions; EmbedParts::turn_average):
//    the average holds what does not turn (a ring), v - a what does (a merger's lopsided
//    tails), and each kind of anomaly stands out in its own part. Embedding costs eight forward
//    passes per galaxy instead of one, at build time and for each uploaded image scored.
//    Measured: docs/SCIENCE.md, "Anomalies on one view and its turn average".
//  - kKnn: the mean cosine distance to the k nearest other galaxies (AnomalyScore below): a
//    local density score. Snapshots built before the choice existed hold it.
enum class AnomalyScoreKind { kMahalanobis, kMahalanobisTurns, kKnn };
inline constexpr char kAnomalyScoreKindNames[] = "mahalanobis, mahalanobis-turns, knn";
const char* AnomalyScoreKindName(AnomalyScoreKind kind);
// INVALID_ARGUMENT naming the accepted values for anything else.
absl::StatusOr<AnomalyScoreKind> ParseAnomalyScoreKind(absl::string_view name);
// Whether `kind` is a Mahalanobis distance (the snapshot stores the catalog's whitening).
inline bool IsMahalanobis(AnomalyScoreKind kind) { return kind != AnomalyScoreKind::kKnn; }
// Whether `kind` reads the turn-averaged embedding besides the one the index searches.
inline bool NeedsTurnAverage(AnomalyScoreKind kind) { return kind == AnomalyScoreKind::kMahalanobisTurns; }
// The dimension of the vectors `kind` scores, for embeddings of `dim`.
inline int ScoredDimension(AnomalyScoreKind kind, int dim) { return NeedsTurnAverage(kind) ? 2 * dim : dim; }
// The vector kMahalanobisTurns scores: `embedding` followed by `turn_averaged` (dim each).
std::vector<float> JoinTurnAverage(const float* embedding, const float* turn_averaged, int dim);

// Mean cosine distance (1 - inner product of L2-normalised embeddings) to the k nearest other
// galaxies, from one search's results: `fetch` similarities and IDs, best first, ID -1 where the
// index had none. The galaxy itself (`self`; -1 when the query is not in the index) is skipped,
// and at most k neighbours count. 2, the largest distance there is, when none do.
double AnomalyScore(const float* similarities, const int64_t* ids, int fetch, int k, int64_t self);

// The percentile of `score` among `sorted` (ascending) scores: the share of them strictly below
// it, 0..100; 0 when there are none.
double ScorePercentile(const std::vector<float>& sorted, float score);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_ANOMALY_SCORE_H_
