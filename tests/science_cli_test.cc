// galaxy-bench science --quick end to end through the binary: the whole science report (survey,
// pretraining, label efficiency, probe against the network from scratch, quality, pdfs) at the
// small scale, with the directions that must hold at any scale asserted, every acceptance check
// measured and consistent with its own numbers, and a second run resuming from the saved seeds;
// a stopped seed's pretraining and finished label-efficiency arms taken up from what it left.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

using testutil::CommandResult;

bool IsPng(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  return head == std::string("\x89PNG\r\n\x1a\n", 8);
}

TEST(ScienceCliTest, QuickReportMeasuresEveryCheckAndTheBasicDirectionsHold) {
  testutil::ScopedTempDir dir;
  const std::string out = dir.File("science");
  absl::StatusOr<CommandResult> run = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-bench", "science", "--quick", "--out", out, "--device", "cpu"}, absl::Seconds(1200));
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_EQ(run->exit_code, 0) << run->err;
  EXPECT_TRUE(absl::StrContains(run->out, "acceptance checks:")) << run->out;

  nlohmann::json r = nlohmann::json::parse(std::ifstream(out + "/results.json"));
  EXPECT_EQ(r["seeds"].get<int>(), 2);
  EXPECT_DOUBLE_EQ(r["options"]["momentum"].get<double>(), 0.99);
  // The recorded three-seed report's recipe, with the quick form's own stem.
  EXPECT_DOUBLE_EQ(r["options"]["temperature"].get<double>(), 0.1);
  EXPECT_DOUBLE_EQ(r["options"]["photometry_weight"].get<double>(), 5);
  EXPECT_EQ(r["options"]["stem"].get<std::string>(), "torchvision");
  // Every acceptance check is measured, and "holds" says what its own numbers say.
  ASSERT_EQ(r["acceptance"].size(), 6u);
  for (const auto& c : r["acceptance"]) {
    SCOPED_TRACE(c.dump());
    ASSERT_TRUE(c["measured"].get<bool>());
    const double lhs = c["lhs"].get<double>(), rhs = c["rhs"].get<double>();
    const bool at_most = absl::StrContains(c["description"].get<std::string>(), "<");
    EXPECT_EQ(c["holds"].get<bool>(), at_most ? lhs <= rhs : lhs >= rhs);
    EXPECT_TRUE(std::isfinite(lhs) && std::isfinite(rhs));
  }
  // What must hold at any scale: the network beats predicting the mean, the probe beats the most
  // common class, similar galaxies share their type more often than chance, anomalies score high.
  ASSERT_EQ(r["sanity"].size(), 4u);
  for (const auto& c : r["sanity"]) EXPECT_TRUE(c["holds"].get<bool>()) << c.dump();

  // The redshift table: five fractions, both arms per seed, the baselines beside them.
  const auto& rows = r["redshift"]["rows"];
  ASSERT_EQ(rows.size(), 5u);
  for (const auto& row : rows) {
    EXPECT_EQ(row["ssl_per_seed"].size(), 2u);
    EXPECT_GT(row["ssl_sigma_mad"]["mean"].get<double>(), 0.0);
    EXPECT_GE(row["ssl_sigma_mad"]["std"].get<double>(), 0.0);
  }
  EXPECT_LT(r["redshift"]["knn_colours_sigma_mad"]["mean"].get<double>(),
            r["redshift"]["predict_mean_sigma_mad"]["mean"].get<double>());
  EXPECT_GT(r["redshift"]["pdf"]["coverage_95"]["mean"].get<double>(),
            r["redshift"]["pdf"]["coverage_68"]["mean"].get<double>());
  // The pdfs' temperature was fitted (kMinPdfTemperature-kMaxPdfTemperature) and is reported.
  EXPECT_GE(r["redshift"]["pdf"]["temperature"]["mean"].get<double>(), 0.25);
  EXPECT_LE(r["redshift"]["pdf"]["temperature"]["mean"].get<double>(), 4.0);
  // The probe against the network from scratch at every fraction.
  for (const auto& row : r["probe"]["rows"]) {
    EXPECT_GT(row["probe_accuracy"]["mean"].get<double>(), 0.0);
    EXPECT_FALSE(row["scratch_accuracy"].is_null()) << row.dump();
  }
  EXPECT_EQ(r["quality"]["kinds"].size(), 4u);
  // By default the representation is averaged over each image's turns and mirrors, so a turned
  // image finds the same neighbours.
  EXPECT_TRUE(r["options"]["dihedral"].get<bool>());
  EXPECT_EQ(r["options"]["features"], "backbone");
  EXPECT_GT(r["quality"]["rotation_overlap"]["mean"].get<double>(), 0.99) << r["quality"].dump();
  // The checks of similarity and anomalies read what the server searches: one view of each
  // image, measured beside the average and no longer invariant to the turn.
  const auto& served = r["served_quality"];
  EXPECT_EQ(served["kinds"].size(), 4u) << served.dump();
  EXPECT_LT(served["rotation_overlap"]["mean"].get<double>(), 0.99) << served.dump();
  EXPECT_NE(served["type_precision"], r["quality"]["type_precision"]);
  // The score of one view joined with its turn average (galaxy-index --anomaly-score
  // mahalanobis-turns) is measured for every kind, and finds anomalies better than chance.
  EXPECT_GT(served["turns_anomaly_auc"]["mean"].get<double>(), 0.5) << served.dump();
  for (const auto& kind : served["kinds"]) EXPECT_TRUE(kind["turns_auc"]["mean"].is_number()) << kind.dump();
  for (const auto& c : r["acceptance"]) {
    if (c["name"] == "type_precision_at_k") {
      EXPECT_DOUBLE_EQ(c["lhs"].get<double>(), served["type_precision"]["mean"].get<double>()) << c.dump();
    }
  }
  EXPECT_TRUE(std::filesystem::exists(out + "/seed_0/quality_served.json"));
  // The report embeds each representation once for both reports; galaxy-train quality measures
  // one report alone, and gives the same one-view report.
  const std::string alone = dir.File("quality_alone.json");
  absl::StatusOr<CommandResult> quality = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-train", "quality", "--model", out + "/seed_0/pretrain/model.pt", "--data",
       out + "/survey.h5", "--max-galaxies", "2400", "--stability-queries", "600", "--json", alone, "--device", "cpu"},
      absl::Seconds(300));
  ASSERT_TRUE(quality.ok()) << quality.status();
  ASSERT_EQ(quality->exit_code, 0) << quality->err;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(alone)),
            nlohmann::json::parse(std::ifstream(out + "/seed_0/quality_served.json")));

  std::ifstream md_in(out + "/report.md");
  const std::string md((std::istreambuf_iterator<char>(md_in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(md, "## Acceptance")) << md;
  EXPECT_TRUE(absl::StrContains(md, "probe and quality on the backbone features, representation averaged")) << md;
  EXPECT_TRUE(absl::StrContains(md, "same network from scratch")) << md;
  EXPECT_TRUE(absl::StrContains(md, "### As served: one view of each image")) << md;
  EXPECT_TRUE(absl::StrContains(md, "### The representation averaged over")) << md;
  for (const char* plot : {"label_efficiency.png", "probe.png", "confusion.png", "redshift.png",
                           "redshift_per_bin.png", "redshift_pit.png"}) {
    EXPECT_TRUE(IsPng(out + "/" + plot)) << plot;
    EXPECT_TRUE(absl::StrContains(md, plot)) << plot;
  }
  EXPECT_TRUE(std::filesystem::exists(out + "/seed_1/probe.json"));

  // Run again: both finished seeds are reused (seconds, not minutes) and give the same numbers.
  absl::StatusOr<CommandResult> again = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-bench", "science", "--quick", "--out", out, "--device", "cpu"}, absl::Seconds(120));
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->exit_code, 0) << again->err;
  EXPECT_TRUE(absl::StrContains(again->err, "seed 1: reusing the finished seed")) << again->err;
  EXPECT_FALSE(absl::StrContains(again->err, "pretraining")) << again->err;
  nlohmann::json r2 = nlohmann::json::parse(std::ifstream(out + "/results.json"));
  EXPECT_EQ(r2["acceptance"], r["acceptance"]);
  EXPECT_EQ(r2["redshift"], r["redshift"]);
  EXPECT_EQ(r2["quality"], r["quality"]);
  EXPECT_EQ(r2["served_quality"], r["served_quality"]);
  // One seed alone (as parallel processes sharing --out do): saved, no report.
  absl::StatusOr<CommandResult> one = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-bench", "science", "--quick", "--out", out, "--device", "cpu", "--only-seed", "1"},
      absl::Seconds(120));
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->exit_code, 0) << one->err;
  EXPECT_TRUE(absl::StrContains(one->out, "seed saved: " + out + "/seed_1/seed_run.json")) << one->out;
  EXPECT_FALSE(absl::StrContains(one->err, "seed 0:")) << one->err;
}

// A seed stopped after its pretraining (here: its saved result removed) takes the pretraining up
// from its checkpoint instead of running it again, and still reports the monitor, and keeps the
// label-efficiency arms it finished; a checkpoint made under other options is set aside and the
// pretraining starts afresh, not refused.
TEST(ScienceCliTest, AStoppedSeedTakesUpItsPretrainingAndArmsAndOtherOptionsStartAfresh) {
  testutil::ScopedTempDir dir;
  const std::string out = dir.File("science");
  auto science = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {testutil::BinDir() + "/galaxy-bench", "science", "--out", out, "--galaxies", "500",
                                     "--seeds", "1", "--pretrain-steps", "6", "--pretrain-batch", "16", "--queue", "64",
                                     "--finetune-steps", "4", "--finetune-batch", "16", "--fractions", "0.5,1",
                                     "--probe-fractions", "1", "--scratch-steps", "0", "--quality-galaxies", "500",
                                     "--device", "cpu", "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    absl::StatusOr<CommandResult> run = testutil::RunCommand(args, absl::Seconds(300));
    EXPECT_TRUE(run.ok()) << run.status();
    if (run.ok()) {
      EXPECT_EQ(run->exit_code, 0) << run->err;
    }
    return run.ok() ? *run : CommandResult{};
  };
  const CommandResult first = science({});
  EXPECT_TRUE(absl::StrContains(first.err, "training from step 0 of 6")) << first.err;
  const nlohmann::json monitor = nlohmann::json::parse(std::ifstream(out + "/results.json"))["pretraining_monitor"];
  ASSERT_TRUE(monitor.is_array() && monitor.size() == 1 && monitor[0].is_object()) << monitor.dump();
  EXPECT_EQ(monitor[0]["step"].get<int>(), 6);

  const nlohmann::json redshift = nlohmann::json::parse(std::ifstream(out + "/results.json"))["redshift"]["rows"];

  // Stopped after its label efficiency, one arm mid-training (no arm.json beside its model): the
  // finished arms are evaluated again, not trained, with the same figures; the unfinished one
  // trains.
  const std::string arms = out + "/seed_0/label_efficiency";
  ASSERT_TRUE(std::filesystem::remove(out + "/seed_0/seed_run.json"));
  ASSERT_TRUE(std::filesystem::remove(arms + "/supervised_1/arm.json"));
  const CommandResult again = science({});
  EXPECT_TRUE(absl::StrContains(again.err, "the checkpoint is at step 6 of 6; nothing to train")) << again.err;
  EXPECT_FALSE(absl::StrContains(again.err, "training from step 0")) << again.err;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out + "/results.json"))["pretraining_monitor"], monitor);
  for (const char* arm : {"ssl_0.5", "supervised_0.5", "ssl_1"}) {
    EXPECT_TRUE(absl::StrContains(again.err, absl::StrCat(arm, " finished earlier under the same options"))) << again.err;
  }
  EXPECT_FALSE(absl::StrContains(again.err, "supervised_1 finished earlier")) << again.err;
  EXPECT_TRUE(absl::StrContains(again.err, "labelled galaxies (label fraction 1)")) << again.err;
  EXPECT_FALSE(absl::StrContains(again.err, "labelled galaxies (label fraction 0.5)")) << again.err;
  EXPECT_FALSE(absl::StrContains(again.err, "finetuned: ")) << again.err;
  EXPECT_TRUE(std::filesystem::exists(arms + "/supervised_1/arm.json"));
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out + "/results.json"))["redshift"]["rows"], redshift);

  // An arm whose record is there but whose model is not trains again, saying so.
  ASSERT_TRUE(std::filesystem::remove(arms + "/supervised_1/model.pt"));
  const CommandResult other = science({"--temperature", "0.3"});
  EXPECT_TRUE(absl::StrContains(other.err, "pretraining afresh: --resume: ")) << other.err;
  EXPECT_TRUE(absl::StrContains(other.err, "temperature = 0.1, now 0.3")) << other.err;
  EXPECT_TRUE(absl::StrContains(other.err, "training from step 0 of 6")) << other.err;
  EXPECT_TRUE(std::filesystem::exists(out + "/seed_0/pretrain/checkpoint.pt.other-options"));
  // Another pretraining: the fine-tuned arms train again; the supervised ones, which do not start
  // from it, are kept.
  EXPECT_TRUE(absl::StrContains(other.err, "ssl_0.5 finished earlier under other options; training it again")) << other.err;
  EXPECT_TRUE(absl::StrContains(other.err, "supervised_0.5 finished earlier under the same options")) << other.err;
  EXPECT_TRUE(absl::StrContains(other.err, "supervised_1 finished earlier but its model is gone; training it again"))
      << other.err;
  EXPECT_TRUE(std::filesystem::exists(arms + "/supervised_1/model.pt"));

  // The pretext's apertures reach pretraining and the report; validation on the arm's share of
  // the validation labels reaches every arm (the supervised ones, which do not start from the
  // pretraining, train again for it alone) and the report.
  const CommandResult radii = science(
      {"--photometry-weight", "1", "--photometry-radii", "1.5,3", "--validation-labels", "label-fraction"});
  EXPECT_TRUE(absl::StrContains(radii.err, "photometric pretext: 10 aperture features per image (radii 1.5,3 arcsec)"))
      << radii.err;
  EXPECT_TRUE(absl::StrContains(radii.err, "supervised_0.5 finished earlier under other options; training it again"))
      << radii.err;
  std::ifstream report_file(out + "/report.md");
  const std::string report((std::istreambuf_iterator<char>(report_file)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(absl::StrContains(report, "apertures of 1.5, 3 arcsec")) << report;
  EXPECT_TRUE(absl::StrContains(report, "validated on the fraction's share of the validation labels")) << report;
  const nlohmann::json options = nlohmann::json::parse(std::ifstream(out + "/results.json"))["options"];
  EXPECT_EQ(options["validation_labels"], "label-fraction") << options.dump();
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(arms + "/label_efficiency.json"))["validation_labels"], "label-fraction");
}

TEST(ScienceCliTest, BadOptionsAreOneClearError) {
  testutil::ScopedTempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--fractions", "0.5,2"}, "--fractions: 2 is outside (0, 1]"},
      {{"--seeds", "0"}, "--seeds: 0 is outside 1..20"},
      {{"--seeds", "2", "--only-seed", "2"}, "--only-seed: 2 is outside 0..1"},
      {{"--momentum", "1"}, "--momentum: 1 is outside [0, 1)"},
      {{"--temperature", "0"}, "--temperature: 0 must be > 0"},
      {{"--photometry-weight", "-1"}, "--photometry-weight: -1 is outside [0, 100]"},
      {{"--photometry-radii", "1.5,30"}, "--photometry-radii: 30 is outside (0, 20] arcsec"},
      {{"--queue", "100"}, "--queue: 100 must be a positive multiple of --batch 128"},
      {{"--mask-outskirts", "2"}, "--mask-outskirts: 2 is outside [0, 1]"},
      {{"--validation-labels", "some"}, "--validation-labels: 'some' is not all | label-fraction"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {testutil::BinDir() + "/galaxy-bench", "science", "--out", dir.File("s")};
    args.insert(args.end(), flags.begin(), flags.end());
    absl::StatusOr<CommandResult> run = testutil::RunCommand(args, absl::Seconds(60));
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->exit_code, 1) << message;
    EXPECT_TRUE(absl::StrContains(run->err, message)) << run->err;
  }
  // A representation the probe cannot read is a usage error, naming the choices.
  absl::StatusOr<CommandResult> features = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-bench", "science", "--out", dir.File("s"), "--features", "pixels"},
      absl::Seconds(60));
  ASSERT_TRUE(features.ok()) << features.status();
  EXPECT_EQ(features->exit_code, 2);
  EXPECT_TRUE(absl::StrContains(features->err, "--features")) << features->err;
  EXPECT_TRUE(absl::StrContains(features->err, "stages")) << features->err;
  EXPECT_FALSE(std::filesystem::exists(dir.File("s/survey.h5")));
}

}  // namespace
}  // namespace galaxy
