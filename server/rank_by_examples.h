// RankByExamples and StreamRankByExamples over one snapshot, once every example is a unit vector:
// random negatives drawn from the catalog, the few-shot classifier fitted (server/few_shot.h),
// every stored vector scored, and the ranking cut into pages with tokens.
//
// A page token is "<snapshot version>/<request fingerprint>/<offset>": each page ranks the
// catalog again (the same request on the same snapshot ranks the same way: the random negatives
// come from the request's seed), so a server keeps no state between pages.
#ifndef GALAXY_SERVER_RANK_BY_EXAMPLES_H_
#define GALAXY_SERVER_RANK_BY_EXAMPLES_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "galaxy/v1/galaxy.pb.h"
#include "server/few_shot.h"
#include "server/request_validation.h"
#include "server/serving_snapshot.h"

namespace galaxy {

struct FewShotRanking {
  LinearClassifier classifier;
  // Where the page token starts the answer (0 without one).
  uint64_t offset = 0;
  // (snapshot row, probability) from rank 1, best first: as many as were asked for.
  std::vector<std::pair<uint32_t, float>> top;
  // Galaxies in the whole ranking (those passing the filter and min_probability).
  int64_t total = 0;
};

// Fits the classifier of `q` on `positives` and `negatives` (the examples' unit vectors; the
// weights are not used) and random catalog galaxies, then ranks the catalog: the best
// offset + `count` galaxies (`count` 0: all) where offset comes from q.page_token.
// `example_ids`, the examples' catalog galaxies, are never ranked nor drawn as negatives.
absl::StatusOr<FewShotRanking> RankCatalog(const ServingSnapshot& snap, const RankQuery& q,
                                           const std::vector<WeightedVector>& positives,
                                           const std::vector<WeightedVector>& negatives,
                                           const std::vector<int64_t>& example_ids, uint64_t count);

// The page of `ranking` from rank offset + 1 on, at most q.page_size galaxies (fewer when
// `ranking` holds fewer), with the token of the page after it.
absl::Status FillRankPage(const ServingSnapshot& snap, const RankQuery& q, const FewShotRanking& ranking,
                          uint64_t offset, v1::RankByExamplesResponse* out);

}  // namespace galaxy

#endif  // GALAXY_SERVER_RANK_BY_EXAMPLES_H_
