// The ROC AUC behind the anomaly measures (trainer quality, indexer anomaly-auc), against cases
// worked out by hand.
#include "core/statistics.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(RocAucTest, PerfectReversedTiedAndOneSidedScores) {
  EXPECT_DOUBLE_EQ(RocAuc({0.1, 0.2, 0.8, 0.9}, {false, false, true, true}), 1.0);
  EXPECT_DOUBLE_EQ(RocAuc({0.9, 0.8, 0.2, 0.1}, {false, false, true, true}), 0.0);
  // All tied: chance.
  EXPECT_DOUBLE_EQ(RocAuc({0.5, 0.5, 0.5, 0.5}, {false, true, false, true}), 0.5);
  // One positive above two of three negatives: 2/3.
  EXPECT_NEAR(RocAuc({0.1, 0.2, 0.5, 0.9}, {false, false, true, false}), 2.0 / 3, 1e-12);
  EXPECT_EQ(RocAuc({0.1, 0.2}, {false, false}), -1);
}

}  // namespace
}  // namespace galaxy
