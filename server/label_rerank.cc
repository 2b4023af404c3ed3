#include "server/label_rerank.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "core/status_macros.h"

namespace galaxy {

absl::StatusOr<AnomalyRerank> RerankByLabels(const ServingSnapshot& snap, const LabelStore& labels) {
  AnomalyRerank rerank;
  rerank.generation = labels.generation();  // before reading: a write meanwhile shows as a change
  // Net interest of each labelled galaxy of the snapshot, by ID.
  std::map<int64_t, int> net;
  for (const auto& [interest, sign] : {std::make_pair(v1::INTEREST_INTERESTING, 1),
                                       std::make_pair(v1::INTEREST_NOT_INTERESTING, -1)}) {
    v1::LabelFilter filter;
    filter.set_interest(interest);
    GALAXY_RETURN_IF_ERROR(labels.ForEach(filter, [&](const v1::Label& l) -> absl::Status {
      if (snap.RowOf(l.galaxy_id())) net[l.galaxy_id()] += sign;
      return absl::OkStatus();
    }));
  }
  std::vector<std::pair<int64_t, int>> labelled;
  for (const auto& [id, sum] : net) {
    if (sum != 0 && labelled.size() < static_cast<size_t>(kMaxRerankLabels)) labelled.emplace_back(id, sum > 0 ? 1 : -1);
  }
  if (labelled.empty()) return rerank;
  std::vector<float> queries, stored;
  for (const auto& [id, sign] : labelled) {
    GALAXY_RETURN_IF_ERROR(snap.StoredEmbedding(id, &stored));
    queries.insert(queries.end(), stored.begin(), stored.end());
  }
  const int64_t nq = static_cast<int64_t>(labelled.size());
  const int k = static_cast<int>(std::min<int64_t>(kRerankNeighbours, snap.count()));
  std::vector<float> scores(static_cast<size_t>(nq * k));
  std::vector<int64_t> ids(static_cast<size_t>(nq * k));
  GALAXY_RETURN_IF_ERROR(snap.snapshot().index().Search(queries.data(), nq, k, scores.data(), ids.data()));
  // The scale of "near": the manifest's median neighbour distance (snapshots before it: kNN
  // scores, whose median is that distance).
  const double recorded = snap.snapshot().manifest().neighbour_distance_median;
  const double tau = std::max(1e-6, recorded > 0 ? recorded : static_cast<double>(snap.MedianAnomalyScore()));
  // Largest weight from an interesting and from a not-interesting galaxy, by row.
  std::map<uint32_t, std::pair<double, double>> pull;
  for (int64_t q = 0; q < nq; ++q) {
    const int sign = labelled[static_cast<size_t>(q)].second;
    // The labelled galaxy itself, whether or not the index returned it.
    std::vector<std::pair<int64_t, double>> near = {{labelled[static_cast<size_t>(q)].first, 1.0}};
    for (int j = 0; j < k; ++j) {
      const size_t at = static_cast<size_t>(q * k + j);
      if (ids[at] >= 0) near.emplace_back(ids[at], std::exp(-(1.0 - scores[at]) / tau));
    }
    for (const auto& [id, w] : near) {
      const std::optional<uint32_t> row = snap.RowOf(id);
      if (!row) continue;
      auto& [up, down] = pull[*row];
      (sign > 0 ? up : down) = std::max(sign > 0 ? up : down, w);
    }
  }
  for (const auto& [row, weights] : pull) {
    const double a = weights.first - weights.second;
    if (a != 0) rerank.factor[row] = static_cast<float>(std::pow(kRerankStrength, a));
  }
  return rerank;
}

}  // namespace galaxy
