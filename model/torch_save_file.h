// Reading the tensors of a file PyTorch's torch.save wrote (its zip format, PyTorch >= 1.6): a
// state dict, or a training checkpoint that holds one ({"state_dict": OrderedDict(...), "epoch":
// ..., "optimizer": ...}, as the published MoCo checkpoints are). LibTorch's own unpickler
// (torch::pickle_load) turns every OrderedDict into None, so state dicts cannot be read with it;
// this is a small unpickler of the subset torch.save emits, with tensors rebuilt from the
// archive's storages (read with LibTorch's PyTorchStreamReader).
//
//   absl::StatusOr<TorchSaveTensors> t = ReadTorchSaveFile("moco_v2.pth.tar");
//   // (*t)["state_dict.module.encoder_q.conv1.weight"]: a CPU tensor, 64 x 3 x 7 x 7
//
// Include only from .cc files that already use LibTorch.
#ifndef GALAXY_MODEL_TORCH_SAVE_FILE_H_
#define GALAXY_MODEL_TORCH_SAVE_FILE_H_

#include <torch/torch.h>

#include <functional>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// Every tensor reachable from the saved object through dicts (OrderedDicts included), lists and
// tuples, by its dotted path: dict keys joined with '.', list items by index ("groups.0.lr").
// Other values (numbers, strings, argparse.Namespace and other objects) are skipped. Tensors are
// CPU, contiguous, in their saved dtype; tensors that shared a storage no longer share memory.
using TorchSaveTensors = std::map<std::string, torch::Tensor>;

// The tensors of torch.save's file `path`. NOT_FOUND for a missing file; INVALID_ARGUMENT naming
// the file and the reason for anything else: not a zip archive (torch.save's legacy format, from
// PyTorch < 1.6 or _use_new_zipfile_serialization=False, is named as such), a truncated archive,
// a pickle this reader does not understand (naming the opcode and its offset), a storage whose
// bytes do not match its element count, a tensor reaching outside its storage or holding more
// elements than it (an expanded view), containers nested deeper than 64 or shared so often that
// following them would not end (a list of itself, lists holding the one before twice).
absl::StatusOr<TorchSaveTensors> ReadTorchSaveFile(const std::string& path);

// The raw bytes of storage `key` of the archive (its record data/<key>), or an error.
using StorageReader = std::function<absl::StatusOr<std::string>(const std::string& key)>;

// The tensors of a torch.save pickle (the archive's data.pkl) whose storages `read_storage`
// gives: what ReadTorchSaveFile does once the archive is open (and what the fuzzer drives).
// INVALID_ARGUMENT as above, without the file name.
absl::StatusOr<TorchSaveTensors> UnpickleTensors(absl::string_view pickle, const StorageReader& read_storage);

}  // namespace galaxy

#endif  // GALAXY_MODEL_TORCH_SAVE_FILE_H_
