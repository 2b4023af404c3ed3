#include "model/sync_batch_norm.h"

#include <cstdint>
#include <vector>

namespace galaxy {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// out = the sum of `t` over the processes; d(out)/d(t) is the sum of the processes' gradients
// (each process's loss depends on every process's contribution).
class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& t, int64_t sync_address) {
    // Autograd keeps only IValues between the passes: the group travels as its address; it
    // outlives the step (the trainer owns it for the whole run).
    ctx->saved_data["sync"] = sync_address;
    torch::Tensor out = t.detach().clone();
    reinterpret_cast<BatchNormSync*>(sync_address)->AllReduceSum(out);
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    auto* sync = reinterpret_cast<BatchNormSync*>(ctx->saved_data["sync"].toInt());
    torch::Tensor g = grad[0].contiguous().clone();
    sync->AllReduceSum(g);
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SyncBatchNorm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            torch::Tensor& running_mean, torch::Tensor& running_var,
                            torch::Tensor& num_batches_tracked, double momentum, double eps, BatchNormSync& sync) {
  TORCH_CHECK(x.dim() == 2 || x.dim() == 4, "SyncBatchNorm: expected N x C or N x C x H x W, got ", x.sizes());
  const int64_t c = x.size(1);
  std::vector<int64_t> dims = {0}, shape = {1, c};
  if (x.dim() == 4) {
    dims = {0, 2, 3};
    shape = {1, c, 1, 1};
  }
  // Float32 statistics whatever the activations' type (bf16 under autocast).
  const torch::Tensor x32 = x.to(torch::kFloat32);
  const auto [local_var, local_mean] = torch::var_mean(x32, dims, /*unbiased=*/false);
  const torch::Tensor count = torch::full({1}, static_cast<double>(x.numel() / c), x32.options());
  // Row `rank` of a world x (2C + 1) table holds this process's (mean, var, count); the sum over
  // the processes fills every row. Differentiable: the gradient of this process's row comes back.
  const int world = sync.world_size();
  const torch::Tensor row = torch::cat({local_mean, local_var, count}).unsqueeze(0);
  const torch::Tensor table = torch::cat({torch::zeros({sync.rank(), 2 * c + 1}, row.options()), row,
                                          torch::zeros({world - sync.rank() - 1, 2 * c + 1}, row.options())});
  const torch::Tensor all =
      AllReduceSumFunction::apply(table, static_cast<int64_t>(reinterpret_cast<intptr_t>(&sync)));
  const torch::Tensor means = all.narrow(1, 0, c), vars = all.narrow(1, c, c), counts = all.narrow(1, 2 * c, 1);
  const torch::Tensor n = counts.sum();
  const torch::Tensor mean = (counts * means).sum(0) / n;
  const torch::Tensor var = (counts * (vars + (means - mean).pow(2))).sum(0) / n;
  torch::Tensor y = (x32 - mean.view(shape)) * torch::rsqrt(var + eps).view(shape);
  if (weight.defined()) y = y * weight.to(torch::kFloat32).view(shape) + bias.to(torch::kFloat32).view(shape);
  {
    torch::NoGradGuard no_grad;
    const double images = n.item<double>();
    const torch::Tensor unbiased = var.detach() * (images / std::max(1.0, images - 1));
    running_mean.mul_(1 - momentum).add_(mean.detach().to(running_mean.dtype()), momentum);
    running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype()), momentum);
    num_batches_tracked.add_(1);
  }
  return y.to(x.scalar_type());
}

}  // namespace galaxy
