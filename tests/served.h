// An in-process galaxy-server over a private copy of the serving fixture's snapshots, for the
// serving tests (tests/serving_test.cc, tests/serving_ops_test.cc).
#ifndef GALAXY_TESTS_SERVED_H_
#define GALAXY_TESTS_SERVED_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/galaxy_server.h"
#include "tests/serving_fixture.h"
#include "tests/temp_dir.h"

namespace galaxy::testutil {

// A running in-process server over a private copy of the fixture's snapshots.
class Served {
 public:
  explicit Served(const std::function<void(ServerOptions&)>& configure = nullptr) {
    std::filesystem::copy(SharedServingFixture().snapshots, snapshots(), std::filesystem::copy_options::recursive);
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
  ScopedTempDir dir_;
  std::unique_ptr<GalaxyServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

// A client context with a 60 s deadline.
inline std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return c;
}

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_SERVED_H_
