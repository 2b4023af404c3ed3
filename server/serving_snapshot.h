// A snapshot as the server serves it: the opened snapshot (index, RocksDB records, anomaly score
// distribution), its model, and in-memory columns built once at load (the anomaly ranking, each
// galaxy's position and redshifts for filters, a declination-sorted list for sky-position
// matches). Immutable after Open and shared by reference count: a request holds the
// shared_ptr it started with, so a swap never changes what an in-flight request reads, and the
// old snapshot is closed when its last request finishes.
//
// Memory: besides the index, ~48 bytes per galaxy of columns (1M galaxies: ~48 MB).
#ifndef GALAXY_SERVER_SERVING_SNAPSHOT_H_
#define GALAXY_SERVER_SERVING_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "galaxy/v1/galaxy.pb.h"
#include "indexer/snapshot.h"
#include "model/embedder.h"
#include "core/whitening/catalog_whitening.h"
#include "server/request_validation.h"

namespace galaxy {

class DatasetReader;
struct GalaxyBatch;

// An example of a Recommend query: a unit vector and its weight.
struct WeightedVector {
  std::vector<float> vector;
  float weight = 1;
};

// Anomaly scores changed by the users' labels (server/label_rerank.h): each affected galaxy's
// factor by snapshot row, and the generation of the labels it was computed from.
struct AnomalyRerank {
  std::unordered_map<uint32_t, float> factor;
  uint64_t generation = 0;
};

class ServingSnapshot {
 public:
  // Opens SNAPSHOTS_DIR/<version> (`dir`) and its model on `device` ("cpu", "cuda", "auto"),
  // with `load` (empty: LoadEmbedder). Errors name the file at fault; nothing is served from a
  // snapshot that fails to open.
  static absl::StatusOr<std::shared_ptr<const ServingSnapshot>> Open(const std::string& dir, const std::string& device,
                                                                     const EmbedderLoader& load = {});
  ~ServingSnapshot();

  const std::string& version() const { return snapshot_->manifest().version; }
  const Snapshot& snapshot() const { return *snapshot_; }
  const Embedder& model() const { return *model_; }
  ModelShape shape() const;
  int64_t count() const { return static_cast<int64_t>(ids_.size()); }

  // The stored record (embedding cleared unless `with_embedding`). NOT_FOUND naming the ID.
  absl::StatusOr<v1::GalaxyRecord> Record(int64_t id, bool with_embedding) const;

  // The stored embedding of `id`: from the index when it keeps exact vectors (flat, hnsw: no I/O),
  // else from the record. NOT_FOUND naming the ID.
  absl::Status StoredEmbedding(int64_t id, std::vector<float>* out) const;

  // Every stored embedding as one matrix, for exact passes over the catalog (RankByExamples):
  // `vectors` (count() x dim, row-major) and the snapshot row of each of its rows. Flat and
  // hnsw: the index's own memory; ivfpq: read from the records on first use, then kept
  // (4 * dim bytes per galaxy). Thread-safe.
  struct CatalogVectors {
    const float* vectors = nullptr;
    std::vector<uint32_t> row;
    std::vector<float> owned;  // ivfpq
  };
  absl::StatusOr<const CatalogVectors*> AllVectors() const;
  // The whitening of those vectors for few-shot classifiers (core/whitening/catalog_whitening.h),
  // estimated on first use and then kept. Thread-safe.
  absl::StatusOr<const CatalogWhitening*> Whitening() const;

  // Columns by snapshot row (0 .. count() - 1, in ID order).
  int64_t IdAt(uint32_t row) const { return ids_[row]; }
  std::optional<uint32_t> RowOf(int64_t id) const;
  // Whether the galaxy at `row` meets `filter`'s conditions (redshift, cone; not its exclusions).
  bool PassesFilter(uint32_t row, const v1::SearchFilter& filter) const;
  // Whether `filter` has conditions besides its exclusions.
  static bool Conditions(const v1::SearchFilter& filter);

  // The catalog galaxy nearest to `position` within its match radius. NOT_FOUND when none is.
  absl::StatusOr<int64_t> MatchPosition(const v1::SkyPosition& position) const;

  // The neighbours of the unit vector `query` under `q`'s k, filter, score threshold and
  // inclusions. `self` (by-ID and by-position queries) is excluded, as is anything at or above
  // q.duplicate_threshold then. Widens the search until k neighbours pass or the catalog is
  // exhausted.
  absl::Status Similar(const float* query, const SimilarQuery& q, std::optional<int64_t> self,
                       v1::SimilarGalaxiesResponse* out) const;

  // Recommend's best-score strategy: the galaxies with the highest max_i w_i cos(c, p_i) -
  // max_j w_j cos(c, n_j) (no second term without `negatives`) under `q`'s k, filter (its
  // exclusions included), min_score and inclusions. Candidates are each positive's nearest
  // galaxies, widened until k pass or the catalog is exhausted; each is scored exactly on its
  // stored embedding.
  absl::Status RecommendBestScore(const std::vector<WeightedVector>& positives,
                                  const std::vector<WeightedVector>& negatives, const SimilarQuery& q,
                                  v1::SimilarGalaxiesResponse* out) const;

  // Anomaly score of a new embedding, as the snapshot scores its catalog (its manifest's
  // anomaly_score: the Mahalanobis distance, of the embedding or of it joined with
  // `turn_averaged`, or the mean cosine distance to its anomaly_k nearest galaxies), and that
  // score's percentile in the catalog; with the anomaly_k nearest when `with_neighbors`.
  // `turn_averaged` (the embedding averaged over the image's turns and mirrors) is read only by
  // a kMahalanobisTurns snapshot, which refuses a null one (INVALID_ARGUMENT).
  absl::Status ScoreEmbedding(const float* query, const float* turn_averaged, v1::ScoreAnomalyResponse* out,
                              bool with_neighbors) const;
  // Whether scoring an uploaded image needs its turn-averaged embedding (EmbedParts::turn_average).
  bool ScoresTurnAverage() const { return NeedsTurnAverage(snapshot_->manifest().anomaly_score); }

  // A page of the anomaly ranking (most anomalous first), re-ranked by `rerank` when given (its
  // factors multiply the scores). Page tokens name this snapshot, and the labels' generation
  // when re-ranked.
  absl::Status ListAnomalies(const v1::ListAnomaliesRequest& request, int page_size, const AnomalyRerank* rerank,
                             v1::ListAnomaliesResponse* out) const;
  // OK when a page token names this snapshot as its issuer (`issued_by`); FAILED_PRECONDITION
  // saying to restart the `listing` ("listing", "ranking") otherwise.
  absl::Status IssuedHere(absl::string_view issued_by, absl::string_view listing) const;

  // The catalog's median anomaly score: the typical mean cosine distance of a galaxy to its
  // nearest neighbours.
  float MedianAnomalyScore() const { return median_score_; }

  // The redshift pdf the snapshot stores for `record`'s galaxy, appended to `out`
  // (Snapshot::RedshiftPdf's errors).
  absl::Status StoredRedshiftPdf(const v1::GalaxyRecord& record, google::protobuf::RepeatedField<float>* out) const;

  // Row `row` of the dataset the snapshot was built from, as an Image message (GetGalaxy's
  // include_image, for display: the one answer that reads outside the snapshot).
  // FAILED_PRECONDITION when that file is gone or no longer holds `id` there.
  absl::Status SourceCutout(int64_t id, uint64_t row, v1::Image* out) const;

 private:
  ServingSnapshot() = default;
  // PassesFilter for a galaxy by ID; false for an ID not in the snapshot.
  bool IdPassesFilter(int64_t id, const v1::SearchFilter& filter) const;
  // Candidates a search of `q` ranks before Diversify picks its k.
  static int Candidates(const SimilarQuery& q);
  // `kept` (best first) made diverse as `q` asks: galaxies on the sky within its radius of a
  // better one (or of the query galaxy `self`) dropped, then maximal marginal relevance; at most
  // q.k remain.
  absl::Status Diversify(const SimilarQuery& q, std::optional<int64_t> self,
                         std::vector<std::pair<int64_t, float>>* kept) const;
  // `kept` (id, score; best first) as the answer's neighbours, with records when `q` asks.
  absl::Status AddNeighbors(const std::vector<std::pair<int64_t, float>>& kept, const SimilarQuery& q,
                            v1::SimilarGalaxiesResponse* out) const;
  // Reads row `row` (which must hold `id`) of the source dataset into `batch`.
  absl::Status ReadSource(int64_t id, uint64_t row, GalaxyBatch* batch, int* bands, int* height, int* width) const;

  std::unique_ptr<Snapshot> snapshot_;
  std::unique_ptr<Embedder> model_;
  // Columns by row (row order = ID order of the records).
  std::vector<int64_t> ids_;
  std::vector<double> ra_, dec_;
  std::vector<float> specz_, zphot_;  // NaN when absent
  std::unordered_map<int64_t, uint32_t> row_of_;
  // Rows sorted by declination, for position matches.
  std::vector<uint32_t> by_dec_;
  // Rows sorted most anomalous first (ties by ID), and each one's percentile.
  std::vector<uint32_t> anomaly_rank_;
  std::vector<float> percentile_;
  std::vector<float> score_;       // by row
  std::vector<uint32_t> rank_of_;  // by row: its place in anomaly_rank_
  float median_score_ = 0;

  mutable absl::Mutex vectors_mu_;
  mutable std::unique_ptr<CatalogVectors> vectors_ ABSL_GUARDED_BY(vectors_mu_);
  mutable absl::Mutex whitening_mu_;
  mutable std::unique_ptr<CatalogWhitening> whitening_ ABSL_GUARDED_BY(whitening_mu_);
  mutable absl::Mutex source_mu_;
  mutable std::unique_ptr<DatasetReader> source_ ABSL_GUARDED_BY(source_mu_);
};

// The live snapshot. Get() is cheap and safe from any thread.
class SnapshotHolder {
 public:
  std::shared_ptr<const ServingSnapshot> Get() const {
    absl::MutexLock lock(&mu_);
    return live_;
  }
  // Makes `next` live; returns the previous one (which lives on while requests hold it).
  std::shared_ptr<const ServingSnapshot> Swap(std::shared_ptr<const ServingSnapshot> next) {
    absl::MutexLock lock(&mu_);
    live_.swap(next);
    return next;
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ServingSnapshot> live_ ABSL_GUARDED_BY(mu_);
};

// Angular separation of two sky positions, degrees.
double AngularSeparationDegrees(double ra1, double dec1, double ra2, double dec2);

}  // namespace galaxy

#endif  // GALAXY_SERVER_SERVING_SNAPSHOT_H_
