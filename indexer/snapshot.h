// An immutable, published snapshot:
//   SNAPSHOTS_DIR/<version>/
//     index.faiss           the vector index (indexer/vector_index.h)
//     meta.rocksdb/         one galaxy.v1.GalaxyRecord per galaxy (indexer/metadata_store.h)
//     model.pt              the checkpoint the embeddings came from (the server embeds uploads)
//     anomaly_scores.npy    every galaxy's anomaly score, sorted (percentiles of new images)
//     redshift_pdfs.npy     every galaxy's redshift pdf, row = its dataset row (models with a
//                           redshift head): uint16, n x bins, probability x 65535 rounded
//     manifest.json         what it holds, how it was built, and a SHA-256 of every file
#ifndef GALAXY_INDEXER_SNAPSHOT_H_
#define GALAXY_INDEXER_SNAPSHOT_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/whitening/catalog_whitening.h"
#include "indexer/anomaly_score.h"
#include "indexer/metadata_store.h"
#include "indexer/vector_index.h"
#include "model/embedder.h"
#include "model/model_metadata.h"

namespace galaxy {

inline constexpr char kIndexFile[] = "index.faiss";
inline constexpr char kMetadataDir[] = "meta.rocksdb";
inline constexpr char kModelFile[] = "model.pt";
inline constexpr char kAnomalyScoresFile[] = "anomaly_scores.npy";
// Mahalanobis snapshots: the catalog's whitening for scoring uploads, float64 (dim + 1) x dim: the
// mean, then the Cholesky factor L (row i of the file = column i of L).
inline constexpr char kAnomalyWhiteningFile[] = "anomaly_whitening.npy";
inline constexpr char kManifestFile[] = "manifest.json";
inline constexpr char kRedshiftPdfsFile[] = "redshift_pdfs.npy";

// A redshift pdf as redshift_pdfs.npy stores it: each probability x 65535, rounded (steps of
// 1.5e-5; a reader divides by the row's sum, which restores a sum of 1).
void QuantisePdf(const float* pdf, int bins, std::vector<uint16_t>* out);

struct FileDigest {
  std::string sha256;
  int64_t bytes = 0;
};

struct SnapshotManifest {
  int format_version = 1;
  std::string version;
  std::string created_at;
  int64_t count = 0;
  int dimension = 0;
  IndexParams index;
  double measured_recall_at_10 = 1.0;
  int anomaly_k = 10;
  // How the stored anomaly scores were computed; manifests without it hold kKnn.
  AnomalyScoreKind anomaly_score = AnomalyScoreKind::kKnn;
  // The median over galaxies of the mean cosine distance to their anomaly_k nearest: the scale of
  // "near" for the label re-ranking (server/label_rerank.h). 0 when not recorded (then the kNN
  // scores' own median is that scale).
  double neighbour_distance_median = 0;
  ModelMetadata model;
  // Which of the model's outputs the vectors are (and uploaded images are embedded as). Manifests
  // written before the choice existed hold the projection head's output when the model has one.
  EmbeddingFeatures features = EmbeddingFeatures::kBackbone;
  std::string model_checksum;
  std::string data_path, data_checksum;
  // Which shard of the survey the snapshot holds (indexer/shard.h); 0 of 1 when it holds it all.
  int shard = 0, shards = 1;
  double embed_seconds = 0, index_seconds = 0, anomaly_seconds = 0, total_seconds = 0;
  // Relative path inside the snapshot -> digest, for every file.
  std::map<std::string, FileDigest> files;

  std::string ToJson() const;
  static absl::StatusOr<SnapshotManifest> FromJson(const std::string& json);
};

// Writes `w` as kAnomalyWhiteningFile's layout to `path`.
absl::Status WriteWhitening(const std::string& path, const CatalogWhitening& w);

// Digests of every regular file under `dir` (relative paths), except the manifest itself.
absl::StatusOr<std::map<std::string, FileDigest>> DigestFiles(const std::string& dir);

// An opened snapshot (read-only). Thread-safe for concurrent reads.
class Snapshot {
 public:
  // Opens SNAPSHOTS_DIR/<version> (`dir`): manifest, index, metadata, sorted anomaly scores.
  // Errors name the file that is missing or unreadable. A torch-flat index is loaded on
  // `index_device` ("cpu", "cuda" or "auto"; IndexParams::device).
  static absl::StatusOr<std::unique_ptr<Snapshot>> Open(const std::string& dir,
                                                        const std::string& index_device = "cpu");

  const SnapshotManifest& manifest() const { return manifest_; }
  const std::string& dir() const { return dir_; }
  const VectorIndex& index() const { return *index_; }
  const MetadataStore& metadata() const { return *metadata_; }
  // Galaxy `row`'s stored redshift pdf (row = its dataset row, GalaxyRecord.source_row), summing
  // to 1. FAILED_PRECONDITION when the snapshot holds none (a model without a redshift head, or
  // a snapshot built before pdfs were stored); DATA_LOSS when the file cannot be read.
  absl::Status RedshiftPdf(uint64_t row, std::vector<float>* out) const;
  // Percentile (0..100) of an anomaly score in the catalog's distribution.
  double AnomalyPercentile(double score) const;
  // The catalog's whitening of a Mahalanobis snapshot (null for kKnn).
  const CatalogWhitening* anomaly_whitening() const { return anomaly_whitening_.get(); }
  // The `n` most anomalous galaxies' IDs are not kept apart: ListAnomalies walks the records.

  // Checks every file's SHA-256 and size against the manifest, RocksDB's own checksums, that the
  // index, the metadata and the manifest hold the same number of galaxies, and that a sample of
  // galaxies (up to `sample`) is found by its own embedding. DATA_LOSS naming the first problem.
  absl::Status Verify(int sample = 1000) const;

 private:
  Snapshot() = default;
  // Finds redshift_pdfs.npy, when there is one, and checks its shape.
  absl::Status OpenRedshiftPdfs();

  std::string dir_;
  SnapshotManifest manifest_;
  std::unique_ptr<VectorIndex> index_;
  std::unique_ptr<MetadataStore> metadata_;
  std::vector<float> sorted_scores_;
  std::unique_ptr<CatalogWhitening> anomaly_whitening_;
  // redshift_pdfs.npy, opened (null when the snapshot has none); where its rows start; bins.
  std::shared_ptr<std::FILE> pdfs_;
  int64_t pdf_offset_ = 0;
  int pdf_bins_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_INDEXER_SNAPSHOT_H_
