// Models in from PyTorch: a ResNet state dict saved with torch.save (torchvision's names:
// conv1, bn1, layer1..layer4; a MoCo v2 projection head fc.0 / fc.2) becomes a self-describing
// galaxy-search checkpoint that the indexer and server load like one of ours
// (`galaxy-train import`). The published MoCo checkpoints nest the encoder under a prefix
// ("state_dict.module.encoder_q."), found by itself unless given.
// Include only from .cc files that already use LibTorch.
#ifndef GALAXY_MODEL_MODEL_IMPORT_H_
#define GALAXY_MODEL_MODEL_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/model_metadata.h"

namespace galaxy {

struct ImportOptions {
  // The torch.save file (zip format) holding the state dict. Required.
  std::string state_dict_path;
  // The checkpoint to write (atomically; replaced when it exists). Required.
  std::string out_path;
  // The network the state dict is: "resnet50" (default), "resnet18", "small" or "tiny".
  std::string arch = "resnet50";
  // "torchvision" (default: 7x7 stride 2 and max-pool, torchvision's own), "half" (7x7 stride
  // 2, no max-pool) or "paper" (7x7 stride 1, no max-pool).
  std::string stem = "torchvision";
  // The input bands, in the order of the first convolution's input channels. Default u, g, r,
  // i, z.
  std::vector<std::string> band_names = {"u", "g", "r", "i", "z"};
  // Side of the centre crop the model sees, pixels. Default 64.
  int64_t image_size = 64;
  // Where the encoder's keys start, e.g. "state_dict.module.encoder_q." (dotted: nested dicts
  // are joined with '.'). Empty (the default): the one prefix under which a ResNet stem and
  // layer1 are found; of a MoCo pair, the query encoder.
  std::string prefix;
  // Import the MoCo v2 projection head (fc.0 and fc.2 under the prefix) when present. Default
  // true.
  bool projection = true;
};

struct ImportReport {
  // The prefix used and how many tensors were taken from the file.
  std::string prefix;
  int tensors = 0;
  bool has_projection_head = false;
  ModelMetadata metadata;
};

// Reads the state dict, fills our network with it and writes the checkpoint. The network takes
// de-reddened, centre-cropped fluxes in nanomaggies, linear (no input stretch): what the
// imported weights saw is for their user to match. Errors, with nothing written:
// INVALID_ARGUMENT naming the file and the first tensor that does not fit (the state dict's name
// and shape beside the shape the network needs), a missing tensor, a tensor of the file's
// encoder that the network has no place for (another architecture), no ResNet or several in the
// file (naming the prefixes to choose from), options out of range; the errors of
// ReadTorchSaveFile for a file that is not a torch.save archive.
absl::StatusOr<ImportReport> ImportStateDict(const ImportOptions& options);

}  // namespace galaxy

#endif  // GALAXY_MODEL_MODEL_IMPORT_H_
