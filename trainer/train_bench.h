// Training-step and embedding throughput of the real code path (MoCo step with augmentation on
// the device; eval-mode embedding), for galaxy-train bench and galaxy-bench.
#ifndef GALAXY_TRAINER_TRAIN_BENCH_H_
#define GALAXY_TRAINER_TRAIN_BENCH_H_

#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

struct TrainBenchOptions {
  std::string arch = "resnet18";
  std::string stem = "torchvision";
  int batch = 64;
  // Images per embedding call. Default 1024 (the GPU anchors' size).
  int embed_batch = 1024;
  int bands = 5;
  int image_size = 64;
  // Timed steps (after one warm-up step). Default 5.
  int steps = 5;
  std::string device = "auto";
  int threads = 0;
  // Channels-last weights and inputs: -1 (default) on CUDA only, as galaxy-train pretrain does;
  // 1 on every device; 0 never.
  int channels_last = -1;
  // bf16 autocast on CUDA. Default true.
  bool amp = true;
  // The augmentation's form: "auto" (default; what training runs: the fused kernel on the CPU,
  // ApplyOnDevice on a GPU), "device" (ApplyOnDevice everywhere) or "stepwise" (ApplyStepByStep,
  // the reference), to compare them in one run.
  std::string augment_form = "auto";
  // The optimizer step as multi-tensor kernels on CUDA, as galaxy-train pretrain does. Default
  // true; false: torch::optim::SGD::step, one set of kernels per parameter.
  bool multi_tensor_sgd = true;
};

struct TrainBenchResult {
  std::string device;
  int threads = 0;
  // Throughputs. On the CPU they come from the median step (each step timed alone: steal time
  // on shared machines makes means wander); on CUDA from the total over the steps (timing each
  // step alone would need a synchronisation per step).
  double train_images_per_s = 0;          // MoCo step: augment both views + forward/backward
  double train_no_augment_images_per_s = 0;  // the same step on un-augmented crops
  double embed_images_per_s = 0;          // backbone (BatchNorm folded) + projection, eval mode, no grad
  double augment_ms_per_view = 0;         // draw + apply for one view of `batch` images, alone
  bool channels_last = false;             // the layout used
  bool multi_tensor_sgd = false;          // the optimizer step used (MultiTensorSgdStep)
};

absl::StatusOr<TrainBenchResult> RunTrainBench(const TrainBenchOptions& options);
std::string TrainBenchJson(const TrainBenchOptions& options, const TrainBenchResult& result);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAIN_BENCH_H_
