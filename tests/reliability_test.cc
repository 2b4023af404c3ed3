// Reliability under load, faults and hostile clients, against the real galaxy-server binary over
// the serving fixture's snapshots. Bounded for CI; GALAXY_RELIABILITY_SECONDS (default 20) sets
// the load duration for a longer run. Each test prints one "RELIABILITY ..." line with its
// figures (docs/RELIABILITY.md records them).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/file_util.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/snapshot_dir.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

using testutil::SurveyIds;
using testutil::SurveyImage;

TEST(ReliabilityFixture, Build) {
  EXPECT_TRUE(fs::exists(testutil::SharedServingFixture().snapshots + "/v1/manifest.json"));
}

double LoadSeconds() {
  const char* v = std::getenv("GALAXY_RELIABILITY_SECONDS");
  return v != nullptr ? std::max(1.0, std::atof(v)) : 20.0;
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

// Resident memory of a process, bytes.
int64_t RssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "VmRSS:")) return std::atoll(line.c_str() + 6) * 1024;
  }
  return -1;
}

// A private copy of the fixture's snapshots and a server over it.
struct Served {
  testutil::ScopedTempDir dir;
  std::unique_ptr<testutil::ServerProcess> server;
  std::string snapshots() const { return dir.File("snapshots"); }

  void Copy() { fs::copy(testutil::SharedServingFixture().snapshots, snapshots(), fs::copy_options::recursive); }
  void Start() {
    absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> s = testutil::ServerProcess::Start(
        {"--snapshots", snapshots(), "--device", "cpu", "--threads", "2"}, absl::Seconds(60));
    ASSERT_TRUE(s.ok()) << s.status();
    server = std::move(*s);
  }
  std::unique_ptr<v1::GalaxySearch::Stub> Search() const {
    return v1::GalaxySearch::NewStub(grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<v1::GalaxyAdmin::Stub> Admin() const {
    return v1::GalaxyAdmin::NewStub(grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
  }
};

// One request of a mix of every search RPC; true when answered as expected.
bool MixedRequest(v1::GalaxySearch::Stub& stub, int kind, std::mt19937& rng, const v1::Image& image,
                  std::string* error) {
  const std::vector<int64_t>& ids = SurveyIds();
  const int64_t id = ids[rng() % ids.size()];
  grpc::Status st;
  bool ok = true;
  switch (kind % 8) {
    case 0: {
      v1::SimilarGalaxiesRequest r;
      r.set_id(id);
      r.set_k(10);
      r.set_include_metadata(true);
      v1::SimilarGalaxiesResponse out;
      st = stub.SimilarGalaxies(Ctx().get(), r, &out);
      ok = out.neighbors_size() == 10;
      break;
    }
    case 1: {
      v1::SimilarGalaxiesRequest r;
      *r.mutable_image() = image;
      r.set_k(5);
      v1::SimilarGalaxiesResponse out;
      st = stub.SimilarGalaxies(Ctx().get(), r, &out);
      ok = out.neighbors_size() == 5;
      break;
    }
    case 2: {
      v1::BatchSimilarGalaxiesRequest r;
      for (int i = 0; i < 8; ++i) r.add_queries()->set_id(ids[rng() % ids.size()]);
      v1::BatchSimilarGalaxiesResponse out;
      st = stub.BatchSimilarGalaxies(Ctx().get(), r, &out);
      ok = out.results_size() == 8;
      break;
    }
    case 3: {
      v1::PredictRedshiftRequest r;
      r.add_queries()->set_id(id);
      *r.add_queries()->mutable_image() = image;
      r.set_include_pdf(true);
      v1::PredictRedshiftResponse out;
      st = stub.PredictRedshift(Ctx().get(), r, &out);
      ok = out.predictions_size() == 2 && out.predictions(0).status().code() == 0 &&
           out.predictions(1).pdf_size() == 180;
      break;
    }
    case 4: {
      v1::ScoreAnomalyRequest r;
      r.set_id(id);
      r.set_include_neighbors(true);
      v1::ScoreAnomalyResponse out;
      st = stub.ScoreAnomaly(Ctx().get(), r, &out);
      ok = out.neighbors_size() == 10;
      break;
    }
    case 5: {
      v1::ListAnomaliesRequest r;
      r.set_page_size(100);
      v1::ListAnomaliesResponse out;
      st = stub.ListAnomalies(Ctx().get(), r, &out);
      ok = out.galaxies_size() == 100;
      break;
    }
    case 6: {
      v1::GetGalaxyRequest r;
      r.set_id(id);
      r.set_include_image(rng() % 2 == 0);
      v1::GalaxyRecord out;
      st = stub.GetGalaxy(Ctx().get(), r, &out);
      ok = out.id() == id;
      break;
    }
    default: {
      v1::IndexInfo out;
      st = stub.GetIndexInfo(Ctx().get(), {}, &out);
      ok = out.count() == static_cast<uint64_t>(testutil::kServingGalaxies);
      break;
    }
  }
  if (!st.ok() || !ok) {
    *error = absl::StrCat("rpc kind ", kind % 8, ": ", st.ok() ? "unexpected answer" : st.error_message());
    return false;
  }
  return true;
}

TEST(ReliabilityTest, MixedLoadHasNoErrorsAndFlatMemory) {
  Served s;
  s.Copy();
  s.Start();
  const double seconds = LoadSeconds();
  const int clients = 8;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> requests{0}, errors{0};
  std::mutex mu;
  std::vector<double> latencies_ms;
  std::string first_error;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      auto stub = s.Search();
      std::mt19937 rng(static_cast<uint32_t>(t));
      const v1::Image image = SurveyImage(t);
      std::vector<double> mine;
      for (int i = t; !stop; ++i) {
        const absl::Time t0 = absl::Now();
        std::string error;
        if (!MixedRequest(*stub, i, rng, image, &error)) {
          ++errors;
          std::lock_guard<std::mutex> lock(mu);
          if (first_error.empty()) first_error = error;
        }
        mine.push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        ++requests;
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
    });
  }
  // Memory after a quarter of the run (warm: caches, thread pools, arenas), then at the end.
  absl::SleepFor(absl::Seconds(seconds / 4));
  const int64_t rss_warm = RssBytes(s.server->pid());
  absl::SleepFor(absl::Seconds(seconds * 3 / 4));
  const int64_t rss_end = RssBytes(s.server->pid());
  stop = true;
  for (auto& t : threads) t.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p50 = latencies_ms[latencies_ms.size() / 2];
  const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  std::printf("RELIABILITY load: clients=%d seconds=%.0f requests=%lld errors=%lld p50_ms=%.2f p99_ms=%.2f "
              "rss_warm_mib=%.1f rss_end_mib=%.1f\n",
              clients, seconds, static_cast<long long>(requests.load()), static_cast<long long>(errors.load()), p50,
              p99, rss_warm / 1048576.0, rss_end / 1048576.0);
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_GT(requests.load(), 100);
  ASSERT_GT(rss_warm, 0);
  // Flat: no more than 10% + 16 MiB of growth after warm-up. Under AddressSanitizer
  // (deploy/sanitize.sh) freed memory waits in a quarantine of 256 MiB before reuse, so the
  // resident set grows until that is full; leaks there are LeakSanitizer's to report (the
  // in-process serving tests run the same server code under it).
#if defined(__SANITIZE_ADDRESS__)
  constexpr int64_t kSanitizerSlack = int64_t{256} << 20;
#else
  constexpr int64_t kSanitizerSlack = 0;
#endif
  EXPECT_LT(rss_end, rss_warm + rss_warm / 10 + (16 << 20) + kSanitizerSlack)
      << "server memory grew from " << rss_warm << " to " << rss_end << " bytes";
  EXPECT_EQ(s.Search()->GetIndexInfo(Ctx().get(), {}, std::make_unique<v1::IndexInfo>().get()).error_code(),
            grpc::StatusCode::OK);
}

// Answers to a fixed set of queries: neighbour IDs and scores.
std::vector<std::pair<int64_t, float>> Answers(v1::GalaxySearch::Stub& stub) {
  std::vector<std::pair<int64_t, float>> out;
  for (int row : {0, 10, 100, 1000}) {
    v1::SimilarGalaxiesRequest r;
    r.set_id(SurveyIds()[static_cast<size_t>(row)]);
    r.set_k(10);
    v1::SimilarGalaxiesResponse resp;
    EXPECT_TRUE(stub.SimilarGalaxies(Ctx().get(), r, &resp).ok());
    for (const auto& n : resp.neighbors()) out.emplace_back(n.id(), n.score());
  }
  return out;
}

TEST(ReliabilityTest, ServerKilledUnderLoadRestartsWithTheSameAnswers) {
  Served s;
  s.Copy();
  s.Start();
  const auto before = Answers(*s.Search());
  ASSERT_EQ(before.size(), 40u);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> answered{0}, failed{0};
  std::vector<std::thread> load;
  const std::string address = s.server->address();
  for (int t = 0; t < 4; ++t) {
    load.emplace_back([&, t] {
      auto stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      std::mt19937 rng(static_cast<uint32_t>(t));
      const v1::Image image = SurveyImage(t);
      for (int i = t; !stop; ++i) {
        std::string error;
        (MixedRequest(*stub, i, rng, image, &error) ? answered : failed)++;
      }
    });
  }
  // Kill once the clients are being answered; stop them once their calls fail.
  const auto wait_for = [](const std::function<bool()>& event) {
    const absl::Time give_up = absl::Now() + absl::Seconds(60);
    while (!event() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    return event();
  };
  ASSERT_TRUE(wait_for([&] { return answered.load() >= 50; })) << "the clients were not answered";
  const pid_t pid = s.server->pid();
  ::kill(pid, SIGKILL);
  absl::StatusOr<int> code = s.server->Stop(SIGKILL);  // reaps it
  ASSERT_TRUE(code.ok());
  EXPECT_TRUE(wait_for([&] { return failed.load() >= 4; })) << "calls to a killed server did not fail";
  stop = true;
  for (auto& t : load) t.join();
  s.Start();
  const auto after = Answers(*s.Search());
  EXPECT_EQ(before, after) << "the restarted server answers differently";
  std::printf("RELIABILITY kill-server: answered_before_kill=%lld failed_after_kill=%lld same_answers=%d\n",
              static_cast<long long>(answered.load()), static_cast<long long>(failed.load()), before == after);
  EXPECT_GT(answered.load(), 0);
}

TEST(ReliabilityTest, ServerKilledDuringARebuildKeepsTheOldSnapshotAndRebuildsNext) {
  Served s;
  s.Copy();
  s.Start();
  v1::RebuildIndexRequest rebuild;
  rebuild.set_data_path(testutil::SharedServingFixture().survey);
  rebuild.set_index_kind(v1::INDEX_KIND_HNSW);
  v1::RebuildIndexResponse started;
  ASSERT_TRUE(s.Admin()->RebuildIndex(Ctx().get(), rebuild, &started).ok());
  // Kill while it embeds or indexes.
  for (int i = 0; i < 200; ++i) {
    v1::RebuildStatus st;
    v1::GetRebuildStatusRequest q;
    ASSERT_TRUE(s.Admin()->GetRebuildStatus(Ctx().get(), q, &st).ok());
    if (st.phase() == "embedding" || st.phase() == "indexing") break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  s.server->Stop(SIGKILL).IgnoreError();
  EXPECT_EQ(*ReadCurrent(s.snapshots()), "v1");
  bool debris = false;
  for (const auto& e : fs::directory_iterator(s.snapshots())) debris |= absl::StartsWith(e.path().filename().string(), ".building-");
  EXPECT_TRUE(debris) << "the killed rebuild should have left its build directory (removed by the next build)";
  s.Start();
  v1::IndexInfo info;
  ASSERT_TRUE(s.Search()->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), "v1");
  ASSERT_TRUE(s.Admin()->RebuildIndex(Ctx().get(), rebuild, &started).ok());
  v1::RebuildStatus st;
  for (int i = 0; i < 1200; ++i) {
    v1::GetRebuildStatusRequest q;
    ASSERT_TRUE(s.Admin()->GetRebuildStatus(Ctx().get(), q, &st).ok());
    if (st.state() != v1::RebuildStatus::STATE_RUNNING) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(st.state(), v1::RebuildStatus::STATE_SUCCEEDED) << st.error();
  ASSERT_TRUE(s.Search()->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), st.snapshot_version());
  for (const auto& e : fs::directory_iterator(s.snapshots())) {
    EXPECT_FALSE(absl::StartsWith(e.path().filename().string(), ".building-")) << e.path();
  }
  std::printf("RELIABILITY kill-rebuild: old_snapshot_served=v1 next_rebuild=%s debris_removed=1\n",
              st.snapshot_version().c_str());
}

TEST(ReliabilityTest, CorruptSnapshotsAreRefusedAndTheOldOneServes) {
  Served s;
  s.Copy();
  s.Start();
  int refused = 0;
  struct Corruption {
    const char* name;
    std::function<void(const std::string&)> apply;
    const char* message;
  };
  const std::vector<Corruption> corruptions = {
      {"manifest not JSON", [](const std::string& d) { std::ofstream(d + "/manifest.json") << "{ not json"; },
       "manifest"},
      {"index truncated", [](const std::string& d) { fs::resize_file(d + "/index.faiss", 64); }, "index.faiss"},
      {"model missing", [](const std::string& d) { fs::remove(d + "/model.pt"); }, "model.pt"},
      {"metadata removed", [](const std::string& d) { RemoveTree(d + "/meta.rocksdb").IgnoreError(); }, "meta.rocksdb"},
  };
  int n = 0;
  for (const Corruption& c : corruptions) {
    const std::string version = absl::StrCat("bad", ++n);
    fs::copy(s.snapshots() + "/v2", s.snapshots() + "/" + version, fs::copy_options::recursive);
    c.apply(s.snapshots() + "/" + version);
    ASSERT_TRUE(PublishCurrent(s.snapshots(), version).ok());
    v1::ReloadSnapshotResponse out;
    grpc::Status st = s.Admin()->ReloadSnapshot(Ctx().get(), {}, &out);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << c.name;
    EXPECT_TRUE(absl::StrContains(st.error_message(), c.message)) << c.name << ": " << st.error_message();
    EXPECT_TRUE(absl::StrContains(st.error_message(), "still serving v1")) << c.name << ": " << st.error_message();
    refused += st.error_code() == grpc::StatusCode::FAILED_PRECONDITION;
    v1::IndexInfo info;
    ASSERT_TRUE(s.Search()->GetIndexInfo(Ctx().get(), {}, &info).ok());
    EXPECT_EQ(info.snapshot_version(), "v1");
  }
  std::printf("RELIABILITY corrupt-snapshot: corruptions=%zu refused=%d still_serving=v1\n", corruptions.size(),
              refused);
}

TEST(ReliabilityTest, AFullDiskDuringABuildFailsCleanlyAndPublishesNothing) {
  testutil::ScopedTempDir dir;
  const std::string snapshots = dir.File("snapshots");
  const auto& f = testutil::SharedServingFixture();
  // The disk "fills" at 256 KiB per file (the build writes files of ~1 MiB): RLIMIT_FSIZE makes larger writes fail (EFBIG, with
  // SIGXFSZ ignored), as a full disk fails them (ENOSPC), without needing a mount.
  std::vector<std::string> argv = {testutil::BinDir() + "/galaxy-index", "build", "--data", f.survey, "--model",
                                   f.model, "--out", snapshots, "--device", "cpu"};
  int err_pipe[2];
  ASSERT_EQ(::pipe(err_pipe), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {256 << 10, 256 << 10};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ::dup2(err_pipe[1], 2);
    ::close(err_pipe[0]);
    ::freopen("/dev/null", "w", stdout);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  std::string err;
  char buffer[4096];
  for (ssize_t r; (r = ::read(err_pipe[0], buffer, sizeof buffer)) > 0;) err.append(buffer, static_cast<size_t>(r));
  ::close(err_pipe[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "the build died instead of failing: " << err;
  EXPECT_EQ(WEXITSTATUS(wstatus), 1) << err;
  EXPECT_TRUE(absl::StrContains(err, "galaxy-index build: error:")) << err;
  EXPECT_FALSE(fs::exists(snapshots + "/CURRENT"));
  int left = 0;
  if (fs::exists(snapshots)) {
    for (const auto& e : fs::directory_iterator(snapshots)) {
      ++left;
      ADD_FAILURE() << "left behind: " << e.path();
    }
  }
  std::string last_line = err.find("error:") == std::string::npos ? err : err.substr(err.rfind("error:"));
  last_line = last_line.substr(0, last_line.find('\n'));
  std::printf("RELIABILITY full-disk: exit=%d published=0 left_behind=%d message=\"%s\"\n", WEXITSTATUS(wstatus), left,
              last_line.c_str());
}

TEST(ReliabilityTest, StalledAndMalformedClientsDoNotStopTheServer) {
  Served s;
  s.Copy();
  s.Start();
  // 64 connections that send half an HTTP/2 preface and never read or write again.
  std::vector<int> stalled;
  for (int i = 0; i < 64; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(s.server->port()));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const char half[] = "PRI * HTTP/2.0\r\n";
    ASSERT_GT(::write(fd, half, sizeof half - 1), 0);
    stalled.push_back(fd);
  }
  // Garbage where a request message belongs, through the generic stub.
  auto channel = grpc::CreateChannel(s.server->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  int malformed_refused = 0;
  for (const std::string& garbage : {std::string("\xff\xff\xff\xff\x0f", 5), std::string(1000, '\x0a'),
                                     std::string("\x0a\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 11)}) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice slice(garbage);
    grpc::ByteBuffer request(&slice, 1), response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(&c, "/galaxy.v1.GalaxySearch/SimilarGalaxies", grpc::StubOptions(), &request, &response,
                      [&](grpc::Status st) {
                        std::lock_guard<std::mutex> lock(mu);
                        status = st;
                        done = true;
                        cv.notify_all();
                      });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    EXPECT_FALSE(status.ok());
    malformed_refused += !status.ok();
  }
  // Everyone else is served, promptly.
  const absl::Time t0 = absl::Now();
  const auto answers = Answers(*s.Search());
  const double ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  EXPECT_EQ(answers.size(), 40u);
  EXPECT_LT(ms, 10000);
  for (int fd : stalled) ::close(fd);
  std::printf("RELIABILITY hostile-clients: stalled_connections=%zu malformed_refused=%d queries_after_ms=%.1f\n",
              stalled.size(), malformed_refused, ms);
}

}  // namespace
}  // namespace galaxy
