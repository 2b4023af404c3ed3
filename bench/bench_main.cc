// galaxy-bench: the benchmark suite. Every figure is reported with the machine it ran on and as a
// ratio to a reference measured in the same run.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/index_bench.h"
#include "bench/ingest_bench.h"
#include "bench/machine_info.h"
#include "bench/rank_bench.h"
#include "bench/serve_bench.h"
#include "bench/suite.h"
#include "bench/synth_bench.h"
#include "bench/train_anchor.h"
#include "core/command_line.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "model/arch.h"
#include "trainer/probe.h"
#include "trainer/science.h"
#include "trainer/train_options.h"

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-bench",
      "Benchmarks: synthesis, training and embedding throughput, index build, in-process search,\n"
      "served QPS and latency; each as a ratio to its reference measured in the same run.");
  cli.SetVersionDetails([] { return galaxy::ReadMachineInfo().libraries; });
  bool json = false;
  CLI::App* machine = cli.AddCommand("machine", "Describe this machine (CPU, memory, GPU, libraries)",
                                     [&] {
                                       galaxy::MachineInfo info = galaxy::ReadMachineInfo();
                                       std::cout << (json ? galaxy::MachineInfoJson(info) + "\n"
                                                          : galaxy::MachineInfoMarkdown(info));
                                       return absl::OkStatus();
                                     });
  machine->add_flag("--json", json, "JSON instead of markdown");
  int64_t synth_count = 4000;
  int synth_size = 64, synth_threads = 0;
  std::string scratch = "/tmp/galaxy-bench";
  bool synth_json = false;
  CLI::App* synth = cli.AddCommand(
      "synth", "Synthetic-survey throughput (galaxies/s per core; target 2000 at 64x64x5)",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::SynthBenchResult r,
                                galaxy::RunSynthBench(synth_count, synth_size, synth_threads, scratch));
        if (synth_json) {
          std::cout << galaxy::SynthBenchJson(r) << "\n";
        } else {
          std::cout << absl::StrFormat(
              "synth %d galaxies at 5x%dx%d\n  1 thread      %8.0f galaxies/s\n"
              "  %d threads     %8.0f galaxies/s (%.0f per core; target 2000 per core: %.2fx)\n"
              "  to HDF5       %8.0f galaxies/s\n",
              r.count, r.image_size, r.image_size, r.single_thread_per_s, r.threads,
              r.all_threads_per_s, r.per_core_per_s(), r.per_core_per_s() / 2000,
              r.written_per_s);
        }
        return absl::OkStatus();
      });
  synth->add_option("--count", synth_count, "Galaxies per measurement")->capture_default_str();
  synth->add_option("--size", synth_size, "Cutout side, pixels")->capture_default_str();
  synth->add_option("--threads", synth_threads, "Threads (0: every usable CPU)")->capture_default_str();
  synth->add_option("--scratch", scratch, "Directory for the written file")->capture_default_str();
  synth->add_flag("--json", synth_json, "JSON output");
  int64_t ingest_count = 10000;
  int ingest_size = 64;
  std::string ingest_dir = "/tmp/galaxy-bench/ingest";
  bool ingest_json = false;
  CLI::App* ingest_cmd = cli.AddCommand(
      "ingest",
      "Ingest throughput (galaxies/s into the native layout): a directory of single-galaxy FITS cutouts with\n"
      "a catalog CSV, one FITS stack, another pipeline's HDF5, and a copy of the native file (the floor)",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::IngestBenchResult r, galaxy::RunIngestBench(ingest_count, ingest_size, ingest_dir));
        if (ingest_json) {
          std::cout << galaxy::IngestBenchJson(r) << "\n";
          return absl::OkStatus();
        }
        std::cout << absl::StrFormat("ingest %d galaxies at %dx%dx%d (%.0f MB of pixels; inputs kept in %s)\n", r.count,
                                     r.bands, r.side, r.side, r.input_mb, ingest_dir);
        const auto row = [&](const char* what, double per_s) {
          std::cout << absl::StrFormat("  %-34s %8.0f galaxies/s %7.1f MB/s  %.2fx the copy\n", what, per_s,
                                       per_s * r.input_mb / r.count, per_s / r.copy_per_s);
        };
        row("copy of the native file (floor)", r.copy_per_s);
        row("FITS cutouts + catalog CSV", r.cutouts_per_s);
        row("FITS stack + table", r.stack_per_s);
        row("HDF5, N x H x W x C + columns", r.hdf5_per_s);
        return absl::OkStatus();
      });
  ingest_cmd->add_option("--count", ingest_count, "Galaxies")->capture_default_str();
  ingest_cmd->add_option("--size", ingest_size, "Cutout side, pixels")->capture_default_str();
  ingest_cmd->add_option("--dir", ingest_dir, "Directory for the inputs (kept for bench/ingest_baseline.py)")
      ->capture_default_str();
  ingest_cmd->add_flag("--json", ingest_json, "JSON output");
  int64_t index_count = 100000;
  bool index_json = false;
  std::string index_torch_device = "cpu";
  CLI::App* index_cmd = cli.AddCommand(
      "index", "In-process search: build time, size, single-query latency, batch QPS and recall@10 per index kind",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(std::vector<galaxy::IndexBenchRow> rows,
                                galaxy::RunIndexBench(index_count, scratch, index_torch_device));
        if (index_json) {
          std::cout << galaxy::IndexBenchJson(index_count, rows) << "\n";
          return absl::OkStatus();
        }
        std::cout << absl::StrFormat("%d x 128 clustered unit vectors (the FAISS anchor's data)\n", index_count);
        std::cout << absl::StrFormat("%-20s %10s %14s %10s %12s %12s %10s\n", "index", "build s",
                                     "build +RSS MiB", "MiB", "1 query ms", "batch q/s", "recall@10");
        for (const auto& r : rows) {
          std::cout << absl::StrFormat("%-20s %10.1f %14.0f %10.1f %12.3f %12.0f %10.3f\n", r.kind, r.build_seconds,
                                       r.build_added_rss_bytes / 1048576.0, r.index_bytes / 1048576.0,
                                       r.single_query_ms, r.batch_qps, r.recall_at_10);
        }
        return absl::OkStatus();
      });
  index_cmd->add_option("--count", index_count, "Vectors")->capture_default_str();
  index_cmd->add_option("--scratch", scratch, "Directory for the saved indexes")->capture_default_str();
  index_cmd->add_option("--torch-device", index_torch_device, "Where torch-flat searches: cpu | cuda | auto")
      ->capture_default_str();
  index_cmd->add_flag("--json", index_json, "JSON output");
  galaxy::ServeBenchOptions serve;
  bool serve_json = false;
  std::string serve_kinds = "flat,hnsw";
  CLI::App* serve_cmd = cli.AddCommand(
      "serve",
      "Served query-by-ID QPS and p50/p99 over loopback gRPC against the same index searched in process;\n"
      "query-by-image throughput with the dynamic batcher on and off",
      [&]() -> absl::Status {
        serve.kinds = absl::StrSplit(serve_kinds, ',', absl::SkipEmpty());
        GALAXY_ASSIGN_OR_RETURN(std::vector<galaxy::ServeBenchRow> rows, galaxy::RunServeBench(serve));
        if (serve_json) {
          std::cout << galaxy::ServeBenchJson(serve, rows) << "\n";
          return absl::OkStatus();
        }
        std::cout << absl::StrFormat("%d x 128 clustered unit vectors, %d clients, k=%d, %d x %.0f s per mode\n",
                                     serve.count, serve.clients, serve.k, serve.rounds, serve.seconds);
        std::cout << absl::StrFormat("%-6s %-20s %10s %9s %9s %6s %10s %7s\n", "index", "mode", "q/s", "p50 ms",
                                     "p99 ms", "cores", "requests", "errors");
        for (size_t i = 0; i < rows.size(); ++i) {
          const auto& r = rows[i];
          std::cout << absl::StrFormat("%-6s %-20s %10.1f %9.3f %9.3f %6.2f %10d %7d", r.kind, r.mode, r.qps,
                                       r.p50_ms, r.p99_ms, r.cpu_cores, r.requests, r.errors);
          if (r.mode == "served by ID" && i > 0) {
            std::cout << absl::StrFormat("   served/in-process %.2fx", r.qps / rows[i - 1].qps);
          }
          std::cout << "\n";
        }
        return absl::OkStatus();
      });
  serve_cmd->add_option("--count", serve.count, "Galaxies in each snapshot")->capture_default_str();
  serve_cmd->add_option("--clients", serve.clients, "Concurrent clients (and in-process threads)")
      ->capture_default_str();
  serve_cmd->add_option("--seconds", serve.seconds, "Seconds per measurement")->capture_default_str();
  serve_cmd->add_option("--rounds", serve.rounds, "Alternating rounds per mode")->capture_default_str();
  serve_cmd->add_option("--kinds", serve_kinds, "Index kinds, comma-separated (flat, hnsw, ivfpq)")
      ->capture_default_str();
  serve_cmd->add_option("--scratch", serve.scratch, "Directory for the snapshots (reused by later runs)")
      ->capture_default_str();
  serve_cmd->add_flag("--no-images{false}", serve.images, "Skip the image-query measurements");
  serve_cmd->add_flag("--json", serve_json, "JSON output");
  galaxy::RouterBenchOptions router;
  std::string router_shards = "1,2,4";
  bool router_json = false;
  CLI::App* router_cmd = cli.AddCommand(
      "router",
      "Query-by-ID QPS and p50/p99 through a router over 1, 2, 4 shard servers against one server over\n"
      "the whole flat index (every server in this process, on loopback)",
      [&]() -> absl::Status {
        router.shards.clear();
        for (absl::string_view part : absl::StrSplit(router_shards, ',', absl::SkipEmpty())) {
          int n = 0;
          if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 64) {
            return absl::InvalidArgumentError(absl::StrCat("--shards: '", part, "' is not a shard count in 1 .. 64"));
          }
          router.shards.push_back(n);
        }
        GALAXY_ASSIGN_OR_RETURN(std::vector<galaxy::ServeBenchRow> rows, galaxy::RunRouterBench(router));
        if (router_json) {
          galaxy::ServeBenchOptions as_serve;
          as_serve.count = router.count;
          as_serve.clients = router.clients;
          as_serve.seconds = router.seconds;
          as_serve.rounds = router.rounds;
          as_serve.k = router.k;
          std::cout << galaxy::ServeBenchJson(as_serve, rows) << "\n";
          return absl::OkStatus();
        }
        std::cout << absl::StrFormat("%d x 128 clustered unit vectors, flat, %d clients, k=%d, %d x %.0f s per mode\n",
                                     router.count, router.clients, router.k, router.rounds, router.seconds);
        std::cout << absl::StrFormat("%-20s %10s %9s %9s %6s %10s %7s %9s\n", "mode", "q/s", "p50 ms", "p99 ms",
                                     "cores", "requests", "errors", "vs one");
        for (const auto& r : rows) {
          std::cout << absl::StrFormat("%-20s %10.1f %9.3f %9.3f %6.2f %10d %7d %8.2fx\n", r.mode, r.qps, r.p50_ms,
                                       r.p99_ms, r.cpu_cores, r.requests, r.errors, r.qps / rows.front().qps);
        }
        return absl::OkStatus();
      });
  router_cmd->add_option("--count", router.count, "Galaxies in the survey")->capture_default_str();
  router_cmd->add_option("--shards", router_shards, "Shard counts, comma-separated")->capture_default_str();
  router_cmd->add_option("--clients", router.clients, "Concurrent clients")->capture_default_str();
  router_cmd->add_option("--seconds", router.seconds, "Seconds per measurement")->capture_default_str();
  router_cmd->add_option("--rounds", router.rounds, "Alternating rounds per mode")->capture_default_str();
  router_cmd->add_option("--scratch", router.scratch, "Directory for the snapshots (reused by later runs)")
      ->capture_default_str();
  router_cmd->add_flag("--json", router_json, "JSON output");
  galaxy::RankBenchOptions rank;
  bool rank_json = false;
  std::string rank_counts = "100000,1000000";
  CLI::App* rank_cmd = cli.AddCommand(
      "rank",
      "Few-shot ranking (RankByExamples) latency over loopback gRPC, one call at a time, beside the pass\n"
      "over the catalog alone in process and the same pass by FAISS flat search",
      [&]() -> absl::Status {
        rank.counts.clear();
        for (absl::string_view c : absl::StrSplit(rank_counts, ',', absl::SkipEmpty())) {
          int64_t n = 0;
          if (!absl::SimpleAtoi(c, &n) || n < 1000) {
            return absl::InvalidArgumentError(absl::StrCat("--counts: '", c, "' is not a count of at least 1000"));
          }
          rank.counts.push_back(n);
        }
        GALAXY_ASSIGN_OR_RETURN(std::vector<galaxy::RankBenchRow> rows, galaxy::RunRankBench(rank));
        if (rank_json) {
          std::cout << galaxy::RankBenchJson(rank, rows) << "\n";
          return absl::OkStatus();
        }
        std::cout << absl::StrFormat("%d positives + %u random negatives, page of %d, %d calls per row\n",
                                     rank.positives, rank.random_negatives, rank.page_size, rank.calls);
        std::cout << absl::StrFormat("%-10s %-24s %9s %9s %9s %7s\n", "galaxies", "mode", "mean ms", "p50 ms",
                                     "p99 ms", "errors");
        for (const galaxy::RankBenchRow& r : rows) {
          std::cout << absl::StrFormat("%-10d %-24s %9.1f %9.1f %9.1f %7d\n", r.count, r.mode, r.mean_ms, r.p50_ms,
                                       r.p99_ms, r.errors);
        }
        return absl::OkStatus();
      });
  rank_cmd->add_option("--counts", rank_counts, "Catalog sizes, comma-separated")->capture_default_str();
  rank_cmd->add_option("--calls", rank.calls, "Calls per measurement")->capture_default_str();
  rank_cmd->add_option("--positives", rank.positives, "Positive examples per call")->capture_default_str();
  rank_cmd->add_option("--random-negatives", rank.random_negatives, "Random negatives per call")
      ->capture_default_str();
  rank_cmd->add_option("--threads", rank.threads, "Threads of the in-process pass (0: all usable CPUs)")
      ->capture_default_str();
  rank_cmd->add_option("--scratch", rank.scratch, "Directory of the snapshots (shared with `serve`)")
      ->capture_default_str();
  rank_cmd->add_flag("--json", rank_json, "JSON output");
  galaxy::TrainRatioOptions ratio;
  bool ratio_json = false;
  std::string ratio_json_out;
  CLI::App* ratio_cmd = cli.AddCommand(
      "train-ratio",
      "CPU MoCo training-step and embedding img/s of galaxy-train against PyTorch eager (python3-torch),\n"
      "run alternately in one run (ResNet18, torchvision stem); medians and their ratios",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::TrainRatioResult r, galaxy::RunCpuTrainRatio(ratio));
        std::cout << (ratio_json ? galaxy::TrainRatioJson(ratio, r) + "\n" : galaxy::TrainRatioText(r));
        if (ratio_json_out.empty()) return absl::OkStatus();
        return galaxy::WriteFileAtomically(ratio_json_out, galaxy::TrainRatioJson(ratio, r) + "\n");
      });
  ratio_cmd->add_option("--rounds", ratio.rounds, "Alternating rounds")->capture_default_str();
  ratio_cmd->add_option("--batch", ratio.batch, "Batch (training and embedding)")->capture_default_str();
  ratio_cmd->add_option("--steps", ratio.steps, "Timed steps per round")->capture_default_str();
  ratio_cmd->add_option("--threads", ratio.threads, "Intra-op threads, both sides")->capture_default_str();
  ratio_cmd->add_option("--python", ratio.python, "Python with torch and torchvision")->capture_default_str();
  ratio_cmd->add_flag("--json", ratio_json, "JSON output");
  ratio_cmd->add_option("--json-out", ratio_json_out, "Also write the JSON to this file");
  // science: options given on the command line override --quick's scale.
  galaxy::ScienceOptions science_given;
  bool science_quick = false, science_json = false;
  std::string science_fractions = "0.01,0.04,0.05,0.2,1", science_probe_fractions = "0.01,0.05,0.2,1";
  std::string science_dihedral = galaxy::ScienceOptions().dihedral ? "on" : "off";
  CLI::App* science = nullptr;
  science = cli.AddCommand(
      "science",
      "The science report in one command: on a synthetic survey (or --data), over several seeds, pretrain,\n"
      "label efficiency (SSL + fine-tune against supervised, kNN on colours), the linear probe of type against\n"
      "the network from scratch, similarity and anomaly quality, redshift pdf calibration; writes\n"
      "results.json, report.md and the plots, with the acceptance checks",
      [&]() -> absl::Status {
        galaxy::ScienceOptions o;
        if (science_quick) o.SetQuick();
        auto given = [&](const char* flag) { return science->count(flag) > 0; };
        o.out_dir = science_given.out_dir;
        if (given("--data")) o.data_path = science_given.data_path;
        if (given("--galaxies")) o.galaxies = science_given.galaxies;
        if (given("--survey-seed")) o.survey_seed = science_given.survey_seed;
        if (given("--seeds")) o.seeds = science_given.seeds;
        if (given("--only-seed")) o.only_seed = science_given.only_seed;
        if (given("--arch")) o.arch = science_given.arch;
        if (given("--stem")) o.stem = science_given.stem;
        if (given("--input-stretch")) o.input_stretch = science_given.input_stretch;
        if (given("--pretrain-steps")) o.pretrain_steps = science_given.pretrain_steps;
        if (given("--pretrain-batch")) o.pretrain_batch = science_given.pretrain_batch;
        if (given("--queue")) o.queue = science_given.queue;
        if (given("--momentum")) o.momentum = science_given.momentum;
        if (given("--temperature")) o.temperature = science_given.temperature;
        if (given("--mask-outskirts")) o.mask_outskirts = science_given.mask_outskirts;
        if (given("--photometry-weight")) o.photometry_weight = science_given.photometry_weight;
        if (given("--photometry-radii")) o.photometry_radii = science_given.photometry_radii;
        if (given("--finetune-steps")) o.finetune_steps = science_given.finetune_steps;
        if (given("--finetune-batch")) o.finetune_batch = science_given.finetune_batch;
        if (given("--backbone-lr-factor")) o.backbone_lr_factor = science_given.backbone_lr_factor;
        if (given("--head-warmup-steps")) o.head_warmup_steps = science_given.head_warmup_steps;
        if (given("--validation-labels")) o.validation_labels = science_given.validation_labels;
        if (given("--scratch-steps")) o.scratch_steps = science_given.scratch_steps;
        if (given("--dihedral")) o.dihedral = science_dihedral == "on";
        if (given("--features")) o.features = science_given.features;
        if (given("--k")) o.k = science_given.k;
        if (given("--quality-galaxies")) o.quality_galaxies = science_given.quality_galaxies;
        if (given("--fractions")) {
          GALAXY_ASSIGN_OR_RETURN(o.fractions, galaxy::ParseFractionList(science_fractions));
        }
        if (given("--probe-fractions")) {
          GALAXY_ASSIGN_OR_RETURN(o.probe_fractions, galaxy::ParseFractionList(science_probe_fractions, "--probe-fractions"));
        }
        o.device = science_given.device;
        o.threads = science_given.threads;
        std::vector<std::string> words(argv, argv + argc);
        o.command = absl::StrJoin(words, " ");
        o.machine = galaxy::MachineInfoMarkdown(galaxy::ReadMachineInfo());
        GALAXY_ASSIGN_OR_RETURN(galaxy::ScienceResult r, galaxy::RunScience(o));
        if (!r.seed_run.empty()) {
          std::cout << "seed saved: " << r.seed_run << "\n(run again without --only-seed for the report)\n";
          return absl::OkStatus();
        }
        if (science_json) {
          std::cout << galaxy::ReadFileOrEmpty(r.results_json);
          return absl::OkStatus();
        }
        std::cout << "acceptance checks:\n";
        for (const galaxy::ScienceCheck& c : r.checks) {
          std::cout << absl::StrFormat("  %-4s %s: %s\n",
                                       !c.measured ? "-" : c.holds ? (c.significant ? "yes" : "yes?") : (c.significant ? "no" : "no?"),
                                       c.description,
                                       c.measured ? absl::StrFormat("%.4f ± %.4f vs %.4f ± %.4f", c.lhs, c.lhs_std,
                                                                    c.rhs, c.rhs_std)
                                                  : "not measured");
        }
        std::cout << "report " << r.report_md << "\nresults " << r.results_json << "\n";
        return absl::OkStatus();
      });
  science->add_option("--out", science_given.out_dir, "Output directory")->required();
  science->add_flag("--quick", science_quick,
                    "The small scale (2,400 galaxies, 2 seeds, tens of steps; a couple of minutes on 2 cores)");
  science->add_option("--data", science_given.data_path, "An existing dataset with truth columns instead of simulating");
  science->add_option("--galaxies", science_given.galaxies, "Galaxies to simulate")->capture_default_str();
  science->add_option("--survey-seed", science_given.survey_seed, "Seed of the simulated survey")->capture_default_str();
  science->add_option("--seeds", science_given.seeds, "Seeds of pretraining and training")->capture_default_str();
  science->add_option("--only-seed", science_given.only_seed,
                      "Run and save only this seed (parallel runs sharing --out); a run without it reports");
  science->add_option("--arch", science_given.arch, galaxy::kArchChoices)->capture_default_str();
  science->add_option("--stem", science_given.stem, galaxy::kStemChoices)->capture_default_str();
  science->add_option("--input-stretch", science_given.input_stretch, "asinh | linear (the network's input)")
      ->capture_default_str();
  science->add_option("--pretrain-steps", science_given.pretrain_steps, "MoCo steps")->capture_default_str();
  science->add_option("--pretrain-batch", science_given.pretrain_batch, "MoCo batch")->capture_default_str();
  science->add_option("--queue", science_given.queue, "MoCo queue")->capture_default_str();
  science->add_option("--momentum", science_given.momentum, "MoCo key-encoder momentum")->capture_default_str();
  science->add_option("--temperature", science_given.temperature, "MoCo InfoNCE temperature")->capture_default_str();
  science->add_option("--mask-outskirts", science_given.mask_outskirts,
                      "Share of the MoCo views whose outskirts become sky (galaxy-train pretrain --mask-outskirts)")
      ->capture_default_str();
  science->add_option("--photometry-weight", science_given.photometry_weight,
                      "Weight of the photometric pretext (galaxy-train pretrain --photometry-weight; 0: off)")
      ->capture_default_str();
  science->add_option("--photometry-radii", science_given.photometry_radii,
                      "Aperture radii of the photometric pretext, arcsec, comma-separated "
                      "(galaxy-train pretrain --photometry-radii)")
      ->delimiter(',')
      ->capture_default_str();
  science->add_option("--finetune-steps", science_given.finetune_steps, "Steps of each redshift training")
      ->capture_default_str();
  science->add_option("--finetune-batch", science_given.finetune_batch, "Batch of each redshift training")
      ->capture_default_str();
  science->add_option("--backbone-lr-factor", science_given.backbone_lr_factor,
                      "Fine-tuning's backbone rate as a multiple of the head's")
      ->capture_default_str();
  science->add_option("--head-warmup-steps", science_given.head_warmup_steps,
                      "Steps of each fine-tuning that train the redshift head alone on the frozen backbone first")
      ->capture_default_str();
  science->add_option("--validation-labels", science_given.validation_labels,
                      "Validation labels of both redshift arms: all (every labelled galaxy of the validation part) | "
                      "label-fraction (the arm's share of them)")
      ->capture_default_str();
  science->add_option("--fractions", science_fractions, "Label fractions of the redshift experiment")
      ->capture_default_str();
  science->add_option("--probe-fractions", science_probe_fractions, "Label fractions of the type probe")
      ->capture_default_str();
  science->add_option("--scratch-steps", science_given.scratch_steps,
                      "Steps of the type classifier trained from scratch (0: none)")
      ->capture_default_str();
  science->add_option("--dihedral", science_dihedral,
                      absl::StrCat("on: the probe (both arms) and the quality measures average the representation over ",
                                   galaxy::kDihedralViews,
                                   " (the quality measures then also run on one view, as served, which the checks of "
                                   "similarity and anomalies read); off: one view"))
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  science->add_option("--features", science_given.features,
                      "What the probe and the quality measures read: backbone (the last stage, pooled) | stages "
                      "(every stage's, concatenated, as galaxy-index build --features stages) | projection")
      ->check(CLI::IsMember(galaxy::FeatureKinds()))
      ->capture_default_str();
  science->add_option("--k", science_given.k, "Neighbours of the similarity measures")->capture_default_str();
  science->add_option("--quality-galaxies", science_given.quality_galaxies, "Galaxies of the similarity measures")
      ->capture_default_str();
  science->add_option("--device", science_given.device, "cpu | cuda | auto")->capture_default_str();
  science->add_option("--threads", science_given.threads, "CPU threads (0: all)")->capture_default_str();
  science->add_flag("--json", science_json, "Print results.json instead of the summary");
  galaxy::SuiteOptions suite;
  CLI::App* run = cli.AddCommand("run", "Run the whole suite; write results.json and results.md (machine, date, tables)",
                                 [&] { return galaxy::RunSuite(suite); });
  run->add_flag("--quick", suite.quick, "Small sizes: checks that every benchmark runs (CI, about a minute)");
  run->add_option("--out", suite.out, "Results directory")->capture_default_str();
  return cli.Run(argc, argv);
}
