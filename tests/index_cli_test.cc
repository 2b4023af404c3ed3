// galaxy-index through the binary: build, info, verify, export, list-anomalies, anomaly-auc; and
// crash safety: a build killed with SIGKILL in any of its phases never disturbs the published
// snapshot, and the next build succeeds and removes the debris.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"
#include "nlohmann/json.hpp"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
using testutil::CommandResult;

CommandResult Tool(const std::string& binary, std::vector<std::string> args) {
  args.insert(args.begin(), testutil::BinDir() + "/" + binary);
  absl::StatusOr<CommandResult> r = testutil::RunCommand(args, absl::Seconds(600));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

// A survey and an untrained tiny model (weights from a 1-step pretraining): enough to index.
struct Inputs {
  std::string survey, model;
};
Inputs MakeInputs(const testutil::ScopedTempDir& dir, int count) {
  Inputs in{dir.File("survey.h5"), dir.File("moco/model.pt")};
  EXPECT_EQ(Tool("galaxy-data", {"synth", "--out", in.survey, "--count", std::to_string(count), "--seed", "12"}).exit_code, 0);
  CommandResult p = Tool("galaxy-train", {"pretrain", "--data", in.survey, "--out", dir.File("moco"), "--arch", "tiny",
                                          "--stem", "torchvision", "--steps", "1", "--batch", "32", "--queue", "256",
                                          "--device", "cpu"});
  EXPECT_EQ(p.exit_code, 0) << p.err;
  return in;
}

TEST(IndexCliTest, BuildThenInspectVerifyExportAndListAnomalies) {
  testutil::ScopedTempDir dir;
  Inputs in = MakeInputs(dir, 800);
  const std::string snaps = dir.File("snaps");
  CommandResult b = Tool("galaxy-index", {"build", "--data", in.survey, "--model", in.model, "--out", snaps,
                                          "--index", "hnsw", "--device", "cpu", "--version-name", "v1"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_TRUE(absl::StrContains(b.out, "snapshot v1: 800 galaxies, hnsw index")) << b.out;
  CommandResult info = Tool("galaxy-index", {"info", snaps, "--json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  nlohmann::json manifest = nlohmann::json::parse(info.out);
  EXPECT_EQ(manifest["count"], 800);
  EXPECT_EQ(manifest["index"]["kind"], "hnsw");
  EXPECT_GE(manifest["measured_recall_at_10"].get<double>(), 0.95);
  EXPECT_TRUE(manifest["files"].contains("index.faiss"));
  CommandResult verify = Tool("galaxy-index", {"verify", snaps});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_TRUE(absl::StrContains(verify.out, "OK")) << verify.out;

  CommandResult exp = Tool("galaxy-index", {"export", snaps, "--npy", dir.File("npy")});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_EQ(fs::file_size(dir.File("npy/embeddings.npy")), 128u + 800u * 128u * 4u);
  EXPECT_EQ(fs::file_size(dir.File("npy/ids.npy")), 128u + 800u * 8u);
  // The same as one table, HDF5 and FITS, which astropy opens with its units and pandas takes
  // (Debian's python3-astropy and python3-pandas): the rows and embeddings of the .npy files.
  for (const std::string table : {"galaxies.h5", "galaxies.fits"}) {
    CommandResult t = Tool("galaxy-index", {"export", snaps, "--out", dir.File(table)});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_TRUE(absl::StrContains(t.out, "800 galaxies")) << t.out;
    absl::StatusOr<CommandResult> py = testutil::RunCommand(
        {"/usr/bin/python3", "-c",
         "import sys, numpy as np\n"
         "from astropy.table import Table\n"
         "t = Table.read(sys.argv[1])\n"
         "ids, emb = np.load(sys.argv[2] + '/ids.npy'), np.load(sys.argv[2] + '/embeddings.npy')\n"
         "frame = t[[c for c in t.colnames if c != 'embedding']].to_pandas()\n"
         "print(len(t), t['ra'].unit, t['embedding'].shape, bool((t['id'] == ids).all()),\n"
         "      bool(np.array_equal(np.asarray(t['embedding']), emb)), frame['dec'].between(-90, 90).all(),\n"
         "      int(frame['specz'].notna().sum()) > 0)\n",
         dir.File(table), dir.File("npy")},
        absl::Seconds(120));
    ASSERT_TRUE(py.ok()) << py.status();
    EXPECT_EQ(py->exit_code, 0) << py->err;
    EXPECT_EQ(py->out, "800 deg (800, 128) True True True True\n") << table << ": " << py->err;
  }
  CommandResult no_output = Tool("galaxy-index", {"export", snaps});
  EXPECT_EQ(no_output.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_output.err, "give --npy DIR, --out FILE or both")) << no_output.err;
  CommandResult bad_extension = Tool("galaxy-index", {"export", snaps, "--out", dir.File("galaxies.csv")});
  EXPECT_TRUE(absl::StrContains(bad_extension.err, "expected a .h5, .hdf5, .fits or .fit file")) << bad_extension.err;
  EXPECT_FALSE(fs::exists(dir.File("galaxies.csv")));

  CommandResult top = Tool("galaxy-index", {"list-anomalies", snaps, "--top", "5", "--json"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  nlohmann::json list = nlohmann::json::parse(top.out);
  ASSERT_EQ(list.size(), 5u);
  EXPECT_GE(list[0]["anomaly_score"].get<double>(), list[4]["anomaly_score"].get<double>());
  CommandResult auc = Tool("galaxy-index", {"anomaly-auc", snaps, "--data", in.survey, "--json"});
  ASSERT_EQ(auc.exit_code, 0) << auc.err;
  EXPECT_EQ(nlohmann::json::parse(auc.out)["positives"], 8);

  // Corrupt a file: verify names it and exits 1.
  {
    std::fstream f(snaps + "/v1/anomaly_scores.npy", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(200);
    f.put('\x7f');
  }
  CommandResult bad = Tool("galaxy-index", {"verify", snaps});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "anomaly_scores.npy")) << bad.err;
}

TEST(IndexCrashTest, KilledBuildsLeaveThePublishedSnapshotServingAndTheNextBuildSucceeds) {
  testutil::ScopedTempDir dir;
  Inputs in = MakeInputs(dir, 3000);
  const std::string snaps = dir.File("snaps");
  ASSERT_EQ(Tool("galaxy-index", {"build", "--data", in.survey, "--model", in.model, "--out", snaps, "--device", "cpu",
                                  "--version-name", "old"}).exit_code, 0);
  // Each build is killed at a chosen point: at once, or as soon as it reports a phase finished
  // (events in its log, not lengths of time), so the kills land in every later phase, up to the
  // writing of the files and the renames. A kill can land after the build renamed CURRENT
  // (while it removed debris or exited): then that snapshot is complete and published, and
  // CURRENT must name it.
  const std::vector<std::string> kill_after = {"",
                                               "embedding: 3000 galaxies in",
                                               "indexing: 3000 galaxies in",
                                               "scoring anomalies: 3000 galaxies in",
                                               "writing anomaly scores: 3000 galaxies in",
                                               "measuring recall: 1 galaxies in"};
  std::string expected_current = "old";
  int killed = 0;
  for (int run = 0; run < static_cast<int>(kill_after.size()); ++run) {
    const std::string version = absl::StrCat("run-", run);
    absl::StatusOr<CommandResult> result = testutil::RunUntilOutput(
        {testutil::BinDir() + "/galaxy-index", "build", "--data", in.survey, "--model", in.model, "--out", snaps,
         "--device", "cpu", "--index", run % 2 ? "hnsw" : "flat", "--version-name", version},
        kill_after[static_cast<size_t>(run)]);
    ASSERT_TRUE(result.ok()) << result.status();
    if (result->exit_code == -SIGKILL) {
      if (*ReadCurrent(snaps) == version) {
        expected_current = version;
      } else {
        ++killed;
      }
    } else {
      ASSERT_EQ(result->exit_code, 0) << "run " << run << " failed on its own: " << result->err;
      expected_current = version;
    }
    // CURRENT still names the last finished snapshot, which opens and answers.
    ASSERT_EQ(*ReadCurrent(snaps), expected_current) << "run " << run;
    auto old = Snapshot::Open(snaps + "/" + expected_current);
    ASSERT_TRUE(old.ok()) << old.status();
    float score;
    int64_t id;
    auto record = (*old)->metadata().ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
      EXPECT_TRUE((*old)->index().Search(r.embedding().data(), 1, 1, &score, &id).ok());
      EXPECT_EQ(id, r.id());
      return absl::CancelledError("one is enough");
    });
    EXPECT_EQ(record.code(), absl::StatusCode::kCancelled);
  }
  // The kills up to the anomaly scores land before any rename, or this test proved nothing.
  EXPECT_GE(killed, 4);
  // The next build succeeds, publishes, and removes the debris of the killed ones.
  CommandResult next = Tool("galaxy-index", {"build", "--data", in.survey, "--model", in.model, "--out", snaps,
                                             "--device", "cpu", "--version-name", "new"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(*ReadCurrent(snaps), "new");
  for (const auto& e : fs::directory_iterator(snaps)) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(absl::StartsWith(name, ".building-")) << "debris left: " << name;
    EXPECT_FALSE(absl::StartsWith(name, "CURRENT.tmp")) << "debris left: " << name;
  }
  EXPECT_EQ(Tool("galaxy-index", {"verify", snaps}).exit_code, 0);
}

TEST(IndexCliTest, BadInputIsOneClearLineAndNothingIsPublished) {
  testutil::ScopedTempDir dir;
  CommandResult r = Tool("galaxy-index", {"build", "--data", dir.File("none.h5"), "--model", dir.File("none.pt"),
                                          "--out", dir.File("snaps")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, "galaxy-index build: error: " + dir.File("none.h5") + ": no such dataset")) << r.err;
  EXPECT_FALSE(fs::exists(dir.File("snaps/CURRENT")));
  CommandResult kind = Tool("galaxy-index", {"build", "--data", "x", "--model", "y", "--out", "z", "--index", "lsh"});
  EXPECT_EQ(kind.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(kind.err, "--index: unknown 'lsh'")) << kind.err;
}

}  // namespace
}  // namespace galaxy
