#include "bench/suite.h"

#include <filesystem>
#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/index_bench.h"
#include "bench/ingest_bench.h"
#include "bench/machine_info.h"
#include "bench/serve_bench.h"
#include "bench/synth_bench.h"
#include "bench/train_anchor.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "model/torch_info.h"
#include "nlohmann/json.hpp"
#include "trainer/train_bench.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

// Memory one machine can give an index, for the estimate: the GPU machine's 128 GiB host RAM.
constexpr double kMachineBytes = 128.0 * (1ull << 30);

std::string Gib(double bytes) { return absl::StrFormat("%.1f GiB", bytes / (1ull << 30)); }

}  // namespace

absl::Status RunSuite(const SuiteOptions& o) {
  fs::create_directories(o.out);
  const std::string scratch = o.out + "/scratch";
  nlohmann::json j;
  std::string md;
  const MachineInfo machine = ReadMachineInfo();
  j["machine"] = nlohmann::json::parse(MachineInfoJson(machine));
  j["mode"] = o.quick ? "quick" : "full";
  absl::StrAppend(&md, "# galaxy-bench run (", o.quick ? "quick" : "full", ")\n\n", MachineInfoMarkdown(machine), "\n");

  log::Info("suite: synthesis");
  GALAXY_ASSIGN_OR_RETURN(SynthBenchResult synth, RunSynthBench(o.quick ? 300 : 4000, 64, 0, scratch));
  j["synth"] = nlohmann::json::parse(SynthBenchJson(synth));
  absl::StrAppend(&md, "## Synthetic survey\n\n| galaxies/s, 1 thread | per core, all threads | to HDF5 |\n",
                  "| --- | --- | --- |\n",
                  absl::StrFormat("| %.0f | %.0f (target 2000: %.2fx) | %.0f |\n\n", synth.single_thread_per_s,
                                  synth.per_core_per_s(), synth.per_core_per_s() / 2000, synth.written_per_s));

  // Ingest from the forms users bring (galaxy-bench ingest; bench/ingest_ratio.sh sets each beside
  // a Python script's copy in one run).
  log::Info("suite: ingest");
  GALAXY_ASSIGN_OR_RETURN(IngestBenchResult ingest, RunIngestBench(o.quick ? 200 : 10000, 64, scratch + "/ingest"));
  j["ingest"] = nlohmann::json::parse(IngestBenchJson(ingest));
  absl::StrAppend(&md, "## Ingest into the native layout (", ingest.count, " galaxies of ", ingest.bands, " x ",
                  ingest.side, " x ", ingest.side, ", galaxies/s)\n\n",
                  "| copy of the native file (floor) | FITS cutouts + catalog CSV | FITS stack + table | HDF5 N x H x W x C ",
                  "+ columns |\n| --- | --- | --- | --- |\n",
                  absl::StrFormat("| %.0f | %.0f | %.0f | %.0f |\n\n", ingest.copy_per_s, ingest.cutouts_per_s,
                                  ingest.stack_per_s, ingest.hdf5_per_s),
                  "Against a Python script (astropy + h5py) on the same inputs: `bench/ingest_ratio.sh`.\n\n");

  log::Info("suite: training and embedding");
  GALAXY_ASSIGN_OR_RETURN(DeviceKind device, ResolveDevice("auto"));
  if (device == DeviceKind::kCpu) {
    // On the CPU: against PyTorch eager, alternately, in this run.
    TrainRatioOptions ratio;
    ratio.rounds = o.quick ? 1 : 7;  // 3 swung from 0.77x to 1.15x per round on a 2-vCPU machine
    ratio.batch = o.quick ? 8 : 64;
    ratio.steps = o.quick ? 1 : 5;
    GALAXY_ASSIGN_OR_RETURN(TrainRatioResult tr, RunCpuTrainRatio(ratio));
    j["train"] = nlohmann::json::parse(TrainRatioJson(ratio, tr));
    auto ratio_text = [&](double ratio_value) {
      return tr.anchor_missing.empty() ? absl::StrFormat(" (%.2fx)", ratio_value) : std::string();
    };
    absl::StrAppend(&md, "## Training and embedding (ResNet18, torchvision stem, CPU, batch ", ratio.batch, ", ",
                    ratio.threads, " threads)\n\n",
                    "Medians of ", tr.rounds.size(), " rounds, run alternately with the PyTorch-eager anchor",
                    tr.anchor_missing.empty() ? "" : absl::StrCat(" (not run: ", tr.anchor_missing, ")"), ".\n\n",
                    "| | MoCo step img/s | without augmentation | embedding img/s |\n| --- | --- | --- | --- |\n",
                    absl::StrFormat("| galaxy-train | %.1f%s | %.1f%s | %.1f%s |\n", tr.median.train,
                                    ratio_text(tr.ratio_train()), tr.median.train_no_augment,
                                    ratio_text(tr.ratio_train_no_augment()), tr.median.embed,
                                    ratio_text(tr.ratio_embed())),
                    absl::StrFormat("| PyTorch eager | %.1f | | %.1f |\n\n", tr.median.anchor_train,
                                    tr.median.anchor_embed));
  } else {
    TrainBenchOptions train;
    train.arch = o.quick ? "tiny" : "resnet50";
    train.batch = o.quick ? 16 : 256;
    train.steps = o.quick ? 1 : 5;
    GALAXY_ASSIGN_OR_RETURN(TrainBenchResult tr, RunTrainBench(train));
    j["train"] = nlohmann::json::parse(TrainBenchJson(train, tr));
    absl::StrAppend(&md, "## Training and embedding (", train.arch, ", ", train.stem, " stem, ", tr.device, ")\n\n",
                    "| MoCo step img/s | without augmentation | embedding img/s |\n| --- | --- | --- |\n",
                    absl::StrFormat("| %.1f | %.1f | %.1f |\n\n", tr.train_images_per_s,
                                    tr.train_no_augment_images_per_s, tr.embed_images_per_s),
                    "Ratios to the GPU PyTorch-eager anchors: `bench/gpu_check.sh`, which runs them in the same ",
                    "run.\n\n");
  }

  // Index kinds at growing catalog sizes: build time, bytes per galaxy, latency, recall.
  const std::vector<int64_t> sizes = o.quick ? std::vector<int64_t>{2000, 10000}
                                             : std::vector<int64_t>{10000, 100000, 1000000};
  absl::StrAppend(&md, "## Index search in process (clustered unit vectors, d = 128)\n\n",
                  "Build peak: the process's peak resident set during the build, MiB, and in brackets how far ",
                  "it rose above the resident set before the build (which holds the n x 128 float vectors). ",
                  "HNSW rows after the first reuse its graph.\n\n",
                  "| galaxies | index | build s | build peak MiB | bytes/galaxy | 1 query ms | batch q/s | recall@10 |\n",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  std::map<std::string, double> bytes_per_galaxy;
  for (int64_t n : sizes) {
    log::Info("suite: index", {{"galaxies", absl::StrCat(n)}});
    GALAXY_ASSIGN_OR_RETURN(std::vector<IndexBenchRow> rows, RunIndexBench(n, absl::StrCat(scratch, "/index-", n)));
    j["index"].push_back(nlohmann::json::parse(IndexBenchJson(n, rows)));
    for (const IndexBenchRow& r : rows) {
      const double per = static_cast<double>(r.index_bytes) / static_cast<double>(n);
      bytes_per_galaxy[r.kind] = per;  // the largest size's figure wins
      const std::string peak = r.build_peak_rss_bytes == 0
                                   ? "-"
                                   : absl::StrFormat("%.0f (+%.0f)", r.build_peak_rss_bytes / 1048576.0,
                                                     r.build_added_rss_bytes / 1048576.0);
      absl::StrAppend(&md, absl::StrFormat("| %d | %s | %.1f | %s | %.0f | %.3f | %.0f | %.3f |\n", n, r.kind,
                                           r.build_seconds, peak, per, r.single_query_ms, r.batch_qps,
                                           r.recall_at_10));
    }
  }
  // How memory grows: measured bytes per galaxy (index only; RocksDB records add ~0.6 KB per
  // galaxy on disk, not in memory) times the catalog size.
  absl::StrAppend(&md, "\n## Memory at 10^8 and 10^9 galaxies (index in RAM; estimate)\n\n",
                  "Bytes per galaxy as measured at the largest size above, times the catalog size; ",
                  "one machine is taken as 128 GiB of RAM.\n\n",
                  "| index | bytes/galaxy | 10^8 | 10^9 | galaxies per 128 GiB machine |\n| --- | --- | --- | --- | --- |\n");
  nlohmann::json estimate;
  for (const auto& [kind, per] : bytes_per_galaxy) {
    absl::StrAppend(&md, absl::StrFormat("| %s | %.0f | %s | %s | %.2g |\n", kind, per, Gib(per * 1e8),
                                         Gib(per * 1e9), kMachineBytes / per));
    estimate[kind] = {{"bytes_per_galaxy", per}, {"bytes_1e8", per * 1e8}, {"bytes_1e9", per * 1e9},
                      {"galaxies_per_machine", kMachineBytes / per}};
  }
  j["memory_estimate"] = estimate;

  log::Info("suite: serving");
  ServeBenchOptions serve;
  serve.count = o.quick ? 5000 : 1000000;
  serve.seconds = o.quick ? 1 : 20;
  serve.rounds = o.quick ? 1 : 2;
  serve.clients = 8;
  serve.scratch = scratch + "/serve";
  GALAXY_ASSIGN_OR_RETURN(std::vector<ServeBenchRow> served, RunServeBench(serve));
  j["serve"] = nlohmann::json::parse(ServeBenchJson(serve, served));
  absl::StrAppend(&md, absl::StrFormat("\n## Serving over gRPC (%d galaxies, %d clients, loopback)\n\n", serve.count,
                                       serve.clients),
                  "| index | mode | q/s | p50 ms | p99 ms | served / in-process |\n| --- | --- | --- | --- | --- | --- |\n");
  for (size_t i = 0; i < served.size(); ++i) {
    const ServeBenchRow& r = served[i];
    const std::string ratio =
        r.mode == "served by ID" && i > 0 ? absl::StrFormat("%.2fx", r.qps / served[i - 1].qps) : "";
    absl::StrAppend(&md, absl::StrFormat("| %s | %s | %.1f | %.3f | %.3f | %s |\n", r.kind, r.mode, r.qps, r.p50_ms,
                                         r.p99_ms, ratio));
  }
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(o.out + "/results.json", j.dump(2) + "\n"));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(o.out + "/results.md", md));
  std::cout << md << "\nwritten: " << o.out << "/results.json, " << o.out << "/results.md\n";
  return absl::OkStatus();
}

}  // namespace galaxy
