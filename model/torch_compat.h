// The one place that knows LibTorch versions differ (Debian's 1.13 here, 2.x (CUDA) on the GPU
// machine), and the small tensor chores the model and trainer share: copies between host and
// device, values out as doubles. Include only from .cc files that already use LibTorch.
#ifndef GALAXY_MODEL_TORCH_COMPAT_H_
#define GALAXY_MODEL_TORCH_COMPAT_H_

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace galaxy {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define GALAXY_AUTOCAST_PER_DEVICE_API 1
#endif

// Whether CUDA autocast is on, and switching it (the API changed in LibTorch 2.4).
inline bool CudaAutocastEnabled() {
#ifdef GALAXY_AUTOCAST_PER_DEVICE_API
  return at::autocast::is_autocast_enabled(at::kCUDA);
#else
  return at::autocast::is_enabled();
#endif
}
inline void SetCudaAutocast(bool enabled) {
#ifdef GALAXY_AUTOCAST_PER_DEVICE_API
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_enabled(enabled);
#endif
}

// bf16 autocast on CUDA for the guard's lifetime (matmuls and convolutions in bfloat16,
// reductions and losses in float32). Does nothing when `enabled` is false. Not for CPU.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    was_ = CudaAutocastEnabled();
#ifdef GALAXY_AUTOCAST_PER_DEVICE_API
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
#endif
    SetCudaAutocast(true);
  }
  ~CudaAutocast() {
    if (!enabled_) return;
    SetCudaAutocast(was_);
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  bool enabled_;
  bool was_ = false;
};

// CUDA autocast off for the guard's lifetime, then as it was: for work that must stay in float32
// inside an autocast region (the augmentation's resampling and blur matrices).
class NoCudaAutocast {
 public:
  NoCudaAutocast() : was_(CudaAutocastEnabled()) {
    if (was_) SetCudaAutocast(false);
  }
  ~NoCudaAutocast() {
    if (was_) SetCudaAutocast(true);
  }
  NoCudaAutocast(const NoCudaAutocast&) = delete;
  NoCudaAutocast& operator=(const NoCudaAutocast&) = delete;

 private:
  bool was_;
};

// `host` (a CPU tensor) on `device`. To a GPU the copy goes through pinned memory and does not
// wait: the host thread goes on queueing work while it runs (a plain .to() from pageable memory
// synchronises with the GPU, draining its queue). The pinned block is not reused before the copy
// is done (LibTorch's caching host allocator records the copy). Elsewhere a plain .to().
inline torch::Tensor ToDeviceAsync(const torch::Tensor& host, const torch::Device& device) {
  if (!device.is_cuda() || !host.is_cpu()) return host.to(device);
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

// Appends the values of `t` (any floating or integer type, on any device), flattened in
// row-major order, to `out` as doubles.
inline void AppendDoubles(const torch::Tensor& t, std::vector<double>* out) {
  const torch::Tensor d = t.to(torch::kCPU, torch::kFloat64).contiguous();
  out->insert(out->end(), d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// The values of `t`, as AppendDoubles gives them.
inline std::vector<double> ToDoubles(const torch::Tensor& t) {
  std::vector<double> values;
  values.reserve(static_cast<size_t>(t.numel()));
  AppendDoubles(t, &values);
  return values;
}

// The key of `p`'s state in an optimizer's state map: the TensorImpl's address, written out as
// a string in LibTorch 1.x (as its SGD does) and kept as the pointer where the map takes one.
template <typename Key>
Key OptimizerStateKey(c10::TensorImpl* impl) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream text;
    text << static_cast<const void*>(impl);
    return text.str();
  } else {
    return static_cast<Key>(impl);
  }
}

// One step of `optimizer` (plain SGD: momentum, dampening, weight decay; no Nesterov) as a few
// multi-tensor kernels over all parameters of each group, instead of four or five kernels per
// parameter: on a GPU the per-parameter loop is launch-bound (a ResNet50 has 161 parameter
// tensors). Same arithmetic as torch::optim::SGD::step, and the momentum buffers live in the
// optimizer's own state, so checkpoints and a later plain step() see them. On the CPU the
// multi-tensor ops are plain loops; use step() there.
inline void MultiTensorSgdStep(torch::optim::SGD& optimizer) {
  torch::NoGradGuard no_grad;
  auto& state = optimizer.state();
  using Key = typename std::decay_t<decltype(state)>::key_type;
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    TORCH_CHECK(!o.nesterov(), "MultiTensorSgdStep: Nesterov momentum is not supported");
    std::vector<torch::Tensor> params, grads, buffers;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      params.push_back(p);
      grads.push_back(p.grad());
    }
    if (params.empty()) continue;
    std::vector<torch::Tensor> d = o.weight_decay() != 0 ? at::_foreach_add(grads, params, o.weight_decay()) : grads;
    if (o.momentum() != 0) {
      std::vector<bool> fresh(params.size(), false);
      bool any_fresh = false;
      for (size_t i = 0; i < params.size(); ++i) {
        const Key key = OptimizerStateKey<Key>(params[i].unsafeGetTensorImpl());
        auto found = state.find(key);
        if (found != state.end()) {
          buffers.push_back(static_cast<torch::optim::SGDParamState&>(*found->second).momentum_buffer());
          continue;
        }
        // A parameter's first step: its buffer starts as that step's update (as in SGD::step).
        auto created = std::make_unique<torch::optim::SGDParamState>();
        created->momentum_buffer(torch::clone(d[i]).detach());
        buffers.push_back(created->momentum_buffer());
        state[key] = std::move(created);
        fresh[i] = any_fresh = true;
      }
      if (!any_fresh) {
        at::_foreach_mul_(buffers, o.momentum());
        at::_foreach_add_(buffers, d, 1 - o.dampening());
      } else {
        for (size_t i = 0; i < params.size(); ++i) {
          if (!fresh[i]) buffers[i].mul_(o.momentum()).add_(d[i], 1 - o.dampening());
        }
      }
      d = buffers;
    }
    at::_foreach_add_(params, d, -o.lr());
  }
}

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

#endif  // GALAXY_MODEL_TORCH_COMPAT_H_
