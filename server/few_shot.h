// Few-shot classification over a catalog's embeddings (RankByExamples): an L2-regularised logistic
// regression fitted by LIBLINEAR on the embeddings of labelled examples, then one exact pass that
// scores every stored vector, split over threads. No gRPC, FAISS or LibTorch here.
#ifndef GALAXY_SERVER_FEW_SHOT_H_
#define GALAXY_SERVER_FEW_SHOT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

// a . b over `dim` floats, in eight running sums (so the compiler keeps them in vector
// registers; a single sum's order of additions may not be changed). The one inner product of the
// serving path's exact passes: the classifier's, best-score recommendations', MMR's.
float InnerProduct(const float* a, const float* b, size_t dim);

// decision(x) = weights . x + bias; probability = 1 / (1 + exp(-decision)).
struct LinearClassifier {
  std::vector<float> weights;
  float bias = 0;
  int positives = 0, negatives = 0;
  // Mean of the accuracies on the positives and on the negatives it was trained on.
  double training_accuracy = 0;

  float Decision(const float* x) const;
};

// Fits the logistic regression on `positives` and `negatives` (rows of `dim` floats each, both
// non-empty), the two classes weighed equally whatever their sizes, with inverse regularisation
// strength `c` (LIBLINEAR's C). INVALID_ARGUMENT for an empty class or a bad `c`.
absl::StatusOr<LinearClassifier> FitClassifier(const std::vector<float>& positives, const std::vector<float>& negatives,
                                               int dim, double c);

// The `want` highest decisions over the `n` rows of `vectors` (n x dim, row-major) among the rows
// `keep` accepts (null: all) whose decision is at least `min_decision`: (row, decision) pairs,
// best first, ties by lower row; and how many rows passed in all. Rows are split over `threads`
// (<= 0: every usable CPU).
struct RankedRows {
  std::vector<std::pair<int64_t, float>> top;
  int64_t passing = 0;
};
RankedRows RankRows(const float* vectors, int64_t n, int dim, const LinearClassifier& classifier, size_t want,
                    float min_decision, const std::function<bool(int64_t)>& keep, int threads);

}  // namespace galaxy

#endif  // GALAXY_SERVER_FEW_SHOT_H_
