#include "trainer/pretrain_record.h"

#include <exception>
#include <type_traits>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "trainer/pretrain.h"

namespace galaxy {
namespace {

// The payload that marks RunPretrain's refusal of a checkpoint (IsResumeRefusal).
constexpr absl::string_view kResumeRefusalPayload = "galaxy/pretrain/resume-refusal";

absl::Status ResumeRefusal(absl::string_view message) {
  absl::Status status = absl::FailedPreconditionError(message);
  status.SetPayload(kResumeRefusalPayload, absl::Cord("1"));
  return status;
}

}  // namespace

std::string PretrainingRecord(const PretrainOptions& o, int64_t total_steps, int64_t rows) {
  nlohmann::json j = {{"batch", o.batch},         {"queue", o.queue},
          {"momentum", o.momentum},   {"temperature", o.temperature},
          {"lr_per_256", o.lr_per_256}, {"weight_decay", o.weight_decay},
          {"sgd_momentum", o.sgd_momentum}, {"total_steps", total_steps},
          {"max_blur", o.max_blur},   {"max_noise", o.max_noise},
          {"scale_jitter", o.scale_jitter}, {"rows", rows},
          {"dust", o.dust},           {"max_dust", o.max_dust},
          {"bn_splits", o.bn_splits}, {"input_stretch", o.input_stretch},
          {"mask_outskirts", o.mask_outskirts}, {"outskirt_radius", o.outskirt_radius}};
  // Only when used: checkpoints made before it existed resume unchanged.
  if (o.photometry_weight > 0) {
    j["photometry_weight"] = o.photometry_weight;
    j["photometry_radii"] = o.photometry_radii;
  }
  if (o.local_crops > 0) {
    j["local_crops"] = o.local_crops;
    j["local_crop"] = o.local_crop;
  }
  return j.dump();
}

absl::Status CheckResumable(const ModelMetadata& old, const ModelMetadata& now_meta, const std::string& checkpoint_path) {
  if (old.kind != "moco") {
    return ResumeRefusal(absl::StrCat(checkpoint_path, " is a ", old.kind, " checkpoint, not a pretraining one"));
  }
  if (old.data_checksum != now_meta.data_checksum) {
    return ResumeRefusal(absl::StrCat("--resume: ", checkpoint_path, " was trained on other data (", old.data_path, ")"));
  }
  const nlohmann::json was = nlohmann::json::parse(old.training_json, nullptr, false);
  const nlohmann::json now = nlohmann::json::parse(now_meta.training_json);
  if (!was.is_object()) {
    return ResumeRefusal(absl::StrCat("--resume: ", checkpoint_path, " has no readable pretraining record"));
  }
  // Both ways: a setting written only when used (photometry_weight) may be missing from either.
  nlohmann::json keys = now;
  keys.update(was);
  for (const auto& [key, unused] : keys.items()) {
    if (!was.contains(key) || !now.contains(key) || was[key] != now[key]) {
      return ResumeRefusal(absl::StrCat("--resume: ", checkpoint_path, " was made with ", key, " = ",
                                        was.contains(key) ? was[key].dump() : "(unset)", ", now ",
                                        now.contains(key) ? now[key].dump() : "(unset)"));
    }
  }
  if (old.arch != now_meta.arch || old.stem != now_meta.stem || old.seed != now_meta.seed) {
    return ResumeRefusal(absl::StrCat("--resume: ", checkpoint_path, " is ", old.arch, "/", old.stem, " seed ", old.seed));
  }
  return absl::OkStatus();
}

bool IsResumeRefusal(const absl::Status& status) { return status.GetPayload(kResumeRefusalPayload).has_value(); }

absl::StatusOr<PretrainOptions> PretrainingOf(const std::string& training_json) {
  const nlohmann::json j = nlohmann::json::parse(training_json, nullptr, false);
  if (!j.is_object() || !j.contains("queue") || !j.contains("temperature")) {
    return absl::InvalidArgumentError("the model does not record its pretraining (not made by galaxy-train pretrain)");
  }
  PretrainOptions o;
  // Every field PretrainingRecord writes that shapes the views or the contrast; one a model does not
  // record keeps today's default.
  auto take = [&j](const char* key, auto* field) {
    if (j.contains(key) && !j[key].is_null()) *field = j[key].get<std::remove_pointer_t<decltype(field)>>();
  };
  try {
    take("batch", &o.batch);
    take("queue", &o.queue);
    take("momentum", &o.momentum);
    take("temperature", &o.temperature);
    take("max_blur", &o.max_blur);
    take("max_noise", &o.max_noise);
    take("scale_jitter", &o.scale_jitter);
    take("dust", &o.dust);
    take("max_dust", &o.max_dust);
    take("bn_splits", &o.bn_splits);
    take("mask_outskirts", &o.mask_outskirts);
    take("outskirt_radius", &o.outskirt_radius);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("the model's pretraining record is malformed: ", e.what()));
  }
  return o;
}

}  // namespace galaxy
