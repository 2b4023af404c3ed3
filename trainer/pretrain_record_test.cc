#include "trainer/pretrain_record.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "model/model_metadata.h"
#include "trainer/pretrain.h"

namespace galaxy {
namespace {

PretrainOptions Recipe() {
  PretrainOptions o;
  o.arch = "tiny";
  o.stem = "paper";
  o.queue = 4096;
  o.batch = 128;
  o.momentum = 0.99;
  o.temperature = 0.1;
  o.seed = 3;
  return o;
}

// The metadata a run with `o` writes (the parts CheckResumable reads).
ModelMetadata MetadataOf(const PretrainOptions& o) {
  ModelMetadata m;
  m.kind = "moco";
  m.arch = o.arch;
  m.stem = o.stem;
  m.seed = o.seed;
  m.data_path = "survey.h5";
  m.data_checksum = "abc";
  m.training_json = PretrainingRecord(o, 2000, 50000);
  return m;
}

// The refusal of resuming a checkpoint made with `then` by a run with `now`; fails the test when
// the resume is allowed or refused otherwise.
std::string Refusal(const ModelMetadata& then, const PretrainOptions& now) {
  const absl::Status status = CheckResumable(then, MetadataOf(now), "run/checkpoint.pt");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(IsResumeRefusal(status)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "run/checkpoint.pt")) << status;
  return std::string(status.message());
}

TEST(PretrainRecordTest, TheSameRunResumesAndEveryDifferenceIsRefusedByName) {
  const PretrainOptions o = Recipe();
  EXPECT_TRUE(CheckResumable(MetadataOf(o), MetadataOf(o), "run/checkpoint.pt").ok());
  // Settings outside the record (threads, where to write) do not matter.
  PretrainOptions elsewhere = o;
  elsewhere.threads = 7;
  elsewhere.out_dir = "other";
  EXPECT_TRUE(CheckResumable(MetadataOf(o), MetadataOf(elsewhere), "run/checkpoint.pt").ok());

  PretrainOptions warmer = o;
  warmer.temperature = 0.2;
  EXPECT_TRUE(absl::StrContains(Refusal(MetadataOf(o), warmer), "temperature = 0.1, now 0.2"));
  // A setting recorded only when used is refused both ways: added, and removed.
  PretrainOptions pretext = o;
  pretext.photometry_weight = 5;
  EXPECT_TRUE(absl::StrContains(Refusal(MetadataOf(o), pretext), "photometry_radii = (unset)"));
  EXPECT_TRUE(absl::StrContains(Refusal(MetadataOf(pretext), o), ", now (unset)"));
  PretrainOptions local = o;
  local.local_crops = 2;
  EXPECT_TRUE(absl::StrContains(Refusal(MetadataOf(o), local), "local_crop"));
  PretrainOptions other_seed = o;
  other_seed.seed = 4;
  EXPECT_TRUE(absl::StrContains(Refusal(MetadataOf(o), other_seed), "tiny/paper seed 3"));

  ModelMetadata finetuned = MetadataOf(o);
  finetuned.kind = "redshift";
  EXPECT_TRUE(absl::StrContains(Refusal(finetuned, o), "is a redshift checkpoint"));
  ModelMetadata other_data = MetadataOf(o);
  other_data.data_checksum = "def";
  EXPECT_TRUE(absl::StrContains(Refusal(other_data, o), "other data (survey.h5)"));
  ModelMetadata unreadable = MetadataOf(o);
  unreadable.training_json = "{\"queue\": 40";
  EXPECT_TRUE(absl::StrContains(Refusal(unreadable, o), "no readable pretraining record"));
}

TEST(PretrainRecordTest, PretrainingOfReadsBackWhatShapesTheViewsAndTheContrast) {
  PretrainOptions o = Recipe();
  o.max_blur = 2;
  o.dust = "uniform";
  o.max_dust = 0.1;
  o.bn_splits = 8;
  o.mask_outskirts = 0.5;
  absl::StatusOr<PretrainOptions> read = PretrainingOf(PretrainingRecord(o, 2000, 50000));
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->queue, 4096);
  EXPECT_EQ(read->batch, 128);
  EXPECT_DOUBLE_EQ(read->momentum, 0.99);
  EXPECT_DOUBLE_EQ(read->temperature, 0.1);
  EXPECT_DOUBLE_EQ(read->max_blur, 2);
  EXPECT_EQ(read->dust, "uniform");
  EXPECT_DOUBLE_EQ(read->max_dust, 0.1);
  EXPECT_EQ(read->bn_splits, 8);
  EXPECT_DOUBLE_EQ(read->mask_outskirts, 0.5);
  EXPECT_EQ(PretrainingOf("{\"batch\": 128}").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PretrainingOf("not json").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PretrainingOf("{\"queue\": \"many\", \"temperature\": 0.1}").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace galaxy
