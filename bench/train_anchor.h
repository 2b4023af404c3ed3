// Training-step and embedding throughput on the CPU as a ratio to PyTorch eager, both measured in
// one run: the anchor (the reference program cpu_moco_anchor.py's ResNet18 torchvision-stem network
// and MoCo step) runs in Debian's python3-torch, alternately with galaxy-train's own step, and
// the medians are compared. Used by `galaxy-bench train-ratio`, `galaxy-bench run` and
// bench/cpu_anchor_ratio.sh.
#ifndef GALAXY_BENCH_TRAIN_ANCHOR_H_
#define GALAXY_BENCH_TRAIN_ANCHOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct TrainRatioOptions {
  int rounds = 5;        // alternating rounds; medians are compared
  int batch = 64;        // training and embedding batch (the anchor's)
  int steps = 5;         // timed steps per round, after one warm-up step
  int threads = 2;       // intra-op threads on both sides (the anchor's figure is for 2)
  std::string python = "/usr/bin/python3";
};

struct TrainRatioRound {
  double anchor_train = 0, anchor_embed = 0;  // 0 when the anchor is not available
  double train = 0, train_no_augment = 0, embed = 0;
};

struct TrainRatioResult {
  // Empty when the anchor ran; otherwise why not (e.g. python3-torch is not installed).
  std::string anchor_missing;
  std::vector<TrainRatioRound> rounds;
  TrainRatioRound median;
  double ratio_train() const { return median.anchor_train > 0 ? median.train / median.anchor_train : 0; }
  double ratio_train_no_augment() const {
    return median.anchor_train > 0 ? median.train_no_augment / median.anchor_train : 0;
  }
  double ratio_embed() const { return median.anchor_embed > 0 ? median.embed / median.anchor_embed : 0; }
};

absl::StatusOr<TrainRatioResult> RunCpuTrainRatio(const TrainRatioOptions& options);
std::string TrainRatioJson(const TrainRatioOptions& options, const TrainRatioResult& result);
// One line per round and the medians with their ratios.
std::string TrainRatioText(const TrainRatioResult& result);

}  // namespace galaxy

#endif  // GALAXY_BENCH_TRAIN_ANCHOR_H_
