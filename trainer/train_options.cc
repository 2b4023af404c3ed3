#include "trainer/train_options.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "model/arch.h"

namespace galaxy {

absl::Status ValidateInputStretch(const std::string& stretch) {
  if (stretch == "asinh" || stretch == "linear") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("--input-stretch: unknown '", stretch, "' (expected asinh or linear)"));
}

absl::Status PretrainOptions::Validate() const {
  if (data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (out_dir.empty()) return absl::InvalidArgumentError("--out: required");
  GALAXY_RETURN_IF_ERROR(ValidateArch(arch, "--arch"));
  GALAXY_RETURN_IF_ERROR(ValidateStem(stem, "--stem"));
  GALAXY_RETURN_IF_ERROR(ValidateInputStretch(input_stretch));
  if (steps < 0) return absl::InvalidArgumentError(absl::StrCat("--steps: ", steps, " < 0"));
  if (steps == 0 && epochs <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--epochs: ", epochs, " must be > 0 (or give --steps)"));
  }
  if (batch < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("--batch: ", batch, " must be >= 2 (contrastive pairs need a batch)"));
  }
  if (loss_readback_every < 0) {
    return absl::InvalidArgumentError(absl::StrCat("loss_readback_every: ", loss_readback_every, " < 0"));
  }
  if (queue < batch || queue % batch != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--queue: ", queue, " must be a positive multiple of --batch ", batch));
  }
  if (!(momentum >= 0 && momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--momentum: ", momentum, " is outside [0, 1)"));
  }
  if (!(temperature > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--temperature: ", temperature, " must be > 0"));
  }
  if (!(lr_per_256 > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--lr: ", lr_per_256, " must be > 0"));
  }
  if (!(weight_decay >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--weight-decay: ", weight_decay, " < 0"));
  }
  if (!(photometry_weight >= 0 && photometry_weight <= 100)) {
    return absl::InvalidArgumentError(absl::StrCat("--photometry-weight: ", photometry_weight, " is outside [0, 100]"));
  }
  if (photometry_radii.empty()) return absl::InvalidArgumentError("--photometry-radii: none given");
  for (double r : photometry_radii) {
    if (!(r > 0 && r <= 20)) {
      return absl::InvalidArgumentError(absl::StrCat("--photometry-radii: ", r, " is outside (0, 20] arcsec"));
    }
  }
  if (!(local_crops >= 0 && local_crops <= 8)) {
    return absl::InvalidArgumentError(absl::StrCat("--local-crops: ", local_crops, " is outside [0, 8]"));
  }
  if (!(local_crop >= 16 && local_crop < 64)) {
    return absl::InvalidArgumentError(absl::StrCat("--local-crop: ", local_crop,
                                                   " px is outside [16, 64) (the global views are 64 px)"));
  }
  if (monitor_every < 0) return absl::InvalidArgumentError(absl::StrCat("--monitor-every: ", monitor_every, " < 0"));
  if (dust != "survey" && dust != "uniform" && dust != "none") {
    return absl::InvalidArgumentError(absl::StrCat("--dust: unknown '", dust, "' (expected survey, uniform or none)"));
  }
  if (!(max_dust >= 0 && max_dust <= 2)) {
    return absl::InvalidArgumentError(absl::StrCat("--max-dust: ", max_dust, " is outside [0, 2]"));
  }
  if (!(max_blur >= 0 && max_blur <= 5)) {
    return absl::InvalidArgumentError(absl::StrCat("--max-blur: ", max_blur, " is outside [0, 5] px"));
  }
  if (!(max_noise >= 0 && max_noise <= 5)) {
    return absl::InvalidArgumentError(absl::StrCat("--max-noise: ", max_noise, " is outside [0, 5] (units of the data's noise)"));
  }
  if (!(scale_jitter >= 0 && scale_jitter <= 0.5)) {
    return absl::InvalidArgumentError(absl::StrCat("--scale-jitter: ", scale_jitter, " is outside [0, 0.5]"));
  }
  if (!(mask_outskirts >= 0 && mask_outskirts <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("--mask-outskirts: ", mask_outskirts, " is outside [0, 1]"));
  }
  if (!(outskirt_radius >= 1 && outskirt_radius <= 256)) {
    return absl::InvalidArgumentError(absl::StrCat("--outskirt-radius: ", outskirt_radius, " is outside [1, 256] px"));
  }
  if (bn_splits < 1 || batch % bn_splits != 0 || batch / bn_splits < 2) {
    return absl::InvalidArgumentError(absl::StrCat("--bn-splits: ", bn_splits, " must divide --batch ", batch,
                                                   " into sub-batches of at least 2"));
  }
  if (precision != "bf16" && precision != "fp32") {
    return absl::InvalidArgumentError(absl::StrCat("--precision: '", precision, "' is not bf16 or fp32"));
  }
  return absl::OkStatus();
}

absl::Status ValidateValidationLabels(const std::string& validation_labels) {
  if (validation_labels == "all" || validation_labels == "label-fraction") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--validation-labels: '", validation_labels, "' is not all | label-fraction"));
}

absl::Status FinetuneOptions::Validate() const {
  if (data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (out_dir.empty()) return absl::InvalidArgumentError("--out: required");
  if (!(label_fraction > 0 && label_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--label-fraction: ", label_fraction, " is outside (0, 1]"));
  }
  GALAXY_RETURN_IF_ERROR(ValidateValidationLabels(validation_labels));
  GALAXY_RETURN_IF_ERROR(ValidateInputStretch(input_stretch));
  for (double noise : band_noise) {
    if (!(noise > 0 && std::isfinite(noise))) {
      return absl::InvalidArgumentError(absl::StrCat("band noise: ", noise, " is not a positive number"));
    }
  }
  if (steps < 0 || (steps == 0 && epochs <= 0)) {
    return absl::InvalidArgumentError("--epochs or --steps: must be > 0");
  }
  if (batch < 2) return absl::InvalidArgumentError(absl::StrCat("--batch: ", batch, " < 2"));
  if (!(head_lr > 0)) return absl::InvalidArgumentError(absl::StrCat("--lr: ", head_lr, " <= 0"));
  if (!(backbone_lr_factor > 0 && backbone_lr_factor <= 10)) {
    return absl::InvalidArgumentError(absl::StrCat("--backbone-lr-factor: ", backbone_lr_factor, " is outside (0, 10]"));
  }
  // With --epochs the run's steps are known once the labels are counted; RunRedshiftTraining
  // checks the warm-up against them then.
  if (head_warmup_steps < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--head-warmup-steps: ", head_warmup_steps, " < 0"));
  }
  if (steps > 0) GALAXY_RETURN_IF_ERROR(ValidateHeadWarmup(head_warmup_steps, steps));
  if (head_warmup_steps > 0 && init_path.empty()) {
    return absl::InvalidArgumentError("--head-warmup-steps: only when fine-tuning a pretrained network (--init)");
  }
  if (!(ssl_weight >= 0 && ssl_weight <= 100)) {
    return absl::InvalidArgumentError(absl::StrCat("--ssl-weight: ", ssl_weight, " is outside [0, 100]"));
  }
  if (ssl_weight > 0 && init_path.empty()) {
    return absl::InvalidArgumentError("--ssl-weight: only when fine-tuning a pretrained network (--init)");
  }
  if (ssl_weight > 0 && !teacher_path.empty()) {
    return absl::InvalidArgumentError("--ssl-weight and --teacher: one way of using the unlabelled galaxies at a time");
  }
  if (bins < 2 || bins > 10000) return absl::InvalidArgumentError(absl::StrCat("--bins: ", bins, " is outside 2..10000"));
  if (!(z_max > 0 && z_max <= 10)) return absl::InvalidArgumentError(absl::StrCat("--z-max: ", z_max, " is outside (0, 10]"));
  return absl::OkStatus();
}

absl::Status ValidateHeadWarmup(int64_t warmup_steps, int64_t steps) {
  if (warmup_steps >= 0 && warmup_steps <= steps) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--head-warmup-steps: ", warmup_steps, " is outside 0..", steps, " (the run's steps)"));
}

absl::StatusOr<std::vector<double>> ParseFractionList(const std::string& text, const std::string& flag) {
  std::vector<double> out;
  for (absl::string_view f : absl::StrSplit(text, ',')) {
    double v = 0;
    if (!absl::SimpleAtod(f, &v)) return absl::InvalidArgumentError(absl::StrCat(flag, ": '", f, "' is not a number"));
    out.push_back(v);
  }
  return out;
}

}  // namespace galaxy
