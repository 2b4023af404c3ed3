// LibTorch queries. Only files of the galaxy_model library include LibTorch headers, so the rest
// of core compiles without them (docs/ARCHITECTURE.md: heavy headers stay in .cc files).
#include "model/torch_info.h"

#include <malloc.h>
#include <sched.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
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

namespace {

// glibc maps every block at or above its mmap threshold on its own and unmaps it on free, and
// KeepFreedMemoryForReuse cannot raise the threshold past 32 MiB without a cost: glibc's
// posix_memalign, which LibTorch allocates with, does not reuse a freed block of that size for
// the next aligned request of the same size, so the heap grows a block at a time instead
// (docs/BENCHMARKS.md, "Full-resolution activations"). Full-resolution activations of a batch
// are 32-64 MiB, so without a cache every layer of every step page-faulted them in afresh.
constexpr size_t kMmapThreshold = size_t{32} << 20;
// Sizes are rounded up to this, so a request a few bytes off a cached block still reuses it.
constexpr size_t kCacheRounding = size_t{2} << 20;

// LibTorch's CPU allocator with a cache in front of it for blocks of kMmapThreshold and more:
// a freed block is kept for the next request of its (rounded) size, up to a limit of bytes
// kept. Smaller requests go straight to the default allocator, whose blocks glibc's heap keeps.
// Every DataPtr's context is its data pointer, so the raw interface works.
class LargeBlockCache final : public c10::Allocator {
 public:
  LargeBlockCache(c10::Allocator* fallback, size_t limit) : fallback_(fallback), limit_(limit) {}

  // LibTorch 1.13 declares allocate() const and 2.x not, and 2.x adds copy_data(): each is
  // declared so that it overrides whichever the LibTorch in use has.
  c10::DataPtr allocate(size_t n) const { return Allocate(n); }
  c10::DataPtr allocate(size_t n) { return Allocate(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cached_;
  }

  static LargeBlockCache* instance;

 private:
  c10::DataPtr Allocate(size_t n) const {
    if (n < kMmapThreshold) return fallback_->allocate(n);
    const size_t size = (n + kCacheRounding - 1) / kCacheRounding * kCacheRounding;
    std::vector<void*> stale;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end()) {
        void* data = it->second.back();
        it->second.pop_back();
        if (it->second.empty()) free_.erase(it);
        cached_ -= size;
        live_[data] = size;
        return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
      }
      if (cached_ + size > limit_) {
        // The blocks kept are not the sizes asked for now (shapes changed): let them go.
        for (auto& [unused, blocks] : free_) stale.insert(stale.end(), blocks.begin(), blocks.end());
        free_.clear();
        cached_ = 0;
      }
    }
    for (void* block : stale) fallback_->raw_deallocate(block);
    void* data = fallback_->raw_allocate(size);
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_[data] = size;
    }
    return {data, data, &Free, c10::Device(c10::DeviceType::CPU)};
  }

  static void Free(void* data) { instance->Release(data); }

  void Release(void* data) const {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = live_.find(data);
      if (it != live_.end()) {
        const size_t size = it->second;
        live_.erase(it);
        if (cached_ + size <= limit_) {
          free_[size].push_back(data);
          cached_ += size;
          return;
        }
      }
    }
    // A block over the limit, or a small one of the fallback's handed back through the raw
    // interface.
    fallback_->raw_deallocate(data);
  }

  c10::Allocator* fallback_;
  const size_t limit_;
  mutable std::mutex mu_;
  mutable std::unordered_map<void*, size_t> live_;
  mutable std::unordered_map<size_t, std::vector<void*>> free_;
  mutable size_t cached_ = 0;
};

LargeBlockCache* LargeBlockCache::instance = nullptr;

// A quarter of the machine's memory, at most, is kept in freed blocks.
size_t CacheLimit() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return size_t{1} << 30;
  return static_cast<size_t>(pages) * static_cast<size_t>(page_size) / 4;
}

}  // namespace

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
    if (mallopt(M_TRIM_THRESHOLD, 1 << 30) != 1 || mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1) return false;
    // Never destroyed: tensors may outlive any static object.
    LargeBlockCache::instance = new LargeBlockCache(c10::GetDefaultCPUAllocator(), CacheLimit());
    c10::SetCPUAllocator(LargeBlockCache::instance, /*priority=*/1);
    return true;
  }();
  return applied;
#else
  return false;
#endif
}

size_t CachedTensorBytes() {
  return LargeBlockCache::instance == nullptr ? 0 : LargeBlockCache::instance->cached_bytes();
}

void SetCpuThreads(int threads) {
  if (threads <= 0) {
    cpu_set_t set;
    threads = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
  }
  at::set_num_threads(threads);
}

}  // namespace galaxy
