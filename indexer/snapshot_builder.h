// Building and publishing a snapshot (galaxy-index build; the server's RebuildIndex):
//   1. embed every galaxy of the dataset in batches (GPU when present), L2-normalised, with its
//      photometric redshift when the model has a redshift head; records go to RocksDB and the
//      vectors to a scratch file, so memory stays bounded;
//   2. fill the vector index (training IVF-PQ on a sample first);
//   3. score anomalies: mean cosine distance to the k nearest other galaxies, and percentiles;
//   4. measure recall@10 of approximate indexes against exact search on a sample of queries,
//      widening the search-time parameters until the target recall is met;
//   5. write the index, the model, the sorted scores and the manifest with every file's SHA-256,
//      rename the build directory to its version, and publish CURRENT by atomic rename.
// The build works in SNAPSHOTS_DIR/.building-<version>-<pid>/: a build that dies at any point
// leaves CURRENT and the published snapshots untouched, and the next build removes the debris.
#ifndef GALAXY_INDEXER_SNAPSHOT_BUILDER_H_
#define GALAXY_INDEXER_SNAPSHOT_BUILDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "indexer/anomaly_score.h"
#include "indexer/vector_index.h"
#include "model/embedder.h"

namespace galaxy {

struct BuildOptions {
  std::string data_path;
  std::string model_path;
  std::string snapshots_dir;
  IndexParams index;
  // "cpu", "cuda" or "auto".
  std::string device = "auto";
  // Which of the model's outputs are indexed (model/embedder.h). Default: the backbone's features.
  EmbeddingFeatures features = EmbeddingFeatures::kBackbone;
  // Galaxies embedded per batch. Default 256.
  int batch = 256;
  // How anomalies are scored (indexer/anomaly_score.h). Default: the Mahalanobis distance.
  AnomalyScoreKind anomaly_score = AnomalyScoreKind::kMahalanobis;
  // k of the kNN anomaly score, of the neighbours ScoreAnomaly shows and of the distance scale of
  // the label re-ranking. Default 10.
  int anomaly_k = 10;
  // Queries sampled to measure recall@10 of approximate indexes. Default 1000.
  int recall_queries = 1000;
  // When the measured recall@10 is below this, the search-time parameters (efSearch; nprobe and
  // refine_factor) are doubled until it is reached or the search is exhaustive; the manifest
  // records the parameters used. Default 0.95.
  double target_recall = 0.95;
  // Publish CURRENT when done. Default true.
  bool publish = true;
  // Version name; empty: a fresh timestamped one.
  std::string version;
  int threads = 0;
  // A sharded build (indexer/shard.h): only the galaxies of shard `shard` of `shards` (by ID
  // hash) go into this snapshot. Default 0 of 1: all of them.
  int shard = 0, shards = 1;
  // When set and true, the build stops at its next progress report with CANCELLED (nothing is
  // published; the build directory is removed).
  const std::atomic<bool>* cancel = nullptr;
  // How the model is loaded; empty: LoadEmbedder (tests give a fake).
  EmbedderLoader load_embedder;
};

struct BuildProgress {
  std::string phase;  // "embedding", "indexing", "scoring anomalies", "measuring recall", ...
  int64_t done = 0, total = 0;
};
using ProgressCallback = std::function<void(const BuildProgress&)>;

struct BuildReport {
  std::string version;
  std::string snapshot_dir;
  int64_t count = 0;
  double recall_at_10 = 1.0;
  double embed_seconds = 0, index_seconds = 0, anomaly_seconds = 0, total_seconds = 0;
  int64_t peak_rss_bytes = 0;
};

// Builds (and publishes, unless options.publish is false) one snapshot. Errors name the input at
// fault: NOT_FOUND for a missing dataset or model, INVALID_ARGUMENT for a band mismatch,
// duplicate IDs or a model producing NaN embeddings; nothing is published then.
absl::StatusOr<BuildReport> BuildSnapshot(const BuildOptions& options,
                                          const ProgressCallback& progress = nullptr);

// Removes build directories of processes that no longer run. Returns how many.
int RemoveBuildDebris(const std::string& snapshots_dir);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_SNAPSHOT_BUILDER_H_
