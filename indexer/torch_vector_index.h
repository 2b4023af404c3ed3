// Exact inner-product search on LibTorch, the index kind "torch-flat" (VectorIndex): the vectors
// in one tensor, searched in blocks of rows that bound the score matrix's memory (nq x block
// floats, at most 256 MiB by default).
//   - CPU: fp32 vectors; the scores of a block come from one matrix product and each query's k
//     best are kept as FAISS IndexFlatIP keeps them (a row enters only when it beats the worst
//     kept strictly; ties ordered by row), so its answers are FAISS flat's: the same scores to
//     float rounding and the same IDs, exact ties in FAISS's order; only scores that differ by
//     rounding alone (FAISS's dot products round differently by a bit) may come in either order
//     (tested against FAISS on the same vectors).
//   - CUDA: fp16 vectors on the device (half the memory); each query's best candidates are taken
//     on the device and re-scored in fp32 on the host copy, so scores are fp32 and the order is
//     exact except where fp16 rounding moves a row across the candidate cut (2k + 16 per query).
// The file is a FAISS flat index (IndexIDMap2 over IndexFlatIP): a snapshot's torch-flat and flat
// indexes hold the same bytes, and either kind loads the other's file.
// No LibTorch type appears here: any file may include it.
#ifndef GALAXY_INDEXER_TORCH_VECTOR_INDEX_H_
#define GALAXY_INDEXER_TORCH_VECTOR_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "indexer/vector_index.h"

namespace galaxy {

// An empty torch-flat index of `dim` dimensions on params.device. INVALID_ARGUMENT for an unknown
// device, FAILED_PRECONDITION for cuda without a GPU. `block_bytes` bounds a search's score
// matrix (nq x block rows of floats; tests make it small to search in many blocks).
absl::StatusOr<std::unique_ptr<VectorIndex>> CreateTorchFlatIndex(const IndexParams& params, int dim,
                                                                  int64_t block_bytes = int64_t{256} << 20);

// A torch-flat index holding `vectors` (n x dim, row-major) with `ids` (n), e.g. a flat index
// file's contents.
absl::StatusOr<std::unique_ptr<VectorIndex>> TorchFlatIndexOf(const IndexParams& params, int dim,
                                                              std::vector<float> vectors, std::vector<int64_t> ids);

// Writes n vectors and their IDs as a FAISS flat index file (what VectorIndex::Load reads for
// flat and torch-flat). Defined with the FAISS wrapper (faiss_vector_index.cc).
absl::Status WriteFlatIndexFile(const std::string& path, int dim, const float* vectors, const int64_t* ids, int64_t n);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_TORCH_VECTOR_INDEX_H_
