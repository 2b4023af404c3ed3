#include "server/shard_set.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(ShardSetTest, ShardsFilesListAddressesInShardOrder) {
  absl::StatusOr<std::vector<std::string>> parsed =
      ParseShardsFile("# shards of the survey\n10.0.0.5:50051\n\n  10.0.0.6:50051  # the second\n[::1]:7000\n", "s.txt");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, (std::vector<std::string>{"10.0.0.5:50051", "10.0.0.6:50051", "[::1]:7000"}));
  EXPECT_EQ(ParseShardsFile("10.0.0.5:50051\nshard-two\n", "s.txt").status().message(),
            "s.txt:2: 'shard-two' is not the host:port of a shard server");
  EXPECT_EQ(ParseShardsFile("10.0.0.5:0\n", "s.txt").status().message(),
            "s.txt:1: '10.0.0.5:0' is not the host:port of a shard server");
  EXPECT_EQ(ParseShardsFile("# none\n", "s.txt").status().message(), "s.txt: no shard addresses");
}

TEST(ShardSetTest, AShardServesOnlyAsTheShardItShouldBe) {
  v1::IndexInfo info;
  info.set_snapshot_version("v1");
  info.set_count(500);
  info.set_shard(1);
  info.set_shards(3);
  EXPECT_TRUE(JudgeShard(1, 3, "a:1", grpc::Status::OK, info).serving());
  EXPECT_EQ(JudgeShard(2, 3, "a:1", grpc::Status::OK, info).error(), "serves shard 1 of 3, not shard 2 of 3");
  info.set_shards(0);
  info.set_shard(0);
  EXPECT_EQ(JudgeShard(0, 3, "a:1", grpc::Status::OK, info).error(), "serves shard 0 of 1, not shard 0 of 3");
  info.clear_snapshot_version();
  EXPECT_EQ(JudgeShard(0, 1, "a:1", grpc::Status::OK, info).error(), "no snapshot loaded");
  const v1::ShardStatus down =
      JudgeShard(0, 1, "a:1", grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"), info);
  EXPECT_FALSE(down.serving());
  EXPECT_EQ(down.error(), "connection refused");
  EXPECT_EQ(down.address(), "a:1");
}

}  // namespace
}  // namespace galaxy
