#include "trainer/train_options.h"

#include <cmath>

#include <gtest/gtest.h>

namespace galaxy {
namespace {

PretrainOptions Valid() {
  PretrainOptions options;
  options.data_path = "survey.h5";
  options.out_dir = "run";
  return options;
}

TEST(PretrainOptionsTest, DefaultsFollowTheMocoV2Recipe) {
  PretrainOptions options = Valid();
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_EQ(options.queue, 65536);
  EXPECT_DOUBLE_EQ(options.momentum, 0.999);
  EXPECT_DOUBLE_EQ(options.temperature, 0.2);
  EXPECT_DOUBLE_EQ(options.lr_per_256, 0.03);
  EXPECT_EQ(options.arch, "resnet50");
  EXPECT_EQ(options.stem, "paper");
}

TEST(PretrainOptionsTest, QueueMustBeAMultipleOfTheBatch) {
  PretrainOptions options = Valid();
  options.batch = 256;
  options.queue = 1000;
  absl::Status status = options.Validate();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--queue"), std::string::npos) << status;
}

TEST(PretrainOptionsTest, BatchNormSplitsMustDivideTheBatchAndDustIsNamed) {
  PretrainOptions options = Valid();
  EXPECT_EQ(options.bn_splits, 4);
  EXPECT_EQ(options.dust, "survey");
  options.batch = 30;
  options.queue = 300;
  options.bn_splits = 4;
  EXPECT_NE(options.Validate().message().find("--bn-splits: 4 must divide --batch 30"), std::string::npos);
  options.bn_splits = 1;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.dust = "wide";
  EXPECT_NE(options.Validate().message().find("--dust: unknown 'wide'"), std::string::npos);
  options.dust = "survey";
  EXPECT_EQ(options.precision, "bf16");
  options.precision = "fp32";
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.precision = "fp16";
  EXPECT_NE(options.Validate().message().find("--precision: 'fp16' is not bf16 or fp32"), std::string::npos);
  options.precision = "bf16";
  options.arch = "small";
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.arch = "medium";
  EXPECT_NE(options.Validate().message().find("--arch: unknown 'medium' (expected resnet50, resnet18, small or tiny)"),
            std::string::npos)
      << options.Validate();
}

TEST(PretrainOptionsTest, AugmentationRangesAreCheckedByName) {
  PretrainOptions options = Valid();
  EXPECT_DOUBLE_EQ(options.scale_jitter, 0.1);
  options.scale_jitter = 0;
  options.max_blur = 0;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.scale_jitter = 0.7;
  EXPECT_NE(options.Validate().message().find("--scale-jitter: 0.7 is outside [0, 0.5]"), std::string::npos);
  options.scale_jitter = 0.1;
  options.max_blur = -1;
  EXPECT_NE(options.Validate().message().find("--max-blur: -1"), std::string::npos);
  options.max_blur = 1;
  options.max_noise = 0;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.max_noise = -0.5;
  EXPECT_NE(options.Validate().message().find("--max-noise: -0.5 is outside [0, 5]"), std::string::npos);
  options.max_noise = 1;
  EXPECT_DOUBLE_EQ(options.mask_outskirts, 0);
  options.mask_outskirts = 1.5;
  EXPECT_NE(options.Validate().message().find("--mask-outskirts: 1.5 is outside [0, 1]"), std::string::npos);
  options.mask_outskirts = 0.5;
  options.outskirt_radius = 0;
  EXPECT_NE(options.Validate().message().find("--outskirt-radius: 0 is outside [1, 256] px"), std::string::npos);
  options.outskirt_radius = 12;
  EXPECT_DOUBLE_EQ(options.photometry_weight, 0);
  options.photometry_weight = -1;
  EXPECT_NE(options.Validate().message().find("--photometry-weight: -1 is outside [0, 100]"), std::string::npos);
  options.photometry_weight = 1;
  options.photometry_radii = {1.5, 0};
  EXPECT_NE(options.Validate().message().find("--photometry-radii: 0 is outside (0, 20] arcsec"), std::string::npos);
  options.photometry_radii = {};
  EXPECT_NE(options.Validate().message().find("--photometry-radii: none given"), std::string::npos);
  options.photometry_radii = {1.5, 3, 6};
  EXPECT_EQ(options.local_crops, 0);
  options.local_crops = 9;
  EXPECT_NE(options.Validate().message().find("--local-crops: 9 is outside [0, 8]"), std::string::npos);
  options.local_crops = 2;
  options.local_crop = 64;
  EXPECT_NE(options.Validate().message().find("--local-crop: 64 px is outside [16, 64)"), std::string::npos);
  options.local_crop = 32;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
}

TEST(FinetuneOptionsTest, BandNoiseMustBePositive) {
  FinetuneOptions options;
  options.data_path = "survey.h5";
  options.out_dir = "run";
  options.band_noise = {0.01, 0.02};
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.band_noise = {0.01, 0};
  EXPECT_NE(options.Validate().message().find("band noise: 0 is not a positive number"), std::string::npos);
}

TEST(PretrainOptionsTest, RejectsUnknownArchAndStemByName) {
  PretrainOptions options = Valid();
  options.arch = "vit";
  EXPECT_NE(options.Validate().message().find("--arch: unknown 'vit'"), std::string::npos);
  options = Valid();
  options.stem = "fancy";
  EXPECT_NE(options.Validate().message().find("--stem"), std::string::npos);
  options = Valid();
  EXPECT_EQ(options.input_stretch, "asinh");
  options.input_stretch = "log";
  EXPECT_NE(options.Validate().message().find("--input-stretch: unknown 'log'"), std::string::npos);
  options.input_stretch = "linear";
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
}

TEST(PretrainOptionsTest, RejectsOutOfRangeNumbers) {
  PretrainOptions options = Valid();
  options.momentum = 1.0;
  EXPECT_FALSE(options.Validate().ok());
  options = Valid();
  options.temperature = 0;
  EXPECT_FALSE(options.Validate().ok());
  options = Valid();
  options.epochs = 0;
  EXPECT_FALSE(options.Validate().ok());
  options.steps = 10;  // steps instead of epochs
  EXPECT_TRUE(options.Validate().ok());
  options = Valid();
  options.data_path.clear();
  EXPECT_NE(options.Validate().message().find("--data"), std::string::npos);
}

// Valid options of a 100-step fine-tuning run.
FinetuneOptions FineTuning100Steps() {
  FinetuneOptions options;
  options.data_path = "d.h5";
  options.out_dir = "out";
  options.init_path = "pretrained.pt";
  options.steps = 100;
  return options;
}

TEST(FinetuneOptionsTest, KeptContrastiveLossIsForFineTuningWithoutATeacher) {
  FinetuneOptions options = FineTuning100Steps();
  EXPECT_EQ(options.ssl_weight, 0);
  options.ssl_weight = 1;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.ssl_weight = -0.5;
  EXPECT_EQ(options.Validate().message(), "--ssl-weight: -0.5 is outside [0, 100]");
  options.ssl_weight = std::nan("");
  EXPECT_EQ(options.Validate().message(), "--ssl-weight: nan is outside [0, 100]");
  options.ssl_weight = 1;
  options.teacher_path = "teacher.pt";
  EXPECT_EQ(options.Validate().message(),
            "--ssl-weight and --teacher: one way of using the unlabelled galaxies at a time");
  options.teacher_path.clear();
  options.init_path.clear();
  EXPECT_EQ(options.Validate().message(), "--ssl-weight: only when fine-tuning a pretrained network (--init)");
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

TEST(FinetuneOptionsTest, BackboneRateFactorIsOneByDefaultAndBounded) {
  FinetuneOptions options;
  options.data_path = "d.h5";
  options.out_dir = "out";
  EXPECT_DOUBLE_EQ(options.backbone_lr_factor, 1.0);
  EXPECT_TRUE(options.head_norm);
  EXPECT_EQ(options.input_stretch, "asinh");
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.input_stretch = "sqrt";
  EXPECT_NE(options.Validate().message().find("--input-stretch: unknown 'sqrt'"), std::string::npos);
  options.input_stretch = "asinh";
  options.backbone_lr_factor = 0;
  EXPECT_NE(options.Validate().message().find("--backbone-lr-factor: 0 is outside (0, 10]"), std::string::npos)
      << options.Validate();
}

TEST(FinetuneOptionsTest, HeadWarmupIsForFineTuningAndFitsInTheRun) {
  FinetuneOptions options = FineTuning100Steps();
  EXPECT_EQ(options.head_warmup_steps, 0);
  options.head_warmup_steps = 100;  // all of them: the backbone stays frozen
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  options.head_warmup_steps = 101;
  EXPECT_EQ(options.Validate().message(), "--head-warmup-steps: 101 is outside 0..100 (the run's steps)");
  options.head_warmup_steps = -1;
  EXPECT_EQ(options.Validate().message(), "--head-warmup-steps: -1 < 0");
  // With --epochs the steps are not known yet: only the sign is checked here.
  options.steps = 0;
  options.head_warmup_steps = 5000;
  EXPECT_TRUE(options.Validate().ok()) << options.Validate();
  // The supervised network has no pretrained backbone to keep.
  options.init_path.clear();
  EXPECT_EQ(options.Validate().message(), "--head-warmup-steps: only when fine-tuning a pretrained network (--init)");
  EXPECT_TRUE(ValidateHeadWarmup(0, 1).ok());
  EXPECT_FALSE(ValidateHeadWarmup(2, 1).ok());
}

}  // namespace
}  // namespace galaxy
