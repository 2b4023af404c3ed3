// galaxy-server --shards: a router over 3 shard servers (galaxy-index build --shard I --shards 3)
// answers as one flat index over the whole survey does; a shard that goes down gives answers
// marked partial (or UNAVAILABLE) within the deadline, and complete ones again once it is back.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "indexer/shard.h"
#include "indexer/snapshot_builder.h"
#include "server/galaxy_server.h"
#include "tests/served.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

using testutil::Ctx;
constexpr int kShards = 3;

TEST(RouterFixture, Build) { EXPECT_FALSE(testutil::SharedServingFixture().snapshots.empty()); }

class RouterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testutil::ScopedTempDir();
    for (int shard = 0; shard < kShards; ++shard) {
      absl::StatusOr<BuildReport> report = BuildSnapshot(ShardBuild(shard, dir_->File(absl::StrCat("shard-", shard))));
      ASSERT_TRUE(report.ok()) << report.status();
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  // The build of shard `shard` of the fixture's survey into `snapshots_dir`.
  static BuildOptions ShardBuild(int shard, const std::string& snapshots_dir) {
    BuildOptions b;
    b.data_path = testutil::SharedServingFixture().survey;
    b.model_path = testutil::SharedServingFixture().model;
    b.snapshots_dir = snapshots_dir;
    b.device = "cpu";
    b.threads = 2;
    b.shard = shard;
    b.shards = kShards;
    return b;
  }

  void SetUp() override {
    std::ofstream shards(dir_->File("shards"));
    shards << "# the test's shards\n";
    for (int shard = 0; shard < kShards; ++shard) {
      StartShard(shard, 0);
      shards << "127.0.0.1:" << shard_servers_[shard]->port() << "\n";
    }
    shards.close();
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.shards_file = dir_->File("shards");
    o.shard_timeout_ms = 3000;
    absl::StatusOr<std::unique_ptr<GalaxyServer>> router = GalaxyServer::Start(o);
    ASSERT_TRUE(router.ok()) << router.status();
    router_ = std::move(*router);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", router_->port()), grpc::InsecureChannelCredentials());
    routed_ = v1::GalaxySearch::NewStub(channel);
    health_ = grpc::health::v1::Health::NewStub(channel);
  }

  // Shard `shard`'s server on `port` (0: any), over its snapshots (or those in `snapshots`).
  void StartShard(int shard, int port, const std::string& snapshots = "") {
    ServerOptions o;
    o.listen = absl::StrCat("127.0.0.1:", port);
    o.snapshots_dir = snapshots.empty() ? dir_->File(absl::StrCat("shard-", shard)) : snapshots;
    o.device = "cpu";
    o.threads = 1;
    o.drain_seconds = 0;
    absl::StatusOr<std::unique_ptr<GalaxyServer>> server = GalaxyServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status();
    shard_servers_[shard] = std::move(*server);
  }

  v1::SimilarGalaxiesResponse Routed(const v1::SimilarGalaxiesRequest& request, grpc::Status* status = nullptr) {
    v1::SimilarGalaxiesResponse response;
    grpc::Status s = routed_->SimilarGalaxies(Ctx().get(), request, &response);
    if (status != nullptr) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return response;
  }

  // The routed answer once every shard is in it again (a shard back up, or in agreement: the
  // router's monitor polls each second); fails after 10 s.
  v1::SimilarGalaxiesResponse RoutedWhenComplete(v1::SimilarGalaxiesRequest request) {
    request.set_allow_partial(false);
    v1::SimilarGalaxiesResponse complete;
    grpc::Status status;
    for (int attempt = 0; attempt < 100; ++attempt) {
      complete = Routed(request, &status);
      if (status.ok()) break;
      absl::SleepFor(absl::Milliseconds(100));
    }
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(complete.missing_shards_size(), 0);
    return complete;
  }

  // A query by vector: 20 neighbours of the first axis.
  static v1::SimilarGalaxiesRequest ByVector() {
    v1::SimilarGalaxiesRequest by_vector;
    by_vector.set_k(20);
    by_vector.mutable_vector()->mutable_values()->Resize(128, 0.0f);
    by_vector.mutable_vector()->set_values(0, 1.0f);
    return by_vector;
  }

  v1::SimilarGalaxiesResponse Whole(const v1::SimilarGalaxiesRequest& request) {
    v1::SimilarGalaxiesResponse response;
    grpc::Status s = whole_.search->SimilarGalaxies(Ctx().get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  bool Serving() {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(kSearchServiceName);
    grpc::health::v1::HealthCheckResponse response;
    return health_->Check(Ctx().get(), request, &response).ok() &&
           response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  }

  static testutil::ScopedTempDir* dir_;
  std::map<int, std::unique_ptr<GalaxyServer>> shard_servers_;
  std::unique_ptr<GalaxyServer> router_;
  std::unique_ptr<v1::GalaxySearch::Stub> routed_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  testutil::Served whole_;  // one flat index over the whole survey (the fixture's v1)
};

testutil::ScopedTempDir* RouterTest::dir_ = nullptr;

// The same neighbours with the same scores (the shards embedded the survey in other batches:
// scores may differ in the last float bits, and neighbours tied that closely may swap).
void ExpectSameAnswer(const v1::SimilarGalaxiesResponse& got, const v1::SimilarGalaxiesResponse& want,
                      const std::string& what) {
  ASSERT_EQ(got.neighbors_size(), want.neighbors_size()) << what;
  EXPECT_EQ(got.query_id(), want.query_id()) << what;
  std::map<int64_t, float> wanted;
  for (const v1::Neighbor& n : want.neighbors()) wanted[n.id()] = n.score();
  for (int i = 0; i < got.neighbors_size(); ++i) {
    const v1::Neighbor& g = got.neighbors(i);
    const v1::Neighbor& w = want.neighbors(i);
    EXPECT_NEAR(g.score(), w.score(), 1e-5) << what << " #" << i;
    EXPECT_EQ(g.rank(), static_cast<uint32_t>(i + 1)) << what;
    if (g.id() != w.id()) {
      auto it = wanted.find(g.id());
      ASSERT_TRUE(it != wanted.end() || i == got.neighbors_size() - 1) << what << " #" << i << " " << g.id();
      if (it != wanted.end()) {
        EXPECT_NEAR(it->second, g.score(), 1e-5) << what << ": a swap of near-ties only";
      }
    }
  }
}

TEST_F(RouterTest, AnswersAsOneFlatIndexOverTheWholeSurvey) {
  const std::vector<int64_t>& ids = testutil::SurveyIds();
  for (int row : {3, 50, 700, 1499}) {
    v1::SimilarGalaxiesRequest by_id;
    by_id.set_id(ids[row]);
    by_id.set_k(20);
    ExpectSameAnswer(Routed(by_id), Whole(by_id), absl::StrCat("by ID, row ", row));
  }
  v1::GetGalaxyRequest get;
  get.set_id(ids[5]);
  get.set_include_embedding(true);
  v1::GalaxyRecord record;
  ASSERT_TRUE(routed_->GetGalaxy(Ctx().get(), get, &record).ok());
  EXPECT_EQ(record.source_row(), 5u);
  v1::SimilarGalaxiesRequest by_vector;
  by_vector.mutable_vector()->mutable_values()->Assign(record.embedding().begin(), record.embedding().end());
  by_vector.set_k(30);
  ExpectSameAnswer(Routed(by_vector), Whole(by_vector), "by vector");

  v1::SimilarGalaxiesRequest by_image;
  *by_image.mutable_image() = testutil::SurveyImage(9);
  by_image.set_k(10);
  ExpectSameAnswer(Routed(by_image), Whole(by_image), "by image");

  v1::SimilarGalaxiesRequest by_position;
  by_position.mutable_position()->set_ra(record.ra());
  by_position.mutable_position()->set_dec(record.dec());
  by_position.set_k(10);
  const v1::SimilarGalaxiesResponse at = Routed(by_position);
  EXPECT_EQ(at.query_id(), ids[5]);
  ExpectSameAnswer(at, Whole(by_position), "by position");

  v1::SimilarGalaxiesRequest filtered;
  filtered.set_id(ids[40]);
  filtered.set_k(15);
  filtered.mutable_filter()->set_z_max(0.15f);
  filtered.mutable_filter()->mutable_cone()->set_ra(record.ra());
  filtered.mutable_filter()->mutable_cone()->set_dec(record.dec());
  filtered.mutable_filter()->mutable_cone()->set_radius(40);
  ExpectSameAnswer(Routed(filtered), Whole(filtered), "filtered by redshift and cone");

  v1::RecommendRequest recommend;
  recommend.add_positives()->set_id(ids[11]);
  recommend.add_positives()->set_id(ids[12]);
  recommend.add_negatives()->set_id(ids[13]);
  recommend.set_k(15);
  v1::SimilarGalaxiesResponse routed_recommend, whole_recommend;
  ASSERT_TRUE(routed_->Recommend(Ctx().get(), recommend, &routed_recommend).ok());
  ASSERT_TRUE(whole_.search->Recommend(Ctx().get(), recommend, &whole_recommend).ok());
  ExpectSameAnswer(routed_recommend, whole_recommend, "recommend");

  v1::BatchSimilarGalaxiesRequest batch;
  for (int row : {21, 22, 23}) {
    auto* q = batch.add_queries();
    q->set_id(ids[row]);
    q->set_k(5);
  }
  batch.add_queries()->set_id(42);  // not in the survey: that item fails alone
  v1::BatchSimilarGalaxiesResponse routed_batch;
  ASSERT_TRUE(routed_->BatchSimilarGalaxies(Ctx().get(), batch, &routed_batch).ok());
  ASSERT_EQ(routed_batch.results_size(), 4);
  for (int i = 0; i < 3; ++i) {
    ExpectSameAnswer(routed_batch.results(i).response(), Whole(batch.queries(i)), absl::StrCat("batch item ", i));
  }
  EXPECT_EQ(routed_batch.results(3).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  v1::PredictRedshiftRequest z;
  z.add_queries()->set_id(ids[30]);
  *z.add_queries()->mutable_image() = testutil::SurveyImage(31);
  z.add_queries()->set_id(ids[32]);
  v1::PredictRedshiftResponse routed_z, whole_z;
  ASSERT_TRUE(routed_->PredictRedshift(Ctx().get(), z, &routed_z).ok());
  ASSERT_TRUE(whole_.search->PredictRedshift(Ctx().get(), z, &whole_z).ok());
  ASSERT_EQ(routed_z.predictions_size(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(routed_z.predictions(i).z_phot(), whole_z.predictions(i).z_phot(), 1e-5);

  v1::IndexInfo info;
  ASSERT_TRUE(routed_->GetIndexInfo(Ctx().get(), v1::GetIndexInfoRequest(), &info).ok());
  EXPECT_EQ(info.count(), static_cast<uint64_t>(ids.size()));
  EXPECT_EQ(info.shards(), 3u);
  ASSERT_EQ(info.shard_status_size(), 3);
  for (const v1::ShardStatus& s : info.shard_status()) EXPECT_TRUE(s.serving()) << s.error();
  EXPECT_EQ(info.model().bands(), 5u);
}

TEST_F(RouterTest, ListsAnomaliesMergedByScoreAcrossPages) {
  v1::ListAnomaliesRequest request;
  request.set_page_size(40);
  std::vector<float> scores;
  std::set<int64_t> seen;
  for (int page = 0; page < 3; ++page) {
    v1::ListAnomaliesResponse response;
    grpc::Status status = routed_->ListAnomalies(Ctx().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.total_count(), testutil::SurveyIds().size());
    EXPECT_EQ(response.first_rank(), static_cast<uint64_t>(page * 40 + 1));
    ASSERT_EQ(response.galaxies_size(), 40);
    for (const v1::GalaxyRecord& g : response.galaxies()) {
      EXPECT_TRUE(seen.insert(g.id()).second) << "galaxy " << g.id() << " listed twice";
      if (!scores.empty()) {
        EXPECT_LE(g.anomaly_score(), scores.back());
      }
      scores.push_back(g.anomaly_score());
    }
    request.set_page_token(response.next_page_token());
  }
}

TEST_F(RouterTest, AShardDownGivesPartialAnswersWithinTheDeadlineThenCompleteOnesAgain) {
  const std::vector<int64_t>& ids = testutil::SurveyIds();
  int64_t owned_by_1 = 0;
  for (int64_t id : ids) {
    if (ShardOf(id, kShards) == 1) owned_by_1 = id;
  }
  const int port = shard_servers_[1]->port();
  shard_servers_[1].reset();  // shard 1 goes down

  v1::GetGalaxyRequest get;
  get.set_id(ids[5]);
  get.set_include_embedding(true);
  v1::GalaxyRecord record;
  v1::SimilarGalaxiesRequest by_vector = ByVector();
  grpc::Status status;
  Routed(by_vector, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), absl::StrCat("shard 1 at 127.0.0.1:", port, " did not answer")))
      << status.error_message();

  by_vector.set_allow_partial(true);
  const absl::Time start = absl::Now();
  const v1::SimilarGalaxiesResponse partial = Routed(by_vector);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // within --shard-timeout-ms (3 s)
  ASSERT_EQ(partial.missing_shards_size(), 1);
  EXPECT_EQ(partial.missing_shards(0), absl::StrCat("1 at 127.0.0.1:", port));
  EXPECT_EQ(partial.neighbors_size(), 20);
  for (const v1::Neighbor& n : partial.neighbors()) EXPECT_NE(ShardOf(n.id(), kShards), 1);
  EXPECT_TRUE(absl::StrContains(partial.snapshot_version(), "+-+")) << partial.snapshot_version();

  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(owned_by_1);
  by_id.set_k(5);
  by_id.set_allow_partial(true);
  Routed(by_id, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), absl::StrCat("the shard that holds galaxy ", owned_by_1)))
      << status.error_message();

  StartShard(1, port);  // back on its address
  ExpectSameAnswer(RoutedWhenComplete(by_vector), Whole(by_vector), "after the restart");

  // No shard at all: the router is not serving (health) and says why.
  for (auto& [shard, server] : shard_servers_) server.reset();
  bool serving = true;
  for (int attempt = 0; attempt < 50 && serving; ++attempt) {
    absl::SleepFor(absl::Milliseconds(100));
    serving = Serving();
  }
  EXPECT_FALSE(serving);
  by_vector.set_allow_partial(true);
  Routed(by_vector, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "no shard answered")) << status.error_message();
}

// A shard rebuilt with other features (or another model) embeds in another space: the router
// leaves it out, saying so, rather than merge scores that do not compare; back in agreement, it
// is served again.
TEST_F(RouterTest, AShardThatEmbedsUnlikeTheOthersIsLeftOutSayingHow) {
  BuildOptions b = ShardBuild(1, dir_->File("shard-1-projection"));
  b.features = EmbeddingFeatures::kProjection;
  ASSERT_TRUE(BuildSnapshot(b).ok());
  const int port = shard_servers_[1]->port();
  shard_servers_[1].reset();
  StartShard(1, port, dir_->File("shard-1-projection"));

  v1::SimilarGalaxiesRequest by_vector = ByVector();
  grpc::Status status;
  // Until the monitor (polling each second) has seen the shard back up, in another space; before
  // that the router's channel may still be reconnecting (connection refused).
  for (int attempt = 0; attempt < 100; ++attempt) {
    Routed(by_vector, &status);
    if (absl::StrContains(status.error_message(), "left out by the router")) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  const std::string how = "it embeds with projection features (128-d) of model ";
  EXPECT_TRUE(absl::StrContains(status.error_message(), absl::StrCat("shard 1 at 127.0.0.1:", port,
                                                                     " did not answer (left out by the router: ", how)))
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "shards 0, 2 with backbone features (128-d) of model"))
      << status.error_message();

  by_vector.set_allow_partial(true);
  const v1::SimilarGalaxiesResponse partial = Routed(by_vector);
  ASSERT_EQ(partial.missing_shards_size(), 1);
  EXPECT_EQ(partial.missing_shards(0), absl::StrCat("1 at 127.0.0.1:", port));
  EXPECT_EQ(partial.neighbors_size(), 20);
  for (const v1::Neighbor& n : partial.neighbors()) EXPECT_NE(ShardOf(n.id(), kShards), 1);

  v1::IndexInfo info;
  ASSERT_TRUE(routed_->GetIndexInfo(Ctx().get(), v1::GetIndexInfoRequest(), &info).ok());
  ASSERT_EQ(info.shard_status_size(), kShards);
  EXPECT_FALSE(info.shard_status(1).serving());
  EXPECT_TRUE(absl::StartsWith(info.shard_status(1).error(), how)) << info.shard_status(1).error();
  EXPECT_TRUE(info.shard_status(0).serving() && info.shard_status(2).serving());
  EXPECT_EQ(info.count(), info.shard_status(0).count() + info.shard_status(2).count());
  EXPECT_EQ(info.model().features(), v1::EMBEDDING_FEATURES_BACKBONE);
  EXPECT_TRUE(Serving());

  shard_servers_[1].reset();
  StartShard(1, port);  // the shard as built with the others
  ExpectSameAnswer(RoutedWhenComplete(by_vector), Whole(by_vector), "back in agreement");
}

// A shard hot-swapped to a snapshot in another space is judged on its first answer, not up to a
// poll of the router's monitor later: nothing of it is merged with the others, and a query whose
// vector it supplied is refused even with allow_partial.
TEST_F(RouterTest, AShardSwappedIntoAnotherSpaceIsLeftOutFromItsFirstAnswer) {
  // Shard 1 over snapshots of its own, first as built with the others.
  BuildOptions b = ShardBuild(1, dir_->File("shard-1-swapped"));
  ASSERT_TRUE(BuildSnapshot(b).ok());
  const int port = shard_servers_[1]->port();
  shard_servers_[1].reset();
  StartShard(1, port, b.snapshots_dir);
  const v1::SimilarGalaxiesRequest by_vector = ByVector();
  const v1::SimilarGalaxiesResponse whole = Whole(by_vector);
  ExpectSameAnswer(RoutedWhenComplete(by_vector), whole, "shard 1 restarted as built with the others");
  int64_t held_by_1 = -1;
  for (const v1::Neighbor& n : whole.neighbors()) {
    if (ShardOf(n.id(), kShards) == 1) held_by_1 = n.id();
  }
  ASSERT_NE(held_by_1, -1);

  // Rebuilt with the projection head's features (the same dimension: a foreign vector would be
  // searched without complaint) and swapped in.
  b.features = EmbeddingFeatures::kProjection;
  absl::StatusOr<BuildReport> rebuilt = BuildSnapshot(b);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status();
  auto admin = v1::GalaxyAdmin::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  v1::ReloadSnapshotResponse reload;
  ASSERT_TRUE(admin->ReloadSnapshot(Ctx().get(), {}, &reload).ok());
  ASSERT_EQ(reload.current_version(), rebuilt->version);

  // At once: a query by a galaxy of shard 1 reads its vector there, in the new space.
  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(held_by_1);
  by_id.set_k(10);
  by_id.set_allow_partial(true);
  grpc::Status status;
  Routed(by_id, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(),
                                absl::StrCat("galaxy ", held_by_1, " is held by shard 1 at 127.0.0.1:", port,
                                             ", left out by the router (it embeds with projection features")))
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "its vector is not comparable")) << status.error_message();

  Routed(by_vector, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "did not answer (left out by the router: it embeds with "
                                                        "projection features"))
      << status.error_message();
  v1::SimilarGalaxiesRequest partial_request = by_vector;
  partial_request.set_allow_partial(true);
  const v1::SimilarGalaxiesResponse partial = Routed(partial_request);
  ASSERT_EQ(partial.missing_shards_size(), 1);
  EXPECT_EQ(partial.missing_shards(0), absl::StrCat("1 at 127.0.0.1:", port));
  for (const v1::Neighbor& n : partial.neighbors()) EXPECT_NE(ShardOf(n.id(), kShards), 1);
}

// Both clients through the router: `info` lists the shards, --allow-partial / allow_partial
// answer without a shard that is down and say which.
TEST_F(RouterTest, BothClientsShowTheShardsAndPartialAnswers) {
  const std::string router = absl::StrCat("127.0.0.1:", router_->port());
  int64_t owned_by_0 = 0;
  for (int64_t id : testutil::SurveyIds()) {
    if (ShardOf(id, kShards) == 0) owned_by_0 = id;
  }
  const int port = shard_servers_[2]->port();
  shard_servers_[2].reset();
  const std::string client = testutil::BinDir() + "/galaxy-client";
  absl::StatusOr<testutil::CommandResult> info = testutil::RunCommand({client, "--server", router, "info"});
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->exit_code, 0) << info->err;
  EXPECT_TRUE(absl::StrContains(info->out, "router over        3 shards")) << info->out;
  EXPECT_TRUE(absl::StrContains(info->out, absl::StrCat("shard 2   127.0.0.1:", port))) << info->out;
  EXPECT_TRUE(absl::StrContains(info->out, "NOT SERVING")) << info->out;
  absl::StatusOr<testutil::CommandResult> similar = testutil::RunCommand(
      {client, "--server", router, "similar", "--id", absl::StrCat(owned_by_0), "--k", "5", "--allow-partial"});
  ASSERT_TRUE(similar.ok()) << similar.status();
  EXPECT_EQ(similar->exit_code, 0) << similar->err;
  EXPECT_TRUE(absl::StrContains(similar->err, absl::StrCat("partial answer: no reply from shard 2 at 127.0.0.1:", port)))
      << similar->err;
  const std::string source = GALAXY_SOURCE_DIR;
  absl::StatusOr<testutil::CommandResult> python = testutil::RunCommand(
      {"/usr/bin/env", "PYTHONPATH=" + source + "/client/python", "XDG_CACHE_HOME=" + dir_->File("cache"),
       "/usr/bin/python3", "-c",
       absl::StrCat("import warnings\n"
                    "from galaxy_search import Client\n"
                    "with Client('", router, "') as c, warnings.catch_warnings(record=True) as w:\n"
                    "    warnings.simplefilter('always')\n"
                    "    r = c.similar(id=", owned_by_0, ", k=5, allow_partial=True)\n"
                    "    print(len(r.neighbors), list(r.missing_shards), str(w[0].message))\n")},
      absl::Seconds(120));
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(python->exit_code, 0) << python->err;
  EXPECT_TRUE(absl::StrContains(python->out, absl::StrCat("5 ['2 at 127.0.0.1:", port, "'] partial answer")))
      << python->out << python->err;
}

// Shards that require tokens: the router's monitor uses --shard-token-file, calls pass the
// caller's token on, and a caller without one is refused.
TEST_F(RouterTest, ShardsWithTokensServeThroughTheRouterWithTheCallersToken) {
  const std::string token = "search-router-0123456789abcdef";
  std::ofstream(dir_->File("tokens")) << "search " << token << " ada\nadmin admin-router-0123456789abcdef\n";
  std::ofstream shards(dir_->File("shards-with-tokens"));
  std::vector<std::unique_ptr<GalaxyServer>> guarded;
  for (int shard = 0; shard < kShards; ++shard) {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.snapshots_dir = dir_->File(absl::StrCat("shard-", shard));
    o.labels_db = dir_->File(absl::StrCat("labels-", shard));
    o.device = "cpu";
    o.auth_token_file = dir_->File("tokens");
    absl::StatusOr<std::unique_ptr<GalaxyServer>> server = GalaxyServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status();
    shards << "127.0.0.1:" << (*server)->port() << "\n";
    guarded.push_back(std::move(*server));
  }
  shards.close();
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.shards_file = dir_->File("shards-with-tokens");
  o.shard_token_file = dir_->File("tokens");
  o.auth_token_file = dir_->File("tokens");
  absl::StatusOr<std::unique_ptr<GalaxyServer>> router = GalaxyServer::Start(o);
  ASSERT_TRUE(router.ok()) << router.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*router)->port()), grpc::InsecureChannelCredentials());
  auto stub = v1::GalaxySearch::NewStub(channel);
  v1::IndexInfo info;
  auto with_token = Ctx();
  with_token->AddMetadata("authorization", "Bearer " + token);
  grpc::Status status = stub->GetIndexInfo(with_token.get(), v1::GetIndexInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(info.count(), testutil::SurveyIds().size());
  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(testutil::SurveyIds()[3]);
  by_id.set_k(5);
  v1::SimilarGalaxiesResponse answer;
  auto again = Ctx();
  again->AddMetadata("authorization", "Bearer " + token);
  status = stub->SimilarGalaxies(again.get(), by_id, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answer.neighbors_size(), 5);
  status = stub->SimilarGalaxies(Ctx().get(), by_id, &answer);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::health::v1::HealthCheckRequest health_request;
  health_request.set_service(kSearchServiceName);
  grpc::health::v1::HealthCheckResponse health;
  ASSERT_TRUE(grpc::health::v1::Health::NewStub(channel)->Check(Ctx().get(), health_request, &health).ok());
  EXPECT_EQ(health.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(RouterTest, WhatARouterCannotAnswerExactlyIsRefusedSayingSo) {
  v1::SimilarGalaxiesRequest diverse;
  diverse.set_id(testutil::SurveyIds()[3]);
  diverse.set_k(5);
  diverse.mutable_diversity()->set_mmr_lambda(0.5f);
  grpc::Status status;
  Routed(diverse, &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(absl::StartsWith(status.error_message(), "diversity is not served through a router")) << status.error_message();
  v1::RankByExamplesRequest rank;
  v1::RankByExamplesResponse ranked;
  status = routed_->RankByExamples(Ctx().get(), rank, &ranked);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(Serving());
}

}  // namespace
}  // namespace galaxy
