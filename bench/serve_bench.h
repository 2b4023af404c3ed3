// Serving benchmark (`galaxy-bench serve`): query-by-ID over gRPC on loopback with concurrent
// clients, against the same FAISS index searched in-process by as many threads; and
// query-by-image throughput with the dynamic batcher on and off.
//
// The snapshots hold the FAISS anchor's clustered unit vectors (bench/index_bench.h) as
// embeddings, with full RocksDB records, so that the served path does everything a real query
// does (record lookup of the query's stored embedding, search, exclusion of the query, answer).
// Image queries use an untrained tiny model of the same dimension (its weights do not change
// the cost). Snapshots are built once under the scratch directory and reused by later runs.
#ifndef GALAXY_BENCH_SERVE_BENCH_H_
#define GALAXY_BENCH_SERVE_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct ServeBenchOptions {
  int64_t count = 1000000;
  std::string scratch = "bench/results/serve";
  // Concurrent clients (and in-process threads). Default 4.
  int clients = 4;
  // Seconds per measurement. Default 10.
  double seconds = 10;
  // Measurements of each kind alternate in-process and served this many times. Default 2.
  int rounds = 2;
  int k = 10;
  // Index kinds measured: "flat", "hnsw".
  std::vector<std::string> kinds = {"flat", "hnsw"};
  // Also measure image queries (on the last kind) with the batcher on and off. Default true.
  bool images = true;
};

struct ServeBenchRow {
  std::string kind;   // flat, hnsw
  std::string mode;   // "in-process", "served by ID", "image, batcher on", "image, batcher off"
  double qps = 0;
  double p50_ms = 0, p99_ms = 0;
  // CPU cores the whole process (clients and server) kept busy on average.
  double cpu_cores = 0;
  int64_t requests = 0, errors = 0;
};

// IDs of the benchmark snapshots' galaxies: kServeBenchFirstId + row (SDSS-like 64-bit IDs).
inline constexpr int64_t kServeBenchFirstId = 1237648720693755000LL;

// The benchmark's snapshots of `count` clustered unit vectors, one per index kind, under
// SCRATCH/<count>/<kind>: built unless already there. Returns SCRATCH/<count>.
absl::StatusOr<std::string> EnsureServeSnapshots(const std::string& scratch, int64_t count,
                                                 const std::vector<std::string>& kinds);

absl::StatusOr<std::vector<ServeBenchRow>> RunServeBench(const ServeBenchOptions& options);

// Router benchmark (`galaxy-bench router`): query-by-ID through galaxy-server --shards over 1, 2,
// 4 shard servers (shard snapshots of the same vectors, by ID hash) against one server over the
// whole flat index, all in this process on loopback, alternating in each round.
struct RouterBenchOptions {
  int64_t count = 1000000;
  std::string scratch = "bench/results/serve";
  std::vector<int> shards = {1, 2, 4};
  int clients = 4;
  double seconds = 10;
  int rounds = 2;
  int k = 10;
};
absl::StatusOr<std::vector<ServeBenchRow>> RunRouterBench(const RouterBenchOptions& options);
std::string ServeBenchJson(const ServeBenchOptions& options, const std::vector<ServeBenchRow>& rows);

}  // namespace galaxy

#endif  // GALAXY_BENCH_SERVE_BENCH_H_
