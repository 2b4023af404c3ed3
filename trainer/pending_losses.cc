#include "trainer/pending_losses.h"

#include <cmath>

namespace galaxy {

void PendingLosses::Add(int64_t step, const torch::Tensor& loss) {
  if (losses_.empty()) first_step_ = step;
  losses_.push_back(loss.detach());
}

std::optional<PendingLosses::NonFinite> PendingLosses::ReadInto(std::vector<double>* values) {
  if (losses_.empty()) return std::nullopt;
  const torch::Tensor read = torch::stack(losses_).to(torch::kCPU, torch::kFloat64).contiguous();
  losses_.clear();
  const double* v = read.data_ptr<double>();
  for (int64_t i = 0; i < read.numel(); ++i) {
    if (!std::isfinite(v[i])) return NonFinite{first_step_ + i, v[i]};
    values->push_back(v[i]);
  }
  return std::nullopt;
}

}  // namespace galaxy
