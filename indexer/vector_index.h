// The nearest-neighbour index of a snapshot: L2-normalised embeddings searched by inner product
// (= cosine similarity), keyed by 64-bit catalog IDs. One interface over the index kinds, so the
// server can be tested with any of them (and, later, the GPU exact search):
//   flat   exact (FAISS IndexFlatIP)
//   hnsw   graph (FAISS IndexHNSWFlat, inner product): fast, approximate, d*4 + M*8 bytes/vector
//   ivfpq  inverted lists + product quantisation (FAISS IndexIVFPQ), re-ranked with 8-bit scalar
//          16-bit float codes (IndexRefine): 2.25 bytes per dimension instead of 4, approximate;
//          refine_factor=0 keeps only the PQ codes (d/4 bytes per vector)
//   torch-flat  exact, on LibTorch (indexer/torch_vector_index.h): the vectors in a tensor on
//          the CPU (FAISS flat's answers exactly) or a CUDA device (fp16 vectors, fp32 scores);
//          stored as a flat index's file
// No FAISS type appears here; faiss_vector_index.cc wraps it.
#ifndef GALAXY_INDEXER_VECTOR_INDEX_H_
#define GALAXY_INDEXER_VECTOR_INDEX_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

enum class IndexKind { kFlat, kHnsw, kIvfPq, kTorchFlat };
const char* IndexKindName(IndexKind kind);
// "flat", "hnsw", "ivfpq" or "torch-flat"; INVALID_ARGUMENT otherwise.
absl::StatusOr<IndexKind> ParseIndexKind(const std::string& name);
// Whether the kind answers exactly (recall 1): flat and torch-flat.
bool IsExactKind(IndexKind kind);

struct IndexParams {
  IndexKind kind = IndexKind::kFlat;
  // HNSW: neighbours per node, construction and search breadth. Defaults 32, 80, 128.
  int hnsw_m = 32;
  int ef_construction = 80;
  int ef_search = 128;
  // IVF-PQ: inverted lists (0: 4 * sqrt(n), within 16..65536), probed lists, PQ sub-quantisers
  // (0: dim / 4), and re-ranking of k * refine_factor candidates
  // with 16-bit float codes (refine_factor 0: none). Defaults 0, 64, 0, 8.
  int ivf_lists = 0;
  int nprobe = 64;
  int pq_m = 0;
  int refine_factor = 8;
  // torch-flat: where the vectors live and the search runs, "cpu", "cuda" or "auto" (the GPU
  // when there is one). Chosen by the process that loads the index (the server's --device), not
  // stored: ToMap leaves it out. Default "cpu".
  std::string device = "cpu";

  // Parameters as strings, for manifests and IndexInfo.index_params.
  std::map<std::string, std::string> ToMap() const;
  // Overrides fields from "key=value" strings (same keys as ToMap). INVALID_ARGUMENT for unknown
  // keys or bad values.
  absl::Status Apply(const std::map<std::string, std::string>& values);
};

// Whether all `n` floats are finite (what Train and Add check).
bool AllFiniteFloats(const float* x, int64_t n);

// Thread-safety: Search may run concurrently with other Search calls; Train/Add must not overlap
// anything.
class VectorIndex {
 public:
  virtual ~VectorIndex() = default;

  // A new empty index for `dim`-dimensional vectors; `expected_count` sizes IVF lists.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Create(const IndexParams& params, int dim,
                                                              int64_t expected_count);
  // Reads an index written by Save(); search-time parameters (ef_search, nprobe,
  // refine_factor) come from `params`. DATA_LOSS for an unreadable file.
  static absl::StatusOr<std::unique_ptr<VectorIndex>> Load(const std::string& path,
                                                            const IndexParams& params);

  virtual int dim() const = 0;
  virtual int64_t count() const = 0;
  virtual const IndexParams& params() const = 0;
  // Whether Train must be called before Add (IVF-PQ).
  virtual bool needs_training() const = 0;

  // vectors: n x dim, L2-normalised. INVALID_ARGUMENT for non-finite values.
  virtual absl::Status Train(const float* vectors, int64_t n) = 0;
  virtual absl::Status Add(const float* vectors, const int64_t* ids, int64_t n) = 0;
  // For each of nq queries (nq x dim), the k best: scores (cosine similarity, clamped to
  // [-1, 1], best first) and IDs (-1 where fewer than k exist). scores and ids: nq x k.
  virtual absl::Status Search(const float* queries, int64_t nq, int k, float* scores,
                              int64_t* ids) const = 0;
  // The exact stored vector of `id` (flat and hnsw keep full vectors; a lookup in the ID map and
  // a copy, no I/O). NOT_FOUND for an unknown ID; UNIMPLEMENTED for ivfpq, whose vectors are
  // compressed (read the record's embedding instead).
  virtual absl::Status StoredVector(int64_t id, float* out) const = 0;
  // Every exact stored vector at once, for passes over the whole catalog: an n x dim row-major
  // matrix in the index's storage order and the ID of each row. A view of the index's own memory
  // (flat, hnsw; no copy), valid while the index lives and nothing is added. UNIMPLEMENTED for
  // ivfpq.
  struct VectorView {
    const float* vectors = nullptr;
    const int64_t* ids = nullptr;
    int64_t n = 0;
  };
  virtual absl::StatusOr<VectorView> ExactVectors() const = 0;
  // Changes the search-time parameters (ef_search, nprobe, refine_factor) of a built index.
  virtual void SetSearchParams(const IndexParams& params) = 0;
  // Writes the index to `path` (not atomically: the snapshot directory is what gets published).
  virtual absl::Status Save(const std::string& path) const = 0;
};

}  // namespace galaxy

#endif  // GALAXY_INDEXER_VECTOR_INDEX_H_
