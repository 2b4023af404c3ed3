// The snapshot builder's scratch file of embeddings: written once in dataset row order while
// embedding, then read back in chunks by the indexing and anomaly phases.
#ifndef GALAXY_INDEXER_VECTOR_SCRATCH_H_
#define GALAXY_INDEXER_VECTOR_SCRATCH_H_

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace galaxy {

// The scratch file of embeddings (n x dim float32, row order of the dataset).
class VectorScratch {
 public:
  VectorScratch(std::string path, int dim) : path_(std::move(path)), dim_(dim) {}
  absl::Status Append(const float* v, int64_t n) {
    if (!out_.is_open()) out_.open(path_, std::ios::binary | std::ios::trunc);
    out_.write(reinterpret_cast<const char*>(v), n * dim_ * 4);
    if (!out_) return absl::InternalError(absl::StrCat("writing ", path_, " failed (disk full?)"));
    rows_ += n;
    return absl::OkStatus();
  }
  absl::Status Close() {
    out_.close();
    if (out_.fail()) return absl::InternalError(absl::StrCat("closing ", path_, " failed (disk full?)"));
    return absl::OkStatus();
  }
  // Rows [start, start + n) into `out` (n x dim).
  absl::Status Read(int64_t start, int64_t n, std::vector<float>* out) const {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(start * dim_ * 4);
    out->resize(static_cast<size_t>(n * dim_));
    in.read(reinterpret_cast<char*>(out->data()), n * dim_ * 4);
    if (!in) return absl::DataLossError(absl::StrCat("reading ", path_, " failed"));
    return absl::OkStatus();
  }
  int64_t rows() const { return rows_; }

 private:
  std::string path_;
  int dim_;
  std::ofstream out_;
  int64_t rows_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_INDEXER_VECTOR_SCRATCH_H_
