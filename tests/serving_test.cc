// The server over real snapshots (a synthetic survey, a briefly pretrained and fine-tuned tiny
// model), on a loopback port, through the generated gRPC stubs: every RPC including the batch
// forms, a table of bad inputs, hot swaps under load, TLS and tokens, metrics and batching.
#include <signal.h>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <httplib.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/galaxy_batch.h"
#include "core/hdf5_dataset.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/snapshot_builder.h"
#include "indexer/snapshot_dir.h"
#include "server/galaxy_server.h"
#include "server/serving_snapshot.h"
#include "tests/serving_fixture.h"
#include "tests/test_certificates.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

using testutil::SurveyIds;
using testutil::SurveyImage;
constexpr int kGalaxies = testutil::kServingGalaxies;

const testutil::ServingFixture& Shared() { return testutil::SharedServingFixture(); }

TEST(ServingFixture, Build) {
  EXPECT_TRUE(fs::exists(Shared().snapshots + "/v1/manifest.json"));
  EXPECT_TRUE(fs::exists(Shared().snapshots + "/v2/manifest.json"));
}

// A running in-process server over a private copy of the fixture's snapshots.
class Served {
 public:
  explicit Served(const std::function<void(ServerOptions&)>& configure = nullptr) {
    fs::copy(Shared().snapshots, snapshots(), fs::copy_options::recursive);
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.snapshots_dir = snapshots();
    o.device = "cpu";
    o.threads = 2;
    o.drain_seconds = 2;
    if (configure) configure(o);
    absl::StatusOr<std::unique_ptr<GalaxyServer>> server = GalaxyServer::Start(o);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    search = v1::GalaxySearch::NewStub(channel_);
    admin = v1::GalaxyAdmin::NewStub(channel_);
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", server_->port()); }
  std::string snapshots() const { return dir_.File("snapshots"); }
  GalaxyServer& server() { return *server_; }

  std::unique_ptr<v1::GalaxySearch::Stub> search;
  std::unique_ptr<v1::GalaxyAdmin::Stub> admin;

 private:
  testutil::ScopedTempDir dir_;
  std::unique_ptr<GalaxyServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A client context with a 60 s deadline.
std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return c;
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
  // With pdfs: an ID's is recomputed from the dataset row the snapshot was built from, and
  // equals its image's.
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
  double mean_distance = 0;
  for (const v1::Neighbor& n : a.neighbors()) mean_distance += (1.0 - n.score()) / 10;
  EXPECT_NEAR(mean_distance, a.score(), 1e-4);  // the stored score is what the neighbours give

  v1::ScoreAnomalyRequest by_image;
  *by_image.mutable_image() = SurveyImage(2);
  v1::ScoreAnomalyResponse b;
  ASSERT_TRUE(s.search->ScoreAnomaly(Ctx().get(), by_image, &b).ok());
  EXPECT_GE(b.score(), 0);
  EXPECT_LE(b.score(), 2);
  EXPECT_GE(b.percentile(), 0);
  EXPECT_LE(b.percentile(), 100);

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

// ---------------------------------------------------------------------------------------------
// Bad input: each case's status code and message. With GALAXY_BAD_INPUT_TABLE=FILE the test
// writes the markdown table docs/API.md shows.
// ---------------------------------------------------------------------------------------------

struct BadCase {
  std::string what;
  std::function<grpc::Status(Served&)> call;
  grpc::StatusCode code;
  std::string message;  // a part of the message the answer must contain
};

v1::Image Tweak(const std::function<void(v1::Image&)>& change) {
  v1::Image image = SurveyImage(0);
  change(image);
  return image;
}

grpc::Status Similar(Served& s, const v1::SimilarGalaxiesRequest& r) {
  v1::SimilarGalaxiesResponse out;
  return s.search->SimilarGalaxies(Ctx().get(), r, &out);
}

grpc::Status SimilarImage(Served& s, const v1::Image& image) {
  v1::SimilarGalaxiesRequest r;
  *r.mutable_image() = image;
  return Similar(s, r);
}

grpc::Status SimilarWith(Served& s, const std::function<void(v1::SimilarGalaxiesRequest&)>& change) {
  v1::SimilarGalaxiesRequest r;
  r.set_id(SurveyIds()[0]);
  change(r);
  return Similar(s, r);
}

void SetFloat(v1::Image& image, size_t index, float value) {
  std::memcpy(image.mutable_data()->data() + index * 4, &value, 4);
}

TEST(ServingTest, BadInputGetsTheRightCodeAndAMessageNamingTheProblem) {
  Served s;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  using C = grpc::StatusCode;
  std::vector<BadCase> cases = {
      {"no query set", [](Served& s) { return Similar(s, {}); }, C::INVALID_ARGUMENT,
       "query: none set; give one of id, image, vector or position"},
      {"k above the limit", [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_k(5000); }); },
       C::INVALID_ARGUMENT, "k: 5000 exceeds the limit 1000"},
      {"unknown ID", [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_id(42); }); }, C::NOT_FOUND,
       "galaxy 42 is not in snapshot v1"},
      {"wrong band count", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_bands(3); })); },
       C::INVALID_ARGUMENT, "image.bands: 3; the model takes 5 bands"},
      {"image smaller than the model's input",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_height(32); })); }, C::INVALID_ARGUMENT,
       "image.height: 32 px is outside"},
      {"image larger than 512 px", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_width(600); })); },
       C::INVALID_ARGUMENT, "image.width: 600 px is outside"},
      {"truncated pixel data",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.mutable_data()->resize(i.data().size() - 3); })); },
       C::INVALID_ARGUMENT, "image.data: "},
      {"float64 declared, float32 sent",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_dtype(v1::DTYPE_FLOAT64); })); },
       C::INVALID_ARGUMENT, "float64 need"},
      {"unknown dtype",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_dtype(static_cast<v1::DType>(9)); })); },
       C::INVALID_ARGUMENT, "image.dtype: 9 is not a known dtype"},
      {"NaN pixel", [nan](Served& s) { return SimilarImage(s, Tweak([nan](auto& i) { SetFloat(i, 70, nan); })); },
       C::INVALID_ARGUMENT, "image.data: NaN at band 0, row 1"},
      {"Inf pixel", [inf](Served& s) { return SimilarImage(s, Tweak([inf](auto& i) { SetFloat(i, 5, inf); })); },
       C::INVALID_ARGUMENT, "image.data: Inf at band 0, row 0, column 5"},
      {"E(B-V) out of range", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_e_bv(7); })); },
       C::INVALID_ARGUMENT, "image.e_bv: 7 is outside 0 .. 5"},
      {"vector of the wrong dimension",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) { r.mutable_vector()->add_values(1); });
       },
       C::INVALID_ARGUMENT, "vector.values: 1 values; the index has dimension"},
      {"vector with NaN",
       [nan](Served& s) {
         return SimilarWith(s, [nan](auto& r) {
           for (int i = 0; i < 128; ++i) r.mutable_vector()->add_values(i == 0 ? nan : 1);
         });
       },
       C::INVALID_ARGUMENT, "vector.values"},
      {"redshift range upside down",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           r.mutable_filter()->set_z_min(0.3f);
           r.mutable_filter()->set_z_max(0.1f);
         });
       },
       C::INVALID_ARGUMENT, "filter.z_max: 0.1 is below z_min 0.3"},
      {"cone declination out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_filter()->mutable_cone()->set_dec(100); }); },
       C::INVALID_ARGUMENT, "filter.cone.dec: 100 is outside [-90, 90] degrees"},
      {"cone radius zero",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_filter()->mutable_cone()->set_radius(0); }); },
       C::INVALID_ARGUMENT, "filter.cone.radius: 0 is outside (0, 180] degrees"},
      {"too many excluded IDs",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           for (int i = 0; i < 10001; ++i) r.mutable_filter()->add_exclude_ids(i);
         });
       },
       C::INVALID_ARGUMENT, "filter.exclude_ids: 10001 IDs exceeds the limit 10000"},
      {"score threshold out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_min_score(2); }); }, C::INVALID_ARGUMENT,
       "min_score: 2 is outside [-1, 1]"},
      {"sky position out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_position()->set_ra(400); }); },
       C::INVALID_ARGUMENT, "position.ra: 400 is outside [0, 360) degrees"},
      {"no galaxy at the sky position",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           r.mutable_position()->set_ra(1);
           r.mutable_position()->set_dec(-89);
         });
       },
       C::NOT_FOUND, "no galaxy of snapshot v1 lies within 3 arcsec"},
      {"empty batch",
       [](Served& s) {
         v1::BatchSimilarGalaxiesResponse out;
         return s.search->BatchSimilarGalaxies(Ctx().get(), {}, &out);
       },
       C::INVALID_ARGUMENT, "queries: empty; give at least one query"},
      {"batch above the limit",
       [](Served& s) {
         v1::BatchSimilarGalaxiesRequest r;
         for (int i = 0; i < 300; ++i) r.add_queries()->set_id(i);
         v1::BatchSimilarGalaxiesResponse out;
         return s.search->BatchSimilarGalaxies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "queries: 300 queries exceeds the limit 256"},
      {"request above the message-size limit (70 MiB)",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_data(std::string(70 << 20, 'x')); })); },
       C::RESOURCE_EXHAUSTED, ""},
      {"page size above the limit",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_size(5000);
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "page_size: 5000 exceeds the limit 1000"},
      {"forged page token",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_token("nonsense");
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "page_token: not a token this server issued"},
      {"page token of another snapshot",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_token("v0/100");
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::FAILED_PRECONDITION, "snapshot changed to v1; restart the listing"},
      {"anomaly query with nothing set",
       [](Served& s) {
         v1::ScoreAnomalyResponse out;
         return s.search->ScoreAnomaly(Ctx().get(), {}, &out);
       },
       C::INVALID_ARGUMENT, "query: none set; give id or image"},
      {"unknown ID for GetGalaxy",
       [](Served& s) {
         v1::GetGalaxyRequest r;
         r.set_id(-5);
         v1::GalaxyRecord out;
         return s.search->GetGalaxy(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "galaxy -5 is not in snapshot v1"},
      {"deadline already passed",
       [](Served& s) {
         grpc::ClientContext c;
         c.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
         v1::SimilarGalaxiesRequest r;
         *r.mutable_image() = SurveyImage(0);
         v1::SimilarGalaxiesResponse out;
         return s.search->SimilarGalaxies(&c, r, &out);
       },
       C::DEADLINE_EXCEEDED, ""},
      {"rebuild from a missing dataset",
       [](Served& s) {
         v1::RebuildIndexRequest r;
         r.set_data_path("/nonexistent/survey.h5");
         v1::RebuildIndexResponse out;
         return s.admin->RebuildIndex(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "data_path: /nonexistent/survey.h5 is not a file on the server"},
      {"rebuild with an unknown index parameter",
       [](Served& s) {
         v1::RebuildIndexRequest r;
         r.set_data_path(Shared().survey);
         (*r.mutable_index_params())["speed"] = "11";
         v1::RebuildIndexResponse out;
         return s.admin->RebuildIndex(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "index_params: "},
      {"status of an unknown rebuild",
       [](Served& s) {
         v1::GetRebuildStatusRequest r;
         r.set_rebuild_id("rebuild-99");
         v1::RebuildStatus out;
         return s.admin->GetRebuildStatus(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "rebuild_id: no rebuild 'rebuild-99'"},
  };
  std::string table =
      "| # | bad input | status code | message (excerpt) |\n| --- | --- | --- | --- |\n";
  int number = 0;
  for (const BadCase& c : cases) {
    grpc::Status status = c.call(s);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), c.message))
        << c.what << ": '" << status.error_message() << "' lacks '" << c.message << "'";
    std::string shown = status.error_message().substr(0, 110);
    absl::StrAppend(&table, "| ", ++number, " | ", c.what, " | ", static_cast<int>(status.error_code()), " ",
                    absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), " | ", shown,
                    status.error_message().size() > 110 ? "..." : "", " |\n");
  }
  EXPECT_GE(cases.size(), 20u);
  // The server is alive and answers afterwards.
  v1::IndexInfo info;
  ASSERT_TRUE(s.search->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), "v1");
  if (const char* out = std::getenv("GALAXY_BAD_INPUT_TABLE")) std::ofstream(out) << table;
}

// ---------------------------------------------------------------------------------------------
// Hot swap under load
// ---------------------------------------------------------------------------------------------

TEST(ServingTest, SwapsUnderLoadFailNoRequestAndServeTheNewSnapshotAfterwards) {
  Served s;
  const std::vector<int64_t> ids = SurveyIds();
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::mutex seen_mu;
  std::set<std::string> versions;
  std::string first_error;
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      auto stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials()));
      const v1::Image image = SurveyImage(t);
      for (int i = 0; !stop; ++i) {
        v1::SimilarGalaxiesRequest r;
        if (i % 4 == 3) {
          *r.mutable_image() = image;
        } else {
          r.set_id(ids[static_cast<size_t>((t * 997 + i * 31) % kGalaxies)]);
        }
        r.set_k(10);
        r.set_include_metadata(i % 2 == 0);
        v1::SimilarGalaxiesResponse out;
        grpc::Status st = stub->SimilarGalaxies(Ctx().get(), r, &out);
        if (st.ok() && out.neighbors_size() == 10) {
          ++ok;
          std::lock_guard<std::mutex> lock(seen_mu);
          versions.insert(out.snapshot_version());
        } else {
          ++failed;
          std::lock_guard<std::mutex> lock(seen_mu);
          if (first_error.empty()) first_error = st.error_message();
        }
      }
    });
  }
  absl::SleepFor(absl::Milliseconds(500));
  // 1. Publish v2 (hnsw) and reload.
  ASSERT_TRUE(PublishCurrent(s.snapshots(), "v2").ok());
  v1::ReloadSnapshotResponse reload;
  ASSERT_TRUE(s.admin->ReloadSnapshot(Ctx().get(), {}, &reload).ok());
  EXPECT_TRUE(reload.changed());
  EXPECT_EQ(reload.previous_version(), "v1");
  EXPECT_EQ(reload.current_version(), "v2");
  absl::SleepFor(absl::Milliseconds(500));
  // 2. A broken snapshot is refused; v2 keeps serving.
  fs::copy(s.snapshots() + "/v1", s.snapshots() + "/broken", fs::copy_options::recursive);
  fs::resize_file(s.snapshots() + "/broken/index.faiss", 100);
  ASSERT_TRUE(PublishCurrent(s.snapshots(), "broken").ok());
  v1::ReloadSnapshotResponse refused;
  grpc::Status rs = s.admin->ReloadSnapshot(Ctx().get(), {}, &refused);
  EXPECT_EQ(rs.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(rs.error_message(), "snapshot broken refused")) << rs.error_message();
  EXPECT_TRUE(absl::StrContains(rs.error_message(), "still serving v2")) << rs.error_message();
  EXPECT_EQ(s.server().snapshot_version(), "v2");
  // 3. Rebuild in the background from the survey, publish, swap.
  v1::RebuildIndexRequest rebuild;
  rebuild.set_data_path(Shared().survey);
  rebuild.set_index_kind(v1::INDEX_KIND_FLAT);
  v1::RebuildIndexResponse started;
  ASSERT_TRUE(s.admin->RebuildIndex(Ctx().get(), rebuild, &started).ok());
  v1::RebuildIndexResponse again;
  grpc::Status busy = s.admin->RebuildIndex(Ctx().get(), rebuild, &again);
  EXPECT_EQ(busy.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(busy.error_message(), started.rebuild_id() + " is still running"));
  v1::RebuildStatus status;
  std::set<std::string> phases;
  for (int i = 0; i < 1200; ++i) {
    v1::GetRebuildStatusRequest q;
    q.set_rebuild_id(started.rebuild_id());
    status.Clear();
    ASSERT_TRUE(s.admin->GetRebuildStatus(Ctx().get(), q, &status).ok());
    phases.insert(status.phase());
    if (status.state() != v1::RebuildStatus::STATE_RUNNING) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(status.state(), v1::RebuildStatus::STATE_SUCCEEDED) << status.error();
  EXPECT_TRUE(phases.count("embedding") > 0) << "progress was reported";
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0) << first_error;
  EXPECT_GT(ok.load(), 50);
  EXPECT_GE(versions.size(), 3u) << "requests were answered by v1, v2 and the rebuilt snapshot";
  // Answers now come from the rebuilt snapshot.
  v1::IndexInfo info;
  ASSERT_TRUE(s.search->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), status.snapshot_version());
  EXPECT_EQ(*ReadCurrent(s.snapshots()), status.snapshot_version());
  v1::SimilarGalaxiesRequest r;
  r.set_id(ids[1]);
  v1::SimilarGalaxiesResponse out;
  ASSERT_TRUE(s.search->SimilarGalaxies(Ctx().get(), r, &out).ok());
  EXPECT_EQ(out.snapshot_version(), status.snapshot_version());
  // The rebuilt snapshot knows where its survey is: an ID's pdf equals its image's.
  v1::PredictRedshiftRequest z;
  z.add_queries()->set_id(ids[8]);
  *z.add_queries()->mutable_image() = SurveyImage(8);
  z.set_include_pdf(true);
  v1::PredictRedshiftResponse zr;
  ASSERT_TRUE(s.search->PredictRedshift(Ctx().get(), z, &zr).ok());
  ASSERT_EQ(zr.predictions(0).status().code(), 0) << zr.predictions(0).status().message();
  ASSERT_EQ(zr.predictions(0).pdf_size(), 180);
  ASSERT_EQ(zr.predictions(1).pdf_size(), 180);
  for (int b = 0; b < 180; ++b) EXPECT_NEAR(zr.predictions(0).pdf(b), zr.predictions(1).pdf(b), 1e-4);
}

// ---------------------------------------------------------------------------------------------
// Metrics and batching
// ---------------------------------------------------------------------------------------------

std::string Scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  auto res = http.Get("/metrics");
  EXPECT_TRUE(res) << "metrics endpoint unreachable";
  return res ? res->body : "";
}

// The value of the sample line starting with `prefix` (e.g. a metric name with its labels).
double Sample(const std::string& text, const std::string& prefix) {
  size_t at = text.find("\n" + prefix + " ");
  if (at == std::string::npos) return -1;
  return std::atof(text.c_str() + at + prefix.size() + 2);
}

// Image queries from `clients` threads at once; returns the number of forward passes.
double ConcurrentImageQueries(bool batching, int clients, int each) {
  Served s([&](ServerOptions& o) {
    o.batching = batching;
    o.batch_max_delay_ms = 50;
    o.metrics_listen = "127.0.0.1:0";
  });
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(s.address(), grpc::InsecureChannelCredentials()));
      v1::SimilarGalaxiesRequest r;
      *r.mutable_image() = SurveyImage(t);
      for (int i = 0; i < each; ++i) {
        v1::SimilarGalaxiesResponse out;
        if (!stub->SimilarGalaxies(Ctx().get(), r, &out).ok() || out.neighbors(0).id() != SurveyIds()[t]) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  const std::string metrics = Scrape(s.server().metrics_port());
  EXPECT_EQ(Sample(metrics, "galaxy_requests_total{rpc=\"SimilarGalaxies\",code=\"OK\"}"), clients * each) << metrics;
  EXPECT_EQ(Sample(metrics, "galaxy_model_batch_size_sum"), clients * each) << metrics;
  EXPECT_EQ(Sample(metrics, "galaxy_snapshot_info{version=\"v1\"}"), 1) << metrics;
  EXPECT_EQ(Sample(metrics, "galaxy_index_galaxies"), kGalaxies) << metrics;
  EXPECT_TRUE(absl::StrContains(metrics, "galaxy_request_duration_seconds_bucket{rpc=\"SimilarGalaxies\",le=\"+Inf\"}"));
  return Sample(metrics, "galaxy_model_batch_size_count");
}

TEST(ServingTest, ConcurrentImageQueriesShareForwardPassesAndMetricsCountThem) {
  const double batched = ConcurrentImageQueries(true, 8, 4);
  const double unbatched = ConcurrentImageQueries(false, 8, 4);
  EXPECT_EQ(unbatched, 32);
  EXPECT_LT(batched, 20) << "8 concurrent clients should mostly share forward passes";
}

// ---------------------------------------------------------------------------------------------
// TLS and tokens (the real binary, so that its log can be searched for the tokens)
// ---------------------------------------------------------------------------------------------

TEST(TlsAndTokensTest, MutualTlsAndBearerTokensAreEnforced) {
  testutil::ScopedTempDir dir;
  const std::string d = dir.path().string();
  // A CA, a server certificate for 127.0.0.1, and a client certificate.
  ASSERT_TRUE(testutil::MakeTestCertificates(d).ok());
  const std::string search_token = "search-0123456789abcdef-token";
  const std::string admin_token = "admin-0123456789abcdef-token";
  std::ofstream(d + "/tokens") << "search " << search_token << "\nadmin " << admin_token << "\n";
  fs::copy(Shared().snapshots, d + "/snapshots", fs::copy_options::recursive);
  absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> server = testutil::ServerProcess::Start(
      {"--snapshots", d + "/snapshots", "--device", "cpu", "--tls-cert", d + "/server.pem", "--tls-key",
       d + "/server.key", "--tls-client-ca", d + "/ca.pem", "--auth-token-file", d + "/tokens"},
      absl::Seconds(60));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = testutil::ReadFile(d + "/ca.pem");
  ssl.pem_private_key = testutil::ReadFile(d + "/client.key");
  ssl.pem_cert_chain = testutil::ReadFile(d + "/client.pem");
  auto tls = grpc::CreateChannel(address, grpc::SslCredentials(ssl));
  auto search = v1::GalaxySearch::NewStub(tls);
  auto admin = v1::GalaxyAdmin::NewStub(tls);
  auto call_info = [&](const std::string& token) {
    auto c = Ctx();
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    v1::IndexInfo info;
    return search->GetIndexInfo(c.get(), {}, &info);
  };
  auto call_reload = [&](const std::string& token) {
    auto c = Ctx();
    c->AddMetadata("authorization", "Bearer " + token);
    v1::ReloadSnapshotResponse out;
    return admin->ReloadSnapshot(c.get(), {}, &out);
  };
  EXPECT_TRUE(call_info(search_token).ok());
  EXPECT_TRUE(call_info(admin_token).ok());
  EXPECT_EQ(call_info("").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status wrong = call_info("not-the-token-0123456789");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status search_on_admin = call_reload(search_token);
  EXPECT_EQ(search_on_admin.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(absl::StrContains(search_on_admin.error_message(), "admin token"));
  EXPECT_TRUE(call_reload(admin_token).ok());
  // A plaintext client, and a TLS client without a client certificate, do not get through.
  auto plain = v1::GalaxySearch::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::IndexInfo info;
  auto c1 = std::make_unique<grpc::ClientContext>();
  c1->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  c1->AddMetadata("authorization", "Bearer " + search_token);
  EXPECT_EQ(plain->GetIndexInfo(c1.get(), {}, &info).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::SslCredentialsOptions no_cert;
  no_cert.pem_root_certs = ssl.pem_root_certs;
  auto anonymous = v1::GalaxySearch::NewStub(grpc::CreateChannel(address, grpc::SslCredentials(no_cert)));
  auto c2 = std::make_unique<grpc::ClientContext>();
  c2->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  c2->AddMetadata("authorization", "Bearer " + search_token);
  EXPECT_EQ(anonymous->GetIndexInfo(c2.get(), {}, &info).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Refusals were logged, and no token appears in the log.
  const std::string log = (*server)->Log();
  EXPECT_TRUE(absl::StrContains(log, "UNAUTHENTICATED")) << log;
  EXPECT_FALSE(absl::StrContains(log, "0123456789abcdef")) << log;
  EXPECT_FALSE(absl::StrContains(log, "not-the-token")) << log;
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

// SIGTERM while a request is in flight: the request is answered, then the process exits 0.
TEST(ServingShutdownTest, SigtermDrainsARequestInFlight) {
  testutil::ScopedTempDir dir;
  fs::copy(Shared().snapshots, dir.File("snapshots"), fs::copy_options::recursive);
  // An image query waits up to 1 s in the batcher for company: it is in flight when SIGTERM
  // arrives 0.3 s after it was sent.
  absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> server = testutil::ServerProcess::Start(
      {"--snapshots", dir.File("snapshots"), "--device", "cpu", "--batch-max-delay-ms", "1000", "--drain-seconds",
       "10"},
      absl::Seconds(60));
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub =
      v1::GalaxySearch::NewStub(grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  v1::SimilarGalaxiesRequest r;
  *r.mutable_image() = SurveyImage(4);
  v1::SimilarGalaxiesResponse out;
  grpc::Status status;
  absl::Time answered;
  std::thread call([&] {
    status = stub->SimilarGalaxies(Ctx().get(), r, &out);
    answered = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time signalled = absl::Now();
  absl::StatusOr<int> code = (*server)->Stop(SIGTERM);
  call.join();
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << (*server)->Log();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(answered, signalled) << "the request was still in flight at SIGTERM";
  EXPECT_EQ(out.neighbors(0).id(), SurveyIds()[4]);
  EXPECT_TRUE(absl::StrContains((*server)->Log(), "galaxy-server stopped")) << (*server)->Log();
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

// The dataset a snapshot was built from is gone: cutouts and pdfs by ID say so; the rest serves.
TEST(ServingSourceTest, AMissingSourceDatasetFailsOnlyWhatNeedsIt) {
  testutil::ScopedTempDir dir;
  fs::copy_file(Shared().survey, dir.File("survey.h5"));
  BuildOptions b;
  b.data_path = dir.File("survey.h5");
  b.model_path = Shared().model;
  b.snapshots_dir = dir.File("snapshots");
  b.device = "cpu";
  b.version = "moved";
  ASSERT_TRUE(BuildSnapshot(b).ok());
  fs::remove(dir.File("survey.h5"));
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.snapshots_dir = dir.File("snapshots");
  o.device = "cpu";
  auto server = GalaxyServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto stub = v1::GalaxySearch::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  const int64_t id = SurveyIds()[2];
  v1::GetGalaxyRequest get;
  get.set_id(id);
  get.set_include_image(true);
  v1::GalaxyRecord record;
  grpc::Status st = stub->GetGalaxy(Ctx().get(), get, &record);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(st.error_message(), dir.File("survey.h5") + ", which cannot be read now"))
      << st.error_message();
  v1::PredictRedshiftRequest z;
  z.add_queries()->set_id(id);
  z.set_include_pdf(true);
  v1::PredictRedshiftResponse zr;
  ASSERT_TRUE(stub->PredictRedshift(Ctx().get(), z, &zr).ok());
  EXPECT_EQ(zr.predictions(0).status().code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  get.set_include_image(false);
  EXPECT_TRUE(stub->GetGalaxy(Ctx().get(), get, &record).ok());
  v1::SimilarGalaxiesRequest similar;
  similar.set_id(id);
  v1::SimilarGalaxiesResponse out;
  EXPECT_TRUE(stub->SimilarGalaxies(Ctx().get(), similar, &out).ok());
}

}  // namespace
}  // namespace galaxy
