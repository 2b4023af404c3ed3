// Few-shot ranking benchmark (`galaxy-bench rank`): RankByExamples over loopback gRPC on the
// serve benchmark's flat snapshots (clustered unit vectors, bench/serve_bench.h), one call at a
// time, at each catalog size; beside it, the pass over the catalog alone in process (RankRows on
// the index's vectors, the code the server runs) and the same pass by FAISS (a flat
// inner-product search of the classifier's weight vector, k = page size), in the same run.
#ifndef GALAXY_BENCH_RANK_BENCH_H_
#define GALAXY_BENCH_RANK_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct RankBenchOptions {
  std::vector<int64_t> counts = {100000, 1000000};
  std::string scratch = "bench/results/serve";
  // Calls per measurement. Default 30.
  int calls = 30;
  // Positive examples (catalog IDs) per call; negatives drawn at random. Defaults 10, 1000.
  int positives = 10;
  uint32_t random_negatives = 1000;
  int page_size = 50;
  // Threads of the in-process pass (0: every usable CPU, as the server).
  int threads = 0;
};

struct RankBenchRow {
  int64_t count = 0;
  std::string mode;  // "served", "in-process pass", "FAISS flat search of w"
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;
  int calls = 0, errors = 0;
};

absl::StatusOr<std::vector<RankBenchRow>> RunRankBench(const RankBenchOptions& options);
std::string RankBenchJson(const RankBenchOptions& options, const std::vector<RankBenchRow>& rows);

}  // namespace galaxy

#endif  // GALAXY_BENCH_RANK_BENCH_H_
