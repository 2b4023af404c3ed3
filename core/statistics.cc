#include "core/statistics.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace galaxy {

double RocAuc(const std::vector<double>& scores, const std::vector<bool>& positive) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mid-ranks (ties share their mean rank); AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos n_neg).
  double rank_sum = 0;
  int64_t n_pos = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && scores[order[j + 1]] == scores[order[i]]) ++j;
    const double mid = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t t = i; t <= j; ++t) {
      if (positive[order[t]]) {
        rank_sum += mid;
        ++n_pos;
      }
    }
    i = j + 1;
  }
  const int64_t n_neg = static_cast<int64_t>(scores.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) return -1;
  return (rank_sum - static_cast<double>(n_pos) * (n_pos + 1) / 2) / (static_cast<double>(n_pos) * n_neg);
}

}  // namespace galaxy
