// galaxy-train end to end through the binary on CPU at a small scale: pretrain, eval (JSON and
// plot checked), the label-efficiency experiment (table, JSON and plot checked), bench, and the
// errors a user sees.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

using testutil::CommandResult;

CommandResult RunTool(const std::string& binary, std::vector<std::string> args) {
  args.insert(args.begin(), testutil::BinDir() + "/" + binary);
  absl::StatusOr<CommandResult> r = testutil::RunCommand(args, absl::Seconds(600));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

// The last line of a command's stderr: where the error goes, after any log lines.
std::string LastLine(const std::string& text) {
  std::string t = text;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

bool IsPng(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(8, '\0');
  in.read(head.data(), 8);
  return head == std::string("\x89PNG\r\n\x1a\n", 8);
}

TEST(TrainCliTest, ExperimentAndEvalRunEndToEndAndWriteTheirOutputs) {
  testutil::ScopedTempDir dir;
  const std::string data = dir.File("survey.h5");
  ASSERT_EQ(RunTool("galaxy-data", {"synth", "--out", data, "--count", "1200", "--seed", "3"}).exit_code, 0);

  const std::vector<std::string> experiment = {
      "experiment", "label-efficiency", "--data", data, "--out", dir.File("le"), "--arch", "tiny", "--stem",
      "torchvision", "--pretrain-steps", "10", "--pretrain-batch", "64", "--queue", "256", "--fractions", "0.25,1",
      "--steps", "20", "--batch", "64", "--device", "cpu"};
  CommandResult exp = RunTool("galaxy-train", experiment);
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_TRUE(absl::StrContains(exp.out, "| 0.25 |")) << exp.out;
  nlohmann::json table = nlohmann::json::parse(std::ifstream(dir.File("le/label_efficiency.json")));
  ASSERT_EQ(table["rows"].size(), 2u);
  EXPECT_LT(table["rows"][0]["labels"].get<int>(), table["rows"][1]["labels"].get<int>());
  for (const auto& row : table["rows"]) {
    EXPECT_GT(row["ssl"]["count"].get<int>(), 50);
    EXPECT_GT(row["ssl"]["sigma_mad"].get<double>(), 0.0);
    EXPECT_GT(row["supervised"]["sigma_mad"].get<double>(), 0.0);
  }
  EXPECT_GT(table["knn_colours"]["sigma_mad"].get<double>(), 0.0);
  EXPECT_TRUE(IsPng(dir.File("le/label_efficiency.png")));
  // Run again, it takes up its pretraining and keeps its finished arms: nothing trains, the
  // table is the same.
  CommandResult again = RunTool("galaxy-train", experiment);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(absl::StrContains(again.err, "the checkpoint is at step 10 of 10; nothing to train")) << again.err;
  for (const char* arm : {"ssl_0.25", "supervised_0.25", "ssl_1", "supervised_1"}) {
    EXPECT_TRUE(absl::StrContains(again.err, absl::StrCat(arm, " finished earlier under the same options"))) << again.err;
  }
  EXPECT_FALSE(absl::StrContains(again.err, "labelled galaxies (label fraction")) << again.err;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir.File("le/label_efficiency.json")))["rows"], table["rows"]);

  CommandResult probe = RunTool("galaxy-train", {"probe", "--model", dir.File("le/pretrain/model.pt"), "--data", data,
                                             "--label", "type", "--fractions", "0.5,1", "--steps", "50", "--json",
                                             dir.File("probe.json"), "--scratch-steps", "3", "--scratch-batch", "16",
                                             "--device", "cpu"});
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  EXPECT_TRUE(absl::StrContains(probe.out, "Linear probe: 5 classes")) << probe.out;
  nlohmann::json probed = nlohmann::json::parse(std::ifstream(dir.File("probe.json")));
  ASSERT_EQ(probed["rows"].size(), 2u);
  EXPECT_EQ(probed["rows"][1]["confusion"].size(), 5u);
  // The same network from scratch on the same labels, scored on the same test part.
  const double scratch = probed["rows"][1]["scratch_accuracy"].get<double>();
  EXPECT_GE(scratch, 0.0);
  EXPECT_LE(scratch, 1.0);
  EXPECT_EQ(probed["rows"][1]["scratch_recall"].size(), 5u);
  EXPECT_TRUE(absl::StrContains(probe.out, "from scratch accuracy")) << probe.out;
  // The penalty was chosen by cross-validation, from the grid.
  EXPECT_GE(probed["rows"][0]["penalty"].get<double>(), 1e-5);
  EXPECT_LE(probed["rows"][0]["penalty"].get<double>(), 1.0);

  // A continuous label (the bulge-to-total ratio, as a Galaxy Zoo vote fraction would be) is a
  // ridge regression, with the network from scratch beside it.
  CommandResult regression = RunTool("galaxy-train", {"probe", "--model", dir.File("le/pretrain/model.pt"), "--data",
                                                  data, "--label", "bulge_fraction", "--fractions", "0.5,1", "--json",
                                                  dir.File("probe_bt.json"), "--scratch-steps", "3", "--scratch-batch",
                                                  "16", "--device", "cpu"});
  ASSERT_EQ(regression.exit_code, 0) << regression.err;
  EXPECT_TRUE(absl::StrContains(regression.out, "ridge regression")) << regression.out;
  nlohmann::json bt = nlohmann::json::parse(std::ifstream(dir.File("probe_bt.json")));
  EXPECT_EQ(bt["task"], "regression");
  ASSERT_EQ(bt["rows"].size(), 2u);
  EXPECT_LT(bt["rows"][1]["rmse"].get<double>(), bt["mean_rmse"].get<double>()) << bt.dump();
  EXPECT_GT(bt["rows"][1]["r2"].get<double>(), 0.0) << bt.dump();
  EXPECT_GT(bt["rows"][1]["scratch_rmse"].get<double>(), 0.0) << bt.dump();
  // The standard columns are labels too: redshift from the frozen features, a regression.
  CommandResult redshift = RunTool("galaxy-train", {"probe", "--model", dir.File("le/pretrain/model.pt"), "--data",
                                                data, "--label", "specz_redshift", "--fractions", "1", "--json",
                                                dir.File("probe_z.json"), "--device", "cpu"});
  ASSERT_EQ(redshift.exit_code, 0) << redshift.err;
  nlohmann::json z = nlohmann::json::parse(std::ifstream(dir.File("probe_z.json")));
  EXPECT_EQ(z["task"], "regression");
  ASSERT_EQ(z["rows"].size(), 1u);
  EXPECT_GT(z["rows"][0]["labels"].get<int>(), 0) << z.dump();
  EXPECT_LT(z["rows"][0]["rmse"].get<double>(), z["mean_rmse"].get<double>()) << z.dump();
  // Forcing classes on it names the galaxy and the way out.
  CommandResult forced = RunTool("galaxy-train", {"probe", "--model", dir.File("le/pretrain/model.pt"), "--data", data,
                                              "--label", "bulge_fraction", "--task", "classification", "--device", "cpu"});
  EXPECT_NE(forced.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(forced.err, "--task regression")) << forced.err;

  // Every stage's features: 16 + 32 + 64 + 128 values for tiny, named in the report.
  CommandResult stages = RunTool("galaxy-train", {"probe", "--model", dir.File("le/pretrain/model.pt"), "--data", data,
                                              "--label", "type", "--fractions", "1", "--steps", "20", "--features",
                                              "stages", "--json", dir.File("probe_stages.json"), "--device", "cpu"});
  ASSERT_EQ(stages.exit_code, 0) << stages.err;
  EXPECT_TRUE(absl::StrContains(stages.out, "Representation: stages features.")) << stages.out;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(dir.File("probe_stages.json")))["features"], "stages");

  CommandResult quality = RunTool("galaxy-train", {"quality", "--model", dir.File("le/pretrain/model.pt"), "--data",
                                               data, "--k", "5", "--json", dir.File("quality.json"), "--device", "cpu"});
  ASSERT_EQ(quality.exit_code, 0) << quality.err;
  EXPECT_TRUE(absl::StrContains(quality.out, "same-type precision@5")) << quality.out;
  nlohmann::json q = nlohmann::json::parse(std::ifstream(dir.File("quality.json")));
  EXPECT_EQ(q["galaxies"].get<int>(), 1200);
  EXPECT_EQ(q["features"], "backbone");
  EXPECT_GT(q["type_precision"].get<double>(), q["type_precision_chance"].get<double>());
  EXPECT_GE(q["rotation_overlap"].get<double>(), 0.0);
  EXPECT_LE(q["rotation_overlap"].get<double>(), 1.0);
  EXPECT_GT(q["anomaly_kinds"].size(), 0u);
  // The isolation forest and the mean rank of both scores, beside the kNN score, per kind.
  EXPECT_GE(q["iforest_anomaly_auc"].get<double>(), 0.0);
  EXPECT_LE(q["combined_anomaly_auc"].get<double>(), 1.0);
  EXPECT_TRUE(q["anomaly_kinds"][0].contains("iforest_auc")) << q.dump();
  // And the Mahalanobis distance's.
  EXPECT_GE(q["mahalanobis_anomaly_auc"].get<double>(), 0.0);
  EXPECT_LE(q["mahalanobis_top1_precision"].get<double>(), 1.0);
  EXPECT_GE(q["anomaly_kinds"][0]["mahalanobis_auc"].get<double>(), 0.0) << q.dump();
  // And, by default, that of one view joined with its turn average (what mahalanobis-turns serves).
  EXPECT_GE(q["turns_anomaly_auc"].get<double>(), 0.0) << q.dump();
  EXPECT_GE(q["anomaly_kinds"][0]["turns_auc"].get<double>(), 0.0) << q.dump();
  // Without it the run embeds each galaxy once: every other measure is the same, the turns AUCs
  // are -1 in the JSON and "-" in the table.
  CommandResult one_pass = RunTool("galaxy-train", {"quality", "--model", dir.File("le/pretrain/model.pt"), "--data",
                                                data, "--k", "5", "--no-turns-score", "--json",
                                                dir.File("quality_one_pass.json"), "--device", "cpu"});
  ASSERT_EQ(one_pass.exit_code, 0) << one_pass.err;
  EXPECT_TRUE(absl::StrContains(one_pass.out, "of one view joined with its turn average: -")) << one_pass.out;
  nlohmann::json q1 = nlohmann::json::parse(std::ifstream(dir.File("quality_one_pass.json")));
  EXPECT_EQ(q1["turns_anomaly_auc"].get<double>(), -1.0);
  for (const auto& kind : q1["anomaly_kinds"]) EXPECT_EQ(kind["turns_auc"].get<double>(), -1.0) << kind.dump();
  auto without_turns = [](nlohmann::json report) {
    report.erase("turns_anomaly_auc");
    for (nlohmann::json& kind : report["anomaly_kinds"]) kind.erase("turns_auc");
    return report;
  };
  EXPECT_EQ(without_turns(q1), without_turns(q));

  CommandResult eval = RunTool("galaxy-train", {"eval", "--data", data, "--model", dir.File("le/ssl_1/model.pt"),
                                            "--json", dir.File("eval.json"), "--plot", dir.File("eval.png"),
                                            "--device", "cpu"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(absl::StrContains(eval.out, "kNN on colours")) << eval.out;
  nlohmann::json report = nlohmann::json::parse(std::ifstream(dir.File("eval.json")));
  EXPECT_EQ(report["model_kind"], "finetuned");
  EXPECT_EQ(report["test"]["count"], report["knn_colours_baseline"]["test_count"]);
  EXPECT_EQ(report["per_bin"].size(), 8u);
  // The pdfs' calibration: a PIT histogram over every test galaxy, coverages and CRPS in range.
  int64_t pit_total = 0;
  for (const auto& c : report["pdf"]["pit_histogram"]) pit_total += c.get<int64_t>();
  EXPECT_EQ(pit_total, report["test"]["count"].get<int64_t>());
  EXPECT_GE(report["pdf"]["coverage_95"].get<double>(), report["pdf"]["coverage_68"].get<double>());
  EXPECT_GT(report["pdf"]["crps_mean"].get<double>(), 0.0);
  EXPECT_LT(report["pdf"]["crps_mean"].get<double>(), 0.2);
  EXPECT_TRUE(absl::StrContains(eval.out, "PIT histogram")) << eval.out;
  EXPECT_TRUE(IsPng(dir.File("eval.png")));
  EXPECT_TRUE(IsPng(dir.File("eval_per_bin.png")));
  EXPECT_TRUE(IsPng(dir.File("eval_pit.png")));

  // Distillation: the 25% model teaches the rest of the training part; a teacher of more labels
  // than the run has is refused before any data is read.
  CommandResult distil = RunTool("galaxy-train", {"finetune", "--data", data, "--init", dir.File("le/pretrain/model.pt"),
                                              "--teacher", dir.File("le/ssl_0.25/model.pt"), "--out", dir.File("distil"),
                                              "--label-fraction", "0.25", "--steps", "4", "--batch", "32", "--device",
                                              "cpu"});
  ASSERT_EQ(distil.exit_code, 0) << distil.err;
  EXPECT_TRUE(absl::StrContains(distil.out, "with the teacher's pdfs")) << distil.out;
  CommandResult greedy = RunTool("galaxy-train", {"finetune", "--data", data, "--init", dir.File("le/pretrain/model.pt"),
                                              "--teacher", dir.File("le/ssl_1/model.pt"), "--out", dir.File("greedy"),
                                              "--label-fraction", "0.25", "--steps", "4", "--device", "cpu"});
  EXPECT_EQ(greedy.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(greedy.err, "was trained on label fraction 1; this run has 0.25")) << greedy.err;
  // Every redshift training ends by fitting its pdfs' temperature on the validation part.
  EXPECT_TRUE(absl::StrContains(distil.out, "pdf temperature ")) << distil.out;
  EXPECT_GE(report["pdf"]["temperature"].get<double>(), 0.25);
  EXPECT_LE(report["pdf"]["temperature"].get<double>(), 4.0);

  // Without it the pdfs are the head's own; `calibrate` fits the temperature afterwards, and the
  // point estimates stay as they were.
  CommandResult own = RunTool("galaxy-train", {"supervised", "--data", data, "--arch", "tiny", "--stem", "torchvision",
                                           "--out", dir.File("own"), "--steps", "6", "--batch", "32",
                                           "--no-pdf-calibration", "--device", "cpu"});
  ASSERT_EQ(own.exit_code, 0) << own.err;
  EXPECT_FALSE(absl::StrContains(own.out, "pdf temperature")) << own.out;
  CommandResult calibrate = RunTool("galaxy-train", {"calibrate", "--data", data, "--model", dir.File("own/model.pt"),
                                                 "--out", dir.File("own/calibrated.pt"), "--device", "cpu"});
  ASSERT_EQ(calibrate.exit_code, 0) << calibrate.err;
  EXPECT_TRUE(absl::StrContains(calibrate.out, "wrote " + dir.File("own/calibrated.pt"))) << calibrate.out;
  double temperature = 0;
  ASSERT_TRUE(absl::SimpleAtod(std::string(absl::StripPrefix(calibrate.out, "pdf temperature ")).substr(0, 5),
                               &temperature))
      << calibrate.out;
  auto evaluate = [&](const std::string& model) {
    CommandResult r = RunTool("galaxy-train", {"eval", "--data", data, "--model", model, "--print-json", "--device",
                                           "cpu"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  };
  const nlohmann::json before = evaluate(dir.File("own/model.pt")), after = evaluate(dir.File("own/calibrated.pt"));
  ASSERT_FALSE(before.is_discarded() || after.is_discarded());
  EXPECT_EQ(before["pdf"]["temperature"].get<double>(), 1.0);
  EXPECT_NEAR(after["pdf"]["temperature"].get<double>(), temperature, 1e-3);
  EXPECT_EQ(after["test"]["sigma_mad"], before["test"]["sigma_mad"]);
  EXPECT_EQ(after["test"]["bias"], before["test"]["bias"]);
  CommandResult no_head = RunTool("galaxy-train", {"calibrate", "--data", data, "--model",
                                               dir.File("le/pretrain/model.pt"), "--device", "cpu"});
  EXPECT_EQ(no_head.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_head.err, "checkpoint without a redshift head; fine-tune it first")) << no_head.err;
  CommandResult no_validation = RunTool("galaxy-train", {"calibrate", "--data", data, "--model", dir.File("own/model.pt"),
                                                     "--fractions", "0.9,0,0.1", "--device", "cpu"});
  EXPECT_EQ(no_validation.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_validation.err, "no galaxy matches the selection (split part val"))
      << no_validation.err;

  // A finished arm whose model has no temperature (trained before calibration existed) is
  // calibrated when the experiment is run again, not trained again.
  std::filesystem::copy_file(dir.File("own/model.pt"), dir.File("le/supervised_1/model.pt"),
                             std::filesystem::copy_options::overwrite_existing);
  CommandResult third = RunTool("galaxy-train", experiment);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_TRUE(absl::StrContains(third.err, "supervised_1 finished earlier under the same options")) << third.err;
  EXPECT_TRUE(absl::StrContains(third.err, "pdf calibration on ")) << third.err;
  EXPECT_FALSE(absl::StrContains(third.err, "labelled galaxies (label fraction")) << third.err;
  const nlohmann::json arm = evaluate(dir.File("le/supervised_1/model.pt"));
  EXPECT_NE(arm["pdf"]["temperature"].get<double>(), 1.0);
}

TEST(TrainCliTest, ErrorsAreOneClearLine) {
  testutil::ScopedTempDir dir;
  CommandResult missing = RunTool("galaxy-train", {"pretrain", "--data", dir.File("none.h5"), "--out", dir.File("o"),
                                               "--device", "cpu"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(LastLine(missing.err), "galaxy-train pretrain: error: ")) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, dir.File("none.h5"))) << missing.err;
  CommandResult arch = RunTool("galaxy-train", {"pretrain", "--data", "x.h5", "--out", "o", "--arch", "vit"});
  EXPECT_EQ(arch.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(arch.err, "--arch: unknown 'vit'")) << arch.err;
  std::ofstream(dir.File("bad.pt")) << "not a checkpoint";
  CommandResult bad = RunTool("galaxy-train", {"eval", "--data", "x.h5", "--model", dir.File("bad.pt"), "--device", "cpu"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "not a readable checkpoint")) << bad.err;
  CommandResult fraction = RunTool("galaxy-train", {"probe", "--model", dir.File("bad.pt"), "--data", "x.h5", "--label",
                                                "type", "--fractions", "0.1,2"});
  EXPECT_EQ(fraction.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(fraction.err, "--fractions: 2 is outside (0, 1]")) << fraction.err;
}

TEST(TrainCliTest, BenchReportsThroughput) {
  CommandResult r = RunTool("galaxy-train", {"bench", "--arch", "tiny", "--batch", "16", "--steps", "1", "--json",
                                         "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_GT(j["train_images_per_s"].get<double>(), 0);
  EXPECT_GT(j["embed_images_per_s"].get<double>(), 0);
  EXPECT_GT(j["augment_ms_per_view"].get<double>(), 0);
  // The layout: CUDA-only unless asked (what pretrain does), so off on the CPU by default.
  EXPECT_EQ(j["channels_last_mode"], "auto");
  EXPECT_EQ(j["channels_last"], false);
  CommandResult on = RunTool("galaxy-train", {"bench", "--arch", "tiny", "--batch", "16", "--steps", "1", "--json",
                                          "--device", "cpu", "--channels-last", "on", "--augment-form", "stepwise"});
  ASSERT_EQ(on.exit_code, 0) << on.err;
  nlohmann::json k = nlohmann::json::parse(on.out);
  EXPECT_EQ(k["channels_last_mode"], "on");
  EXPECT_EQ(k["channels_last"], true);
  EXPECT_EQ(k["augment_form"], "stepwise");
  CommandResult bad = RunTool("galaxy-train", {"bench", "--channels-last", "sometimes"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "--channels-last")) << bad.err;
}

}  // namespace
}  // namespace galaxy
