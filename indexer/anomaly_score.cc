#include "indexer/anomaly_score.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace galaxy {

const char* AnomalyScoreKindName(AnomalyScoreKind kind) {
  switch (kind) {
    case AnomalyScoreKind::kMahalanobis: return "mahalanobis";
    case AnomalyScoreKind::kMahalanobisTurns: return "mahalanobis-turns";
    case AnomalyScoreKind::kKnn: break;
  }
  return "knn";
}

absl::StatusOr<AnomalyScoreKind> ParseAnomalyScoreKind(absl::string_view name) {
  if (name == "mahalanobis") return AnomalyScoreKind::kMahalanobis;
  if (name == "mahalanobis-turns") return AnomalyScoreKind::kMahalanobisTurns;
  if (name == "knn") return AnomalyScoreKind::kKnn;
  return absl::InvalidArgumentError(
      absl::StrCat("anomaly score \"", name, "\": expected one of ", kAnomalyScoreKindNames));
}

std::vector<float> JoinTurnAverage(const float* embedding, const float* turn_averaged, int dim) {
  std::vector<float> joined(embedding, embedding + dim);
  joined.insert(joined.end(), turn_averaged, turn_averaged + dim);
  return joined;
}

double AnomalyScore(const float* similarities, const int64_t* ids, int fetch, int k, int64_t self) {
  double sum = 0;
  int used = 0;
  for (int j = 0; j < fetch && used < k; ++j) {
    if (ids[j] < 0 || (self >= 0 && ids[j] == self)) continue;
    sum += 1.0 - similarities[j];
    ++used;
  }
  return used > 0 ? sum / used : 2.0;
}

double ScorePercentile(const std::vector<float>& sorted, float score) {
  if (sorted.empty()) return 0;
  const auto below = std::lower_bound(sorted.begin(), sorted.end(), score);
  return 100.0 * static_cast<double>(below - sorted.begin()) / static_cast<double>(sorted.size());
}

}  // namespace galaxy
