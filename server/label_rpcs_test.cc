// Labels on the arc survey of server/search_service_fixture.h: written, listed, exported and
// deleted over gRPC; kept across a restart and a snapshot swap; signed by token holders; written
// by 8 clients at once without loss; used as the examples of a few-shot ranking.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/file_util.h"
#include "indexer/snapshot_dir.h"
#include "server/search_service_fixture.h"

namespace galaxy {
namespace {

v1::Label MakeLabel(int galaxy, const std::string& class_name, v1::Interest interest = v1::INTEREST_UNSPECIFIED) {
  v1::Label l;
  l.set_galaxy_id(kFirstId + galaxy);
  l.set_class_name(class_name);
  l.set_interest(interest);
  return l;
}

grpc::Status Add(v1::GalaxySearch::Stub& stub, const std::vector<v1::Label>& labels, const std::string& author = "",
                 const std::string& token = "") {
  v1::AddLabelsRequest r;
  for (const v1::Label& l : labels) *r.add_labels() = l;
  r.set_author(author);
  grpc::ClientContext context;
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  v1::AddLabelsResponse out;
  return stub.AddLabels(&context, r, &out);
}

std::vector<v1::Label> List(v1::GalaxySearch::Stub& stub, const v1::LabelFilter& filter = {}, int page_size = 1000) {
  std::vector<v1::Label> all;
  v1::ListLabelsRequest r;
  *r.mutable_filter() = filter;
  r.set_page_size(static_cast<uint32_t>(page_size));
  for (int pages = 0; pages < 10000; ++pages) {
    grpc::ClientContext context;
    v1::ListLabelsResponse out;
    EXPECT_TRUE(stub.ListLabels(&context, r, &out).ok());
    all.insert(all.end(), out.labels().begin(), out.labels().end());
    if (out.next_page_token().empty()) break;
    r.set_page_token(out.next_page_token());
  }
  return all;
}

std::string Export(v1::GalaxySearch::Stub& stub, const v1::LabelFilter& filter = {}) {
  v1::ExportLabelsRequest r;
  *r.mutable_filter() = filter;
  grpc::ClientContext context;
  auto reader = stub.ExportLabels(&context, r);
  std::string csv;
  v1::ExportLabelsChunk chunk;
  while (reader->Read(&chunk)) csv += chunk.csv();
  EXPECT_TRUE(reader->Finish().ok());
  return csv;
}

// A server of its own over a copy of the suite's snapshots, with its own label store.
class LabelServer {
 public:
  LabelServer(const std::string& snapshots, const std::string& labels, const std::string& tokens = "") {
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.snapshots_dir = snapshots;
    o.labels_db = labels;
    o.device = "cpu";
    o.drain_seconds = 1;
    o.auth_token_file = tokens;
    absl::StatusOr<std::unique_ptr<GalaxyServer>> server = GalaxyServer::Start(o, SearchServiceTest::FakeLoader());
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return;
    server_ = std::move(*server);
    stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                         grpc::InsecureChannelCredentials()));
    admin = v1::GalaxyAdmin::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                         grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<GalaxyServer> server_;
  std::unique_ptr<v1::GalaxySearch::Stub> stub;
  std::unique_ptr<v1::GalaxyAdmin::Stub> admin;
};

class LabelTest : public SearchServiceTest {};

TEST_F(LabelTest, AddListExportAndDelete) {
  v1::Label odd = MakeLabel(3, "ring", v1::INTEREST_INTERESTING);
  odd.set_comment("blue ring, \"faint\", see DR7");
  ASSERT_TRUE(Add(*stub_, {odd, MakeLabel(4, "ring"), MakeLabel(5, "", v1::INTEREST_NOT_INTERESTING)}).ok());
  // One bad label refuses the call: nothing is written.
  v1::Label unknown = MakeLabel(6, "ring");
  unknown.set_galaxy_id(7);
  grpc::Status status = Add(*stub_, {MakeLabel(6, "ring"), unknown});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("labels[1]: galaxy 7 is not in snapshot"), std::string::npos)
      << status.error_message();
  status = Add(*stub_, {MakeLabel(6, "ri\nng")});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("labels[0].class_name: a control character (0x0a) at byte 2"),
            std::string::npos)
      << status.error_message();
  const std::vector<v1::Label> all = List(*stub_, {}, 1);  // a page at a time
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].galaxy_id(), kFirstId + 3);
  EXPECT_EQ(all[0].author(), "anonymous");
  EXPECT_GT(all[0].created_ms(), 1700000000000);
  EXPECT_EQ(all[0].comment(), odd.comment());
  v1::LabelFilter rings;
  rings.set_class_name("ring");
  EXPECT_EQ(List(*stub_, rings).size(), 2u);
  v1::LabelFilter of_five;
  of_five.set_galaxy_id(kFirstId + 5);
  ASSERT_EQ(List(*stub_, of_five).size(), 1u);
  EXPECT_EQ(List(*stub_, of_five)[0].interest(), v1::INTEREST_NOT_INTERESTING);
  // Writing the same galaxy, author and class again replaces the label.
  ASSERT_TRUE(Add(*stub_, {MakeLabel(4, "ring", v1::INTEREST_INTERESTING)}).ok());
  EXPECT_EQ(List(*stub_, rings).size(), 2u);
  // CSV, quoted where needed.
  const std::string csv = Export(*stub_);
  EXPECT_EQ(csv.substr(0, csv.find('\n') + 1), "galaxy_id,class_name,interest,author,created_utc,comment\r\n");
  EXPECT_NE(csv.find(absl::StrCat(kFirstId + 3, ",ring,interesting,anonymous,")), std::string::npos) << csv;
  EXPECT_NE(csv.find(",\"blue ring, \"\"faint\"\", see DR7\"\r\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(absl::StrCat(kFirstId + 5, ",,not interesting,anonymous,")), std::string::npos) << csv;
  // Delete: how many existed.
  v1::DeleteLabelsRequest del;
  *del.add_labels() = MakeLabel(4, "ring");
  *del.add_labels() = MakeLabel(9, "ring");
  v1::DeleteLabelsResponse deleted;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->DeleteLabels(&c1, del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 1u);
  EXPECT_EQ(List(*stub_).size(), 2u);
  // Clean up for the other tests of the suite.
  del.Clear();
  *del.add_labels() = MakeLabel(3, "ring");
  *del.add_labels() = MakeLabel(5, "");
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->DeleteLabels(&c2, del, &deleted).ok());
  EXPECT_EQ(deleted.deleted(), 2u);
}

TEST_F(LabelTest, LabelsSurviveARestartAndASnapshotSwap) {
  testutil::ScopedTempDir dir;
  std::filesystem::copy(SnapshotsDir(), dir.File("snapshots"), std::filesystem::copy_options::recursive);
  RemoveTree(dir.File("snapshots/.labels")).IgnoreError();
  const std::string version = server_->snapshot_version();
  {
    LabelServer first(dir.File("snapshots"), dir.File("labels"));
    ASSERT_NE(first.stub, nullptr);
    ASSERT_TRUE(Add(*first.stub, {MakeLabel(7, "merger"), MakeLabel(8, "merger")}, "ada").ok());
  }
  LabelServer second(dir.File("snapshots"), dir.File("labels"));
  ASSERT_NE(second.stub, nullptr);
  std::vector<v1::Label> kept = List(*second.stub);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1].galaxy_id(), kFirstId + 8);
  EXPECT_EQ(kept[1].author(), "ada");
  // A new snapshot goes live; the labels stay.
  std::filesystem::copy(dir.File("snapshots/" + version), dir.File("snapshots/v-next"),
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(PublishCurrent(dir.File("snapshots"), "v-next").ok());
  grpc::ClientContext context;
  v1::ReloadSnapshotResponse reloaded;
  ASSERT_TRUE(second.admin->ReloadSnapshot(&context, {}, &reloaded).ok());
  EXPECT_TRUE(reloaded.changed());  // (the copy's manifest keeps the version it was built as)
  EXPECT_EQ(List(*second.stub).size(), 2u);
  // A second server on the same label store is refused at start, saying why.
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.snapshots_dir = dir.File("snapshots");
  o.labels_db = dir.File("labels");
  o.device = "cpu";
  absl::StatusOr<std::unique_ptr<GalaxyServer>> third = GalaxyServer::Start(o, FakeLoader());
  ASSERT_FALSE(third.ok());
  EXPECT_NE(third.status().message().find("another galaxy-server on the same label store"), std::string::npos)
      << third.status();
}

TEST_F(LabelTest, AServerStartedBeforeAnySnapshotCreatesItsLabelStore) {
  testutil::ScopedTempDir dir;
  LabelServer s(dir.File("not-yet/snapshots"), "");  // the default store, SNAPSHOTS/.labels
  ASSERT_NE(s.stub, nullptr);
  EXPECT_TRUE(std::filesystem::is_directory(dir.File("not-yet/snapshots/.labels")));
  EXPECT_TRUE(List(*s.stub).empty());
}

TEST_F(LabelTest, EightConcurrentWritersLoseNothing) {
  testutil::ScopedTempDir dir;
  LabelServer s(SnapshotsDir(), dir.File("labels"));
  ASSERT_NE(s.stub, nullptr);
  constexpr int kWriters = 8, kCalls = 40, kPerCall = 5;
  std::vector<std::thread> writers;
  std::vector<int> failures(kWriters, 0);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", s.server_->port()),
                                                                 grpc::InsecureChannelCredentials()));
      for (int call = 0; call < kCalls; ++call) {
        std::vector<v1::Label> labels;
        for (int k = 0; k < kPerCall; ++k) labels.push_back(MakeLabel((call * kPerCall + k) % kGalaxies, absl::StrCat("c", call, "-", k)));
        if (!Add(*stub, labels, absl::StrCat("writer-", w)).ok()) ++failures[static_cast<size_t>(w)];
      }
    });
  }
  for (std::thread& t : writers) t.join();
  EXPECT_EQ(failures, std::vector<int>(kWriters, 0));
  const std::vector<v1::Label> all = List(*s.stub);
  EXPECT_EQ(all.size(), static_cast<size_t>(kWriters * kCalls * kPerCall));
  std::set<std::string> keys;
  for (const v1::Label& l : all) keys.insert(absl::StrCat(l.galaxy_id(), "/", l.author(), "/", l.class_name()));
  EXPECT_EQ(keys.size(), all.size());
}

TEST_F(LabelTest, TokenHoldersSignTheirLabelsAndDeleteOnlyTheirOwn) {
  testutil::ScopedTempDir dir;
  const std::string ada = "ada-0123456789abcdef", bob = "bob-0123456789abcdef", root = "root-0123456789abcdef";
  {
    std::ofstream tokens(dir.File("tokens"));
    tokens << "search " << ada << " ada\nsearch " << bob << "\nadmin " << root << " curator\n";
  }
  LabelServer s(SnapshotsDir(), dir.File("labels"), dir.File("tokens"));
  ASSERT_NE(s.stub, nullptr);
  ASSERT_TRUE(Add(*s.stub, {MakeLabel(1, "lens")}, "", ada).ok());
  ASSERT_TRUE(Add(*s.stub, {MakeLabel(2, "lens")}, "", bob).ok());
  grpc::Status status = Add(*s.stub, {MakeLabel(2, "lens")}, "ada", bob);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("author: 'ada' is not the holder of this token ('search-2')"),
            std::string::npos)
      << status.error_message();
  const auto list = [&](const std::string& token) {
    v1::ListLabelsRequest r;
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::ListLabelsResponse out;
    EXPECT_TRUE(s.stub->ListLabels(&context, r, &out).ok());
    return out;
  };
  const v1::ListLabelsResponse both = list(ada);
  ASSERT_EQ(both.labels_size(), 2);
  EXPECT_EQ(both.labels(0).author(), "ada");
  EXPECT_EQ(both.labels(1).author(), "search-2");  // no name in the token file
  const auto remove = [&](const std::string& token, const std::string& author, int galaxy) {
    v1::DeleteLabelsRequest r;
    v1::Label* key = r.add_labels();
    *key = MakeLabel(galaxy, "lens");
    key->set_author(author);
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::DeleteLabelsResponse out;
    return s.stub->DeleteLabels(&context, r, &out);
  };
  status = remove(bob, "ada", 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("deleting the labels of 'ada' needs the admin token"), std::string::npos);
  EXPECT_TRUE(remove(bob, "", 2).ok());        // its own
  EXPECT_TRUE(remove(root, "ada", 1).ok());    // an admin may
  EXPECT_EQ(list(root).labels_size(), 0);
}

TEST_F(LabelTest, LabelledGalaxiesAreTheExamplesOfAFewShotRanking) {
  testutil::ScopedTempDir dir;
  LabelServer s(SnapshotsDir(), dir.File("labels"));
  ASSERT_NE(s.stub, nullptr);
  std::vector<v1::Label> labels;
  for (int i : {25, 26, 27, 28}) labels.push_back(MakeLabel(i, "arc end"));
  for (int i : {0, 1, 2, 3}) labels.push_back(MakeLabel(i, "", v1::INTEREST_NOT_INTERESTING));
  ASSERT_TRUE(Add(*s.stub, labels).ok());
  v1::RankByExamplesRequest r;
  r.add_positive_labels()->set_class_name("arc end");
  r.add_negative_labels()->set_interest(v1::INTEREST_NOT_INTERESTING);
  r.set_regularization(100);
  r.set_page_size(5);
  v1::RankByExamplesResponse out;
  grpc::ClientContext c1;
  grpc::Status status = s.stub->RankByExamples(&c1, r, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.classifier().positives(), 4u);
  EXPECT_EQ(out.classifier().negatives(), 4u);  // labels given: no random negatives
  std::vector<int64_t> ids;
  for (const v1::RankedGalaxy& g : out.galaxies()) ids.push_back(g.id() - kFirstId);
  EXPECT_EQ(ids, (std::vector<int64_t>{29, 24, 23, 22, 21}));
  EXPECT_EQ(out.total_count(), 22u);
  // A new label changes the ranking: the old page token is refused.
  ASSERT_TRUE(Add(*s.stub, {MakeLabel(24, "arc end")}).ok());
  r.set_page_token(out.next_page_token());
  grpc::ClientContext c2;
  status = s.stub->RankByExamples(&c2, r, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("the labels it uses have changed"), std::string::npos);
  // A class nobody used.
  r.Clear();
  r.add_positive_labels()->set_class_name("lens");
  grpc::ClientContext c3;
  status = s.stub->RankByExamples(&c3, r, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("positive_labels: no galaxy of snapshot"), std::string::npos);
}

TEST_F(LabelTest, InterestLabelsReRankTheAnomalies) {
  testutil::ScopedTempDir dir;
  LabelServer s(SnapshotsDir(), dir.File("labels"));
  ASSERT_NE(s.stub, nullptr);
  const auto listing = [&](bool rerank, int page_size, const std::string& token, v1::ListAnomaliesResponse* out) {
    v1::ListAnomaliesRequest r;
    r.set_page_size(static_cast<uint32_t>(page_size));
    r.set_rerank_by_labels(rerank);
    r.set_page_token(token);
    grpc::ClientContext context;
    out->Clear();
    return s.stub->ListAnomalies(&context, r, out);
  };
  const auto order = [](const v1::ListAnomaliesResponse& out) {
    std::vector<int64_t> ids;
    for (const v1::GalaxyRecord& g : out.galaxies()) ids.push_back(g.id() - kFirstId);
    return ids;
  };
  v1::ListAnomaliesResponse plain, reranked;
  ASSERT_TRUE(listing(false, 30, "", &plain).ok());
  ASSERT_TRUE(listing(true, 30, "", &reranked).ok());
  EXPECT_EQ(order(reranked), order(plain));  // no labels yet: the same ranking
  ASSERT_EQ(reranked.adjusted_scores_size(), 30);
  EXPECT_EQ(plain.adjusted_scores_size(), 0);
  // The most anomalous galaxy marked not interesting, the least anomalous interesting.
  const int64_t top = order(plain).front(), bottom = order(plain).back();
  ASSERT_TRUE(Add(*s.stub, {MakeLabel(static_cast<int>(top), "", v1::INTEREST_NOT_INTERESTING),
                            MakeLabel(static_cast<int>(bottom), "", v1::INTEREST_INTERESTING)})
                  .ok());
  ASSERT_TRUE(listing(true, 30, "", &reranked).ok());
  const std::vector<int64_t> now = order(reranked);
  const auto place = [&](int64_t galaxy) { return std::find(now.begin(), now.end(), galaxy) - now.begin(); };
  EXPECT_GT(place(top), 0) << "marked not interesting, it leaves the top";
  EXPECT_LT(place(bottom), 29) << "marked interesting, it rises";
  const std::vector<int64_t> before = order(plain);
  EXPECT_EQ(std::set<int64_t>(now.begin(), now.end()), std::set<int64_t>(before.begin(), before.end()));
  for (int i = 1; i < reranked.adjusted_scores_size(); ++i) {
    EXPECT_LE(reranked.adjusted_scores(i), reranked.adjusted_scores(i - 1)) << i;
  }
  // The labelled galaxies themselves: x4 and / 4.
  for (int i = 0; i < reranked.galaxies_size(); ++i) {
    const v1::GalaxyRecord& g = reranked.galaxies(i);
    if (g.id() - kFirstId == top) {
      EXPECT_NEAR(reranked.adjusted_scores(i), g.anomaly_score() / 4, 1e-6);
    }
    if (g.id() - kFirstId == bottom) {
      EXPECT_NEAR(reranked.adjusted_scores(i), g.anomaly_score() * 4, 1e-6);
    }
  }
  // Pages are bound to the labels: a new label ends the listing's tokens.
  ASSERT_TRUE(listing(true, 10, "", &reranked).ok());
  const std::string token = reranked.next_page_token();
  v1::ListAnomaliesResponse second_page;
  ASSERT_TRUE(listing(true, 10, token, &second_page).ok());
  EXPECT_EQ(order(second_page), std::vector<int64_t>(now.begin() + 10, now.begin() + 20));
  grpc::Status status = listing(false, 10, token, &second_page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  ASSERT_TRUE(Add(*s.stub, {MakeLabel(15, "", v1::INTEREST_INTERESTING)}).ok());
  status = listing(true, 10, token, &second_page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("the labels changed since"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace galaxy
