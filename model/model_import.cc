#include "model/model_import.h"

#include <torch/torch.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/checksum.h"
#include "core/command_line.h"
#include "core/status_macros.h"
#include "model/checkpoint.h"
#include "model/heads.h"
#include "model/resnet.h"
#include "model/torch_save_file.h"
#include "nlohmann/json.hpp"

namespace galaxy {
namespace {

std::string Shape(const torch::Tensor& t) { return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]"); }

// torchvision's name of our backbone's tensor `ours` ("layers.4.conv1.weight" -> "layer2.0.conv1.weight"
// for resnet50, whose stages hold 3, 4, 6 and 3 blocks).
std::string TorchvisionName(const std::string& ours, const std::vector<int64_t>& stage_blocks) {
  if (absl::StartsWith(ours, "stem_conv.")) return absl::StrCat("conv1.", ours.substr(10));
  if (absl::StartsWith(ours, "stem_bn.")) return absl::StrCat("bn1.", ours.substr(8));
  if (!absl::StartsWith(ours, "layers.")) return ours;
  const size_t dot = ours.find('.', 7);
  int64_t block = std::stoll(ours.substr(7, dot - 7));
  size_t stage = 0;
  while (stage + 1 < stage_blocks.size() && block >= stage_blocks[stage]) block -= stage_blocks[stage++];
  return absl::StrCat("layer", stage + 1, ".", block, ours.substr(dot));
}

// The prefix under which the file holds a ResNet: a key ending in conv1.weight (7 x 7) with
// layer1.0.conv1.weight beside it. Of a MoCo query/key pair, the query encoder's.
absl::StatusOr<std::string> FindPrefix(const TorchSaveTensors& tensors, const std::string& path) {
  std::vector<std::string> found;
  for (const auto& [key, t] : tensors) {
    if (!absl::EndsWith(key, "conv1.weight") || t.dim() != 4 || t.size(2) != 7) continue;
    const std::string prefix = key.substr(0, key.size() - std::string("conv1.weight").size());
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (tensors.count(prefix + "layer1.0.conv1.weight")) found.push_back(prefix);
  }
  if (found.size() == 2) {
    for (int q = 0; q < 2; ++q) {
      const std::string& a = found[static_cast<size_t>(q)];
      const std::string& b = found[static_cast<size_t>(1 - q)];
      if (absl::EndsWith(a, "encoder_q.") && absl::EndsWith(b, "encoder_k.")) return a;
    }
  }
  if (found.size() == 1) return found[0];
  if (found.empty()) {
    std::vector<std::string> some;
    for (const auto& [key, t] : tensors) {
      if (some.size() == 5) break;
      some.push_back(absl::StrCat(key, " ", Shape(t)));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": no ResNet found (no key ending in conv1.weight, 7 x 7, with layer1.0.conv1.weight beside it); it holds ",
        tensors.size(), " tensors", some.empty() ? "" : absl::StrCat(", e.g. ", absl::StrJoin(some, ", "))));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": holds ", found.size(), " ResNets, under '",
                                                 absl::StrJoin(found, "', '"), "': choose one with --prefix"));
}

// Copies the file's tensor `name` into `target`, or names why it does not fit.
absl::Status Fill(const TorchSaveTensors& tensors, const std::string& name, const std::string& ours,
                  const std::string& network, const torch::Tensor& target, std::set<std::string>* used) {
  auto it = tensors.find(name);
  if (it == tensors.end()) {
    return absl::InvalidArgumentError(absl::StrCat("no tensor '", name, "', which ", network, " needs (its ", ours,
                                                   ", ", Shape(target), ")"));
  }
  if (it->second.sizes() != target.sizes()) {
    return absl::InvalidArgumentError(absl::StrCat("'", name, "' is ", Shape(it->second), "; ", network, " needs ",
                                                   Shape(target), " (its ", ours, ")"));
  }
  torch::NoGradGuard no_grad;
  target.copy_(it->second.to(target.scalar_type()));
  used->insert(name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ImportReport> ImportStateDict(const ImportOptions& o) {
  if (o.state_dict_path.empty()) return absl::InvalidArgumentError("--state-dict: required");
  if (o.out_path.empty()) return absl::InvalidArgumentError("--out: required");
  if (o.image_size < 8) return absl::InvalidArgumentError(absl::StrCat("--image-size: ", o.image_size, " < 8"));
  ResNetConfig config;
  config.arch = o.arch;
  config.stem = o.stem;
  config.in_channels = static_cast<int>(o.band_names.size());
  GALAXY_RETURN_IF_ERROR(config.Validate());
  GALAXY_ASSIGN_OR_RETURN(TorchSaveTensors tensors, ReadTorchSaveFile(o.state_dict_path));
  ImportReport report;
  if (o.prefix.empty()) {
    GALAXY_ASSIGN_OR_RETURN(report.prefix, FindPrefix(tensors, o.state_dict_path));
  } else {
    report.prefix = o.prefix;
  }
  const std::string& prefix = report.prefix;
  const std::string network = absl::StrCat(o.arch, " (", o.stem, " stem, ", o.band_names.size(), " bands)");
  const auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(o.state_dict_path, ": ", s.message(), "; nothing written"));
  };

  ResNet backbone(config);
  std::set<std::string> used;
  const std::vector<int64_t> stages = config.stage_blocks();
  for (const torch::OrderedDict<std::string, torch::Tensor>& part :
       {backbone->named_parameters(/*recurse=*/true), backbone->named_buffers(/*recurse=*/true)}) {
    for (const auto& item : part) {
      const std::string& name = item.key();
      const std::string source = prefix + TorchvisionName(name, stages);
      // BatchNorm counters that older PyTorch did not save are not needed for inference.
      if (absl::EndsWith(name, "num_batches_tracked") && !tensors.count(source)) continue;
      absl::Status s = Fill(tensors, source, name, network, item.value(), &used);
      if (!s.ok()) return fail(s);
    }
  }
  // The file's encoder must not hold more than the network: more blocks, another architecture.
  for (const auto& [key, t] : tensors) {
    if (!absl::StartsWith(key, prefix) || used.count(key)) continue;
    const std::string rest = key.substr(prefix.size());
    if (absl::StartsWith(rest, "layer") || absl::StartsWith(rest, "conv1.") || absl::StartsWith(rest, "bn1.")) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("'", key, "' ", Shape(t), " has no place in ", network, ": another architecture?")));
    }
  }

  ProjectionHead projection{nullptr};
  const int64_t features = config.feature_dim();
  if (o.projection && tensors.count(prefix + "fc.0.weight") && tensors.count(prefix + "fc.2.weight")) {
    const torch::Tensor& hidden = tensors.at(prefix + "fc.0.weight");
    const torch::Tensor& out = tensors.at(prefix + "fc.2.weight");
    if (hidden.dim() != 2 || out.dim() != 2 || out.size(1) != hidden.size(0) || out.size(0) < 1) {
      return fail(absl::InvalidArgumentError(absl::StrCat("the projection head's '", prefix, "fc.0.weight' ",
                                                          Shape(hidden), " and 'fc.2.weight' ", Shape(out),
                                                          " are not two linear layers in a row")));
    }
    projection = ProjectionHead(features, out.size(0));
    for (auto& item : projection->named_parameters(/*recurse=*/true)) {
      const std::string& name = item.key();
      const std::string source = absl::StrCat(prefix, absl::StartsWith(name, "fc1.") ? "fc.0." : "fc.2.",
                                              name.substr(4));
      absl::Status s =
          Fill(tensors, source, name, absl::StrCat("the projection head of ", network), item.value(), &used);
      if (!s.ok()) return fail(s);
    }
  }
  report.tensors = static_cast<int>(used.size());
  report.has_projection_head = static_cast<bool>(projection);

  ModelMetadata& m = report.metadata;
  m.kind = "imported";
  m.arch = o.arch;
  m.stem = o.stem;
  m.band_names = o.band_names;
  m.image_size = o.image_size;
  m.feature_dim = features;
  m.has_projection_head = report.has_projection_head;
  m.embedding_dim = projection ? projection->fc2->options.out_features() : features;
  m.has_redshift_head = false;
  m.data_path = o.state_dict_path;
  GALAXY_ASSIGN_OR_RETURN(const std::string sha, Sha256File(o.state_dict_path));
  m.training_json = nlohmann::json{{"imported_from", o.state_dict_path}, {"sha256", sha}, {"prefix", prefix}}.dump();
  m.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  m.software_version = std::string(Version());
  CheckpointWriter writer(m);
  writer.AddModule(kBackbonePart, *backbone);
  if (projection) writer.AddModule(kProjectionPart, *projection);
  GALAXY_RETURN_IF_ERROR(writer.Save(o.out_path));
  return report;
}

}  // namespace galaxy
