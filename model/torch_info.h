// What the LibTorch this binary runs on can do, and which device a command should use.
// This header includes no LibTorch header; the implementation is in the galaxy_model library.
#ifndef GALAXY_MODEL_TORCH_INFO_H_
#define GALAXY_MODEL_TORCH_INFO_H_

#include <cstddef>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct TorchInfo {
  // LibTorch version, e.g. "1.13.1".
  std::string version;
  // Whether this LibTorch was built with CUDA.
  bool built_with_cuda = false;
  // Number of CUDA devices usable now (0 without CUDA or without a GPU).
  int cuda_devices = 0;
  // Name of each usable CUDA device, e.g. "NVIDIA H200".
  std::vector<std::string> device_names;
  // Intra-op CPU threads LibTorch uses.
  int cpu_threads = 0;
};

// Queries LibTorch. Thread-safe.
TorchInfo GetTorchInfo();

// "LibTorch 1.13.1 (CPU)" or "LibTorch 2.11.0 (CUDA, 1 device: NVIDIA H200)".
std::vector<std::string> TorchLibraryVersions();

enum class DeviceKind { kCpu, kCuda };

// Resolves a --device value: "cpu", "cuda", or "auto" (cuda when a GPU is usable, else cpu).
// INVALID_ARGUMENT for another value, FAILED_PRECONDITION for "cuda" without a usable GPU (the
// message says whether LibTorch lacks CUDA or no device is visible).
absl::StatusOr<DeviceKind> ResolveDevice(absl::string_view name);

// Sets LibTorch's intra-op CPU threads (Debian's LibTorch starts with one). threads <= 0 means
// every core the process may use.
void SetCpuThreads(int threads);

// Makes freed tensor memory stay in the process for reuse instead of going back to the kernel.
// By default glibc mmaps every block above a dynamic threshold (128 KiB at first) and unmaps it
// on free, and trims the heap's top at 128 KiB, so each forward pass page-faults its
// activations in afresh: about 36,000 faults (140 MiB zeroed) per ResNet18 step at batch 64 on
// this project's CPUs, 3-10% of the step, and at full resolution (activations of 32-64 MiB)
// most of the step. This sets M_MMAP_THRESHOLD to 32 MiB and M_TRIM_THRESHOLD to 1 GiB, so
// glibc's heap keeps blocks below 32 MiB, and puts a cache in front of LibTorch's CPU allocator
// for blocks of 32 MiB and more: a freed block waits for the next request of its size (rounded
// up to 2 MiB), up to a quarter of the machine's memory kept. The process then holds on to
// memory it freed, about up to its peak: meant for training and embedding, not for a
// long-lived server. Does nothing, and returns false, where malloc is not glibc's, under a
// sanitizer, when GALAXY_MALLOC_TUNING=0, or when the environment already sets
// MALLOC_MMAP_THRESHOLD_ or MALLOC_TRIM_THRESHOLD_ (the user's choice stands). Idempotent.
bool KeepFreedMemoryForReuse();

// Bytes of freed tensor memory that KeepFreedMemoryForReuse's cache holds for reuse now (0
// before it or where it does nothing).
size_t CachedTensorBytes();

}  // namespace galaxy

#endif  // GALAXY_MODEL_TORCH_INFO_H_
