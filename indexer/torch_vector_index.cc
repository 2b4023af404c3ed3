#include "indexer/torch_vector_index.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "model/torch_info.h"

namespace galaxy {
namespace {

// One query's k best as FAISS IndexFlatIP keeps them: a min-heap of (score, row) ordered by
// score and then row; a row enters a full heap only when its score beats the top's strictly.
// Rows must arrive in ascending order (they do: blocks and rows within them are in order).
class FlatHeap {
 public:
  explicit FlatHeap(int k) : k_(static_cast<size_t>(k)) { heap_.reserve(k_); }

  void Offer(float score, int64_t row) {
    if (heap_.size() < k_) {
      heap_.emplace_back(score, row);
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    } else if (score > heap_.front().first) {
      std::pop_heap(heap_.begin(), heap_.end(), Worse);
      heap_.back() = {score, row};
      std::push_heap(heap_.begin(), heap_.end(), Worse);
    }
  }

  // Best first: score descending, and among equal scores the later row first (FAISS's order).
  std::vector<std::pair<float, int64_t>> Sorted() const {
    std::vector<std::pair<float, int64_t>> out = heap_;
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second > b.second;
    });
    return out;
  }

 private:
  // The heap's top is the worst kept: the lowest score, among equal scores the lowest row.
  static bool Worse(const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  }

  size_t k_;
  std::vector<std::pair<float, int64_t>> heap_;
};

class TorchFlatIndex : public VectorIndex {
 public:
  TorchFlatIndex(const IndexParams& params, int dim, torch::Device device, int64_t block_bytes)
      : params_(params), dim_(dim), device_(device), block_bytes_(block_bytes) {}

  int dim() const override { return dim_; }
  int64_t count() const override { return static_cast<int64_t>(ids_.size()); }
  const IndexParams& params() const override { return params_; }
  bool needs_training() const override { return false; }

  absl::Status Train(const float*, int64_t) override { return absl::OkStatus(); }

  absl::Status Add(const float* vectors, const int64_t* ids, int64_t n) override {
    if (!AllFiniteFloats(vectors, n * dim_)) return absl::InvalidArgumentError("vectors hold NaN or Inf");
    for (int64_t i = 0; i < n; ++i) {
      if (row_of_.contains(ids[i])) return absl::InvalidArgumentError(absl::StrCat("ID ", ids[i], " is already in the index"));
    }
    host_.insert(host_.end(), vectors, vectors + n * dim_);
    for (int64_t i = 0; i < n; ++i) {
      row_of_.emplace(ids[i], static_cast<int64_t>(ids_.size()));
      ids_.push_back(ids[i]);
    }
    std::lock_guard<std::mutex> lock(mu_);
    device_vectors_ = torch::Tensor();  // made again at the next search
    return absl::OkStatus();
  }

  absl::Status Search(const float* queries, int64_t nq, int k, float* scores, int64_t* ids) const override {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("k = ", k, " < 1"));
    if (nq < 0) return absl::InvalidArgumentError(absl::StrCat("nq = ", nq, " < 0"));
    std::fill(scores, scores + nq * k, -1.0f);
    std::fill(ids, ids + nq * k, int64_t{-1});
    const int64_t n = count();
    if (nq == 0 || n == 0) return absl::OkStatus();
    try {
      const torch::Tensor database = Vectors();
      const torch::Tensor q = torch::from_blob(const_cast<float*>(queries), {nq, dim_}, torch::kFloat32);
      const int64_t block = std::clamp<int64_t>(block_bytes_ / (4 * nq), std::min<int64_t>(n, k), n);
      if (device_.is_cpu()) {
        SearchOnCpu(database, q, block, k, scores, ids);
      } else {
        SearchOnDevice(database, q, block, k, scores, ids);
      }
    } catch (const std::exception& e) {
      return StatusFromException(e, "searching the torch-flat index");
    }
    return absl::OkStatus();
  }

  absl::Status StoredVector(int64_t id, float* out) const override {
    auto it = row_of_.find(id);
    if (it == row_of_.end()) return absl::NotFoundError(absl::StrCat("ID ", id, " is not in the index"));
    std::copy_n(host_.data() + it->second * dim_, dim_, out);
    return absl::OkStatus();
  }

  absl::StatusOr<VectorView> ExactVectors() const override {
    VectorView view;
    view.vectors = host_.data();
    view.ids = ids_.data();
    view.n = count();
    return view;
  }

  void SetSearchParams(const IndexParams&) override {}  // an exact search has none

  absl::Status Save(const std::string& path) const override {
    return WriteFlatIndexFile(path, dim_, host_.data(), ids_.data(), count());
  }

 private:
  // The vectors where the search runs: a view of the host copy on the CPU, an fp16 copy on a GPU
  // (made at the first search after an Add).
  torch::Tensor Vectors() const {
    const torch::Tensor host =
        torch::from_blob(const_cast<float*>(host_.data()), {count(), static_cast<int64_t>(dim_)}, torch::kFloat32);
    if (device_.is_cpu()) return host;
    std::lock_guard<std::mutex> lock(mu_);
    if (!device_vectors_.defined()) device_vectors_ = host.to(device_, torch::kFloat16);
    return device_vectors_;
  }

  void SearchOnCpu(const torch::Tensor& database, const torch::Tensor& q, int64_t block, int k, float* scores,
                   int64_t* ids) const {
    const int64_t nq = q.size(0), n = database.size(0);
    std::vector<FlatHeap> heaps(static_cast<size_t>(nq), FlatHeap(k));
    for (int64_t start = 0; start < n; start += block) {
      const int64_t rows = std::min(block, n - start);
      const torch::Tensor s = torch::mm(q, database.narrow(0, start, rows).t()).contiguous();
      const float* p = s.data_ptr<float>();
      for (int64_t i = 0; i < nq; ++i) {
        for (int64_t j = 0; j < rows; ++j) heaps[static_cast<size_t>(i)].Offer(p[i * rows + j], start + j);
      }
    }
    for (int64_t i = 0; i < nq; ++i) Write(heaps[static_cast<size_t>(i)].Sorted(), i, k, scores, ids);
  }

  void SearchOnDevice(const torch::Tensor& database, const torch::Tensor& q, int64_t block, int k, float* scores,
                      int64_t* ids) const {
    torch::NoGradGuard no_grad;
    const int64_t nq = q.size(0), n = database.size(0);
    const int64_t keep = std::min<int64_t>(n, 2 * static_cast<int64_t>(k) + 16);
    const torch::Tensor queries = q.to(device_, torch::kFloat16);
    torch::Tensor best_scores, best_rows;  // nq x keep, on the device
    for (int64_t start = 0; start < n; start += block) {
      const int64_t rows = std::min(block, n - start);
      const torch::Tensor s = torch::mm(queries, database.narrow(0, start, rows).t()).to(torch::kFloat32);
      auto [values, index] = s.topk(std::min(keep, rows), 1);
      index = index + start;
      if (best_scores.defined()) {
        values = torch::cat({best_scores, values}, 1);
        index = torch::cat({best_rows, index}, 1);
        auto [top, at] = values.topk(std::min<int64_t>(keep, values.size(1)), 1);
        best_scores = top;
        best_rows = index.gather(1, at);
      } else {
        best_scores = values;
        best_rows = index;
      }
    }
    // fp32 scores of the candidates from the host copy, kept as the CPU search keeps them.
    const torch::Tensor candidates = std::get<0>(best_rows.sort(1)).to(torch::kCPU).contiguous();
    const int64_t c = candidates.size(1);
    const int64_t* rows = candidates.data_ptr<int64_t>();
    const float* query = q.data_ptr<float>();
    for (int64_t i = 0; i < nq; ++i) {
      FlatHeap heap(k);
      for (int64_t j = 0; j < c; ++j) {
        const int64_t row = rows[i * c + j];
        const float* v = host_.data() + row * dim_;
        float dot = 0;
        for (int d = 0; d < dim_; ++d) dot += query[i * dim_ + d] * v[d];
        heap.Offer(dot, row);
      }
      Write(heap.Sorted(), i, k, scores, ids);
    }
  }

  void Write(const std::vector<std::pair<float, int64_t>>& best, int64_t query, int k, float* scores,
             int64_t* ids) const {
    for (size_t j = 0; j < best.size(); ++j) {
      scores[query * k + static_cast<int64_t>(j)] = std::clamp(best[j].first, -1.0f, 1.0f);
      ids[query * k + static_cast<int64_t>(j)] = ids_[static_cast<size_t>(best[j].second)];
    }
  }

  IndexParams params_;
  int dim_;
  torch::Device device_;
  int64_t block_bytes_;
  std::vector<float> host_;  // n x dim, row-major: the stored vectors
  std::vector<int64_t> ids_;
  absl::flat_hash_map<int64_t, int64_t> row_of_;
  mutable std::mutex mu_;
  mutable torch::Tensor device_vectors_;
};

absl::StatusOr<torch::Device> DeviceFor(const IndexParams& params) {
  absl::StatusOr<DeviceKind> kind = ResolveDevice(params.device);
  if (!kind.ok()) return Annotate(kind.status(), "torch-flat index device");
  return *kind == DeviceKind::kCuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

}  // namespace

absl::StatusOr<std::unique_ptr<VectorIndex>> CreateTorchFlatIndex(const IndexParams& params, int dim,
                                                                  int64_t block_bytes) {
  if (dim < 1) return absl::InvalidArgumentError(absl::StrCat("dimension ", dim, " < 1"));
  if (block_bytes < 4) return absl::InvalidArgumentError(absl::StrCat("block of ", block_bytes, " bytes"));
  GALAXY_ASSIGN_OR_RETURN(const torch::Device device, DeviceFor(params));
  return std::unique_ptr<VectorIndex>(new TorchFlatIndex(params, dim, device, block_bytes));
}

absl::StatusOr<std::unique_ptr<VectorIndex>> TorchFlatIndexOf(const IndexParams& params, int dim,
                                                              std::vector<float> vectors, std::vector<int64_t> ids) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, CreateTorchFlatIndex(params, dim));
  if (vectors.size() != ids.size() * static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(absl::StrCat(vectors.size(), " floats for ", ids.size(), " vectors of ", dim));
  }
  GALAXY_RETURN_IF_ERROR(index->Add(vectors.data(), ids.data(), static_cast<int64_t>(ids.size())));
  return index;
}

}  // namespace galaxy
