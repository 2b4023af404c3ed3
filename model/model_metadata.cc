#include "model/model_metadata.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace galaxy {

std::string ModelMetadata::ToJson() const {
  nlohmann::json j = {{"format_version", format_version},
                      {"kind", kind},
                      {"arch", arch},
                      {"stem", stem},
                      {"band_names", band_names},
                      {"image_size", image_size},
                      {"feature_dim", feature_dim},
                      {"embedding_dim", embedding_dim},
                      {"has_projection_head", has_projection_head},
                      {"has_redshift_head", has_redshift_head},
                      {"z_min", z_min},
                      {"z_max", z_max},
                      {"redshift_bins", redshift_bins},
                      {"redshift_head_norm", redshift_head_norm},
                      {"redshift_temperature", redshift_temperature},
                      {"band_noise", band_noise},
                      {"input_softening", input_softening},
                      {"data_path", data_path},
                      {"data_checksum", data_checksum},
                      {"step", step},
                      {"total_steps", total_steps},
                      {"seed", seed},
                      {"training", nlohmann::json::parse(training_json.empty() ? "{}" : training_json)},
                      {"monitor", nlohmann::json::parse(monitor_json.empty() ? "[]" : monitor_json)},
                      {"created_at", created_at},
                      {"software_version", software_version}};
  return j.dump(2);
}

absl::StatusOr<ModelMetadata> ModelMetadata::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("checkpoint metadata is not a JSON object");
  }
  ModelMetadata m;
  try {
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version > 1) {
      return absl::FailedPreconditionError(absl::StrCat(
          "checkpoint format ", m.format_version, " is newer than this software reads (1)"));
    }
    m.kind = j.at("kind").get<std::string>();
    m.arch = j.at("arch").get<std::string>();
    m.stem = j.at("stem").get<std::string>();
    m.band_names = j.at("band_names").get<std::vector<std::string>>();
    m.image_size = j.at("image_size").get<int64_t>();
    m.feature_dim = j.at("feature_dim").get<int64_t>();
    m.embedding_dim = j.at("embedding_dim").get<int64_t>();
    m.has_projection_head = j.at("has_projection_head").get<bool>();
    m.has_redshift_head = j.at("has_redshift_head").get<bool>();
    m.z_min = j.at("z_min").get<double>();
    m.z_max = j.at("z_max").get<double>();
    m.redshift_bins = j.at("redshift_bins").get<int64_t>();
    m.redshift_head_norm = j.value("redshift_head_norm", false);
    m.redshift_temperature = j.value("redshift_temperature", 1.0);
    m.band_noise = j.value("band_noise", std::vector<double>{});
    m.input_softening = j.value("input_softening", std::vector<double>{});
    m.data_path = j.value("data_path", "");
    m.data_checksum = j.value("data_checksum", "");
    m.step = j.value("step", int64_t{0});
    m.total_steps = j.value("total_steps", int64_t{0});
    m.seed = j.value("seed", uint64_t{0});
    m.training_json = j.contains("training") ? j["training"].dump() : "{}";
    m.monitor_json = j.contains("monitor") ? j["monitor"].dump() : "[]";
    m.created_at = j.value("created_at", "");
    m.software_version = j.value("software_version", "");
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata: ", e.what()));
  }
  if (!m.input_softening.empty() && m.input_softening.size() != m.band_names.size()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata: input_softening has ", m.input_softening.size(),
                                                   " values for ", m.band_names.size(), " bands"));
  }
  if (!std::isfinite(m.redshift_temperature) || m.redshift_temperature <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint metadata: redshift_temperature is ",
                                                   m.redshift_temperature, "; it must be a positive number"));
  }
  if (m.band_names.empty() || m.image_size < 8 || m.embedding_dim < 1 || m.redshift_bins < 2) {
    return absl::InvalidArgumentError("checkpoint metadata: bands, image size, embedding dimension "
                                      "or redshift bins out of range");
  }
  return m;
}

}  // namespace galaxy
