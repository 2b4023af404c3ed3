// BatchNorm over several processes (SyncBatchNorm): each process holds part of the batch, and the
// statistics (mean and variance per channel) are those of the whole batch, summed across the
// processes in the forward pass, with the matching sums of gradients in the backward pass. What
// data-parallel training needs for its result to be the one-process result with the same global
// batch. The model layer knows only how to ask for a sum (BatchNormSync); the trainer's process
// group (trainer/data_parallel.h) does the sum. Include only from .cc files that use LibTorch.
#ifndef GALAXY_MODEL_SYNC_BATCH_NORM_H_
#define GALAXY_MODEL_SYNC_BATCH_NORM_H_

#include <torch/torch.h>

namespace galaxy {

// A sum across the processes of a group.
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // Replaces `t` by its element-wise sum over every process of the group. Every process calls it
  // with the same shapes in the same order; throws (std::exception) when the group fails.
  virtual void AllReduceSum(torch::Tensor& t) = 0;
  // This process's place in the group: 0 .. world_size() - 1.
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
};

// Training-mode BatchNorm of x (N x C or N x C x H x W; N may differ between processes) with
// the statistics of the batch across every process of `sync`: y = (x - mean) / sqrt(var + eps)
// * weight + bias, mean and (biased) var over all processes' images and pixels, differentiable
// (the backward pass sums the statistics' gradients across the processes). Each process's own
// mean and variance (two-pass, in float32) and count are exchanged and combined exactly (the
// parallel form of Welford's update): the variance does not lose its digits to E[x^2] - mean^2
// when the mean is large. Updates the running
// statistics as torch::batch_norm does (unbiased variance, `momentum`) and adds one to
// `num_batches_tracked`. With one process, torch::batch_norm's result to float rounding.
torch::Tensor SyncBatchNorm(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            torch::Tensor& running_mean, torch::Tensor& running_var,
                            torch::Tensor& num_batches_tracked, double momentum, double eps, BatchNormSync& sync);

}  // namespace galaxy

#endif  // GALAXY_MODEL_SYNC_BATCH_NORM_H_
