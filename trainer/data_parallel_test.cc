// Data-parallel training (trainer/data_parallel.h) through the galaxy-train binary: two ranks
// over Gloo on loopback train the weights one process trains with the same global batch (MoCo
// with shuffling BatchNorm divided among the ranks, with synchronised BatchNorm and with the
// photometric pretext; fine-tuning),
// a run resumes with another world size, and a killed or missing rank stops the others with an
// error instead of a hang or a silent death by SIGPIPE.
#include "trainer/data_parallel.h"

#include <errno.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/sim/synth_survey.h"
#include "model/checkpoint.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"
#include "trainer/pretrain.h"

namespace galaxy {
namespace {

using testutil::CommandResult;
using testutil::ConcurrentCommand;

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::vector<std::string> Train(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testutil::BinDir() + "/galaxy-train"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// The ranks of a group of `world` processes running galaxy-train `args`.
std::vector<ConcurrentCommand> Ranks(int world, const std::vector<std::string>& args, int port) {
  std::vector<ConcurrentCommand> ranks;
  for (int r = 0; r < world; ++r) {
    ranks.push_back({Train(args),
                     {absl::StrCat("RANK=", r), absl::StrCat("LOCAL_RANK=", r), absl::StrCat("WORLD_SIZE=", world),
                      "MASTER_ADDR=127.0.0.1", absl::StrCat("MASTER_PORT=", port)},
                     ""});
  }
  return ranks;
}

std::vector<CommandResult> RunRanks(const std::vector<ConcurrentCommand>& ranks) {
  absl::StatusOr<std::vector<CommandResult>> results = testutil::RunTogether(ranks, absl::Seconds(300));
  EXPECT_TRUE(results.ok()) << results.status();
  return results.ok() ? *results : std::vector<CommandResult>(ranks.size());
}

CommandResult RunOne(const std::vector<std::string>& args) {
  absl::StatusOr<CommandResult> r = testutil::RunCommand(Train(args), absl::Seconds(300));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CommandResult{};
}

// Every parameter and buffer of a checkpoint's network (and the MoCo parts: key encoder, queue).
std::vector<std::pair<std::string, torch::Tensor>> Weights(const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  absl::StatusOr<GalaxyNet> net = LoadGalaxyNet(path, torch::kCPU);
  EXPECT_TRUE(net.ok()) << net.status();
  if (!net.ok()) return out;
  auto add = [&out](const std::string& prefix, const torch::nn::Module& module) {
    for (const auto& p : module.named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach());
    for (const auto& b : module.named_buffers()) out.emplace_back(prefix + b.key(), b.value());
  };
  add("backbone.", *net->backbone);
  if (net->projection) add("projection.", *net->projection);
  if (net->redshift) add("redshift.", *net->redshift);
  if (net->metadata.kind == "moco") {
    absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    ResNetConfig config;
    config.arch = net->metadata.arch;
    config.stem = net->metadata.stem;
    config.in_channels = static_cast<int64_t>(net->metadata.band_names.size());
    config.input_softening = net->metadata.input_softening;
    ResNet keys(config);
    EXPECT_TRUE((*reader)->LoadModule("encoder_k", *keys).ok());
    add("encoder_k.", *keys);
    absl::StatusOr<torch::Tensor> queue = (*reader)->LoadTensor("queue");
    EXPECT_TRUE(queue.ok()) << queue.status();
    if (queue.ok()) out.emplace_back("queue", *queue);
    // The photometric pretext's head, in a run that had one (five outputs for the one aperture).
    torch::nn::Linear photometry(net->metadata.feature_dim, 5);
    const absl::Status head = (*reader)->LoadModule(kPhotometryHeadPart, *photometry);
    EXPECT_TRUE(head.ok() || absl::IsNotFound(head)) << head;
    if (head.ok()) add("photometry_head.", *photometry);
  }
  return out;
}

// The two checkpoints hold the same weights to float rounding: the largest difference of any
// parameter or buffer, relative to the tensor's largest value (at least 1).
void ExpectSameWeights(const std::string& a, const std::string& b) {
  const auto wa = Weights(a), wb = Weights(b);
  ASSERT_EQ(wa.size(), wb.size());
  ASSERT_GT(wa.size(), 10u);
  double worst = 0;
  std::string where;
  for (size_t i = 0; i < wa.size(); ++i) {
    ASSERT_EQ(wa[i].first, wb[i].first);
    ASSERT_EQ(wa[i].second.sizes(), wb[i].second.sizes()) << wa[i].first;
    const torch::Tensor x = wa[i].second.to(torch::kFloat64), y = wb[i].second.to(torch::kFloat64);
    const double scale = std::max(1.0, x.abs().max().item<double>());
    const double diff = (x - y).abs().max().item<double>() / scale;
    if (diff > worst) {
      worst = diff;
      where = wa[i].first;
    }
  }
  EXPECT_LT(worst, 2e-5) << "largest difference in " << where;
}

class DataParallelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DataParallelAvailable()) GTEST_SKIP() << "built without Gloo";
    SynthOptions o;
    o.count = 400;
    o.seed = 9;
    data_ = dir_.File("survey.h5");
    ASSERT_TRUE(WriteSyntheticSurvey(o, data_, 0).ok());
  }

  // At --lr 0.01 this tiny network trains smoothly. At the default 0.03 its loss climbs from
  // 0.8 to 4 in six steps and each step multiplies a difference between two runs about fivefold
  // (measured: losses equal to 1e-7 for two steps, then 3e-6, 1.5e-5, 2e-4, 8e-4): a rounding
  // difference of 1e-7 (the sum of two half-batches' gradients, or SyncBatchNorm's arithmetic
  // beside torch::batch_norm's) becomes 1e-3 whichever way the batch is divided, and so would any
  // other. The tolerance below is for a run that does not amplify.
  std::vector<std::string> Pretrain(const std::string& out, const std::string& bn_splits, int steps = 6) {
    return {"pretrain", "--data", data_, "--out", dir_.File(out), "--arch", "tiny", "--stem", "torchvision",
            "--steps", std::to_string(steps), "--batch", "16", "--queue", "64", "--bn-splits", bn_splits,
            "--monitor-every", "0", "--threads", "1", "--device", "cpu", "--checkpoint-every", "3", "--lr", "0.01"};
  }

  testutil::ScopedTempDir dir_;
  std::string data_;
};

TEST_F(DataParallelTest, TwoRanksTrainWhatOneProcessTrainsWithShufflingBatchNorm) {
  const CommandResult one = RunOne(Pretrain("one", "2"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::vector<CommandResult> two = RunRanks(Ranks(2, Pretrain("two", "2"), FreePort()));
  ASSERT_EQ(two.size(), 2u);
  ASSERT_EQ(two[0].exit_code, 0) << two[0].err;
  ASSERT_EQ(two[1].exit_code, 0) << two[1].err;
  EXPECT_TRUE(absl::StrContains(two[1].out, "rank 1: rank 0 writes the checkpoints")) << two[1].out;
  ExpectSameWeights(dir_.File("one/model.pt"), dir_.File("two/model.pt"));
}

TEST_F(DataParallelTest, TwoRanksTrainWhatOneProcessTrainsWithSynchronisedBatchNorm) {
  const CommandResult one = RunOne(Pretrain("one", "1"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::vector<CommandResult> two = RunRanks(Ranks(2, Pretrain("two", "1"), FreePort()));
  ASSERT_EQ(two[0].exit_code, 0) << two[0].err;
  ASSERT_EQ(two[1].exit_code, 0) << two[1].err;
  ExpectSameWeights(dir_.File("one/model.pt"), dir_.File("two/model.pt"));
}

// The photometric pretext's loss and the local views' are each rank's share of the batch; the
// pretext head's gradients are averaged with the network's, and each rank's local views fall in
// the BatchNorm sub-batch of their images, so two ranks train what one process trains, head
// included.
TEST_F(DataParallelTest, TwoRanksTrainWhatOneProcessTrainsWithThePhotometricPretextAndLocalViews) {
  auto pretrain = [&](const std::string& out) {
    std::vector<std::string> args = Pretrain(out, "2");
    args.insert(args.end(), {"--photometry-weight", "1", "--local-crops", "2", "--local-crop", "24"});
    return args;
  };
  const CommandResult one = RunOne(pretrain("one"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::vector<CommandResult> two = RunRanks(Ranks(2, pretrain("two"), FreePort()));
  ASSERT_EQ(two[0].exit_code, 0) << two[0].err;
  ASSERT_EQ(two[1].exit_code, 0) << two[1].err;
  bool has_head = false;
  for (const auto& [name, tensor] : Weights(dir_.File("two/model.pt"))) has_head |= name == "photometry_head.weight";
  EXPECT_TRUE(has_head);
  ExpectSameWeights(dir_.File("one/model.pt"), dir_.File("two/model.pt"));
}

TEST_F(DataParallelTest, ARunStartedInOneProcessResumesOnTwo) {
  const CommandResult whole = RunOne(Pretrain("whole", "2"));
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  // Three steps in this process (no torchrun variables here), the rest on two ranks.
  PretrainOptions first;
  first.data_path = data_;
  first.out_dir = dir_.File("resumed");
  first.arch = "tiny";
  first.stem = "torchvision";
  first.steps = 6;
  first.batch = 16;
  first.queue = 64;
  first.bn_splits = 2;
  first.monitor_every = 0;
  first.threads = 1;
  first.device = "cpu";
  first.checkpoint_every = 3;
  first.lr_per_256 = 0.01;
  absl::StatusOr<PretrainResult> part = RunPretrain(first, /*stop_after=*/3);
  ASSERT_TRUE(part.ok()) << part.status();
  ASSERT_EQ(part->steps, 3);
  std::vector<std::string> args = Pretrain("resumed", "2");
  args.push_back("--resume-if-present");  // what a restarted Kubernetes Job runs
  const std::vector<CommandResult> two = RunRanks(Ranks(2, args, FreePort()));
  ASSERT_EQ(two[0].exit_code, 0) << two[0].err;
  ASSERT_EQ(two[1].exit_code, 0) << two[1].err;
  // Both ranks took up the run at step 3 (a fresh start would end with the same weights).
  EXPECT_TRUE(absl::StrContains(two[0].err, "training from step 3 of 6, rank 0 of 2")) << two[0].err;
  EXPECT_TRUE(absl::StrContains(two[1].err, "training from step 3 of 6, rank 1 of 2")) << two[1].err;
  ExpectSameWeights(dir_.File("whole/model.pt"), dir_.File("resumed/model.pt"));
}

TEST_F(DataParallelTest, FineTuningOnTwoRanksTrainsWhatOneProcessTrains) {
  const CommandResult pretrained = RunOne(Pretrain("pre", "2"));
  ASSERT_EQ(pretrained.exit_code, 0) << pretrained.err;
  auto finetune = [&](const std::string& out) {
    return std::vector<std::string>{"finetune", "--data", data_, "--init", dir_.File("pre/model.pt"), "--out",
                                    dir_.File(out), "--steps", "6", "--batch", "16", "--head-warmup-steps", "2",
                                    "--threads", "1", "--device", "cpu"};
  };
  const CommandResult one = RunOne(finetune("ft1"));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  const std::vector<CommandResult> two = RunRanks(Ranks(2, finetune("ft2"), FreePort()));
  ASSERT_EQ(two[0].exit_code, 0) << two[0].err;
  ASSERT_EQ(two[1].exit_code, 0) << two[1].err;
  ExpectSameWeights(dir_.File("ft1/model.pt"), dir_.File("ft2/model.pt"));
}

TEST_F(DataParallelTest, AKilledRankStopsTheOthersWithAnError) {
  std::vector<std::string> args = Pretrain("killed", "2", /*steps=*/100000);
  args.push_back("--resume-if-present");  // nothing to resume: starts
  std::vector<ConcurrentCommand> ranks = Ranks(2, args, FreePort());
  // Rank 1 is killed once it trains (its first step's line); rank 0 must stop by itself.
  ranks[1].kill_marker = "pretrain: training";
  const std::vector<CommandResult> results = RunRanks(ranks);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].exit_code, -SIGKILL);
  EXPECT_EQ(results[0].exit_code, 1) << results[0].err;
  EXPECT_TRUE(absl::StrContains(results[0].err, "rank 0 of 2")) << results[0].err;
  EXPECT_TRUE(absl::StrContains(results[0].err, "another rank has stopped")) << results[0].err;
  EXPECT_TRUE(absl::StrContains(results[0].err, "training from step 0 of 100000")) << results[0].err;
}

TEST_F(DataParallelTest, ARankAloneGivesUpAfterTheTimeoutAndSaysWhy) {
  std::vector<std::string> args = Pretrain("alone", "2");
  args.insert(args.end(), {"--dist-timeout", "3"});
  std::vector<ConcurrentCommand> ranks = Ranks(2, args, FreePort());
  ranks.pop_back();  // rank 1 never comes
  const std::vector<CommandResult> results = RunRanks(ranks);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].exit_code, 1);
  EXPECT_TRUE(absl::StrContains(results[0].err, "could not join the training group")) << results[0].err;
}

// Once a rank has died, a write to its socket must fail with EPIPE (which Gloo turns into the error that
// AKilledRankStopsTheOthersWithAnError reads), not raise SIGPIPE and end this rank with no word (exit -13),
// as it did now and then when the killed rank's socket was written to twice.
TEST(ProcessGroupTest, AfterJoiningAWriteToADeadPeerIsAnErrorNotAFatalSignal) {
  if (!DataParallelAvailable()) GTEST_SKIP() << "built without Gloo";
  DistributedEnv env;
  env.world_size = 2;
  env.master_port = FreePort();
  // Rank 1 never comes: the join gives up, having set the process up as a rank.
  ASSERT_FALSE(ProcessGroup::Join(env, absl::Seconds(1)).ok());
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  ::close(fds[1]);  // the peer is gone
  const char byte = 0;
  EXPECT_EQ(::write(fds[0], &byte, 1), -1);  // SIGPIPE's default action would end the test here
  EXPECT_EQ(errno, EPIPE);
  ::close(fds[0]);
}

TEST(DistributedEnvTest, ReadsTorchrunsVariablesAndNamesTheBadOne) {
  auto parse = [](std::map<std::string, std::string> vars) {
    return ParseDistributedEnv([vars](const char* name) -> const char* {
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    });
  };
  absl::StatusOr<DistributedEnv> alone = parse({});
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(alone->distributed());
  absl::StatusOr<DistributedEnv> env =
      parse({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "train-0"}, {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->rank, 3);
  EXPECT_EQ(env->world_size, 4);
  EXPECT_EQ(env->local_rank, 1);
  EXPECT_EQ(env->master_addr, "train-0");
  EXPECT_EQ(env->master_port, 29500);
  absl::StatusOr<DistributedEnv> bad = parse({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_PORT", "1"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "RANK='2'")) << bad.status();
  absl::StatusOr<DistributedEnv> no_port = parse({{"WORLD_SIZE", "2"}, {"RANK", "0"}});
  ASSERT_FALSE(no_port.ok());
  EXPECT_TRUE(absl::StrContains(no_port.status().message(), "MASTER_PORT is not set")) << no_port.status();
}

TEST(DistributedEnvTest, GlobalOrderUndoesTheRanksShareOfABatch) {
  // Batch of 8 over 2 ranks: rank 0 has rows 0 2 4 6, rank 1 rows 1 3 5 7; gathered rank-major.
  EXPECT_TRUE(torch::equal(RankRows(8, 1, 2), torch::tensor({1, 3, 5, 7}, torch::kInt64)));
  const torch::Tensor gathered = torch::cat({RankRows(8, 0, 2), RankRows(8, 1, 2)}).view({8, 1}).repeat({1, 3});
  EXPECT_TRUE(torch::equal(GlobalOrder(gathered, 2).select(1, 2), torch::arange(8, torch::kInt64)));
}

}  // namespace
}  // namespace galaxy
