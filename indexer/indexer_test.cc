// The indexer on a synthetic survey with the tiny model: every galaxy is retrievable and finds
// itself first, index and metadata agree, verify catches corruption, anomalies rank high, and
// bad inputs publish nothing.
#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "data/hdf5_dataset.h"
#include "data/sim/synth_survey.h"
#include "indexer/anomaly_auc.h"
#include "indexer/metadata_store.h"
#include "indexer/shard.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_builder.h"
#include "indexer/snapshot_dir.h"
#include "indexer/vector_index.h"
#include "model/checkpoint.h"
#include "nlohmann/json.hpp"
#include "tests/fixture_dir.h"
#include "tests/temp_dir.h"
#include "trainer/pretrain.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;

// Unit vectors around `clusters` random centres.
std::vector<float> ClusteredVectors(int64_t n, int dim, int clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(static_cast<size_t>(clusters * dim)), out(static_cast<size_t>(n * dim));
  for (float& c : centres) c = normal(rng);
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(rng() % clusters);
    double norm = 0;
    for (int d = 0; d < dim; ++d) {
      float v = centres[static_cast<size_t>(c * dim + d)] + 0.3f * normal(rng);
      out[static_cast<size_t>(i * dim + d)] = v;
      norm += v * v;
    }
    for (int d = 0; d < dim; ++d) out[static_cast<size_t>(i * dim + d)] /= static_cast<float>(std::sqrt(norm));
  }
  return out;
}

double RecallAt10(const VectorIndex& approx, const VectorIndex& exact, const std::vector<float>& q, int64_t nq) {
  std::vector<float> s(static_cast<size_t>(nq * 10));
  std::vector<int64_t> a(static_cast<size_t>(nq * 10)), b(static_cast<size_t>(nq * 10));
  EXPECT_TRUE(exact.Search(q.data(), nq, 10, s.data(), a.data()).ok());
  EXPECT_TRUE(approx.Search(q.data(), nq, 10, s.data(), b.data()).ok());
  int64_t hits = 0;
  for (int64_t i = 0; i < nq; ++i)
    for (int x = 0; x < 10; ++x)
      for (int y = 0; y < 10; ++y) hits += a[static_cast<size_t>(i * 10 + x)] == b[static_cast<size_t>(i * 10 + y)];
  return static_cast<double>(hits) / static_cast<double>(nq * 10);
}

TEST(VectorIndexTest, EveryKindFindsItsVectorsAndSurvivesSaveAndLoad) {
  testutil::ScopedTempDir dir;
  const int64_t n = 10000;
  const int dim = 64;
  std::vector<float> x = ClusteredVectors(n, dim, 50, 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = 1000000000000LL + 7 * i;
  IndexParams flat_params;
  auto flat = *VectorIndex::Create(flat_params, dim, n);
  ASSERT_TRUE(flat->Add(x.data(), ids.data(), n).ok());
  for (IndexKind kind : {IndexKind::kFlat, IndexKind::kHnsw, IndexKind::kIvfPq, IndexKind::kTorchFlat}) {
    IndexParams p;
    p.kind = kind;
    auto index = *VectorIndex::Create(p, dim, n);
    if (index->needs_training()) {
      ASSERT_TRUE(index->Train(x.data(), n).ok());
    }
    ASSERT_TRUE(index->Add(x.data(), ids.data(), n).ok());
    EXPECT_EQ(index->count(), n);
    const std::string path = dir.File(std::string(IndexKindName(kind)) + ".faiss");
    ASSERT_TRUE(index->Save(path).ok());
    auto loaded = VectorIndex::Load(path, index->params());
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    std::vector<float> q(x.begin(), x.begin() + 200 * dim);
    const double recall = RecallAt10(**loaded, *flat, q, 200);
    std::cout << IndexKindName(kind) << " recall@10 " << recall << "\n";
    // The defaults promise recall@10 >= 0.95.
    EXPECT_GE(recall, IsExactKind(kind) ? 1.0 : 0.95) << IndexKindName(kind);
    // A vector finds itself first, with similarity ~1, under its 64-bit ID.
    float score;
    int64_t id;
    ASSERT_TRUE((*loaded)->Search(x.data() + 123 * dim, 1, 1, &score, &id).ok());
    EXPECT_EQ(id, ids[123]);
    EXPECT_NEAR(score, 1.0f, kind == IndexKind::kIvfPq ? 0.05f : 1e-4f);
    EXPECT_LE(score, 1.0f);
    // Every exact vector at once, in storage order with its ID (ivfpq keeps none).
    absl::StatusOr<VectorIndex::VectorView> all = (*loaded)->ExactVectors();
    if (kind == IndexKind::kIvfPq) {
      EXPECT_EQ(all.status().code(), absl::StatusCode::kUnimplemented);
      continue;
    }
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_EQ(all->n, n);
    for (int64_t i : {int64_t{0}, int64_t{123}, n - 1}) {
      EXPECT_EQ(all->ids[i], ids[static_cast<size_t>(i)]);
      EXPECT_TRUE(std::equal(all->vectors + i * dim, all->vectors + (i + 1) * dim, x.begin() + i * dim));
    }
  }
  std::vector<float> bad(static_cast<size_t>(dim), std::nanf(""));
  int64_t bad_id = 1;
  EXPECT_EQ(flat->Add(bad.data(), &bad_id, 1).code(), absl::StatusCode::kInvalidArgument);
  std::ofstream(dir.File("junk.faiss")) << "junk";
  EXPECT_EQ(VectorIndex::Load(dir.File("junk.faiss"), flat_params).status().code(), absl::StatusCode::kDataLoss);
}

TEST(MetadataStoreTest, RecordsRoundTripInIdOrder) {
  testutil::ScopedTempDir dir;
  auto store = *MetadataStore::Create(dir.File("m.rocksdb"));
  std::vector<v1::GalaxyRecord> records(3);
  const int64_t ids[] = {5, -3, 1237648720693755918LL};
  for (int i = 0; i < 3; ++i) {
    records[i].set_id(ids[i]);
    records[i].set_ra(i);
    records[i].add_embedding(0.5f);
  }
  ASSERT_TRUE(store->Put(records).ok());
  ASSERT_TRUE(store->Finish().ok());
  EXPECT_EQ(store->Get(1237648720693755918LL)->ra(), 2.0);
  EXPECT_EQ(store->Get(42).status().code(), absl::StatusCode::kNotFound);
  std::vector<int64_t> order;
  ASSERT_TRUE(store->ForEach([&](const v1::GalaxyRecord& r) {
    order.push_back(r.id());
    return absl::OkStatus();
  }).ok());
  EXPECT_EQ(order, (std::vector<int64_t>{-3, 5, 1237648720693755918LL}));
  EXPECT_EQ(MetadataKeyToId(MetadataKey(-77)), -77);
}

// One synthetic survey and a briefly pretrained tiny model, shared by the snapshot tests. ctest
// runs each test in its own process: the fixture is made once, in a directory published by
// rename, and reused by the others.
struct Fixture {
  std::string survey, model;
};

const Fixture& SharedFixture() {
  static const Fixture* fixture = [] {
    const fs::path dir = testutil::FixtureDir("galaxy-indexer-fixture", GALAXY_FIXTURE_INPUTS);
    auto* f = new Fixture{(dir / "survey.h5").string(), (dir / "model/model.pt").string()};
    if (fs::exists(f->model)) return f;
    const fs::path tmp = fs::path(::testing::TempDir()) / ("galaxy-indexer-fixture-" + std::to_string(::getpid()));
    RemoveTree(tmp).IgnoreError();
    fs::create_directories(tmp);
    SynthOptions o;
    o.count = 5000;
    o.seed = 21;
    EXPECT_TRUE(WriteSyntheticSurvey(o, (tmp / "survey.h5").string(), 0).ok());
    PretrainOptions p;
    p.data_path = (tmp / "survey.h5").string();
    p.out_dir = (tmp / "model").string();
    p.arch = "tiny";
    p.stem = "torchvision";
    p.steps = 200;
    p.batch = 128;
    p.queue = 2048;
    p.momentum = 0.99;
    p.lr_per_256 = 0.12;
    p.device = "cpu";
    p.threads = 2;
    absl::StatusOr<PretrainResult> r = RunPretrain(p);
    EXPECT_TRUE(r.ok()) << r.status();
    // The model records the data path it was trained on; the survey moves with it, unchanged.
    std::error_code ec;
    fs::rename(tmp, dir, ec);  // another process may have won the race: then use its fixture
    if (ec) RemoveTree(tmp).IgnoreError();
    return f;
  }();
  return *fixture;
}

// Registered with ctest as the fixture the other tests of this binary need (indexer/CMakeLists.txt),
// so that it is made once before they run in parallel.
TEST(IndexerFixture, Build) {
  EXPECT_TRUE(fs::exists(SharedFixture().model));
  EXPECT_TRUE(fs::exists(SharedFixture().survey));
}

class SnapshotTest : public ::testing::Test {
 protected:
  BuildOptions Options(const std::string& out) {
    BuildOptions b;
    b.data_path = SharedFixture().survey;
    b.model_path = SharedFixture().model;
    b.snapshots_dir = out;
    b.device = "cpu";
    b.threads = 2;
    return b;
  }
  // Scratch files of a test.
  testutil::ScopedTempDir scratch_;
};

TEST_F(SnapshotTest, EveryGalaxyIsRetrievableFindsItselfFirstAndVerifies) {
  testutil::ScopedTempDir out;
  absl::StatusOr<BuildReport> report = BuildSnapshot(Options(out.path().string()));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(*ReadCurrent(out.path().string()), report->version);
  auto snapshot = Snapshot::Open(report->snapshot_dir);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  std::vector<int64_t> ids = *(*DatasetReader::Open(SharedFixture().survey))->ReadIds();
  ASSERT_EQ((*snapshot)->manifest().count, static_cast<int64_t>(ids.size()));
  int64_t first = 0;
  for (int64_t id : ids) {
    absl::StatusOr<v1::GalaxyRecord> r = (*snapshot)->metadata().Get(id);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->embedding_size(), 128);
    float score[2];
    int64_t found[2];
    ASSERT_TRUE((*snapshot)->index().Search(r->embedding().data(), 1, 2, score, found).ok());
    // Exact search: the galaxy itself, or (for two identical embeddings) a tie at similarity 1.
    first += found[0] == id || (score[0] >= 0.99999f && found[1] == id);
    EXPECT_GE(r->anomaly_percentile(), 0.0f);
    EXPECT_LE(r->anomaly_percentile(), 100.0f);
  }
  EXPECT_EQ(first, static_cast<int64_t>(ids.size()));
  EXPECT_TRUE((*snapshot)->Verify().ok());
}

// Three shard builds hold every galaxy exactly once, each in the shard its ID hashes to, with
// its record as the unsharded build has it (same embedding, same dataset row).
TEST_F(SnapshotTest, ShardedBuildsPartitionTheSurveyByIdHash) {
  testutil::ScopedTempDir out;
  std::vector<int64_t> ids = *(*DatasetReader::Open(SharedFixture().survey))->ReadIds();
  std::map<int64_t, int> seen;
  int64_t total = 0;
  for (int shard = 0; shard < 3; ++shard) {
    BuildOptions b = Options(out.File(absl::StrCat("shard-", shard)));
    b.shard = shard;
    b.shards = 3;
    b.batch = 37;  // batches that straddle the reads of other shards' rows
    absl::StatusOr<BuildReport> report = BuildSnapshot(b);
    ASSERT_TRUE(report.ok()) << report.status();
    auto snapshot = Snapshot::Open(report->snapshot_dir);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    EXPECT_EQ((*snapshot)->manifest().shard, shard);
    EXPECT_EQ((*snapshot)->manifest().shards, 3);
    total += (*snapshot)->manifest().count;
    EXPECT_GT((*snapshot)->manifest().count, static_cast<int64_t>(ids.size()) / 5);  // roughly a third
    for (size_t row = 0; row < ids.size(); ++row) {
      absl::StatusOr<v1::GalaxyRecord> r = (*snapshot)->metadata().Get(ids[row]);
      if (ShardOf(ids[row], 3) != shard) {
        EXPECT_FALSE(r.ok()) << ids[row];
        continue;
      }
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->source_row(), row);
      ++seen[ids[row]];
    }
    EXPECT_TRUE((*snapshot)->Verify().ok());
  }
  EXPECT_EQ(total, static_cast<int64_t>(ids.size()));
  EXPECT_EQ(seen.size(), ids.size());
  BuildOptions bad = Options(out.File("bad"));
  bad.shard = 3;
  bad.shards = 3;
  EXPECT_EQ(BuildSnapshot(bad).status().message(), "--shard: 3 is outside 0 .. 2 (shards are numbered from 0)");
}

// The snapshot holds the features it was asked for and says which: the backbone's by default,
// the projection head's on request; each stored vector is what the Embedder of those features
// makes of the galaxy's image (what the server embeds an upload with).
TEST_F(SnapshotTest, StoresTheChosenFeaturesAndRecordsWhich) {
  testutil::ScopedTempDir out;
  const int kRows = 6;
  absl::StatusOr<std::unique_ptr<DatasetReader>> reader = DatasetReader::Open(SharedFixture().survey);
  ASSERT_TRUE(reader.ok()) << reader.status();
  GalaxyBatch batch;
  ASSERT_TRUE((*reader)->Read(0, kRows, &batch).ok());
  ImageBatch images;
  images.pixels = batch.images.data();
  images.e_bv = batch.e_bv.data();
  images.n = kRows;
  images.height = (*reader)->layout().height;
  images.width = (*reader)->layout().width;
  std::map<EmbeddingFeatures, std::vector<float>> stored;
  for (EmbeddingFeatures features :
       {EmbeddingFeatures::kBackbone, EmbeddingFeatures::kProjection, EmbeddingFeatures::kStages}) {
    SCOPED_TRACE(EmbeddingFeaturesName(features));
    BuildOptions b = Options(out.File(EmbeddingFeaturesName(features)));
    b.features = features;
    absl::StatusOr<BuildReport> report = BuildSnapshot(b);
    ASSERT_TRUE(report.ok()) << report.status();
    auto snapshot = Snapshot::Open(report->snapshot_dir);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    EXPECT_EQ((*snapshot)->manifest().features, features);
    absl::StatusOr<std::unique_ptr<Embedder>> embedder = LoadEmbedder(SharedFixture().model, "cpu", features);
    ASSERT_TRUE(embedder.ok()) << embedder.status();
    EXPECT_EQ((*snapshot)->manifest().dimension, (*embedder)->embedding_dim());
    absl::StatusOr<EmbedOutput> want = (*embedder)->Embed(images, EmbedParts{});
    ASSERT_TRUE(want.ok()) << want.status();
    const size_t dim = static_cast<size_t>((*embedder)->embedding_dim());
    for (int i = 0; i < kRows; ++i) {
      absl::StatusOr<v1::GalaxyRecord> r = (*snapshot)->metadata().Get(batch.ids[static_cast<size_t>(i)]);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_EQ(static_cast<size_t>(r->embedding_size()), dim);
      for (size_t d = 0; d < dim; ++d) EXPECT_NEAR(r->embedding(static_cast<int>(d)), want->embeddings[i * dim + d], 1e-5);
      stored[features].insert(stored[features].end(), r->embedding().begin(), r->embedding().end());
    }
  }
  // Two different representations (tiny's backbone and head both have 128 values).
  ASSERT_EQ(stored[EmbeddingFeatures::kBackbone].size(), stored[EmbeddingFeatures::kProjection].size());
  double difference = 0;
  for (size_t k = 0; k < stored[EmbeddingFeatures::kBackbone].size(); ++k) {
    difference += std::abs(stored[EmbeddingFeatures::kBackbone][k] - stored[EmbeddingFeatures::kProjection][k]);
  }
  EXPECT_GT(difference, 1.0);
  // Every stage's features: tiny's 16 + 32 + 64 + 128 values, the last stage's among them (each
  // normalised with its own norm, so the part is a multiple of the backbone's vector).
  const std::vector<float>& stages = stored[EmbeddingFeatures::kStages];
  const std::vector<float>& backbone = stored[EmbeddingFeatures::kBackbone];
  ASSERT_EQ(stages.size(), static_cast<size_t>(kRows) * 240);
  for (int i = 0; i < kRows; ++i) {
    double dot = 0, norm = 0;
    for (size_t d = 0; d < 128; ++d) {
      const double s = stages[static_cast<size_t>(i) * 240 + 112 + d];
      dot += s * backbone[static_cast<size_t>(i) * 128 + d];
      norm += s * s;
    }
    EXPECT_NEAR(dot / std::sqrt(norm), 1.0, 1e-4) << "galaxy " << i;  // the same direction
  }
  // A manifest from before the choice existed reads as the projection head's output.
  SnapshotManifest written;
  written.features = EmbeddingFeatures::kBackbone;
  nlohmann::json before = nlohmann::json::parse(written.ToJson());
  ASSERT_EQ(before.at("features"), "backbone");
  before.erase("features");
  absl::StatusOr<SnapshotManifest> old = SnapshotManifest::FromJson(before.dump());
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->features, EmbeddingFeatures::kProjection);
}

TEST(ShardTest, ShardsAreStableAndEven) {
  EXPECT_EQ(ShardOf(1237648720693755918LL, 1), 0);
  std::vector<int> counts(8);
  for (int64_t id = 1237648720693755000LL; id < 1237648720693755000LL + 80000; ++id) ++counts[ShardOf(id, 8)];
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);  // consecutive IDs spread evenly
  EXPECT_EQ(ShardOf(42, 7), ShardOf(42, 7));
  EXPECT_FALSE(ValidateShard(0, 0).ok());
  EXPECT_FALSE(ValidateShard(-1, 2).ok());
  EXPECT_TRUE(ValidateShard(4095, 4096).ok());
}

TEST_F(SnapshotTest, VerifyCatchesACorruptedSnapshot) {
  testutil::ScopedTempDir out;
  absl::StatusOr<BuildReport> report = BuildSnapshot(Options(out.path().string()));
  ASSERT_TRUE(report.ok()) << report.status();
  {
    std::fstream f(report->snapshot_dir + "/" + kIndexFile, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(report->snapshot_dir + "/" + kIndexFile) / 2));
    f.put('\x5a');
  }
  absl::StatusOr<std::unique_ptr<Snapshot>> snapshot = Snapshot::Open(report->snapshot_dir);
  absl::Status status = snapshot.ok() ? (*snapshot)->Verify() : snapshot.status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), kIndexFile)) << status;
}

TEST_F(SnapshotTest, AnomalyScoresRankTheSimulatorsAnomaliesHigh) {
  std::map<AnomalyScoreKind, double> aucs;
  for (AnomalyScoreKind kind :
       {AnomalyScoreKind::kMahalanobis, AnomalyScoreKind::kMahalanobisTurns, AnomalyScoreKind::kKnn}) {
    testutil::ScopedTempDir out;
    BuildOptions b = Options(out.path().string());
    b.index.kind = IndexKind::kHnsw;
    b.anomaly_score = kind;
    absl::StatusOr<BuildReport> report = BuildSnapshot(b);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_GE(report->recall_at_10, 0.95);
    absl::StatusOr<AnomalyAuc> auc = ComputeAnomalyAuc(report->snapshot_dir, SharedFixture().survey, "is_anomaly");
    ASSERT_TRUE(auc.ok()) << auc.status();
    std::cout << AnomalyScoreKindName(kind) << " anomaly ROC AUC " << auc->auc << " (" << auc->positives
              << " anomalies)\n";
    aucs[kind] = auc->auc;
    // The manifest says which score; a Mahalanobis snapshot keeps the whitening, and each stored
    // score is its embedding's squared whitened norm; the neighbour scale is a cosine distance.
    absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Open(report->snapshot_dir);
    ASSERT_TRUE(snap.ok()) << snap.status();
    const SnapshotManifest& m = (*snap)->manifest();
    EXPECT_EQ(m.anomaly_score, kind);
    EXPECT_GT(m.neighbour_distance_median, 0);
    EXPECT_LT(m.neighbour_distance_median, 2);
    EXPECT_EQ((*snap)->anomaly_whitening() != nullptr, IsMahalanobis(kind));
    EXPECT_EQ(fs::exists(report->snapshot_dir + "/" + kAnomalyWhiteningFile), IsMahalanobis(kind));
    // With turns the whitening is of the embedding joined with its turn average, and the build's
    // second scratch file is gone.
    if (IsMahalanobis(kind)) {
      EXPECT_EQ((*snap)->anomaly_whitening()->dim, ScoredDimension(kind, m.dimension));
    }
    EXPECT_FALSE(fs::exists(report->snapshot_dir + "/scored.f32"));
    int checked = 0;
    ASSERT_TRUE((*snap)->metadata().ForEach([&](const v1::GalaxyRecord& r) {
      if (checked++ >= 20) return absl::OkStatus();
      if (kind == AnomalyScoreKind::kMahalanobis) {
        const std::vector<float> e(r.embedding().begin(), r.embedding().end());
        EXPECT_NEAR(r.anomaly_score(), SquaredWhitenedNorms(*(*snap)->anomaly_whitening(), e.data(), 1).front(),
                    1e-4 * r.anomaly_score());
      } else if (kind == AnomalyScoreKind::kKnn) {
        EXPECT_LE(r.anomaly_score(), 2.0f);
      } else {
        EXPECT_GT(r.anomaly_score(), 0.0f);
      }
      return absl::OkStatus();
    }).ok());
    EXPECT_TRUE((*snap)->Verify().ok());
  }
  // A score that knows nothing gives 0.5. With this tiny model after 200 CPU steps the kNN
  // score's AUC was 0.78 overall: stars 0.98, mergers 0.87, trails 0.83, rings 0.51 (a ring is a
  // subtle change of shape the model has not learned to see yet). 0.7 is a clear signal with
  // margin, for both scores.
  EXPECT_GT(aucs[AnomalyScoreKind::kMahalanobis], 0.7);
  EXPECT_GT(aucs[AnomalyScoreKind::kMahalanobisTurns], 0.7);
  EXPECT_GT(aucs[AnomalyScoreKind::kKnn], 0.7);
}

TEST_F(SnapshotTest, BadInputsAreRefusedAndPublishNothing) {
  testutil::ScopedTempDir out;
  const std::string snapshots = out.path().string();
  auto nothing_published = [&] {
    EXPECT_EQ(ReadCurrent(snapshots).status().code(), absl::StatusCode::kNotFound);
    if (fs::exists(snapshots)) {
      for (const auto& e : fs::directory_iterator(snapshots)) ADD_FAILURE() << "left behind: " << e.path();
    }
  };
  // Unknown model.
  BuildOptions b = Options(snapshots);
  b.model_path = scratch_.File("nope.pt");
  EXPECT_EQ(BuildSnapshot(b).status().code(), absl::StatusCode::kNotFound);
  nothing_published();
  // Band mismatch: a 3-band copy of the survey.
  {
    auto reader = *DatasetReader::Open(SharedFixture().survey);
    DatasetLayout layout = reader->layout();
    layout.bands = 3;
    layout.band_names = {"g", "r", "i"};
    GalaxyBatch in, cut;
    ASSERT_TRUE(reader->Read(0, 50, &in).ok());
    cut = in;
    cut.images.resize(static_cast<size_t>(50 * 3 * 64 * 64));
    auto w = *DatasetWriter::Create(scratch_.File("three.h5"), layout);
    ASSERT_TRUE(w->Append(cut).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  b = Options(snapshots);
  b.data_path = scratch_.File("three.h5");
  absl::StatusOr<BuildReport> bands = BuildSnapshot(b);
  EXPECT_EQ(bands.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bands.status().message(), "bands")) << bands.status();
  nothing_published();
  // Duplicate IDs.
  {
    auto reader = *DatasetReader::Open(SharedFixture().survey);
    GalaxyBatch in;
    ASSERT_TRUE(reader->Read(0, 40, &in).ok());
    in.ids[30] = in.ids[10];
    auto w = *DatasetWriter::Create(scratch_.File("dup.h5"), reader->layout());
    ASSERT_TRUE(w->Append(in).ok());
    ASSERT_TRUE(w->Commit().ok());
  }
  b = Options(snapshots);
  b.data_path = scratch_.File("dup.h5");
  absl::StatusOr<BuildReport> dup = BuildSnapshot(b);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(dup.status().message(), "appears more than once")) << dup.status();
  nothing_published();
  // A model whose weights are NaN gives NaN embeddings (the backbone's, which are indexed).
  {
    absl::StatusOr<std::unique_ptr<CheckpointReader>> r = CheckpointReader::Open(SharedFixture().model);
    ASSERT_TRUE(r.ok());
    GalaxyNet net = *LoadGalaxyNet(SharedFixture().model, torch::kCPU);
    torch::NoGradGuard no_grad;
    for (torch::Tensor& p : net.backbone->parameters()) p.fill_(std::nanf(""));
    CheckpointWriter w((*r)->metadata());
    w.AddModule(kBackbonePart, *net.backbone);
    w.AddModule(kProjectionPart, *net.projection);
    ASSERT_TRUE(w.Save(scratch_.File("nan.pt")).ok());
  }
  b = Options(snapshots);
  b.model_path = scratch_.File("nan.pt");
  absl::StatusOr<BuildReport> nan = BuildSnapshot(b);
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(nan.status().message(), "non-finite embedding")) << nan.status();
  nothing_published();
}

}  // namespace
}  // namespace galaxy
