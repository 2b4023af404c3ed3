#include "tests/serving_fixture.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "core/file_util.h"
#include "data/galaxy_batch.h"
#include "data/hdf5_dataset.h"
#include "data/sim/synth_survey.h"
#include "indexer/snapshot_builder.h"
#include "trainer/pretrain.h"
#include "trainer/redshift_training.h"
#include "trainer/train_options.h"
#include "tests/fixture_dir.h"

namespace fs = std::filesystem;

namespace galaxy::testutil {
namespace {

// Publishes `tmp` as `dir` by rename; when another process got there first, uses its copy.
void PublishOrDrop(const fs::path& tmp, const fs::path& dir) {
  std::error_code ec;
  fs::rename(tmp, dir, ec);
  if (ec) RemoveTree(tmp).IgnoreError();
}

}  // namespace

const ServingFixture& SharedServingFixture() {
  static const ServingFixture* fixture = [] {
    const fs::path dir = testutil::FixtureDir("galaxy-serving-fixture", GALAXY_FIXTURE_INPUTS);
    auto* f = new ServingFixture{(dir / "data/survey.h5").string(), (dir / "data/finetuned/model.pt").string(),
                                 (dir / "snapshots").string()};
    if (fs::exists(dir / "snapshots/v2/manifest.json")) return f;
    const std::string pid = std::to_string(::getpid());
    if (!fs::exists(f->model)) {
      const fs::path tmp = dir / (".data-" + pid);
      RemoveTree(tmp).IgnoreError();
      fs::create_directories(tmp);
      const std::string survey = (tmp / "survey.h5").string();
      SynthOptions o;
      o.count = kServingGalaxies;
      o.seed = 33;
      EXPECT_TRUE(WriteSyntheticSurvey(o, survey, 0).ok());
      PretrainOptions p;
      p.data_path = survey;
      p.out_dir = (tmp / "pretrained").string();
      p.arch = "tiny";
      p.stem = "torchvision";
      p.steps = 30;
      p.batch = 64;
      p.queue = 512;
      p.device = "cpu";
      p.threads = 2;
      absl::StatusOr<PretrainResult> pre = RunPretrain(p);
      EXPECT_TRUE(pre.ok()) << pre.status();
      FinetuneOptions ft;
      ft.data_path = survey;
      ft.init_path = pre->model;
      ft.out_dir = (tmp / "finetuned").string();
      ft.steps = 20;
      ft.batch = 64;
      ft.device = "cpu";
      ft.threads = 2;
      absl::StatusOr<RedshiftTrainResult> tuned = RunRedshiftTraining(ft);
      EXPECT_TRUE(tuned.ok()) << tuned.status();
      PublishOrDrop(tmp, dir / "data");
    }
    // Snapshots of the survey at its final path.
    const fs::path tmp = dir / (".snapshots-" + pid);
    RemoveTree(tmp).IgnoreError();
    for (const char* kind : {"flat", "hnsw"}) {
      BuildOptions b;
      b.data_path = f->survey;
      b.model_path = f->model;
      b.snapshots_dir = tmp.string();
      b.index.kind = *ParseIndexKind(kind);
      b.device = "cpu";
      b.version = std::string(kind) == "flat" ? "v1" : "v2";
      b.publish = b.version == "v1";
      absl::StatusOr<BuildReport> built = BuildSnapshot(b);
      EXPECT_TRUE(built.ok()) << built.status();
    }
    PublishOrDrop(tmp, dir / "snapshots");
    return f;
  }();
  return *fixture;
}

v1::Image SurveyImage(int64_t row, int64_t* id) {
  auto reader = *DatasetReader::Open(SharedServingFixture().survey);
  GalaxyBatch batch;
  EXPECT_TRUE(reader->Read(row, 1, &batch).ok());
  const DatasetLayout& l = reader->layout();
  v1::Image image;
  image.set_bands(static_cast<uint32_t>(l.bands));
  image.set_height(static_cast<uint32_t>(l.height));
  image.set_width(static_cast<uint32_t>(l.width));
  image.set_data(std::string(reinterpret_cast<const char*>(batch.images.data()), batch.images.size() * 4));
  image.set_e_bv(batch.e_bv[0]);
  if (id != nullptr) *id = batch.ids[0];
  return image;
}

const std::vector<int64_t>& SurveyIds() {
  static const std::vector<int64_t>* ids =
      new std::vector<int64_t>(*(*DatasetReader::Open(SharedServingFixture().survey))->ReadIds());
  return *ids;
}

}  // namespace galaxy::testutil
