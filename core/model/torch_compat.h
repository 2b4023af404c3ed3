// The one place that knows LibTorch versions differ: Debian's 1.13 here, 2.x (CUDA) on the GPU
// machine. Include only from .cc files that already use LibTorch.
#ifndef GALAXY_CORE_MODEL_TORCH_COMPAT_H_
#define GALAXY_CORE_MODEL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace galaxy {

// bf16 autocast on CUDA for the guard's lifetime (matmuls and convolutions in bfloat16,
// reductions and losses in float32). Does nothing when `enabled` is false. Not for CPU.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    was_ = at::autocast::is_autocast_enabled(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    was_ = at::autocast::is_enabled();
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~CudaAutocast() {
    if (!enabled_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, was_);
#else
    at::autocast::set_enabled(was_);
#endif
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enabled_;
  bool was_ = false;
};

}  // namespace galaxy

#endif  // GALAXY_CORE_MODEL_TORCH_COMPAT_H_
