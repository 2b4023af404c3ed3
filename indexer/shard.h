// Which of N shards a galaxy belongs to (galaxy-index build --shard I --shards N; the router of
// galaxy-server --shards). A hash of the catalog ID: the same galaxy lands in the same shard on
// every machine and run, whatever the file order, and shards are uniform random subsamples of
// the survey (so each shard's anomaly scores and percentiles mean the same thing).
#ifndef GALAXY_INDEXER_SHARD_H_
#define GALAXY_INDEXER_SHARD_H_

#include <cstdint>

#include "absl/status/status.h"

namespace galaxy {

// Most shards of one survey.
inline constexpr int kMaxShards = 4096;

// The shard (0 .. shards-1) of galaxy `id`. shards >= 1.
int ShardOf(int64_t id, int shards);

// INVALID_ARGUMENT naming the flags unless 1 <= shards <= kMaxShards and 0 <= shard < shards.
absl::Status ValidateShard(int shard, int shards);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_SHARD_H_
