#include "bench/train_anchor.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/photoz/photoz_metrics.h"
#include "nlohmann/json.hpp"
#include "trainer/train_bench.h"

namespace galaxy {
namespace {

// The anchor's network and step (the reference program cpu_moco_anchor.py), parameterised by batch,
// steps and threads; prints "train_img_per_s embed_img_per_s", each from the median of `steps`
// timed calls (the anchor file times their total; the median is what galaxy-train bench reports
// on the CPU, and resists the steal time of shared machines).
constexpr const char* kAnchorScript = R"PY(
import statistics, sys, time, torch, torch.nn as nn, torch.nn.functional as F, torchvision
batch, steps, threads = (int(a) for a in sys.argv[1:4])
torch.manual_seed(0); torch.set_num_threads(threads)
def net():
    m = torchvision.models.resnet18(num_classes=128); m.conv1 = nn.Conv2d(5, 64, 7, 2, 3, bias=False)
    d = m.fc.in_features; m.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 128)); return m
q, k = net(), net(); k.load_state_dict(q.state_dict())
queue = F.normalize(torch.randn(128, 4096), dim=0); opt = torch.optim.SGD(q.parameters(), lr=0.03, momentum=0.9)
x = torch.randn(batch, 5, 64, 64)
def step():
    qq = F.normalize(q(torch.flip(x, [3])), dim=1)
    with torch.no_grad(): kk = F.normalize(k(torch.rot90(x, 1, [2, 3])), dim=1)
    logits = torch.cat([(qq * kk).sum(1, keepdim=True), qq @ queue], 1) / 0.2
    loss = F.cross_entropy(logits, torch.zeros(batch, dtype=torch.long)); opt.zero_grad(); loss.backward(); opt.step()
def median_rate(run):  # images per second of the median call, after a warm-up call (as galaxy-train bench)
    run(); times = []
    for _ in range(steps):
        t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
    return batch / statistics.median(times)
train = median_rate(step)
q.eval()
with torch.no_grad():
    embed = median_rate(lambda: q(x))
print(f"{train} {embed}")
)PY";

// Runs argv, returning its standard output; the exit status in *exit_code.
absl::StatusOr<std::string> Capture(const std::string& command, int* exit_code) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("cannot run: ", command));
  std::string out;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) out.append(buffer, n);
  const int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  return out;
}

}  // namespace

absl::StatusOr<TrainRatioResult> RunCpuTrainRatio(const TrainRatioOptions& o) {
  if (o.rounds < 1 || o.batch < 2 || o.steps < 1 || o.threads < 1) {
    return absl::InvalidArgumentError("train ratio: --rounds >= 1, --batch >= 2, --steps >= 1, --threads >= 1");
  }
  TrainRatioResult result;
  int code = 0;
  GALAXY_RETURN_IF_ERROR(Capture(o.python + " -c 'import torch, torchvision' 2>&1", &code).status());
  const std::string script = absl::StrCat("/tmp/galaxy-bench-anchor-", ::getpid(), ".py");
  if (code != 0) {
    result.anchor_missing = absl::StrCat(o.python, " cannot import torch and torchvision (install python3-torch ",
                                         "python3-torchvision: deploy/install-deps.sh --bench)");
    log::Warn("train ratio: PyTorch eager anchor unavailable; measuring galaxy-train alone");
  } else {
    std::ofstream(script) << kAnchorScript;
  }
  TrainBenchOptions ours;
  ours.arch = "resnet18";
  ours.stem = "torchvision";
  ours.batch = o.batch;
  ours.embed_batch = o.batch;
  ours.steps = o.steps;
  ours.threads = o.threads;
  ours.device = "cpu";
  for (int r = 1; r <= o.rounds; ++r) {
    TrainRatioRound round;
    if (result.anchor_missing.empty()) {
      GALAXY_ASSIGN_OR_RETURN(std::string out, Capture(absl::StrCat(o.python, " ", script, " ", o.batch, " ", o.steps,
                                                                   " ", o.threads),
                                                      &code));
      std::vector<std::string> fields = absl::StrSplit(absl::StripAsciiWhitespace(out), ' ');
      if (code != 0 || fields.size() != 2 || !absl::SimpleAtod(fields[0], &round.anchor_train) ||
          !absl::SimpleAtod(fields[1], &round.anchor_embed)) {
        std::remove(script.c_str());
        return absl::InternalError(absl::StrCat("the PyTorch anchor failed (exit ", code, "): ", out));
      }
    }
    GALAXY_ASSIGN_OR_RETURN(TrainBenchResult mine, RunTrainBench(ours));
    round.train = mine.train_images_per_s;
    round.train_no_augment = mine.train_no_augment_images_per_s;
    round.embed = mine.embed_images_per_s;
    log::Info("train ratio round", {{"round", absl::StrCat(r)},
                                    {"anchor_train", absl::StrFormat("%.1f", round.anchor_train)},
                                    {"train", absl::StrFormat("%.1f", round.train)}});
    result.rounds.push_back(round);
  }
  std::remove(script.c_str());
  auto median = [&](double TrainRatioRound::*field) {
    std::vector<double> v;
    for (const TrainRatioRound& r : result.rounds) v.push_back(r.*field);
    return Median(v);
  };
  result.median.anchor_train = median(&TrainRatioRound::anchor_train);
  result.median.anchor_embed = median(&TrainRatioRound::anchor_embed);
  result.median.train = median(&TrainRatioRound::train);
  result.median.train_no_augment = median(&TrainRatioRound::train_no_augment);
  result.median.embed = median(&TrainRatioRound::embed);
  return result;
}

std::string TrainRatioJson(const TrainRatioOptions& o, const TrainRatioResult& r) {
  nlohmann::json j = {{"benchmark", "train_ratio"}, {"arch", "resnet18"}, {"stem", "torchvision"},
                      {"device", "cpu"}, {"batch", o.batch}, {"steps", o.steps}, {"threads", o.threads},
                      {"anchor_train", r.median.anchor_train}, {"anchor_embed", r.median.anchor_embed},
                      {"train", r.median.train}, {"train_no_augment", r.median.train_no_augment},
                      {"embed", r.median.embed}, {"ratio_train", r.ratio_train()},
                      {"ratio_train_no_augment", r.ratio_train_no_augment()}, {"ratio_embed", r.ratio_embed()}};
  if (!r.anchor_missing.empty()) j["anchor_missing"] = r.anchor_missing;
  for (const TrainRatioRound& round : r.rounds) {
    j["rounds"].push_back({{"anchor_train", round.anchor_train}, {"anchor_embed", round.anchor_embed},
                           {"train", round.train}, {"train_no_augment", round.train_no_augment},
                           {"embed", round.embed}});
  }
  return j.dump(2);
}

std::string TrainRatioText(const TrainRatioResult& r) {
  std::string out;
  for (size_t i = 0; i < r.rounds.size(); ++i) {
    const TrainRatioRound& x = r.rounds[i];
    absl::StrAppend(&out, absl::StrFormat("round %d: anchor train %.1f embed %.1f | ours train %.1f (no aug %.1f) embed %.1f\n",
                                          i + 1, x.anchor_train, x.anchor_embed, x.train, x.train_no_augment, x.embed));
  }
  if (!r.anchor_missing.empty()) {
    absl::StrAppend(&out, "anchor not run: ", r.anchor_missing, "\n",
                    absl::StrFormat("galaxy-train medians over %d rounds (img/s): train %.1f, without augmentation "
                                    "%.1f, embed %.1f\n",
                                    r.rounds.size(), r.median.train, r.median.train_no_augment, r.median.embed));
    return out;
  }
  absl::StrAppend(&out, absl::StrFormat("medians over %d rounds (img/s): anchor train %.1f, embed %.1f\n", r.rounds.size(),
                                        r.median.anchor_train, r.median.anchor_embed),
                  absl::StrFormat("galaxy-train: train %.1f (%.2fx), without augmentation %.1f (%.2fx), embed %.1f (%.2fx)\n",
                                  r.median.train, r.ratio_train(), r.median.train_no_augment,
                                  r.ratio_train_no_augment(), r.median.embed, r.ratio_embed()));
  return out;
}

}  // namespace galaxy
