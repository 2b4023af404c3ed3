// galaxy-data end to end through the binary: synth writes exactly what the simulator draws,
// whatever the thread count; inspect, split, ingest and the photo-z baseline report on it; bad files get
// one clear line naming the file and key, a non-zero exit, and no output left behind.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "data/hdf5_dataset.h"
#include "data/sim/synth_survey.h"
#include "nlohmann/json.hpp"
#include "tests/subprocess.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
using testutil::BinDir;
using testutil::CommandResult;

class DataCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // ctest runs each test in its own process, in parallel: one directory per process.
    dir_ = new fs::path(fs::path(::testing::TempDir()) / absl::StrCat("data_cli_", ::getpid()));
    RemoveTree(*dir_).IgnoreError();
    fs::create_directories(*dir_);
    CommandResult r = Data({"synth", "--out", File("survey.h5"), "--count", "600", "--seed", "5",
                            "--threads", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    RemoveTree(*dir_).IgnoreError();
    delete dir_;
  }
  static std::string File(const std::string& name) { return (*dir_ / name).string(); }
  static CommandResult Data(std::vector<std::string> args) {
    args.insert(args.begin(), BinDir() + "/galaxy-data");
    absl::StatusOr<CommandResult> r = testutil::RunCommand(args);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : CommandResult{};
  }
  // Files in the directory whose name contains `part`.
  static int FilesContaining(const std::string& part) {
    int n = 0;
    for (const auto& e : fs::directory_iterator(*dir_)) n += absl::StrContains(e.path().filename().string(), part);
    return n;
  }
  static fs::path* dir_;
};
fs::path* DataCliTest::dir_ = nullptr;

TEST_F(DataCliTest, SynthFileHoldsExactlyTheSimulatedArraysWhateverTheThreads) {
  CommandResult one = Data({"synth", "--out", File("one.h5"), "--count", "600", "--seed", "5",
                            "--threads", "1"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  SynthOptions options;
  options.count = 600;
  options.seed = 5;
  SurveyModel model(options);
  GalaxyBatch expected;
  SynthesizeBatch(model, 0, 600, 2, &expected);
  for (const char* name : {"survey.h5", "one.h5"}) {
    auto reader = DatasetReader::Open(File(name));
    ASSERT_TRUE(reader.ok()) << reader.status();
    GalaxyBatch read;
    ASSERT_TRUE((*reader)->Read(0, 600, &read).ok());
    EXPECT_EQ(read.images, expected.images) << name;
    EXPECT_EQ(read.ids, expected.ids) << name;
    EXPECT_EQ(read.redshift, expected.redshift) << name;
    EXPECT_EQ(read.extra["anomaly_kind"], expected.extra["anomaly_kind"]) << name;
  }
}

TEST_F(DataCliTest, InspectReportsTheFileAndRendersDecodablePngs) {
  CommandResult r = Data({"inspect", File("survey.h5"), "--json", "--png", File("png"), "--samples", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["count"], 600);
  EXPECT_EQ(j["shape"], nlohmann::json({600, 5, 64, 64}));
  EXPECT_EQ(j["bands"], nlohmann::json({"u", "g", "r", "i", "z"}));
  EXPECT_EQ(j["non_finite_pixels"], 0);
  EXPECT_EQ(j["redshift_known"], 600);
  EXPECT_GT(j["band_stats"]["r"]["max"].get<double>(), j["band_stats"]["r"]["median"].get<double>());
  ASSERT_EQ(j["png"].size(), 5u);  // 4 galaxies + the contact sheet
  for (const auto& png : j["png"]) {
    std::ifstream in(png.get<std::string>(), std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << png;
  }
  CommandResult text = Data({"inspect", File("survey.h5")});
  EXPECT_TRUE(absl::StrContains(text.out, "galaxies    600")) << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "600 known")) << text.out;
}

TEST_F(DataCliTest, SplitIsDeterministicByIdAndLosesNothing) {
  CommandResult r = Data({"split", File("survey.h5"), "--out-dir", File("split"), "--fractions", "0.6,0.2,0.2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<int64_t> all;
  int64_t total = 0;
  for (const char* part : {"train", "val", "test"}) {
    auto reader = DatasetReader::Open(File(absl::StrCat("split/", part, ".h5")));
    ASSERT_TRUE(reader.ok()) << reader.status();
    std::vector<int64_t> ids = *(*reader)->ReadIds();
    total += static_cast<int64_t>(ids.size());
    all.insert(ids.begin(), ids.end());
    EXPECT_GT(ids.size(), 60u) << part;
  }
  EXPECT_EQ(total, 600);
  EXPECT_EQ(all.size(), 600u);
  // The same split again gives the same files' contents.
  CommandResult again = Data({"split", File("survey.h5"), "--out-dir", File("split2"), "--fractions", "0.6,0.2,0.2"});
  ASSERT_EQ(again.exit_code, 0);
  EXPECT_EQ(*(*DatasetReader::Open(File("split/test.h5")))->ReadIds(),
            *(*DatasetReader::Open(File("split2/test.h5")))->ReadIds());
}

TEST_F(DataCliTest, PhotozBaselineReportsMetricsAsJson) {
  CommandResult r = Data({"photoz-baseline", File("survey.h5"), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["method"], "knn-colours");
  EXPECT_GT(j["test_count"].get<int>(), 20);
  EXPECT_LT(j["test"]["sigma_mad"].get<double>(), j["z_spread"].get<double>());
}

TEST_F(DataCliTest, TruncatedFileFailsInOneLineNamingTheFileAndWritesNothing) {
  fs::copy_file(File("survey.h5"), File("cut.h5"));
  fs::resize_file(File("cut.h5"), fs::file_size(File("cut.h5")) / 3);
  CommandResult inspect = Data({"inspect", File("cut.h5")});
  EXPECT_EQ(inspect.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(inspect.err, "galaxy-data inspect: error: " + File("cut.h5"))) << inspect.err;
  EXPECT_EQ(std::count(inspect.err.begin(), inspect.err.end(), '\n'), 1) << inspect.err;
  CommandResult split = Data({"split", File("cut.h5"), "--out-dir", File("cut_split")});
  EXPECT_EQ(split.exit_code, 1);
  EXPECT_FALSE(fs::exists(File("cut_split/train.h5")));
}

TEST_F(DataCliTest, SynthRefusesBadOptionsWithoutWriting) {
  CommandResult r = Data({"synth", "--out", File("bad.h5"), "--count", "10", "--size", "4"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "--size")) << r.err;
  EXPECT_EQ(FilesContaining("bad.h5"), 0);
}

TEST_F(DataCliTest, IngestOfAnHdf5FileTakesItsImagesAndEveryColumn) {
  // Our own layout is one HDF5 layout among others: a copy holds the same galaxies.
  CommandResult r = Data({"ingest", File("survey.h5"), "--out", File("copy.h5")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "600 galaxies (hdf5)")) << r.out;
  absl::StatusOr<std::unique_ptr<DatasetReader>> original = DatasetReader::Open(File("survey.h5"));
  absl::StatusOr<std::unique_ptr<DatasetReader>> copy = DatasetReader::Open(File("copy.h5"));
  ASSERT_TRUE(original.ok() && copy.ok()) << original.status() << copy.status();
  GalaxyBatch a, b;
  ASSERT_TRUE((*original)->Read(590, 10, &a).ok());
  ASSERT_TRUE((*copy)->Read(590, 10, &b).ok());
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.images, b.images);
  EXPECT_EQ(a.redshift, b.redshift);
  EXPECT_EQ(a.e_bv, b.e_bv);
  ASSERT_TRUE(b.extra.count("type")) << "extra columns come along";
  for (size_t i = 0; i < a.ids.size(); ++i) EXPECT_EQ(a.extra.at("type")[i], b.extra.at("type")[i]);

  CommandResult ambiguous = Data({"ingest", File("survey.h5"), "--out", File("refused.h5"), "--images-key", "ra"});
  EXPECT_EQ(ambiguous.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(ambiguous.err, "--images-key 'ra'")) << ambiguous.err;
  EXPECT_EQ(FilesContaining("refused.h5"), 0);
}

TEST_F(DataCliTest, IngestOfAMissingFileSaysSo) {
  CommandResult r = Data({"ingest", File("nope.npz"), "--out", File("x.h5")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, File("nope.npz"))) << r.err;
  EXPECT_EQ(FilesContaining("x.h5"), 0);
}

}  // namespace
}  // namespace galaxy
