#include "trainer/data_parallel.h"

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "core/log.h"
#include "core/status_macros.h"

#ifdef GALAXY_WITH_GLOO
// c10d's Gloo process group is compiled in only under this definition.
#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace galaxy {
namespace {

absl::StatusOr<int> IntVariable(const std::function<const char*(const char*)>& get, const char* name, int min,
                                int max, std::optional<int> fallback) {
  const char* value = get(name);
  if (value == nullptr || *value == '\0') {
    if (fallback) return *fallback;
    return absl::InvalidArgumentError(absl::StrCat(name, " is not set; WORLD_SIZE > 1 needs RANK, MASTER_ADDR and ",
                                                   "MASTER_PORT (torchrun and the Kubernetes manifests set them)"));
  }
  int parsed = 0;
  if (!absl::SimpleAtoi(value, &parsed) || parsed < min || parsed > max) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, "='", value, "': expected an integer from ", min, " to ", max));
  }
  return parsed;
}

// One line of a library's exception: c10::Error appends a C++ backtrace.
absl::string_view FirstLine(const std::exception& e) {
  absl::string_view what = e.what();
  if (size_t eol = what.find('\n'); eol != absl::string_view::npos) what = what.substr(0, eol);
  return what;
}

bool IsLoopback(const std::string& address) {
  return address == "localhost" || absl::StartsWith(address, "127.") || address == "::1";
}

}  // namespace

absl::StatusOr<DistributedEnv> ParseDistributedEnv(const std::function<const char*(const char*)>& get) {
  DistributedEnv env;
  GALAXY_ASSIGN_OR_RETURN(env.world_size, IntVariable(get, "WORLD_SIZE", 1, 1 << 16, 1));
  if (!env.distributed()) return env;
  GALAXY_ASSIGN_OR_RETURN(env.rank, IntVariable(get, "RANK", 0, env.world_size - 1, std::nullopt));
  GALAXY_ASSIGN_OR_RETURN(env.local_rank, IntVariable(get, "LOCAL_RANK", 0, 1 << 16, 0));
  GALAXY_ASSIGN_OR_RETURN(env.master_port, IntVariable(get, "MASTER_PORT", 1, 65535, std::nullopt));
  if (const char* addr = get("MASTER_ADDR"); addr != nullptr && *addr != '\0') env.master_addr = addr;
  return env;
}

absl::StatusOr<DistributedEnv> DistributedEnvFromEnvironment() {
  return ParseDistributedEnv([](const char* name) { return std::getenv(name); });
}

absl::StatusOr<std::shared_ptr<ProcessGroup>> JoinTrainingGroup(const DistributedEnv& env, int64_t global_batch,
                                                                int timeout_seconds) {
  if (!env.distributed()) return std::shared_ptr<ProcessGroup>();
  if (global_batch % env.world_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--batch ", global_batch,
                                                   " (the global batch) is not a multiple of WORLD_SIZE ",
                                                   env.world_size));
  }
  log::Info("joining the training group", {{"rank", absl::StrCat(env.rank)}, {"world_size", absl::StrCat(env.world_size)},
                                           {"master", absl::StrCat(env.master_addr, ":", env.master_port)}});
  return ProcessGroup::Join(env, absl::Seconds(timeout_seconds));
}

torch::Tensor RankRows(int64_t batch, int rank, int world_size) {
  TORCH_CHECK(world_size >= 1 && rank >= 0 && rank < world_size && batch % world_size == 0, "RankRows: batch ", batch,
              ", rank ", rank, " of ", world_size);
  return torch::arange(rank, batch, world_size, torch::kInt64);
}

torch::Tensor GlobalOrder(const torch::Tensor& gathered, int world_size) {
  const int64_t rows = gathered.size(0);
  TORCH_CHECK(rows % world_size == 0, "GlobalOrder: ", rows, " rows from ", world_size, " ranks");
  std::vector<int64_t> shape = gathered.sizes().vec();
  std::vector<int64_t> split = {world_size, rows / world_size};
  split.insert(split.end(), shape.begin() + 1, shape.end());
  return gathered.reshape(split).transpose(0, 1).reshape(shape);
}

#ifdef GALAXY_WITH_GLOO

bool DataParallelAvailable() { return true; }

struct ProcessGroup::Engine {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

// Gloo and the TCP store write to the other ranks' sockets with plain writev/send. Once a rank has died, such
// a write raises SIGPIPE, whose default action ends this process at once (exit -13, no message), where the
// failed write should become the exception that Fail() explains. Python ignores SIGPIPE at start-up, which is
// why torchrun's ranks never see it; a C++ trainer has to do the same.
namespace {
void IgnoreBrokenPipes() {
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGPIPE, &ignore, nullptr);
}
}  // namespace

absl::StatusOr<std::shared_ptr<ProcessGroup>> ProcessGroup::Join(const DistributedEnv& env, absl::Duration timeout) {
  IgnoreBrokenPipes();
  const auto ms = std::chrono::milliseconds(absl::ToInt64Milliseconds(timeout));
  auto engine = std::make_unique<Engine>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = ms;
    engine->store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
    auto options = c10d::ProcessGroupGloo::Options::create(ms);
    if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface != '\0') {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    } else if (IsLoopback(env.master_addr)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    engine->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(engine->store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("rank ", env.rank, " of ", env.world_size,
                                               " could not join the training group at MASTER_ADDR:MASTER_PORT ",
                                               env.master_addr, ":", env.master_port, " within ",
                                               absl::FormatDuration(timeout), ": ", FirstLine(e)));
  }
  return std::shared_ptr<ProcessGroup>(new ProcessGroup(env.rank, env.world_size, std::move(engine)));
}

void ProcessGroup::AllReduceSum(torch::Tensor& t) { StartAllReduceSum(t)(); }

std::function<void()> ProcessGroup::StartAllReduceSum(torch::Tensor t) {
  try {
    std::vector<torch::Tensor> tensors = {t};
    auto work = engine_->gloo->allreduce(tensors);
    return [this, work, t]() {
      try {
        work->wait();
      } catch (const std::exception& e) {
        Fail("an all-reduce", e);
      }
    };
  } catch (const std::exception& e) {
    Fail("starting an all-reduce", e);
  }
}

torch::Tensor ProcessGroup::AllGather(const torch::Tensor& t) {
  try {
    std::vector<torch::Tensor> input = {t.contiguous()};
    std::vector<std::vector<torch::Tensor>> output(1);
    for (int r = 0; r < world_size_; ++r) output[0].push_back(torch::empty_like(input[0]));
    engine_->gloo->allgather(output, input)->wait();
    return torch::cat(output[0], 0);
  } catch (const std::exception& e) {
    Fail("an all-gather", e);
  }
}

void ProcessGroup::Broadcast(const std::vector<torch::Tensor>& tensors) {
  try {
    for (const torch::Tensor& t : tensors) {
      // Gloo broadcasts one dense tensor at a time.
      std::vector<torch::Tensor> one = {t.is_contiguous() ? t : t.contiguous()};
      engine_->gloo->broadcast(one)->wait();
      if (!t.is_contiguous()) {
        torch::NoGradGuard no_grad;
        torch::Tensor(t).copy_(one[0]);
      }
    }
  } catch (const std::exception& e) {
    Fail("a broadcast from rank 0", e);
  }
}

#else  // !GALAXY_WITH_GLOO

bool DataParallelAvailable() { return false; }

struct ProcessGroup::Engine {};

absl::StatusOr<std::shared_ptr<ProcessGroup>> ProcessGroup::Join(const DistributedEnv& env, absl::Duration) {
  return absl::FailedPreconditionError(
      absl::StrCat("WORLD_SIZE=", env.world_size, ": this build cannot train over processes (LibTorch's Gloo ",
                   "process group and libgloo's headers were not found when it was compiled)"));
}

namespace {
[[noreturn]] void Unreachable() { throw std::logic_error("ProcessGroup without Gloo"); }
}  // namespace

void ProcessGroup::AllReduceSum(torch::Tensor&) { Unreachable(); }
std::function<void()> ProcessGroup::StartAllReduceSum(torch::Tensor) { Unreachable(); }
torch::Tensor ProcessGroup::AllGather(const torch::Tensor&) { Unreachable(); }
void ProcessGroup::Broadcast(const std::vector<torch::Tensor>&) { Unreachable(); }

#endif  // GALAXY_WITH_GLOO

ProcessGroup::ProcessGroup(int rank, int world_size, std::unique_ptr<Engine> engine)
    : rank_(rank), world_size_(world_size), engine_(std::move(engine)) {}

ProcessGroup::~ProcessGroup() = default;

void ProcessGroup::Fail(absl::string_view what, const std::exception& e) const {
  throw std::runtime_error(absl::StrCat(
      "data-parallel training, rank ", rank_, " of ", world_size_, ": ", what, " failed (", FirstLine(e),
      "): another rank has stopped (killed, out of memory, or failed: see its log), kept the others waiting past ",
      "--dist-timeout, or the network between the ranks failed"));
}

absl::Status ProcessGroup::CheckSame(int64_t value, absl::string_view what) {
  torch::Tensor all;
  try {
    all = AllGather(torch::tensor({value}, torch::kInt64));
  } catch (const std::exception& e) {
    return absl::UnavailableError(FirstLine(e));
  }
  std::vector<std::string> values;
  bool same = true;
  for (int r = 0; r < world_size_; ++r) {
    const int64_t v = all[r].item<int64_t>();
    same = same && v == value;
    values.push_back(absl::StrCat("rank ", r, ": ", v));
  }
  if (same) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat("the ranks disagree on ", what, " (", absl::StrJoin(values, ", "), ")"));
}

GradientReducer::GradientReducer(std::shared_ptr<ProcessGroup> group, const std::vector<torch::Tensor>& parameters,
                                 int64_t bucket_bytes)
    : group_(std::move(group)) {
  for (const torch::Tensor& p : parameters) {
    if (!p.requires_grad()) continue;
    TORCH_CHECK(p.scalar_type() == torch::kFloat32, "GradientReducer: parameters must be float32");
    TORCH_CHECK(parameters_.empty() || p.device() == parameters_[0].device(),
                "GradientReducer: parameters must be on one device");
    parameters_.push_back(p);
  }
  bucket_of_.resize(parameters_.size());
  slot_of_.resize(parameters_.size());
  has_gradient_.assign(parameters_.size(), false);
  // Buckets in the reverse of the parameters' order: the last layers' gradients come first.
  int64_t filled = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    if (buckets_.empty() || filled * 4 >= bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    Bucket& bucket = buckets_.back();
    bucket_of_[k] = buckets_.size() - 1;
    slot_of_[k] = bucket.members.size();
    bucket.offsets.push_back(filled);
    bucket.members.push_back(k);
    filled += parameters_[k].numel();
  }
  for (Bucket& bucket : buckets_) {
    const size_t last = bucket.members.back();
    bucket.flat = torch::zeros({bucket.offsets.back() + parameters_[last].numel()}, parameters_[last].options());
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](const torch::Tensor& grad) { OnGradient(k, grad); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientReducer::OnGradient(size_t index, const torch::Tensor& grad) {
  Bucket& bucket = buckets_[bucket_of_[index]];
  torch::NoGradGuard no_grad;
  bucket.flat.narrow(0, bucket.offsets[slot_of_[index]], grad.numel()).copy_(grad.reshape(-1));
  if (!has_gradient_[index]) {
    has_gradient_[index] = true;
    ++bucket.ready;
  }
  StartReadyBuckets();
}

void GradientReducer::StartReadyBuckets() {
  // In bucket order on every rank, whatever order the hooks ran in: collectives pair up by order.
  while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].ready == buckets_[next_bucket_].members.size()) {
    Start(buckets_[next_bucket_++]);
  }
}

void GradientReducer::Start(Bucket& bucket) { bucket.wait = group_->StartAllReduceSum(bucket.flat); }

void GradientReducer::Finish() {
  torch::NoGradGuard no_grad;
  for (; next_bucket_ < buckets_.size(); ++next_bucket_) {
    Bucket& bucket = buckets_[next_bucket_];
    if (bucket.ready == 0) continue;  // no gradient anywhere in it this step (the same on every rank)
    for (size_t s = 0; s < bucket.members.size(); ++s) {
      const size_t k = bucket.members[s];
      if (!has_gradient_[k]) bucket.flat.narrow(0, bucket.offsets[s], parameters_[k].numel()).zero_();
    }
    Start(bucket);
  }
  const double scale = 1.0 / group_->world_size();
  for (Bucket& bucket : buckets_) {
    if (!bucket.wait) continue;
    bucket.wait();
    bucket.wait = nullptr;
    bucket.flat.mul_(scale);
    for (size_t s = 0; s < bucket.members.size(); ++s) {
      const size_t k = bucket.members[s];
      if (!has_gradient_[k]) continue;
      torch::Tensor& p = parameters_[k];
      const torch::Tensor mean = bucket.flat.narrow(0, bucket.offsets[s], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(mean);
      } else {
        p.mutable_grad() = mean.clone();
      }
    }
  }
  for (Bucket& bucket : buckets_) bucket.ready = 0;
  has_gradient_.assign(parameters_.size(), false);
  next_bucket_ = 0;
}

void AverageBuffers(ProcessGroup& group, torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& b : module.buffers()) {
    if (!b.is_floating_point()) continue;
    torch::Tensor sum = b.contiguous().clone();
    group.AllReduceSum(sum);
    b.copy_(sum / group.world_size());
  }
}

void BroadcastState(ProcessGroup& group, torch::nn::Module& module) {
  std::vector<torch::Tensor> state = module.parameters();
  for (const torch::Tensor& b : module.buffers()) state.push_back(b);
  group.Broadcast(state);
}

}  // namespace galaxy
