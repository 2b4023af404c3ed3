// The anomaly score and percentile shared by the builder and the server, on cases worked out by
// hand.
#include "indexer/anomaly_score.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(AnomalyScoreTest, MeanDistanceToTheKNearestOthers) {
  const float sims[] = {1.0f, 0.9f, 0.7f, 0.5f};
  const int64_t ids[] = {7, 3, 4, 5};
  // Galaxy 7 finds itself first: skipped; its 2 nearest others are at distance 0.1 and 0.3.
  EXPECT_NEAR(AnomalyScore(sims, ids, 4, 2, /*self=*/7), 0.2, 1e-6);
  // An uploaded image (not in the index) counts the first k results.
  EXPECT_NEAR(AnomalyScore(sims, ids, 4, 2, /*self=*/-1), 0.05, 1e-6);
  // Missing results (-1) are skipped; none left gives the largest distance, 2.
  const int64_t sparse[] = {-1, 3, -1, -1};
  EXPECT_NEAR(AnomalyScore(sims, sparse, 4, 3, -1), 0.1, 1e-6);
  const int64_t none[] = {-1, -1, -1, -1};
  EXPECT_EQ(AnomalyScore(sims, none, 4, 3, -1), 2.0);
}

TEST(AnomalyScoreTest, KindsReadBackByName) {
  for (AnomalyScoreKind kind :
       {AnomalyScoreKind::kMahalanobis, AnomalyScoreKind::kMahalanobisTurns, AnomalyScoreKind::kKnn}) {
    absl::StatusOr<AnomalyScoreKind> parsed = ParseAnomalyScoreKind(AnomalyScoreKindName(kind));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, kind);
  }
  absl::StatusOr<AnomalyScoreKind> bad = ParseAnomalyScoreKind("turns");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("mahalanobis-turns"), std::string::npos) << bad.status();
  EXPECT_EQ(ScoredDimension(AnomalyScoreKind::kMahalanobisTurns, 3), 6);
  EXPECT_EQ(ScoredDimension(AnomalyScoreKind::kMahalanobis, 3), 3);
  const float one[] = {1, 2}, average[] = {3, 4};
  EXPECT_EQ(JoinTurnAverage(one, average, 2), (std::vector<float>{1, 2, 3, 4}));
}

TEST(AnomalyScoreTest, PercentileIsTheShareStrictlyBelow) {
  const std::vector<float> sorted = {0.1f, 0.2f, 0.2f, 0.4f};
  EXPECT_EQ(ScorePercentile(sorted, 0.05f), 0.0);
  EXPECT_EQ(ScorePercentile(sorted, 0.2f), 25.0);
  EXPECT_EQ(ScorePercentile(sorted, 0.3f), 75.0);
  EXPECT_EQ(ScorePercentile(sorted, 9.0f), 100.0);
  EXPECT_EQ(ScorePercentile({}, 0.3f), 0.0);
}

}  // namespace
}  // namespace galaxy
