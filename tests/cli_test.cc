// Every binary prints its usage and version; the planned commands say they are not available
// yet; the implemented helper commands work.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

using testutil::BinDir;
using testutil::CommandResult;
using testutil::RunCommand;

CommandResult RunBinary(const std::vector<std::string>& argv, absl::Duration timeout = absl::Seconds(120)) {
  std::vector<std::string> full = argv;
  full[0] = BinDir() + "/" + argv[0];
  absl::StatusOr<CommandResult> result = RunCommand(full, timeout);
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *result : CommandResult{};
}

struct BinaryCase {
  const char* name;
  std::vector<const char*> commands;  // each must appear in --help
};

void PrintTo(const BinaryCase& c, std::ostream* os) { *os << c.name; }

class BinaryHelpTest : public ::testing::TestWithParam<BinaryCase> {};

TEST_P(BinaryHelpTest, HelpListsItsCommandsAndExitsZero) {
  const BinaryCase& c = GetParam();
  CommandResult result = RunBinary({c.name, "--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "Usage")) << result.out;
  for (const char* command : c.commands) {
    EXPECT_TRUE(absl::StrContains(result.out, command)) << c.name << " --help lacks " << command;
  }
}

TEST_P(BinaryHelpTest, VersionNamesTheBinaryAndItsLibraries) {
  CommandResult result = RunBinary({GetParam().name, "--version"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StartsWith(result.out, std::string(GetParam().name) + " ")) << result.out;
  EXPECT_GT(std::count(result.out.begin(), result.out.end(), '\n'), 1) << result.out;
}

TEST_P(BinaryHelpTest, UnknownFlagIsAUsageError) {
  CommandResult result = RunBinary({GetParam().name, "--no-such-flag"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_FALSE(result.err.empty());
}

INSTANTIATE_TEST_SUITE_P(
    AllBinaries, BinaryHelpTest,
    ::testing::Values(
        BinaryCase{"galaxy-data", {"synth", "ingest", "inspect", "split", "photoz-baseline"}},
        BinaryCase{"galaxy-train",
                   {"pretrain", "finetune", "supervised", "eval", "experiment", "bench", "devices"}},
        BinaryCase{"galaxy-index", {"build", "info", "verify", "export", "list-anomalies"}},
        BinaryCase{"galaxy-server", {"--listen", "--snapshots", "--max-message-bytes"}},
        BinaryCase{"galaxy-client",
                   {"similar", "predict-z", "anomaly", "list-anomalies", "galaxy", "info",
                    "rebuild", "reload", "health", "--server"}},
        BinaryCase{"galaxy-bench", {"machine", "synth", "ingest", "train-ratio", "run"}}),
    [](const ::testing::TestParamInfo<BinaryCase>& info) {
      std::string name = info.param.name;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(CliTest, BenchQuickSuiteWritesJsonAndMarkdown) {
  testutil::ScopedTempDir dir;
  CommandResult result =
      RunBinary({"galaxy-bench", "run", "--quick", "--out", dir.File("results")}, absl::Seconds(600));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::ifstream in(dir.File("results/results.json"));
  nlohmann::json j = nlohmann::json::parse(in);
  for (const char* key : {"machine", "synth", "ingest", "train", "index", "memory_estimate", "serve"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* path : {"copy_per_s", "cutouts_per_s", "stack_per_s", "hdf5_per_s"}) {
    EXPECT_GT(j["ingest"][path].get<double>(), 0) << path << ": " << j["ingest"].dump();
  }
  EXPECT_EQ(j["index"].size(), 2u);
  // Build peak memory of every built index (the flat row first).
  EXPECT_GT(j["index"][0]["rows"][0]["build_peak_rss_bytes"].get<int64_t>(), 0) << j["index"][0].dump();
  EXPECT_GT(j["serve"]["rows"][1]["qps"].get<double>(), 0);
  // Training against PyTorch eager, in the same run where python3-torch is installed.
  EXPECT_GT(j["train"]["train"].get<double>(), 0) << j["train"].dump();
  if (!j["train"].contains("anchor_missing")) {
    EXPECT_GT(j["train"]["anchor_train"].get<double>(), 0) << j["train"].dump();
    EXPECT_GT(j["train"]["ratio_train"].get<double>(), 0) << j["train"].dump();
  }
  std::ifstream md(dir.File("results/results.md"));
  std::stringstream text;
  text << md.rdbuf();
  EXPECT_TRUE(absl::StrContains(text.str(), "## Memory at 10^8 and 10^9 galaxies")) << text.str();
}

TEST(CliTest, TrainDevicesReportsLibTorch) {
  CommandResult result = RunBinary({"galaxy-train", "devices"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "LibTorch")) << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "--device auto")) << result.out;
}

TEST(CliTest, BenchMachineDescribesTheMachineAsJson) {
  CommandResult result = RunBinary({"galaxy-bench", "machine", "--json"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* key : {"\"cpu_model\"", "\"usable_cpus\"", "\"libraries\"", "FAISS", "gRPC",
                          "LibTorch", "RocksDB", "HDF5"}) {
    EXPECT_TRUE(absl::StrContains(result.out, key)) << key << " missing in " << result.out;
  }
}

TEST(CliTest, BenchSynthRunsAndReportsPerCoreThroughput) {
  CommandResult result =
      RunBinary({"galaxy-bench", "synth", "--count", "100", "--json", "--scratch", ::testing::TempDir()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "\"per_core_per_s\":")) << result.out;
}

// The ingest benchmark's every path, and the Python baseline on the inputs it keeps (the same keys:
// bench/ingest_ratio.sh divides one by the other).
TEST(CliTest, BenchIngestTimesEveryPathAndTheBaselineReadsItsInputs) {
  testutil::ScopedTempDir dir;
  CommandResult result = RunBinary({"galaxy-bench", "ingest", "--count", "40", "--dir", dir.File("in"), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json ours = nlohmann::json::parse(result.out);
  EXPECT_EQ(ours["count"], 40);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.File("in/cutouts")), {}), 40);
  absl::StatusOr<CommandResult> baseline = RunCommand(
      {"/usr/bin/python3", std::string(GALAXY_SOURCE_DIR) + "/bench/ingest_baseline.py", dir.File("in")},
      absl::Seconds(300));
  ASSERT_TRUE(baseline.ok()) << baseline.status();
  ASSERT_EQ(baseline->exit_code, 0) << baseline->err;
  const nlohmann::json script = nlohmann::json::parse(baseline->out);
  for (const char* key : {"copy_per_s", "cutouts_per_s", "stack_per_s", "hdf5_per_s"}) {
    EXPECT_GT(ours[key].get<double>(), 0) << key;
    EXPECT_GT(script[key].get<double>(), 0) << key;
  }
  EXPECT_FALSE(std::filesystem::exists(dir.File("in/out.h5")));
}

TEST(CliTest, IndexCurrentReportsAMissingSnapshotDirectoryClearly) {
  CommandResult result = RunBinary({"galaxy-index", "current", "/nonexistent/snapshots"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result.err, "no snapshot published in /nonexistent/snapshots"))
      << result.err;
}

TEST(CliTest, ClientReportsAnUnreachableServerInOneLine) {
  CommandResult result =
      RunBinary({"galaxy-client", "--server", "127.0.0.1:1", "--timeout", "2", "info"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(result.err, "galaxy-client info: error: server 127.0.0.1:1"))
      << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

}  // namespace
}  // namespace galaxy
