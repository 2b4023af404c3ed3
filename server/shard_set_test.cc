#include "server/shard_set.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"

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

// Shards that embed unlike the largest agreeing group are left out, saying how they differ; a
// tie keeps the group of the lowest shard.
TEST(ShardSetTest, ShardsThatEmbedUnlikeTheOthersAreLeftOut) {
  const auto info = [](const std::string& checksum, v1::EmbeddingFeatures features, uint32_t dimension) {
    v1::IndexInfo i;
    i.set_dimension(dimension);
    i.mutable_model()->set_checksum(checksum);
    i.mutable_model()->set_features(features);
    return i;
  };
  const v1::IndexInfo backbone = info("aaaaaaaaaaaaaaaa", v1::EMBEDDING_FEATURES_BACKBONE, 128);
  const v1::IndexInfo projection = info("aaaaaaaaaaaaaaaa", v1::EMBEDDING_FEATURES_PROJECTION, 128);
  const v1::IndexInfo other_model = info("bbbbbbbbbbbbbbbb", v1::EMBEDDING_FEATURES_BACKBONE, 128);
  std::vector<v1::ShardStatus> status(4);
  for (int i = 0; i < 4; ++i) {
    status[static_cast<size_t>(i)].set_shard(static_cast<uint32_t>(i));
    status[static_cast<size_t>(i)].set_serving(true);
  }
  status[3].set_serving(false);  // down: not judged
  std::vector<std::string> why = JudgeAgreement(&status, {&projection, &backbone, &backbone, &other_model});
  EXPECT_FALSE(status[0].serving());
  EXPECT_EQ(why[0],
            "it embeds with projection features (128-d) of model aaaaaaaaaaaa, shards 1, 2 with backbone features "
            "(128-d) of model aaaaaaaaaaaa: build every shard with the same model, --features and --anomaly-score");
  EXPECT_EQ(status[0].error(), why[0]);
  EXPECT_TRUE(status[1].serving() && status[2].serving());
  EXPECT_EQ(why[1], "");
  EXPECT_EQ(why[3], "");
  // A tie: the lowest shard's group stays.
  std::vector<v1::ShardStatus> two(2);
  two[0].set_serving(true);
  two[1].set_shard(1);
  two[1].set_serving(true);
  why = JudgeAgreement(&two, {&backbone, &other_model});
  EXPECT_TRUE(two[0].serving());
  EXPECT_FALSE(two[1].serving());
  EXPECT_TRUE(absl::StrContains(why[1], "of model bbbbbbbbbbbb, shard 0 with backbone")) << why[1];
  // All alike: nothing left out.
  status[0].set_serving(true);
  why = JudgeAgreement(&status, {&backbone, &backbone, &backbone, &projection});
  for (const v1::ShardStatus& s : std::vector<v1::ShardStatus>(status.begin(), status.begin() + 3)) {
    EXPECT_TRUE(s.serving());
  }
}

}  // namespace
}  // namespace galaxy
