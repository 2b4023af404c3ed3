// The anomaly score and its percentile: one definition for the builder (every galaxy of a
// snapshot) and the server (an uploaded image, ScoreAnomaly).
#ifndef GALAXY_INDEXER_ANOMALY_SCORE_H_
#define GALAXY_INDEXER_ANOMALY_SCORE_H_

#include <cstdint>
#include <vector>

namespace galaxy {

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
