// Isolation forest (Liu, Ting & Zhou 2008): anomaly scores of feature vectors from how few random
// axis-aligned splits isolate each one. Stein et al. (2021) rank anomalies of self-supervised
// galaxy embeddings this way; galaxy-train quality compares it with the kNN distance score the
// indexer stores.
//
//   std::vector<double> s = IsolationForestScores(rows.data(), n, dim, {});
//   // s[i] in (0, 1]: ~0.5 and below for ordinary rows, towards 1 for isolated ones.
#ifndef GALAXY_TRAINER_ISOLATION_FOREST_H_
#define GALAXY_TRAINER_ISOLATION_FOREST_H_

#include <cstdint>
#include <vector>

namespace galaxy {

struct IsolationForestOptions {
  // Trees. Default 200.
  int trees = 200;
  // Rows drawn (without replacement) to grow each tree; trees stop at depth ceil(log2 sample).
  // Default 256, as the original paper.
  int sample = 256;
  uint64_t seed = 0;
};

// The anomaly score 2^(-E[h(x)] / c(sample)) of each of `rows` row-major vectors of `dim` floats,
// where h is the path length to the leaf (plus c(leaf size) for unsplit leaves) and c(n) the
// mean path length of an unsuccessful binary-search-tree search. Deterministic for a seed.
// Empty for rows < 2 or dim < 1. The features must be finite.
std::vector<double> IsolationForestScores(const float* x, int64_t rows, int64_t dim,
                                          const IsolationForestOptions& options);

// c(n): the average path length of an unsuccessful search in a binary search tree of n nodes
// (0 for n <= 1, 1 for n = 2).
double AveragePathLength(int64_t n);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_ISOLATION_FOREST_H_
