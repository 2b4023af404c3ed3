// Data-parallel training over processes with LibTorch's torch.distributed engine (c10d): a
// TCPStore for the rendezvous and ProcessGroupGloo for the collectives, over TCP between
// processes on one machine or many. The processes find each other from the variables torchrun,
// a Kubernetes Indexed Job or a Kubeflow PyTorchJob set (RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT). LibTorch's C++ API has no DistributedDataParallel: GradientReducer
// is ours (bucketed all-reduce started from gradient hooks, so that it overlaps the backward
// pass, as DDP does). docs/SCALING.md, "Training on several processes", says how a global batch
// is divided so that W processes compute what one would.
//
// Include only from .cc files that use LibTorch.
#ifndef GALAXY_TRAINER_DATA_PARALLEL_H_
#define GALAXY_TRAINER_DATA_PARALLEL_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "model/sync_batch_norm.h"

namespace galaxy {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool distributed() const { return world_size > 1; }
};

// The process's place in a training group, from RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and
// MASTER_PORT as `get` (getenv) returns them. WORLD_SIZE unset or 1: one process, nothing else
// needed. Otherwise RANK and MASTER_PORT are required (MASTER_ADDR defaults to 127.0.0.1);
// INVALID_ARGUMENT names the variable that is missing or wrong.
absl::StatusOr<DistributedEnv> ParseDistributedEnv(const std::function<const char*(const char*)>& get);
absl::StatusOr<DistributedEnv> DistributedEnvFromEnvironment();

// Whether this build can train over processes (LibTorch's c10d with Gloo, and libgloo's headers
// when it was compiled).
bool DataParallelAvailable();

// A group of training processes. Every collective must be called by every rank in the same order
// with the same shapes. A collective that fails (a rank was killed, the network failed, or a
// rank kept the others waiting longer than the timeout) throws std::runtime_error with one line
// that says so and which rank saw it.
class ProcessGroup final : public BatchNormSync {
 public:
  // Joins the group described by `env` (distributed()): rank 0 listens on MASTER_PORT, the
  // others connect, and every rank connects to every other. UNAVAILABLE when the group does not
  // form within `timeout` (which is also every collective's); FAILED_PRECONDITION when this
  // build has no Gloo.
  static absl::StatusOr<std::shared_ptr<ProcessGroup>> Join(const DistributedEnv& env, absl::Duration timeout);
  ~ProcessGroup() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }

  void AllReduceSum(torch::Tensor& t) override;
  // Starts an in-place sum of `t` (kept alive until done) and returns what waits for it.
  std::function<void()> StartAllReduceSum(torch::Tensor t);
  // Every rank's `t` (same shape on every rank), concatenated along dimension 0 in rank order.
  torch::Tensor AllGather(const torch::Tensor& t);
  // Rank 0's values into `tensors` on every rank, in place.
  void Broadcast(const std::vector<torch::Tensor>& tensors);
  // OK when every rank passes the same `value`; FAILED_PRECONDITION naming `what` and each
  // rank's value otherwise; UNAVAILABLE when the group failed (a status, not an exception).
  absl::Status CheckSame(int64_t value, absl::string_view what);

 private:
  struct Engine;
  ProcessGroup(int rank, int world_size, std::unique_ptr<Engine> engine);
  [[noreturn]] void Fail(absl::string_view what, const std::exception& e) const;

  int rank_ = 0, world_size_ = 1;
  std::unique_ptr<Engine> engine_;
};

// The group a trainer joins under `env` (DistributedEnvFromEnvironment): nullptr when it trains
// alone (!env.distributed()). INVALID_ARGUMENT when `global_batch` is not a multiple of
// WORLD_SIZE (checked before waiting for anyone); otherwise as ProcessGroup::Join, within
// `timeout_seconds`.
absl::StatusOr<std::shared_ptr<ProcessGroup>> JoinTrainingGroup(const DistributedEnv& env, int64_t global_batch,
                                                                int timeout_seconds);

// How W processes share a global batch of B (a multiple of W): global row j is row j / W of rank
// j % W. RankRows gives rank `rank`'s rows of the global batch (rank, rank + W, ...); GlobalOrder
// puts the rows of an AllGather (rank-major: rank r's row i at r * B/W + i) back in the global
// batch's order. With per-rank sub-batches of BatchNorm (every s-th local row), rank r's local
// sub-batch g is the global sub-batch r + W g of W s: what one process with W s sub-batches does.
torch::Tensor RankRows(int64_t batch, int rank, int world_size);
torch::Tensor GlobalOrder(const torch::Tensor& gathered, int world_size);

// Averages `parameters`' gradients over the group after each backward pass, as
// DistributedDataParallel: the gradients are copied into buckets of about `bucket_bytes` (in
// the reverse of the parameters' order, roughly the order backward produces them) by hooks on
// the parameters, and each bucket's all-reduce starts as soon as it is full (in bucket order on
// every rank), while backward goes on. A parameter that got no gradient this step (no graph
// through it) keeps none. Parameters must be float32 and on one device.
class GradientReducer {
 public:
  GradientReducer(std::shared_ptr<ProcessGroup> group, const std::vector<torch::Tensor>& parameters,
                  int64_t bucket_bytes = 25 << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After backward(): starts the buckets not started yet, waits for all of them and replaces
  // each gradient by the mean over the ranks. Throws as ProcessGroup's collectives.
  void Finish();

 private:
  struct Bucket {
    std::vector<size_t> members;  // indices into parameters_
    std::vector<int64_t> offsets;
    torch::Tensor flat;
    size_t ready = 0;
    std::function<void()> wait;
  };
  void OnGradient(size_t index, const torch::Tensor& grad);
  void StartReadyBuckets();
  void Start(Bucket& bucket);

  std::shared_ptr<ProcessGroup> group_;
  std::vector<torch::Tensor> parameters_;
  std::vector<unsigned> hooks_;
  std::vector<size_t> bucket_of_, slot_of_;
  std::vector<bool> has_gradient_;
  std::vector<Bucket> buckets_;
  size_t next_bucket_ = 0;
};

// Mean over the group of `module`'s floating-point buffers (BatchNorm's running statistics):
// ranks that normalise their own sub-batches keep their own statistics, and the statistics' update
// is linear, so their mean is what one process would hold. Before a checkpoint or an evaluation.
void AverageBuffers(ProcessGroup& group, torch::nn::Module& module);

// Rank 0's parameters and buffers of `module` on every rank.
void BroadcastState(ProcessGroup& group, torch::nn::Module& module);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_DATA_PARALLEL_H_
