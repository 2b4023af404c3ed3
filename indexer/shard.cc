#include "indexer/shard.h"

#include "absl/strings/str_cat.h"

namespace galaxy {

int ShardOf(int64_t id, int shards) {
  // SplitMix64's finaliser: every bit of the ID moves every bit of the hash, so consecutive IDs
  // (SDSS ObjIDs are) spread evenly. A salt keeps it apart from the train/val/test split's hash.
  uint64_t x = static_cast<uint64_t>(id) ^ 0x5348415244ull;  // "SHARD"
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  return static_cast<int>(x % static_cast<uint64_t>(shards));
}

absl::Status ValidateShard(int shard, int shards) {
  if (shards < 1 || shards > kMaxShards) {
    return absl::InvalidArgumentError(absl::StrCat("--shards: ", shards, " is outside 1 .. ", kMaxShards));
  }
  if (shard < 0 || shard >= shards) {
    return absl::InvalidArgumentError(absl::StrCat("--shard: ", shard, " is outside 0 .. ", shards - 1,
                                                   " (shards are numbered from 0)"));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
