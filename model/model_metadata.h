// What a checkpoint says about itself, so that no other flag is needed to load it: architecture,
// stem, bands, image size, embedding dimension, redshift head and binning, the data it was
// trained on (SHA-256), and training progress. Stored as JSON inside the checkpoint file.
// No LibTorch here: indexer and server code reads it without LibTorch headers.
#ifndef GALAXY_MODEL_MODEL_METADATA_H_
#define GALAXY_MODEL_MODEL_METADATA_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct ModelMetadata {
  // Format of the checkpoint file; readers refuse newer formats.
  int format_version = 1;
  // "moco" (pretrained), "finetuned" (pretrained + redshift head), "supervised" or "imported"
  // (from a PyTorch state dict, model/model_import.h).
  std::string kind = "moco";
  std::string arch = "resnet50";
  std::string stem = "paper";
  std::vector<std::string> band_names = {"u", "g", "r", "i", "z"};
  // Side of the images the model sees (the centre crop), pixels.
  int64_t image_size = 64;
  // Backbone feature dimension and the embedding dimension used for search (the projection
  // head's output when there is one, else the backbone features).
  int64_t feature_dim = 2048;
  int64_t embedding_dim = 128;
  bool has_projection_head = true;
  bool has_redshift_head = false;
  double z_min = 0.0, z_max = 0.4;
  int64_t redshift_bins = 180;
  // The redshift head normalises its input features (a BatchNorm1d) first. Models written before
  // it existed lack it (false when absent).
  bool redshift_head_norm = false;
  // Temperature of the redshift pdfs: the head's logits are divided by it before the softmax
  // (model/heads.h FitPdfTemperature; fitted on the validation part after training). Models
  // written before it read as 1, the head's own pdfs.
  double redshift_temperature = 1.0;
  // Per-band noise of the training data (nanomaggies), used by the noise augmentation.
  std::vector<double> band_noise;
  // The network's input stretch, asinh(flux / softening) per band (ResNetConfig::input_softening;
  // the training data's band noise when trained with --input-stretch asinh). Empty: linear flux
  // (every model before it).
  std::vector<double> input_softening;
  // The training dataset: path as given and SHA-256 of its bytes.
  std::string data_path;
  std::string data_checksum;
  // Training progress.
  int64_t step = 0;
  int64_t total_steps = 0;
  uint64_t seed = 0;
  // Hyper-parameters of the run, for resume (JSON object text).
  std::string training_json = "{}";
  // The representation monitor's readings during pretraining (trainer/ssl_monitor.h): a JSON
  // array of {"step", "knn_z_sigma_mad_backbone", ...} objects; "[]" when none were taken.
  std::string monitor_json = "[]";
  std::string created_at;
  std::string software_version;

  int bands() const { return static_cast<int>(band_names.size()); }
  std::string ToJson() const;
  // INVALID_ARGUMENT naming the missing or bad field; FAILED_PRECONDITION for a newer format.
  static absl::StatusOr<ModelMetadata> FromJson(const std::string& json);
};

}  // namespace galaxy

#endif  // GALAXY_MODEL_MODEL_METADATA_H_
