// The anomaly ranking re-ranked by the users' interest labels (ListAnomalies rerank_by_labels),
// after Astronomaly (Lochner & Bassett 2021): what a user marks interesting pulls its
// neighbourhood up, what they mark not interesting pushes it down.
//
// Each galaxy of the snapshot with interest labels counts once, by the sign of (labels saying
// interesting) - (labels saying not interesting), whoever wrote them; at most
// kMaxRerankLabels of them (lowest IDs first). For each, its kRerankNeighbours nearest galaxies
// (itself included) get the weight w = exp(-(1 - cos) / tau), tau the catalog's median of the
// mean cosine distance to the k nearest (SnapshotManifest::neighbour_distance_median; for
// snapshots before it, the kNN anomaly scores' median), so the labelled galaxy has w = 1 and a
// typical near neighbour w = 1/e. A galaxy's adjustment is a = (its largest w from an interesting
// galaxy) - (its largest w from a not-interesting one), in [-1, 1], and its score becomes
// score x kRerankStrength^a: a galaxy marked interesting x4, not interesting / 4.
#ifndef GALAXY_SERVER_LABEL_RERANK_H_
#define GALAXY_SERVER_LABEL_RERANK_H_

#include "absl/status/statusor.h"
#include "server/label_store.h"
#include "server/serving_snapshot.h"

namespace galaxy {

inline constexpr int kRerankNeighbours = 50;
inline constexpr int kMaxRerankLabels = 1000;
inline constexpr double kRerankStrength = 4;

absl::StatusOr<AnomalyRerank> RerankByLabels(const ServingSnapshot& snap, const LabelStore& labels);

}  // namespace galaxy

#endif  // GALAXY_SERVER_LABEL_RERANK_H_
