// Per-step training losses kept on their device until read back together. Reading a loss makes
// the host wait for the device to finish everything queued so far: on a GPU the training loops
// therefore read every few steps, not every step (on the CPU a read costs nothing). Include only
// from .cc files using LibTorch.
#ifndef GALAXY_TRAINER_PENDING_LOSSES_H_
#define GALAXY_TRAINER_PENDING_LOSSES_H_

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace galaxy {

class PendingLosses {
 public:
  struct NonFinite {
    int64_t step;  // 0-based
    double value;
  };

  // The loss of step `step` (0-based), a scalar tensor; steps come in order.
  void Add(int64_t step, const torch::Tensor& loss);
  bool empty() const { return losses_.empty(); }

  // Reads every pending loss back in one transfer and forgets them all. Appends the finite ones,
  // in step order, to `values`, up to the first non-finite one, which comes back instead (the
  // losses after it are dropped: the run stops there).
  std::optional<NonFinite> ReadInto(std::vector<double>* values);

 private:
  std::vector<torch::Tensor> losses_;
  int64_t first_step_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PENDING_LOSSES_H_
