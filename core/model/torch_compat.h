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

// Drops every gradient of `optimizer`'s parameters before the next backward, which then writes
// fresh ones instead of adding to zeros: PyTorch's zero_grad(set_to_none=True), the default
// from LibTorch 2.0 on. Debian's 1.13 zero_grad() writes zeros over every gradient, a pass
// over all the weights that backward reads back. Same numbers (0 + g == g); a parameter that
// gets no gradient is skipped by the optimizer's step instead of decayed.
inline void DropGradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& p : group.params()) p.mutable_grad().reset();
  }
}

}  // namespace galaxy

#endif  // GALAXY_CORE_MODEL_TORCH_COMPAT_H_
