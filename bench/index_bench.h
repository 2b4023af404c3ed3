// In-process search benchmarks of the snapshot index kinds on clustered unit vectors, generated
// exactly as the raw-FAISS anchor program that bench/index_anchor_ratio.sh runs beside them does
// (2000 centres + 0.5 noise, seed 1), so that its figures and ours are on the same data.
#ifndef GALAXY_BENCH_INDEX_BENCH_H_
#define GALAXY_BENCH_INDEX_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/vector_index.h"

namespace galaxy {

struct IndexBenchRow {
  std::string kind;
  std::string params;
  double build_seconds = 0;
  // Peak resident set of the process while the index was built, and how far it rose above the
  // resident set before the build (the vectors themselves are held throughout); 0 when the
  // kernel gives no reading (and for HNSW rows that reload the graph built for the first one).
  int64_t build_peak_rss_bytes = 0;
  int64_t build_added_rss_bytes = 0;
  int64_t index_bytes = 0;      // size of the saved index file
  double single_query_ms = 0;   // one query at a time
  double batch_qps = 0;         // 256 queries in one call
  double recall_at_10 = 1.0;    // against exact search
};

// The anchor's vectors: n x d, 2000 Gaussian centres + 0.5 noise, L2-normalised, seed 1.
std::vector<float> ClusteredUnitVectors(int64_t n, int d);

// count vectors of dim 128; 256 queries (the first vectors, as the anchor). Every kind, torch-flat
// on `torch_device` ("cpu", "cuda", "auto").
absl::StatusOr<std::vector<IndexBenchRow>> RunIndexBench(int64_t count, const std::string& scratch_dir,
                                                         const std::string& torch_device = "cpu");
std::string IndexBenchJson(int64_t count, const std::vector<IndexBenchRow>& rows);

}  // namespace galaxy

#endif  // GALAXY_BENCH_INDEX_BENCH_H_
