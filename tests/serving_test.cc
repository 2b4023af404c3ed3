// The server over real snapshots (a synthetic survey, a briefly pretrained and fine-tuned tiny
// model), on a loopback port, through the generated gRPC stubs: every RPC including the batch
// forms and diversity. The table of bad inputs is in serving_bad_input_test.cc. Operations (hot swaps, metrics, batching, TLS and tokens,
// shutdown) are in serving_ops_test.cc.
#include <signal.h>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <cstdio>
#include <limits>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "data/galaxy_batch.h"
#include "data/hdf5_dataset.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/snapshot_builder.h"
#include "indexer/snapshot_dir.h"
#include "server/galaxy_server.h"
#include "server/serving_snapshot.h"
#include "tests/served.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

using testutil::SurveyIds;
using testutil::SurveyImage;
constexpr int kGalaxies = testutil::kServingGalaxies;

using testutil::Ctx;
using testutil::Served;

const testutil::ServingFixture& Shared() { return testutil::SharedServingFixture(); }

TEST(ServingFixture, Build) {
  EXPECT_TRUE(fs::exists(Shared().snapshots + "/v1/manifest.json"));
  EXPECT_TRUE(fs::exists(Shared().snapshots + "/v2/manifest.json"));
}

TEST(ServingTest, InfoHealthAndSimilarityByIdVectorImageAndPosition) {
  Served s;
  v1::IndexInfo info;
  ASSERT_TRUE(s.search->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), "v1");
  EXPECT_EQ(info.count(), static_cast<uint64_t>(kGalaxies));
  EXPECT_EQ(info.index_kind(), v1::INDEX_KIND_FLAT);
  EXPECT_TRUE(info.model().has_redshift_head());
  EXPECT_EQ(info.model().bands(), 5u);
  EXPECT_EQ(info.dimension(), info.model().embedding_dim());
  EXPECT_EQ(info.anomaly_k(), 10u);
  EXPECT_GT(info.built_at().seconds(), 0);

  const std::vector<int64_t> ids = SurveyIds();
  const int64_t id = ids[17];
  v1::GalaxyRecord record;
  v1::GetGalaxyRequest get;
  get.set_id(id);
  get.set_include_embedding(true);
  ASSERT_TRUE(s.search->GetGalaxy(Ctx().get(), get, &record).ok());
  EXPECT_EQ(record.id(), id);
  EXPECT_EQ(record.embedding_size(), static_cast<int>(info.dimension()));
  EXPECT_EQ(record.source_row(), 17u);

  // By ID: the stored embedding, the galaxy itself excluded, ranked best first.
  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(id);
  by_id.set_k(10);
  v1::SimilarGalaxiesResponse r1;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), by_id, &r1).ok());
  ASSERT_EQ(r1.neighbors_size(), 10);
  EXPECT_EQ(r1.snapshot_version(), "v1");
  EXPECT_FALSE(r1.exhausted());
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(r1.neighbors(i).id(), id);
    EXPECT_EQ(r1.neighbors(i).rank(), static_cast<uint32_t>(i + 1));
    if (i > 0) {
      EXPECT_LE(r1.neighbors(i).score(), r1.neighbors(i - 1).score());
    }
    EXPECT_FALSE(r1.neighbors(i).has_galaxy());
  }
  // By vector (the same embedding): the galaxy itself first, then the same neighbours.
  v1::SimilarGalaxiesRequest by_vector;
  *by_vector.mutable_vector()->mutable_values() = record.embedding();
  by_vector.set_k(11);
  v1::SimilarGalaxiesResponse r2;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), by_vector, &r2).ok());
  ASSERT_EQ(r2.neighbors_size(), 11);
  EXPECT_EQ(r2.neighbors(0).id(), id);
  EXPECT_NEAR(r2.neighbors(0).score(), 1.0, 1e-4);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r2.neighbors(i + 1).id(), r1.neighbors(i).id());
  // By image (the survey's own cutout, embedded by the server's model): finds the galaxy itself.
  v1::SimilarGalaxiesRequest by_image;
  *by_image.mutable_image() = SurveyImage(17);
  by_image.set_k(3);
  by_image.set_include_metadata(true);
  v1::SimilarGalaxiesResponse r3;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), by_image, &r3).ok());
  ASSERT_EQ(r3.neighbors_size(), 3);
  EXPECT_EQ(r3.neighbors(0).id(), id);
  EXPECT_GT(r3.neighbors(0).score(), 0.999);
  EXPECT_EQ(r3.neighbors(0).galaxy().id(), id);
  EXPECT_EQ(r3.neighbors(0).galaxy().embedding_size(), 0);  // metadata without embeddings
  // By sky position: the galaxy at that position is the query, as by ID.
  v1::SimilarGalaxiesRequest by_position;
  by_position.mutable_position()->set_ra(record.ra());
  by_position.mutable_position()->set_dec(record.dec());
  by_position.set_k(10);
  by_position.set_include_embeddings(true);
  v1::SimilarGalaxiesResponse r4;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), by_position, &r4).ok());
  ASSERT_EQ(r4.neighbors_size(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r4.neighbors(i).id(), r1.neighbors(i).id());
  EXPECT_EQ(r4.neighbors(0).galaxy().embedding_size(), static_cast<int>(info.dimension()));
}

TEST(ServingTest, FiltersThresholdsAndExclusionsHold) {
  Served s;
  const int64_t id = SurveyIds()[3];
  v1::SimilarGalaxiesRequest q;
  q.set_id(id);
  q.set_k(20);
  q.set_include_metadata(true);
  q.mutable_filter()->set_z_min(0.1f);
  q.mutable_filter()->set_z_max(0.2f);
  q.mutable_filter()->set_z_source(v1::REDSHIFT_SOURCE_SPECTROSCOPIC);
  v1::SimilarGalaxiesResponse r;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), q, &r).ok());
  ASSERT_EQ(r.neighbors_size(), 20);
  for (const v1::Neighbor& n : r.neighbors()) {
    EXPECT_GE(n.galaxy().specz(), 0.1f);
    EXPECT_LE(n.galaxy().specz(), 0.2f);
  }
  // A sky cone around the query galaxy, and the first answer's IDs excluded.
  v1::GalaxyRecord record;
  v1::GetGalaxyRequest get;
  get.set_id(id);
  ASSERT_TRUE(s.search->GetGalaxy(Ctx().get(), get, &record).ok());
  v1::SimilarGalaxiesRequest cone;
  cone.set_id(id);
  cone.set_k(5);
  cone.set_include_metadata(true);
  cone.mutable_filter()->mutable_cone()->set_ra(record.ra());
  cone.mutable_filter()->mutable_cone()->set_dec(record.dec());
  cone.mutable_filter()->mutable_cone()->set_radius(5);
  for (const v1::Neighbor& n : r.neighbors()) cone.mutable_filter()->add_exclude_ids(n.id());
  v1::SimilarGalaxiesResponse rc;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), cone, &rc).ok());
  std::set<int64_t> excluded(cone.filter().exclude_ids().begin(), cone.filter().exclude_ids().end());
  for (const v1::Neighbor& n : rc.neighbors()) {
    EXPECT_EQ(excluded.count(n.id()), 0u);
    EXPECT_LE(AngularSeparationDegrees(record.ra(), record.dec(), n.galaxy().ra(), n.galaxy().dec()), 5.0);
  }
  // A score threshold nothing but near-copies pass: fewer than k, and the answer says so.
  v1::SimilarGalaxiesRequest strict;
  strict.set_id(id);
  strict.set_k(50);
  strict.set_min_score(0.99999f);
  v1::SimilarGalaxiesResponse rs;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), strict, &rs).ok());
  EXPECT_LT(rs.neighbors_size(), 50);
  EXPECT_TRUE(rs.exhausted());
  for (const v1::Neighbor& n : rs.neighbors()) EXPECT_GE(n.score(), 0.99999f);
}

TEST(ServingTest, BatchFormsAnswerPerItem) {
  Served s;
  const std::vector<int64_t> ids = SurveyIds();
  v1::BatchSimilarGalaxiesRequest batch;
  batch.add_queries()->set_id(ids[0]);
  *batch.add_queries()->mutable_image() = SurveyImage(5);
  batch.add_queries()->set_id(424242);  // unknown
  v1::Image broken = SurveyImage(6);
  broken.set_bands(4);
  *batch.add_queries()->mutable_image() = broken;
  *batch.add_queries()->mutable_image() = SurveyImage(9);
  for (auto& q : *batch.mutable_queries()) q.set_k(4);
  v1::BatchSimilarGalaxiesResponse r;
  ASSERT_TRUE(s.search->BatchSimilarGalaxies(Ctx().get(), batch, &r).ok());
  ASSERT_EQ(r.results_size(), 5);
  EXPECT_EQ(r.snapshot_version(), "v1");
  EXPECT_EQ(r.results(0).status().code(), 0);
  EXPECT_EQ(r.results(0).response().neighbors_size(), 4);
  EXPECT_EQ(r.results(1).status().code(), 0);
  EXPECT_EQ(r.results(1).response().neighbors(0).id(), ids[5]);
  EXPECT_EQ(r.results(2).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_TRUE(absl::StrContains(r.results(2).status().message(), "galaxy 424242 is not in snapshot v1"));
  EXPECT_EQ(r.results(3).status().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StrContains(r.results(3).status().message(), "queries[3].image.bands: 4"));
  EXPECT_EQ(r.results(4).response().neighbors(0).id(), ids[9]);

  // Redshift for IDs (stored) and images (computed, with pdfs); both agree for the same galaxy.
  v1::PredictRedshiftRequest z;
  z.add_queries()->set_id(ids[5]);
  *z.add_queries()->mutable_image() = SurveyImage(5);
  z.add_queries()->set_id(424242);
  z.add_queries();  // nothing set
  v1::PredictRedshiftResponse zr;
  ASSERT_TRUE(s.search->PredictRedshift(Ctx().get(), z, &zr).ok());
  ASSERT_EQ(zr.predictions_size(), 4);
  EXPECT_EQ(zr.binning().bins(), 180u);
  for (int i = 0; i < 2; ++i) {
    const v1::RedshiftPrediction& p = zr.predictions(i);
    ASSERT_EQ(p.status().code(), 0) << p.status().message();
    EXPECT_EQ(p.pdf_size(), 0);  // not asked for
    EXPECT_GT(p.z_phot(), 0);
    EXPECT_GT(p.z_phot_err(), 0);
  }
  EXPECT_EQ(zr.predictions(0).id(), ids[5]);
  EXPECT_NEAR(zr.predictions(0).z_phot(), zr.predictions(1).z_phot(), 1e-3);
  // With pdfs: an ID's is the one the snapshot stores (redshift_pdfs.npy), and equals its
  // image's.
  z.set_include_pdf(true);
  zr.Clear();
  ASSERT_TRUE(s.search->PredictRedshift(Ctx().get(), z, &zr).ok());
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(zr.predictions(i).status().code(), 0) << zr.predictions(i).status().message();
    ASSERT_EQ(zr.predictions(i).pdf_size(), 180);
    double sum = 0;
    for (float v : zr.predictions(i).pdf()) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-3);
  }
  for (int b = 0; b < 180; ++b) EXPECT_NEAR(zr.predictions(0).pdf(b), zr.predictions(1).pdf(b), 1e-4);
  // GetGalaxy with its cutout: the survey's own pixels.
  v1::GetGalaxyRequest with_image;
  with_image.set_id(ids[5]);
  with_image.set_include_image(true);
  v1::GalaxyRecord pictured;
  ASSERT_TRUE(s.search->GetGalaxy(Ctx().get(), with_image, &pictured).ok());
  EXPECT_EQ(pictured.image().data(), SurveyImage(5).data());
  EXPECT_EQ(pictured.image().bands(), 5u);
  EXPECT_EQ(zr.predictions(2).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(zr.predictions(3).status().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
}

TEST(ServingTest, AnomalyScoresAndPagedListing) {
  Served s;
  const std::vector<int64_t> ids = SurveyIds();
  v1::ScoreAnomalyRequest by_id;
  by_id.set_id(ids[2]);
  by_id.set_include_neighbors(true);
  v1::ScoreAnomalyResponse a;
  ASSERT_TRUE(s.search->ScoreAnomaly(Ctx().get(), by_id, &a).ok());
  v1::GalaxyRecord stored;
  v1::GetGalaxyRequest get;
  get.set_id(ids[2]);
  ASSERT_TRUE(s.search->GetGalaxy(Ctx().get(), get, &stored).ok());
  EXPECT_EQ(a.score(), stored.anomaly_score());
  EXPECT_EQ(a.percentile(), stored.anomaly_percentile());
  EXPECT_EQ(a.k(), 10u);
  ASSERT_EQ(a.neighbors_size(), 10);
  for (const v1::Neighbor& n : a.neighbors()) EXPECT_NE(n.id(), ids[2]);  // its 10 nearest others

  // Its image, uploaded, is embedded as the indexer embedded it: the same Mahalanobis score (the
  // snapshot's default) and percentile, within the arithmetic of another batch.
  v1::ScoreAnomalyRequest by_image;
  *by_image.mutable_image() = SurveyImage(2);
  v1::ScoreAnomalyResponse b;
  ASSERT_TRUE(s.search->ScoreAnomaly(Ctx().get(), by_image, &b).ok());
  EXPECT_NEAR(b.score(), a.score(), 1e-3 * a.score());
  EXPECT_NEAR(b.percentile(), a.percentile(), 0.5);

  // The whole listing, page by page: every galaxy once, most anomalous first.
  std::set<int64_t> seen;
  float last = std::numeric_limits<float>::infinity();
  v1::ListAnomaliesRequest list;
  list.set_page_size(400);
  int pages = 0;
  while (true) {
    v1::ListAnomaliesResponse page;
    ASSERT_TRUE(s.search->ListAnomalies(Ctx().get(), list, &page).ok());
    EXPECT_EQ(page.total_count(), static_cast<uint64_t>(kGalaxies));
    EXPECT_EQ(page.first_rank(), seen.size() + 1);
    for (const v1::GalaxyRecord& g : page.galaxies()) {
      EXPECT_LE(g.anomaly_score(), last);
      last = g.anomaly_score();
      EXPECT_TRUE(seen.insert(g.id()).second);
    }
    ++pages;
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kGalaxies));
  v1::ListAnomaliesRequest top;
  top.set_min_percentile(99);
  v1::ListAnomaliesResponse tr;
  ASSERT_TRUE(s.search->ListAnomalies(Ctx().get(), top, &tr).ok());
  EXPECT_GE(tr.total_count(), 10u);
  EXPECT_LE(tr.total_count(), 20u);
  for (const v1::GalaxyRecord& g : tr.galaxies()) EXPECT_GE(g.anomaly_percentile(), 99);
}

// Diversity on the trained model: over 20 queries, maximal marginal relevance (lambda 0.5) puts
// more galaxy types in each top 10 than the plain ranking.
TEST(ServingTest, MaximalMarginalRelevanceCoversMoreGalaxyTypes) {
  Served s;
  double plain_types = 0, mmr_types = 0;
  constexpr int kQueries = 20;
  for (int q = 0; q < kQueries; ++q) {
    for (bool mmr : {false, true}) {
      v1::SimilarGalaxiesRequest r;
      r.set_id(SurveyIds()[static_cast<size_t>(q * 50)]);
      r.set_k(10);
      r.set_include_metadata(true);
      if (mmr) r.mutable_diversity()->set_mmr_lambda(0.5f);
      v1::SimilarGalaxiesResponse out;
      ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), r, &out).ok());
      ASSERT_EQ(out.neighbors_size(), 10);
      std::set<double> types;
      for (const v1::Neighbor& n : out.neighbors()) types.insert(n.galaxy().extra().at("type"));
      (mmr ? mmr_types : plain_types) += static_cast<double>(types.size()) / kQueries;
    }
  }
  std::printf("DIVERSITY types in the top 10 (mean of %d queries): plain %.2f, mmr 0.5 %.2f\n", kQueries,
              plain_types, mmr_types);
  EXPECT_GT(mmr_types, plain_types);
}

}  // namespace
}  // namespace galaxy
