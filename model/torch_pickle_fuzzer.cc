// libFuzzer target: arbitrary bytes as the data.pkl of a torch.save archive (the unpickler behind
// `galaxy-train import` of published PyTorch checkpoints, model/torch_save_file.h). The storages
// "0".."9" hold 64 bytes each (16 float32, 8 float64 or int64 elements); other keys are missing.
// Any input must give tensors or a status: no crash, no exception, no hang, no read outside a
// storage, and every tensor it gives lies within one.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "model/torch_save_file.h"

namespace {

constexpr size_t kStorageBytes = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const galaxy::StorageReader read = [](const std::string& key) -> absl::StatusOr<std::string> {
    if (key.size() == 1 && key[0] >= '0' && key[0] <= '9') return std::string(kStorageBytes, key[0]);
    return absl::NotFoundError(absl::StrCat("no storage ", key));
  };
  absl::StatusOr<galaxy::TorchSaveTensors> tensors =
      galaxy::UnpickleTensors(absl::string_view(reinterpret_cast<const char*>(data), size), read);
  if (!tensors.ok()) return 0;
  for (const auto& [name, tensor] : *tensors) {
    if (!tensor.is_contiguous() || tensor.nbytes() > kStorageBytes) __builtin_trap();
  }
  return 0;
}
