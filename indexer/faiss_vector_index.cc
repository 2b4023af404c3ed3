// FAISS 1.7.3 behind VectorIndex. FAISS throws faiss::FaissException: caught here.
#include <cstdint>  // FAISS 1.7.3 headers rely on it.

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexRefine.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/index_io.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "indexer/torch_vector_index.h"
#include "indexer/vector_index.h"

namespace galaxy {
namespace {

class FaissVectorIndex : public VectorIndex {
 public:
  FaissVectorIndex(std::unique_ptr<faiss::Index> index, const IndexParams& params, int dim)
      : index_(std::move(index)), params_(params), dim_(dim) {
    ApplySearchParams();
  }

  int dim() const override { return dim_; }
  int64_t count() const override { return index_->ntotal; }
  const IndexParams& params() const override { return params_; }
  bool needs_training() const override { return !index_->is_trained; }

  absl::Status Train(const float* vectors, int64_t n) override {
    if (!AllFiniteFloats(vectors, n * dim_)) return absl::InvalidArgumentError("training vectors hold NaN or Inf");
    try {
      if (!index_->is_trained) index_->train(n, vectors);
    } catch (const std::exception& e) {
      return StatusFromException(e, "training the index");
    }
    return absl::OkStatus();
  }

  absl::Status Add(const float* vectors, const int64_t* ids, int64_t n) override {
    if (!AllFiniteFloats(vectors, n * dim_)) return absl::InvalidArgumentError("vectors hold NaN or Inf");
    try {
      index_->add_with_ids(n, vectors, ids);
    } catch (const std::exception& e) {
      return StatusFromException(e, "adding to the index");
    }
    return absl::OkStatus();
  }

  absl::Status Search(const float* queries, int64_t nq, int k, float* scores,
                      int64_t* ids) const override {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("k = ", k, " < 1"));
    // FAISS opens an OpenMP team for every search, even of one query, where it buys nothing and
    // costs a wake-up of the team's other threads (and, for HNSW, one visited-table of ntotal
    // bytes per thread). Single queries run on the calling thread alone; concurrency comes from
    // the callers (the server's request threads).
    const int threads = omp_get_max_threads();
    if (nq == 1) omp_set_num_threads(1);
    try {
      index_->search(nq, queries, k, scores, ids);
    } catch (const std::exception& e) {
      if (nq == 1) omp_set_num_threads(threads);
      return StatusFromException(e, "searching the index");
    }
    if (nq == 1) omp_set_num_threads(threads);
    for (int64_t i = 0; i < nq * k; ++i) {
      if (ids[i] < 0) scores[i] = -1.0f;
      scores[i] = std::clamp(scores[i], -1.0f, 1.0f);
    }
    return absl::OkStatus();
  }

  absl::Status StoredVector(int64_t id, float* out) const override {
    if (params_.kind == IndexKind::kIvfPq) {
      return absl::UnimplementedError("an IVF-PQ index keeps only compressed vectors");
    }
    const auto* map = dynamic_cast<const faiss::IndexIDMap2*>(index_.get());
    if (map == nullptr) return absl::UnimplementedError("the index has no ID map");
    auto it = map->rev_map.find(id);
    if (it == map->rev_map.end()) return absl::NotFoundError(absl::StrCat("ID ", id, " is not in the index"));
    try {
      map->index->reconstruct(it->second, out);
    } catch (const std::exception& e) {
      return StatusFromException(e, absl::StrCat("reading the vector of ", id));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<VectorView> ExactVectors() const override {
    const auto* map = dynamic_cast<const faiss::IndexIDMap2*>(index_.get());
    if (map == nullptr) return absl::UnimplementedError("the index has no ID map");
    const faiss::Index* inner = map->index;
    if (const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(inner)) inner = hnsw->storage;
    const auto* flat = dynamic_cast<const faiss::IndexFlat*>(inner);
    if (flat == nullptr) return absl::UnimplementedError("an IVF-PQ index keeps only compressed vectors");
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS IDs are 64-bit");
    VectorView view;
    view.vectors = flat->get_xb();
    view.ids = reinterpret_cast<const int64_t*>(map->id_map.data());
    view.n = static_cast<int64_t>(map->id_map.size());
    return view;
  }

  void SetSearchParams(const IndexParams& params) override {
    params_.ef_search = params.ef_search;
    params_.nprobe = params.nprobe;
    params_.refine_factor = params.refine_factor;
    ApplySearchParams();
  }

  absl::Status Save(const std::string& path) const override {
    try {
      faiss::write_index(index_.get(), path.c_str());
    } catch (const std::exception& e) {
      return StatusFromException(e, absl::StrCat("writing ", path));
    }
    return absl::OkStatus();
  }

 private:
  // Search breadth lives on the inner index (IDMap2 forwards search).
  void ApplySearchParams() {
    faiss::Index* inner = index_.get();
    if (auto* map = dynamic_cast<faiss::IndexIDMap2*>(inner)) inner = map->index;
    if (auto* refine = dynamic_cast<faiss::IndexRefine*>(inner)) {
      refine->k_factor = std::max(1, params_.refine_factor);
      inner = refine->base_index;
    }
    if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(inner)) hnsw->hnsw.efSearch = params_.ef_search;
    if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner)) ivf->nprobe = static_cast<size_t>(params_.nprobe);
  }

  std::unique_ptr<faiss::Index> index_;
  IndexParams params_;
  int dim_;
};

}  // namespace

bool AllFiniteFloats(const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) return false;
  }
  return true;
}

const char* IndexKindName(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return "flat";
    case IndexKind::kHnsw: return "hnsw";
    case IndexKind::kIvfPq: return "ivfpq";
    case IndexKind::kTorchFlat: return "torch-flat";
  }
  return "unknown";
}

bool IsExactKind(IndexKind kind) { return kind == IndexKind::kFlat || kind == IndexKind::kTorchFlat; }

absl::StatusOr<IndexKind> ParseIndexKind(const std::string& name) {
  if (name == "flat") return IndexKind::kFlat;
  if (name == "hnsw") return IndexKind::kHnsw;
  if (name == "ivfpq") return IndexKind::kIvfPq;
  if (name == "torch-flat") return IndexKind::kTorchFlat;
  return absl::InvalidArgumentError(
      absl::StrCat("--index: unknown '", name, "' (expected flat, hnsw, ivfpq or torch-flat)"));
}

std::map<std::string, std::string> IndexParams::ToMap() const {
  std::map<std::string, std::string> m = {{"kind", IndexKindName(kind)}};
  if (kind == IndexKind::kHnsw) {
    m["M"] = absl::StrCat(hnsw_m);
    m["efConstruction"] = absl::StrCat(ef_construction);
    m["efSearch"] = absl::StrCat(ef_search);
  } else if (kind == IndexKind::kIvfPq) {
    m["nlist"] = absl::StrCat(ivf_lists);
    m["nprobe"] = absl::StrCat(nprobe);
    m["pq_m"] = absl::StrCat(pq_m);
    m["refine_factor"] = absl::StrCat(refine_factor);
  }
  return m;
}

absl::Status IndexParams::Apply(const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    int v = 0;
    if (key == "kind") {
      GALAXY_ASSIGN_OR_RETURN(kind, ParseIndexKind(value));
      continue;
    }
    if (!absl::SimpleAtoi(value, &v) || v < 0) {
      return absl::InvalidArgumentError(absl::StrCat("index parameter ", key, "=", value, ": not a non-negative integer"));
    }
    if (key == "M") hnsw_m = v;
    else if (key == "efConstruction") ef_construction = v;
    else if (key == "efSearch") ef_search = v;
    else if (key == "nlist") ivf_lists = v;
    else if (key == "nprobe") nprobe = v;
    else if (key == "pq_m") pq_m = v;
    else if (key == "refine_factor") refine_factor = v;
    else return absl::InvalidArgumentError(absl::StrCat("unknown index parameter '", key, "'"));
  }
  if (hnsw_m < 4 || hnsw_m > 256) return absl::InvalidArgumentError("M must be within 4..256");
  if (ef_search < 1 || ef_construction < 1 || nprobe < 1) {
    return absl::InvalidArgumentError("efSearch, efConstruction and nprobe must be >= 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Create(const IndexParams& params_in,
                                                                  int dim, int64_t expected_count) {
  if (dim < 1) return absl::InvalidArgumentError(absl::StrCat("dimension ", dim, " < 1"));
  IndexParams params = params_in;
  try {
    std::unique_ptr<faiss::Index> inner;
    switch (params.kind) {
      case IndexKind::kFlat:
        inner = std::make_unique<faiss::IndexFlatIP>(dim);
        break;
      case IndexKind::kTorchFlat:
        return CreateTorchFlatIndex(params, dim);
      case IndexKind::kHnsw: {
        auto hnsw = std::make_unique<faiss::IndexHNSWFlat>(dim, params.hnsw_m, faiss::METRIC_INNER_PRODUCT);
        hnsw->hnsw.efConstruction = params.ef_construction;
        inner = std::move(hnsw);
        break;
      }
      case IndexKind::kIvfPq: {
        if (params.ivf_lists == 0) {
          params.ivf_lists = static_cast<int>(std::clamp<double>(4 * std::sqrt(static_cast<double>(std::max<int64_t>(expected_count, 1))), 16, 65536));
        }
        if (params.pq_m == 0) params.pq_m = std::max(1, dim / 4);
        if (dim % params.pq_m != 0) {
          return absl::InvalidArgumentError(absl::StrCat("pq_m ", params.pq_m, " does not divide the dimension ", dim));
        }
        auto* quantizer = new faiss::IndexFlatIP(dim);
        auto ivfpq = std::make_unique<faiss::IndexIVFPQ>(quantizer, dim, static_cast<size_t>(params.ivf_lists),
                                                         static_cast<size_t>(params.pq_m), 8, faiss::METRIC_INNER_PRODUCT);
        ivfpq->own_fields = true;
        // Ten k-means iterations (FAISS's default is 25): build time matters more than the last
        // fraction of a percent of quantiser quality, which the refinement recovers anyway.
        ivfpq->cp.niter = 10;
        ivfpq->pq.cp.niter = 10;
        if (params.refine_factor > 0) {
          auto* base = ivfpq.release();
          auto* sq = new faiss::IndexScalarQuantizer(dim, faiss::ScalarQuantizer::QT_fp16, faiss::METRIC_INNER_PRODUCT);
          auto refine = std::make_unique<faiss::IndexRefine>(base, sq);
          refine->own_fields = true;
          refine->own_refine_index = true;
          inner = std::move(refine);
        } else {
          inner = std::move(ivfpq);
        }
        break;
      }
    }
    auto map = std::make_unique<faiss::IndexIDMap2>(inner.release());
    map->own_fields = true;
    return std::unique_ptr<VectorIndex>(new FaissVectorIndex(std::move(map), params, dim));
  } catch (const std::exception& e) {
    return StatusFromException(e, "creating the index");
  }
}

absl::StatusOr<std::unique_ptr<VectorIndex>> VectorIndex::Load(const std::string& path,
                                                                const IndexParams& params) {
  try {
    std::unique_ptr<faiss::Index> index(faiss::read_index(path.c_str()));
    if (dynamic_cast<faiss::IndexIDMap2*>(index.get()) == nullptr) {
      return absl::DataLossError(absl::StrCat(path, ": not a galaxy-search index (no ID map)"));
    }
    const int dim = index->d;
    if (params.kind == IndexKind::kTorchFlat) {
      // The same file as a flat index: its vectors and IDs move into LibTorch.
      const auto* map = static_cast<const faiss::IndexIDMap2*>(index.get());
      const auto* flat = dynamic_cast<const faiss::IndexFlat*>(map->index);
      if (flat == nullptr) return absl::DataLossError(absl::StrCat(path, ": not a flat index (torch-flat reads those)"));
      const float* xb = flat->get_xb();
      std::vector<float> vectors(xb, xb + flat->ntotal * dim);
      std::vector<int64_t> ids(map->id_map.begin(), map->id_map.end());
      index.reset();
      return TorchFlatIndexOf(params, dim, std::move(vectors), std::move(ids));
    }
    return std::unique_ptr<VectorIndex>(new FaissVectorIndex(std::move(index), params, dim));
  } catch (const std::exception& e) {
    std::string what = e.what();
    return absl::DataLossError(absl::StrCat(path, ": unreadable index: ", what.substr(0, what.find('\n'))));
  }
}

absl::Status WriteFlatIndexFile(const std::string& path, int dim, const float* vectors, const int64_t* ids, int64_t n) {
  try {
    faiss::IndexIDMap2 map(new faiss::IndexFlatIP(dim));
    map.own_fields = true;
    map.add_with_ids(n, vectors, ids);
    faiss::write_index(&map, path.c_str());
  } catch (const std::exception& e) {
    return StatusFromException(e, absl::StrCat("writing ", path));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
