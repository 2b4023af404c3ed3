// How the trainer's runs resume, stop and refuse (CPU, tiny model, fixed seeds): resume is exact,
// the dataset cache notices a rewritten file, a diverging run stops cleanly and keeps its last good
// checkpoint, bad checkpoints are refused clearly; on a GPU, both trainings run there.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "data/hdf5_dataset.h"
#include "data/sim/synth_survey.h"
#include "model/checkpoint.h"
#include "tests/temp_dir.h"
#include "trainer/pending_losses.h"
#include "trainer/pretrain.h"
#include "trainer/redshift_training.h"
#include "trainer/tiny_runs_test_util.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
using testutil::Synth;
using testutil::Tiny;
using testutil::TinyFinetune;

TEST(TrainerResumeTest, ResumeReproducesTheUninterruptedRunsNextLossesExactly) {
  testutil::ScopedTempDir dir;
  const std::string data = Synth(dir, 700, 5);
  PretrainOptions straight = Tiny(data, dir.File("straight"));
  straight.steps = 10;
  straight.checkpoint_every = 5;
  straight.mask_outskirts = 0.5;  // its draws too are repeated from (seed, step)
  straight.photometry_weight = 1;  // its head and its optimizer state come back too
  straight.local_crops = 2;        // multi-crop's draws too
  absl::StatusOr<PretrainResult> a = RunPretrain(straight);
  ASSERT_TRUE(a.ok()) << a.status();

  PretrainOptions split = straight;
  split.out_dir = dir.File("split");
  absl::StatusOr<PretrainResult> first = RunPretrain(split, /*stop_after=*/5);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->steps, 5);
  EXPECT_TRUE(first->model.empty());  // not finished
  split.resume = true;
  absl::StatusOr<PretrainResult> rest = RunPretrain(split);
  ASSERT_TRUE(rest.ok()) << rest.status();
  ASSERT_EQ(rest->losses.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(rest->losses[i], a->losses[5 + i]) << "step " << 5 + i;
  }
  // Resuming with other settings is refused, naming the difference.
  PretrainOptions changed = split;
  changed.batch = 32;
  absl::StatusOr<PretrainResult> refused = RunPretrain(changed);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "batch")) << refused.status();
  EXPECT_TRUE(IsResumeRefusal(refused.status())) << refused.status();
  changed = split;
  changed.mask_outskirts = 0;
  refused = RunPretrain(changed);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "mask_outskirts = 0.5, now 0.0")) << refused.status();
  changed = split;
  changed.photometry_weight = 0;
  refused = RunPretrain(changed);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  // Whichever of the pretext's settings is named first, it is named as missing now.
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "was made with photometry_")) << refused.status();
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "now (unset)")) << refused.status();
  EXPECT_TRUE(IsResumeRefusal(refused.status())) << refused.status();
  changed = split;
  changed.local_crops = 0;
  refused = RunPretrain(changed);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "was made with local_crop")) << refused.status();
  EXPECT_TRUE(IsResumeRefusal(refused.status())) << refused.status();
  // Other failures of a resume are not refusals of the checkpoint, whatever their code or text.
  changed = split;
  changed.data_path = dir.File("missing.h5");
  refused = RunPretrain(changed);
  EXPECT_FALSE(refused.ok());
  EXPECT_FALSE(IsResumeRefusal(refused.status())) << refused.status();
  EXPECT_FALSE(IsResumeRefusal(absl::FailedPreconditionError(split.out_dir + "/checkpoint.pt: --resume: other")));
  // The model keeps the pretext's head (for resuming); the step-0 InfoNCE is the plain run's
  // (MoCo's initialisation does not depend on the pretext), the later ones are not.
  std::unique_ptr<CheckpointReader> reader = CheckpointReader::Open(a->model).value();
  EXPECT_TRUE(absl::StrContains(reader->metadata().training_json, "\"photometry_weight\":1.0"));
  EXPECT_TRUE(absl::StrContains(reader->metadata().training_json, "\"local_crops\":2"));
  torch::nn::Linear head(reader->metadata().feature_dim, 5);
  EXPECT_TRUE(reader->LoadModule(kPhotometryHeadPart, *head).ok());
  PretrainOptions plain = straight;
  plain.out_dir = dir.File("plain");
  plain.photometry_weight = 0;
  absl::StatusOr<PretrainResult> p = RunPretrain(plain);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->losses[0], a->losses[0]);
  EXPECT_NE(p->losses[9], a->losses[9]);
}

void ExpectSameData(const TrainingData& a, const TrainingData& b) {
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.e_bv, b.e_bv));
  EXPECT_TRUE(a.redshift.isnan().equal(b.redshift.isnan()));
  EXPECT_TRUE(torch::equal(a.redshift.nan_to_num(-1), b.redshift.nan_to_num(-1)));
  ASSERT_EQ(a.extra.size(), b.extra.size());
  for (const auto& [name, column] : a.extra) EXPECT_TRUE(torch::equal(column, b.extra.at(name))) << name;
}

TEST(DatasetCacheTest, ServesTheSameRowsFromMemoryAndNoticesARewrittenFile) {
  testutil::ScopedTempDir dir;
  const std::string data = Synth(dir, 300, 5);
  SplitFractions fractions;
  RowSelection val = LabelledPart(SplitPart::kValidation, fractions, 0);
  val.extra_columns = {"type", "no_such_column"};
  RowSelection few = LabelledPart(SplitPart::kTrain, fractions, 0);
  few.label_fraction = 0.2;
  RowSelection all;
  // The reference: straight from the file.
  const TrainingData val_file = LoadTrainingData(data, val).value();
  const TrainingData few_file = LoadTrainingData(data, few).value();
  const TrainingData all_file = LoadTrainingData(data, all).value();
  ASSERT_GT(val_file.size(), 10);
  ASSERT_LT(few_file.size(), all_file.size());
  EXPECT_EQ(val_file.extra.count("type"), 1u);

  const int64_t hits = ScopedDatasetCache::Hits();
  {
    const ScopedDatasetCache cache;
    ExpectSameData(LoadTrainingData(data, val).value(), val_file);  // fills the cache
    EXPECT_EQ(ScopedDatasetCache::Hits(), hits);
    ExpectSameData(LoadTrainingData(data, few).value(), few_file);
    ExpectSameData(LoadTrainingData(data, all).value(), all_file);
    ExpectSameData(LoadTrainingData(data, val).value(), val_file);
    EXPECT_EQ(ScopedDatasetCache::Hits(), hits + 3);
    // A part is a copy of its own: changing it leaves the cache as it was. Every row shares the
    // cache's images instead of copying them.
    TrainingData part = LoadTrainingData(data, few).value();
    part.images.mul_(0);
    ExpectSameData(LoadTrainingData(data, few).value(), few_file);
    EXPECT_EQ(LoadTrainingData(data, all).value().images.data_ptr(), LoadTrainingData(data, all).value().images.data_ptr());
    EXPECT_NE(LoadTrainingData(data, few).value().images.data_ptr(), LoadTrainingData(data, few).value().images.data_ptr());
    // The same bad selections as without the cache.
    RowSelection none = few;
    none.label_fraction = 1e-9;
    const absl::StatusOr<TrainingData> empty = LoadTrainingData(data, none);
    EXPECT_EQ(empty.status().code(), absl::StatusCode::kFailedPrecondition) << empty.status();
    const absl::StatusOr<TrainingData> big = LoadTrainingData(data, all, /*max_bytes=*/1000);
    EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted) << big.status();

    // Another survey written over the file: the cache notices and reads the new one.
    const std::string other = dir.File("other.h5");
    SynthOptions o;
    o.count = 200;
    o.seed = 6;
    ASSERT_TRUE(WriteSyntheticSurvey(o, other, 0).ok());
    fs::rename(other, data);
    const int64_t before = ScopedDatasetCache::Hits();
    const TrainingData rewritten = LoadTrainingData(data, all).value();
    EXPECT_EQ(rewritten.size(), 200);
    EXPECT_EQ(ScopedDatasetCache::Hits(), before);
  }
  // Without a live cache every load reads the file again.
  const int64_t after = ScopedDatasetCache::Hits();
  EXPECT_EQ(LoadTrainingData(data, all).value().size(), 200);
  EXPECT_EQ(ScopedDatasetCache::Hits(), after);
}

TEST(PendingLossesTest, ReadsBackInStepOrderAndStopsAtTheFirstNonFiniteLoss) {
  PendingLosses pending;
  std::vector<double> values = {0.5};
  EXPECT_FALSE(pending.ReadInto(&values).has_value());  // nothing pending: nothing read
  for (int64_t step = 7; step < 12; ++step) {
    pending.Add(step, torch::tensor(step == 9 ? NAN : 1.0 * step));
  }
  const std::optional<PendingLosses::NonFinite> bad = pending.ReadInto(&values);
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->step, 9);
  EXPECT_TRUE(std::isnan(bad->value));
  EXPECT_EQ(values, (std::vector<double>{0.5, 7, 8}));  // those after the bad one are dropped
  EXPECT_TRUE(pending.empty());
  pending.Add(12, torch::tensor(2.5f));
  EXPECT_FALSE(pending.ReadInto(&values).has_value());
  EXPECT_EQ(values.back(), 2.5);
}

// Both ways of reading the loss back: each step before its backward pass (the CPU's), and every
// few steps (a GPU's), where the weights of a diverged step exist but must never be saved.
TEST(TrainerFailureTest, DivergingLossStopsAndKeepsTheLastGoodCheckpoint) {
  testutil::ScopedTempDir dir;
  const std::string data = Synth(dir, 400, 8);
  for (const int readback : {1, 4}) {
    SCOPED_TRACE(absl::StrCat("loss read back every ", readback, " steps"));
    const std::string out = dir.File(absl::StrCat("nan", readback));
    PretrainOptions o = Tiny(data, out);
    o.steps = 40;
    o.lr_per_256 = 1e7;
    o.checkpoint_every = readback == 1 ? 1 : 3;
    o.loss_readback_every = readback;
    absl::StatusOr<PretrainResult> r = RunPretrain(o);
    ASSERT_EQ(r.status().code(), absl::StatusCode::kAborted) << r.status();
    const std::string message(r.status().message());
    EXPECT_TRUE(absl::StrContains(message, "loss became")) << message;
    int bad_step = 0;
    ASSERT_TRUE(absl::SimpleAtoi(message.substr(message.find("in step ") + 8, message.find(';') - message.find("in step ") - 8),
                                 &bad_step))
        << message;
    if (!fs::exists(out + "/checkpoint.pt")) {
      // It diverged before the first checkpoint: the message says there is none.
      EXPECT_TRUE(absl::StrContains(message, "No checkpoint had been written yet")) << message;
      EXPECT_LE(bad_step, o.checkpoint_every) << message;
      continue;
    }
    EXPECT_TRUE(absl::StrContains(message, "last good checkpoint")) << message;
    // The checkpoint on disk is a complete, loadable, finite one, from before the bad step.
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(out + "/checkpoint.pt");
    ASSERT_TRUE(reader.ok()) << reader.status();
    EXPECT_LT((*reader)->metadata().step, bad_step) << message;
    absl::StatusOr<GalaxyNet> net = LoadGalaxyNet(out + "/checkpoint.pt", torch::kCPU);
    ASSERT_TRUE(net.ok()) << net.status();
    for (const torch::Tensor& p : net->backbone->parameters()) {
      EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
    }
  }
}

TEST(TrainerFailureTest, CorruptAndMismatchedCheckpointsAreRefusedClearly) {
  testutil::ScopedTempDir dir;
  const std::string data = Synth(dir, 300, 9);
  PretrainOptions o = Tiny(data, dir.File("ok"));
  o.steps = 2;
  ASSERT_TRUE(RunPretrain(o).ok());
  const std::string good = dir.File("ok/model.pt");
  // Truncated.
  fs::copy_file(good, dir.File("cut.pt"));
  fs::resize_file(dir.File("cut.pt"), fs::file_size(good) / 2);
  absl::StatusOr<GalaxyNet> cut = LoadGalaxyNet(dir.File("cut.pt"), torch::kCPU);
  EXPECT_EQ(cut.status().code(), absl::StatusCode::kDataLoss) << cut.status();
  EXPECT_TRUE(absl::StrContains(cut.status().message(), dir.File("cut.pt"))) << cut.status();
  // Not a checkpoint at all.
  std::ofstream(dir.File("junk.pt")) << "junk";
  EXPECT_EQ(LoadGalaxyNet(dir.File("junk.pt"), torch::kCPU).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(LoadGalaxyNet(dir.File("missing.pt"), torch::kCPU).status().code(), absl::StatusCode::kNotFound);
  // A 3-band dataset cannot fine-tune a 5-band model.
  SynthOptions three;
  three.count = 200;
  DatasetLayout layout = SyntheticLayout(three);
  layout.bands = 3;
  layout.band_names = {"g", "r", "i"};
  {
    SurveyModel model(three);
    GalaxyBatch batch;
    SynthesizeBatch(model, 0, 200, 2, &batch);
    GalaxyBatch cut_bands;
    cut_bands.Resize(layout, 200);
    for (int64_t i = 0; i < 200; ++i) {
      for (int b = 0; b < 3; ++b) {
        std::copy_n(batch.images.begin() + (i * 5 + b + 1) * 4096, 4096, cut_bands.images.begin() + (i * 3 + b) * 4096);
      }
    }
    cut_bands.ids = batch.ids;
    cut_bands.ra = batch.ra;
    cut_bands.dec = batch.dec;
    cut_bands.e_bv = batch.e_bv;
    cut_bands.redshift = batch.redshift;
    cut_bands.extra = batch.extra;
    auto writer = DatasetWriter::Create(dir.File("three.h5"), layout);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(cut_bands).ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  FinetuneOptions f;
  f.data_path = dir.File("three.h5");
  f.init_path = good;
  f.out_dir = dir.File("f");
  f.steps = 1;
  f.device = "cpu";
  absl::StatusOr<RedshiftTrainResult> mismatch = RunRedshiftTraining(f);
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument) << mismatch.status();
  EXPECT_TRUE(absl::StrContains(mismatch.status().message(), "bands")) << mismatch.status();
  // A model without a redshift head cannot be evaluated for redshift.
  EvalOptions eval;
  eval.data_path = data;
  eval.model_path = good;
  eval.device = "cpu";
  EXPECT_EQ(RunEval(eval).status().code(), absl::StatusCode::kFailedPrecondition);
}

// The GPU path end to end (run by bench/gpu_check.sh on the GPU machine; skipped elsewhere):
// pretraining and fine-tuning with the data resident on the GPU, bf16 autocast, channels-last,
// the device-side augmentation and losses read back only now and then.
TEST(TrainerCudaTest, PretrainAndFinetuneRunOnTheGpuAndTheirModelsLoadOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  testutil::ScopedTempDir dir;
  const std::string data = Synth(dir, 1200, 13);
  PretrainOptions pretrain = Tiny(data, dir.File("pretrain"));
  pretrain.device = "cuda";
  pretrain.steps = 25;
  pretrain.checkpoint_every = 10;
  absl::StatusOr<PretrainResult> pre = RunPretrain(pretrain);
  ASSERT_TRUE(pre.ok()) << pre.status();
  ASSERT_EQ(pre->losses.size(), 25u);  // every loss read back, though not every step
  for (double loss : pre->losses) EXPECT_TRUE(std::isfinite(loss));
  FinetuneOptions finetune = TinyFinetune(data, pre->model, dir.File("finetune"));
  finetune.steps = 30;
  finetune.device = "cuda";
  absl::StatusOr<RedshiftTrainResult> tuned = RunRedshiftTraining(finetune);
  ASSERT_TRUE(tuned.ok()) << tuned.status();
  EXPECT_EQ(tuned->steps, 30);
  EXPECT_TRUE(std::isfinite(tuned->best_validation_sigma_mad));
  absl::StatusOr<GalaxyNet> net = LoadGalaxyNet(tuned->model, torch::kCPU);
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_TRUE(net->metadata.has_redshift_head);
}

}  // namespace
}  // namespace galaxy
