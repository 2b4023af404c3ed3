// torch-flat (indexer/torch_vector_index.h) answers as FAISS flat on the same vectors: the same
// IDs in the same order (ties included, k above the count included) and the same scores to float
// rounding, whether the search runs in one block or many; its file is a flat index's.
#include "indexer/torch_vector_index.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tests/temp_dir.h"

namespace galaxy {
namespace {

// Unit vectors in `dim` dimensions, with exact duplicates (ties) of some rows under other IDs.
struct Vectors {
  std::vector<float> x;
  std::vector<int64_t> ids;
};

Vectors MakeVectors(int64_t n, int dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  Vectors v;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<float> row(static_cast<size_t>(dim));
    if (i % 10 == 9) {
      // A copy of an earlier row: the two tie for every query.
      const int64_t from = static_cast<int64_t>(rng() % static_cast<uint64_t>(i));
      row.assign(v.x.begin() + from * dim, v.x.begin() + (from + 1) * dim);
    } else {
      double norm = 0;
      for (float& f : row) {
        f = normal(rng);
        norm += f * f;
      }
      for (float& f : row) f /= static_cast<float>(std::sqrt(norm));
    }
    v.x.insert(v.x.end(), row.begin(), row.end());
    v.ids.push_back(900000000000LL + 13 * i);
  }
  return v;
}

// The same scores rank by rank (to float rounding) and the same IDs, where a run of scores equal
// to rounding counts as one place: FAISS's matrix product (from 20 queries at once) may round two
// copies of a vector differently by a bit and so order them either way, and the last run may be
// cut at k by a different member. Exact ties in both come out in the same order (nq 1 checks it).
void ExpectSameAnswers(const VectorIndex& a, const VectorIndex& b, const std::vector<float>& queries, int64_t nq,
                       int k, bool exact_order = false) {
  constexpr float kRounding = 2e-6f;
  std::vector<float> sa(static_cast<size_t>(nq * k)), sb(sa.size());
  std::vector<int64_t> ia(sa.size()), ib(sa.size());
  ASSERT_TRUE(a.Search(queries.data(), nq, k, sa.data(), ia.data()).ok());
  ASSERT_TRUE(b.Search(queries.data(), nq, k, sb.data(), ib.data()).ok());
  for (int64_t q = 0; q < nq; ++q) {
    const size_t base = static_cast<size_t>(q * k);
    for (size_t r = 0; r < static_cast<size_t>(k); ++r) {
      ASSERT_NEAR(sa[base + r], sb[base + r], kRounding) << "query " << q << ", rank " << r << " of k " << k;
      if (exact_order) {
        ASSERT_EQ(ia[base + r], ib[base + r]) << "query " << q << ", rank " << r << " of k " << k;
      }
    }
    for (size_t start = 0; start < static_cast<size_t>(k);) {
      size_t end = start + 1;
      while (end < static_cast<size_t>(k) && sa[base + end - 1] - sa[base + end] <= kRounding) ++end;
      if (end < static_cast<size_t>(k) || ia[base + end - 1] < 0) {  // a run k does not cut
        std::vector<int64_t> x(ia.begin() + base + start, ia.begin() + base + end);
        std::vector<int64_t> y(ib.begin() + base + start, ib.begin() + base + end);
        std::sort(x.begin(), x.end());
        std::sort(y.begin(), y.end());
        ASSERT_EQ(x, y) << "query " << q << ", ranks " << start << "-" << end - 1 << " of k " << k << " (nq " << nq
                        << ")";
      }
      start = end;
    }
  }
}

TEST(TorchFlatIndexTest, AnswersAsFaissFlatTiesAndShortIndexesIncluded) {
  const int dim = 16;
  const int64_t n = 700;
  const Vectors v = MakeVectors(n, dim, 3);
  IndexParams flat_params;
  auto flat = *VectorIndex::Create(flat_params, dim, n);
  ASSERT_TRUE(flat->Add(v.x.data(), v.ids.data(), n).ok());
  IndexParams torch_params;
  torch_params.kind = IndexKind::kTorchFlat;
  // One block, and blocks of 64 bytes x nq (16 rows a block for one query, 1 for many).
  for (int64_t block_bytes : {int64_t{256} << 20, int64_t{64}}) {
    auto torch_flat = *CreateTorchFlatIndex(torch_params, dim, block_bytes);
    ASSERT_TRUE(torch_flat->Add(v.x.data(), v.ids.data(), n).ok());
    // Queries: stored rows (each ties with its copies) and fresh directions; one and many at once
    // (FAISS takes another code path from 20 queries on).
    std::vector<float> queries(v.x.begin() + 5 * dim, v.x.begin() + 45 * dim);
    const Vectors fresh = MakeVectors(20, dim, 99);
    queries.insert(queries.end(), fresh.x.begin(), fresh.x.end());
    for (int64_t nq : {int64_t{1}, int64_t{3}, int64_t{60}}) {
      for (int k : {1, 2, 10, 100, static_cast<int>(n) + 5}) {
        ExpectSameAnswers(*flat, *torch_flat, queries, nq, k, /*exact_order=*/nq == 1);
      }
    }
  }
}

TEST(TorchFlatIndexTest, StoresAFlatIndexFileAndKeepsItsVectors) {
  testutil::ScopedTempDir dir;
  const int dim = 8;
  const int64_t n = 50;
  const Vectors v = MakeVectors(n, dim, 5);
  IndexParams params;
  params.kind = IndexKind::kTorchFlat;
  auto index = *VectorIndex::Create(params, dim, n);
  EXPECT_FALSE(index->needs_training());
  ASSERT_TRUE(index->Add(v.x.data(), v.ids.data(), 20).ok());
  ASSERT_TRUE(index->Add(v.x.data() + 20 * dim, v.ids.data() + 20, n - 20).ok());
  EXPECT_EQ(index->count(), n);
  // Either kind loads the file: the bytes are a flat index's.
  ASSERT_TRUE(index->Save(dir.File("index.faiss")).ok());
  IndexParams flat_params;
  auto as_flat = VectorIndex::Load(dir.File("index.faiss"), flat_params);
  ASSERT_TRUE(as_flat.ok()) << as_flat.status();
  auto as_torch = VectorIndex::Load(dir.File("index.faiss"), params);
  ASSERT_TRUE(as_torch.ok()) << as_torch.status();
  EXPECT_EQ((*as_torch)->params().kind, IndexKind::kTorchFlat);
  ExpectSameAnswers(**as_flat, **as_torch, v.x, n, 7);
  // Stored vectors, one and all, under their IDs.
  std::vector<float> one(static_cast<size_t>(dim));
  ASSERT_TRUE((*as_torch)->StoredVector(v.ids[33], one.data()).ok());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), v.x.begin() + 33 * dim));
  EXPECT_EQ((*as_torch)->StoredVector(12345, one.data()).code(), absl::StatusCode::kNotFound);
  absl::StatusOr<VectorIndex::VectorView> all = (*as_torch)->ExactVectors();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->n, n);
  EXPECT_EQ(all->ids[49], v.ids[49]);
  EXPECT_TRUE(std::equal(all->vectors, all->vectors + n * dim, v.x.begin()));
  // Bad input: non-finite vectors, an ID already held, k < 1; nothing is added.
  std::vector<float> bad(static_cast<size_t>(dim), std::nanf(""));
  int64_t fresh_id = 1;
  EXPECT_EQ(index->Add(bad.data(), &fresh_id, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Add(v.x.data(), v.ids.data(), 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->count(), n);
  float score;
  int64_t id;
  EXPECT_EQ(index->Search(v.x.data(), 1, 0, &score, &id).code(), absl::StatusCode::kInvalidArgument);
  // An empty index answers -1s; a bad device is named.
  auto empty = *VectorIndex::Create(params, dim, 0);
  ASSERT_TRUE(empty->Search(v.x.data(), 1, 1, &score, &id).ok());
  EXPECT_EQ(id, -1);
  IndexParams wrong = params;
  wrong.device = "tpu";
  EXPECT_EQ(VectorIndex::Create(wrong, dim, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

// On a GPU (skipped without one): fp16 vectors on the device, candidates re-scored in fp32, so the
// answers are FAISS flat's as on the CPU (bench/gpu_check.sh runs it there).
TEST(TorchFlatIndexTest, OnTheGpuAnswersAsFaissFlat) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const int dim = 64;
  const int64_t n = 20000;
  const Vectors v = MakeVectors(n, dim, 7);
  IndexParams flat_params;
  auto flat = *VectorIndex::Create(flat_params, dim, n);
  ASSERT_TRUE(flat->Add(v.x.data(), v.ids.data(), n).ok());
  IndexParams params;
  params.kind = IndexKind::kTorchFlat;
  params.device = "cuda";
  for (int64_t block_bytes : {int64_t{256} << 20, int64_t{1} << 16}) {
    auto gpu = CreateTorchFlatIndex(params, dim, block_bytes);
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    ASSERT_TRUE((*gpu)->Add(v.x.data(), v.ids.data(), n).ok());
    std::vector<float> queries(v.x.begin(), v.x.begin() + 64 * dim);
    for (int64_t nq : {int64_t{1}, int64_t{64}}) {
      for (int k : {1, 10, 100}) ExpectSameAnswers(*flat, **gpu, queries, nq, k);
    }
  }
}

}  // namespace
}  // namespace galaxy
