// LibTorch queries. Only files of the galaxy_model library include LibTorch headers, so the rest
// of core compiles without them (docs/ARCHITECTURE.md: heavy headers stay in .cc files).
#include "model/torch_info.h"

#include <malloc.h>
#include <sched.h>

#include <cstdlib>
#include <string>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#ifdef GALAXY_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace galaxy {

TorchInfo GetTorchInfo() {
  TorchInfo info;
  info.version = TORCH_VERSION;
#ifdef GALAXY_WITH_CUDA
  info.built_with_cuda = true;
#else
  info.built_with_cuda = at::hasCUDA();
#endif
  info.cuda_devices = torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0;
#ifdef GALAXY_WITH_CUDA
  for (int d = 0; d < info.cuda_devices; ++d) {
    info.device_names.emplace_back(at::cuda::getDeviceProperties(d)->name);
  }
#endif
  info.cpu_threads = at::get_num_threads();
  return info;
}

std::vector<std::string> TorchLibraryVersions() {
  TorchInfo info = GetTorchInfo();
  if (!info.built_with_cuda) return {absl::StrCat("LibTorch ", info.version, " (CPU)")};
  std::string devices = absl::StrCat(info.cuda_devices, " device(s)");
  if (!info.device_names.empty()) absl::StrAppend(&devices, ": ", absl::StrJoin(info.device_names, ", "));
  return {absl::StrCat("LibTorch ", info.version, " (CUDA, ", devices, ")")};
}

absl::StatusOr<DeviceKind> ResolveDevice(absl::string_view name) {
  bool cuda_usable = torch::cuda::is_available();
  if (name == "cpu") return DeviceKind::kCpu;
  if (name == "auto") return cuda_usable ? DeviceKind::kCuda : DeviceKind::kCpu;
  if (name == "cuda") {
    if (cuda_usable) return DeviceKind::kCuda;
    if (!GetTorchInfo().built_with_cuda) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--device cuda: this LibTorch (", TORCH_VERSION, ") was built without CUDA"));
    }
    return absl::FailedPreconditionError("--device cuda: no CUDA device is visible");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("--device: unknown device '", name, "' (expected cpu, cuda or auto)"));
}

bool KeepFreedMemoryForReuse() {
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  static const bool applied = [] {
    const char* tuning = std::getenv("GALAXY_MALLOC_TUNING");
    if (tuning != nullptr && std::string(tuning) == "0") return false;
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr) {
      return false;
    }
    // Trim first: with the mmap threshold fixed and the trim threshold still at its default,
    // every free at the heap's top would hand the memory back (worse than the default).
    return mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  }();
  return applied;
#else
  return false;
#endif
}

void SetCpuThreads(int threads) {
  if (threads <= 0) {
    cpu_set_t set;
    threads = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  at::set_num_threads(threads);
}

}  // namespace galaxy
