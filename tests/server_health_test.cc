// Starts the real galaxy-server binary on a loopback port and talks real gRPC to it: health,
// reflection, the contract's services, limits, and a clean SIGTERM shutdown.
#include <signal.h>

#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "client/galaxy_client.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

using testutil::ServerProcess;

class ServerHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ServerProcess>> server = ServerProcess::Start({"--snapshots", dir_.path().string()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ClientOptions options;
    options.server = server_->address();
    options.timeout = absl::Seconds(10);
    client_ = std::move(*GalaxyClient::Connect(options));
  }

  testutil::ScopedTempDir dir_;  // an empty snapshots directory: nothing published yet
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<GalaxyClient> client_;
};

TEST_F(ServerHealthTest, HealthServiceReportsServingForTheServer) {
  absl::StatusOr<std::string> status = client_->Health("");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, "SERVING");
}

TEST_F(ServerHealthTest, SearchServiceIsNotServingBeforeASnapshotIsLoaded) {
  absl::StatusOr<std::string> status = client_->Health("galaxy.v1.GalaxySearch");
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, "NOT_SERVING");
}

TEST_F(ServerHealthTest, HealthOfAnUnknownServiceIsNotFound) {
  EXPECT_EQ(client_->Health("no.such.Service").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerHealthTest, ReflectionListsEveryService) {
  absl::StatusOr<std::vector<std::string>> services = client_->ListServices();
  ASSERT_TRUE(services.ok()) << services.status();
  for (const char* name : {"galaxy.v1.GalaxySearch", "galaxy.v1.GalaxyAdmin",
                           "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_NE(std::find(services->begin(), services->end(), name), services->end()) << name;
  }
}

TEST_F(ServerHealthTest, ReflectionServesTheContractsMethods) {
  absl::StatusOr<std::vector<std::string>> search = client_->ListMethods("galaxy.v1.GalaxySearch");
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(*search, (std::vector<std::string>{"SimilarGalaxies", "BatchSimilarGalaxies", "Recommend",
                                               "RankByExamples", "StreamRankByExamples", "AddLabels", "ListLabels",
                                               "DeleteLabels", "ExportLabels", "PredictRedshift", "ScoreAnomaly",
                                               "ListAnomalies", "GetGalaxy", "GetIndexInfo"}));
  absl::StatusOr<std::vector<std::string>> admin = client_->ListMethods("galaxy.v1.GalaxyAdmin");
  ASSERT_TRUE(admin.ok()) << admin.status();
  EXPECT_EQ(*admin,
            (std::vector<std::string>{"RebuildIndex", "GetRebuildStatus", "ReloadSnapshot"}));
}

TEST_F(ServerHealthTest, IndexInfoReportsLimitsAndNoSnapshot) {
  absl::StatusOr<v1::IndexInfo> info = client_->GetIndexInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->snapshot_version().empty());
  EXPECT_EQ(info->limits().max_k(), 1000u);
  EXPECT_EQ(info->limits().max_batch(), 256u);
  EXPECT_EQ(info->limits().max_message_bytes(), 64u << 20);
  EXPECT_FALSE(info->server_version().empty());
}

TEST_F(ServerHealthTest, QueriesBeforeASnapshotIsPublishedSayHowToPublishOne) {
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::GalaxySearch::NewStub(channel);
  grpc::ClientContext context;
  v1::SimilarGalaxiesRequest request;
  request.set_id(1);
  v1::SimilarGalaxiesResponse response;
  grpc::Status status = stub->SimilarGalaxies(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no snapshot is loaded yet")) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "galaxy-index build")) << status.error_message();
}

TEST_F(ServerHealthTest, AcceptsMessagesAboveGrpcsDefaultLimit) {
  // 6 MiB: over gRPC's 4 MiB default, under our 64 MiB. No snapshot is loaded, so
  // FAILED_PRECONDITION (not RESOURCE_EXHAUSTED) shows the message got through.
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::GalaxySearch::NewStub(channel);
  grpc::ClientContext context;
  v1::SimilarGalaxiesRequest request;
  request.mutable_image()->set_data(std::string(6 << 20, '\0'));
  v1::SimilarGalaxiesResponse response;
  grpc::Status status = stub->SimilarGalaxies(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(ServerHealthTest, SigtermStopsCleanly) {
  absl::StatusOr<int> code = server_->Stop(SIGTERM);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << server_->Log();
  EXPECT_TRUE(absl::StrContains(server_->Log(), "galaxy-server stopped")) << server_->Log();
  EXPECT_EQ(client_->Health("").status().code(), absl::StatusCode::kUnavailable);
}

TEST(ServerStartTest, RefusesAPortInUseWithAClearMessage) {
  testutil::ScopedTempDir dir, other;
  absl::StatusOr<std::unique_ptr<ServerProcess>> first = ServerProcess::Start({"--snapshots", dir.path().string()});
  ASSERT_TRUE(first.ok()) << first.status();
  // (Its own snapshots: the same ones would be refused first for their label store.)
  absl::StatusOr<testutil::CommandResult> second = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-server", "--listen", (*first)->address(), "--snapshots", other.path().string()});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second->err, "cannot listen on " + (*first)->address()))
      << second->err;
}

TEST(ServerStartTest, RefusesIncompleteOrUnreadableSecuritySettings) {
  testutil::ScopedTempDir dir;
  const std::string server = testutil::BinDir() + "/galaxy-server";
  absl::StatusOr<testutil::CommandResult> half = testutil::RunCommand(
      {server, "--listen", "127.0.0.1:0", "--snapshots", dir.path().string(), "--tls-cert", "x.pem"});
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_EQ(half->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(half->err, "--tls-cert and --tls-key: give both or neither")) << half->err;
  absl::StatusOr<testutil::CommandResult> missing = testutil::RunCommand(
      {server, "--listen", "127.0.0.1:0", "--snapshots", dir.path().string(), "--tls-cert", dir.File("no-cert.pem"),
       "--tls-key", dir.File("no-key.pem")});
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(missing->err, "cannot read " + dir.File("no-")) ) << missing->err;
  absl::StatusOr<testutil::CommandResult> tokens = testutil::RunCommand(
      {server, "--listen", "127.0.0.1:0", "--snapshots", dir.path().string(), "--auth-token-file", dir.File("tokens")});
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(tokens->err, "--auth-token-file: cannot read")) << tokens->err;
}

}  // namespace
}  // namespace galaxy
