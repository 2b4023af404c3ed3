// Operating the server over real snapshots: hot swaps under load (reload, a refused snapshot, a
// background rebuild), metrics and batching, TLS and tokens, SIGTERM with a request in flight,
// and a snapshot whose source dataset is gone.
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
#include "tests/test_certificates.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

using testutil::Ctx;
using testutil::Served;
using testutil::SurveyIds;
using testutil::SurveyImage;
constexpr int kGalaxies = testutil::kServingGalaxies;

const testutil::ServingFixture& Shared() { return testutil::SharedServingFixture(); }

TEST(ServingOpsFixture, Build) { EXPECT_TRUE(fs::exists(Shared().snapshots + "/v1/manifest.json")); }

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
  // Each phase lasts until the clients have been answered by the snapshot it serves (an event,
  // not a length of time), at most a minute.
  const auto answered_by = [&](const std::string& version) {
    const absl::Time until = absl::Now() + absl::Seconds(60);
    while (absl::Now() < until) {
      {
        std::lock_guard<std::mutex> lock(seen_mu);
        if (versions.count(version) > 0) return true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  };
  ASSERT_TRUE(answered_by("v1"));
  // 1. Publish v2 (hnsw) and reload.
  ASSERT_TRUE(PublishCurrent(s.snapshots(), "v2").ok());
  v1::ReloadSnapshotResponse reload;
  ASSERT_TRUE(s.admin->ReloadSnapshot(Ctx().get(), {}, &reload).ok());
  EXPECT_TRUE(reload.changed());
  EXPECT_EQ(reload.previous_version(), "v1");
  EXPECT_EQ(reload.current_version(), "v2");
  EXPECT_TRUE(answered_by("v2"));
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
  EXPECT_TRUE(answered_by(status.snapshot_version()));
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
  // The rebuilt snapshot stores every galaxy's pdf: an ID's equals its image's.
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
  // An image query waits up to 1 s in the batcher for company; SIGTERM is sent once the
  // server's metrics show it waiting there. (Should a scrape stall past that second, the query is
  // answered before it is seen: then another is sent.)
  absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> server = testutil::ServerProcess::Start(
      {"--snapshots", dir.File("snapshots"), "--device", "cpu", "--batch-max-delay-ms", "1000", "--drain-seconds",
       "10", "--metrics-listen", "127.0.0.1:0"},
      absl::Seconds(60));
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string log = (*server)->Log();
  const size_t at = log.find("metrics_port=");
  ASSERT_NE(at, std::string::npos) << log;
  const int metrics_port = std::atoi(log.c_str() + at + std::string("metrics_port=").size());
  auto stub =
      v1::GalaxySearch::NewStub(grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials()));
  v1::SimilarGalaxiesRequest r;
  *r.mutable_image() = SurveyImage(4);
  v1::SimilarGalaxiesResponse out;
  grpc::Status status;
  absl::Time answered;
  std::atomic<bool> returned{false};
  std::thread call;
  bool waiting = false;
  for (int attempt = 0; attempt < 5 && !waiting; ++attempt) {
    if (call.joinable()) call.join();
    returned = false;
    call = std::thread([&] {
      status = stub->SimilarGalaxies(Ctx().get(), r, &out);
      answered = absl::Now();
      returned = true;
    });
    while (!returned && !waiting) {
      waiting = Sample(Scrape(metrics_port), "galaxy_model_queue_images") == 1;
      if (!waiting) absl::SleepFor(absl::Milliseconds(5));
    }
  }
  if (!waiting) call.join();
  ASSERT_TRUE(waiting) << "no image query was seen waiting for the model";
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

// The dataset a snapshot was built from is gone: cutouts by ID say so; everything else, pdfs by ID
// included, is served from the snapshot's own directory.
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
  EXPECT_EQ(zr.predictions(0).status().code(), 0) << zr.predictions(0).status().message();
  EXPECT_EQ(zr.predictions(0).pdf_size(), 180);
  get.set_include_image(false);
  EXPECT_TRUE(stub->GetGalaxy(Ctx().get(), get, &record).ok());
  v1::SimilarGalaxiesRequest similar;
  similar.set_id(id);
  v1::SimilarGalaxiesResponse out;
  EXPECT_TRUE(stub->SimilarGalaxies(Ctx().get(), similar, &out).ok());
}

}  // namespace
}  // namespace galaxy
