// A science seed's saved form (trainer/science_seed.h): both quality reports survive the round
// trip, and a seed saved before the served representation was measured reads it as not measured,
// so that the checks that read it say so instead of comparing defaults; a seed's quality is saved
// in `galaxy-train quality --json`'s form and one saved in the form before it still reads; the
// threads a seed ran with are saved beside its minutes and named in the report.
#include "trainer/science_seed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace galaxy {
namespace {

QualityReport SomeQuality(double type_precision, double merger_auc) {
  QualityReport q;
  q.galaxies = 500;
  q.features = "stages";
  q.type_precision = type_precision;
  q.type_precision_colour = 0.6;
  q.type_precision_chance = 0.25;
  q.dz_median = 0.012;
  q.anomaly_auc = 0.93;
  q.top1_precision = 0.4;
  q.mahalanobis_top1_precision = 0.45;
  AnomalyKindQuality merger;
  merger.kind = 3;
  merger.name = "merger";
  merger.count = 30;
  merger.auc = merger_auc;
  merger.mahalanobis_auc = merger_auc - 0.01;
  merger.turns_auc = merger_auc + 0.02;
  q.turns_anomaly_auc = 0.95;
  q.kinds.push_back(merger);
  return q;
}

SeedRun SomeRun() {
  SeedRun run;
  run.seed = 2;
  run.pretrained = "seed_2/pretrain/model.pt";
  run.quality = SomeQuality(0.83, 0.85);
  run.quality.dihedral = true;
  run.served = SomeQuality(0.81, 0.90);
  run.eval_model = "seed_2/label_efficiency/ssl_1/model.pt";
  return run;
}

TEST(ScienceSeedTest, BothQualityReportsSurviveTheSavedForm) {
  const SeedRun back = SeedRunFrom(nlohmann::json::parse(SeedRunJson(SomeRun()).dump()));
  EXPECT_DOUBLE_EQ(back.quality.type_precision, 0.83);
  EXPECT_TRUE(back.quality.dihedral);
  EXPECT_EQ(back.quality.features, "stages");
  EXPECT_DOUBLE_EQ(back.served.type_precision, 0.81);
  EXPECT_FALSE(back.served.dihedral);
  ASSERT_EQ(back.served.kinds.size(), 1u);
  EXPECT_EQ(back.served.kinds[0].name, "merger");
  EXPECT_DOUBLE_EQ(back.served.kinds[0].auc, 0.90);
  EXPECT_DOUBLE_EQ(back.served.kinds[0].mahalanobis_auc, 0.89);
  EXPECT_DOUBLE_EQ(back.served.kinds[0].turns_auc, 0.92);
  EXPECT_DOUBLE_EQ(back.served.turns_anomaly_auc, 0.95);
  EXPECT_DOUBLE_EQ(back.served.mahalanobis_top1_precision, 0.45);
  EXPECT_EQ(back.served.kinds[0].kind, 3);
}

TEST(ScienceSeedTest, ASeedsQualityIsSavedInTheQualityCommandsForm) {
  const nlohmann::json saved = SeedRunJson(SomeRun());
  EXPECT_EQ(saved["served_quality"], nlohmann::json::parse(SomeRun().served.Json()));
  ASSERT_EQ(saved["served_quality"]["anomaly_kinds"].size(), 1u);
  EXPECT_EQ(saved["served_quality"]["anomaly_kinds"][0]["kind"], "merger");
  EXPECT_EQ(saved["served_quality"]["anomaly_kinds"][0]["anomaly_kind"], 3);
}

TEST(ScienceSeedTest, ASeedSavedInTheEarlierFormStillReads) {
  // Before, "kinds" held each kind's column value as "kind" beside its "name", and the share of
  // anomalies among the Mahalanobis distance's top 1% was not saved.
  nlohmann::json saved = SeedRunJson(SomeRun());
  for (const char* part : {"quality", "served_quality"}) {
    nlohmann::json& q = saved[part];
    nlohmann::json kinds = nlohmann::json::array();
    for (nlohmann::json k : q["anomaly_kinds"]) {
      k["name"] = k["kind"];
      k["kind"] = k["anomaly_kind"];
      k.erase("anomaly_kind");
      kinds.push_back(k);
    }
    q.erase("anomaly_kinds");
    q.erase("mahalanobis_top1_precision");
    q["kinds"] = kinds;
  }
  const SeedRun back = SeedRunFrom(saved);
  ASSERT_EQ(back.served.kinds.size(), 1u);
  EXPECT_EQ(back.served.kinds[0].kind, 3);
  EXPECT_EQ(back.served.kinds[0].name, "merger");
  EXPECT_DOUBLE_EQ(back.served.kinds[0].auc, 0.90);
  EXPECT_DOUBLE_EQ(back.quality.kinds[0].turns_auc, 0.87);
  EXPECT_TRUE(std::isnan(back.served.mahalanobis_top1_precision));
}

TEST(ScienceSeedTest, ASeedSavedBeforeTheScoreWithTurnsReadsItAsNotMeasured) {
  nlohmann::json saved = SeedRunJson(SomeRun());
  saved["served_quality"].erase("turns_anomaly_auc");
  saved["served_quality"]["anomaly_kinds"][0].erase("turns_auc");
  const SeedRun back = SeedRunFrom(saved);
  EXPECT_TRUE(std::isnan(back.served.turns_anomaly_auc));
  ASSERT_EQ(back.served.kinds.size(), 1u);
  EXPECT_TRUE(std::isnan(back.served.kinds[0].turns_auc));
  EXPECT_DOUBLE_EQ(back.served.kinds[0].mahalanobis_auc, 0.89);
}

TEST(ScienceSeedTest, ASeedSavedBeforeTheServedMeasureReadsItAsNotMeasured) {
  nlohmann::json saved = SeedRunJson(SomeRun());
  saved.erase("served_quality");
  const SeedRun back = SeedRunFrom(saved);
  EXPECT_DOUBLE_EQ(back.quality.type_precision, 0.83);
  EXPECT_TRUE(back.served.kinds.empty());
  EXPECT_TRUE(std::isnan(back.served.type_precision));
  EXPECT_TRUE(std::isnan(back.served.anomaly_auc));
  // The check of similarity then says "not measured", not a comparison of defaults.
  const ScienceCheck c = Compare("type_precision_at_k", "as served", {back.served.type_precision}, {0.7}, false);
  EXPECT_FALSE(c.measured);
}

TEST(ScienceSeedTest, TheThreadsASeedRanWithSurviveTheSavedFormAndTheReportSaysThem) {
  SeedRun run = SomeRun();
  run.threads = 1;
  EXPECT_EQ(SeedRunFrom(SeedRunJson(run)).threads, 1);
  nlohmann::json saved = SeedRunJson(run);
  saved.erase("threads");
  const SeedRun old = SeedRunFrom(saved);
  EXPECT_EQ(old.threads, -1);

  SeedRun two = run, every = run;
  two.threads = 2;
  every.threads = 0;
  EXPECT_EQ(SeedThreadsText({run, run, run}), "1 CPU thread");
  EXPECT_EQ(SeedThreadsText({two, two}), "2 CPU threads");
  EXPECT_EQ(SeedThreadsText({every}), "every CPU thread");
  EXPECT_EQ(SeedThreadsText({run, run, two}), "1 / 1 / 2 CPU threads");
  EXPECT_EQ(SeedThreadsText({run, old}), "1 / ? CPU threads");
  EXPECT_EQ(SeedThreadsText({old, old}), "an unrecorded number of CPU threads");
}

}  // namespace
}  // namespace galaxy
