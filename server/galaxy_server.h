// A running galaxy-search gRPC server: the GalaxySearch and GalaxyAdmin services, the standard
// grpc.health.v1.Health service and server reflection.
//
// Health: "" (the server as a whole) is SERVING while the process accepts calls;
// "galaxy.v1.GalaxySearch" is NOT_SERVING until a snapshot is loaded (readiness), so load
// balancers and `docker` health checks should ask for that name.
//
// At start the server loads the snapshot SNAPSHOTS_DIR/CURRENT names. When there is none yet, or
// it fails to open, the server still starts (NOT_SERVING, the reason logged) so that a rebuild or
// a later ReloadSnapshot can bring it up.
//
//   ServerOptions options;
//   options.listen = "127.0.0.1:0";
//   GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, GalaxyServer::Start(options));
//   log::Info("listening", {{"port", absl::StrCat(server->port())}});
//   ...
//   server->Shutdown();  // drains in-flight calls for options.drain_seconds, then stops
#ifndef GALAXY_SERVER_GALAXY_SERVER_H_
#define GALAXY_SERVER_GALAXY_SERVER_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/embedder.h"
#include "server/server_options.h"

namespace grpc {
class Server;
}

namespace galaxy {

class SearchService;
class AdminService;
class RouterService;
class ShardSet;
struct ServiceState;
class MetricsHttpServer;
class HttpGateway;

class GalaxyServer {
 public:
  // Validates `options`, binds the listening port and starts serving. INVALID_ARGUMENT for bad
  // options; UNAVAILABLE when the address cannot be bound (in use, no such interface).
  // `load_embedder`: how snapshots' models are loaded (empty: LoadEmbedder; tests give a fake).
  static absl::StatusOr<std::unique_ptr<GalaxyServer>> Start(const ServerOptions& options,
                                                             EmbedderLoader load_embedder = {});

  GalaxyServer(const GalaxyServer&) = delete;
  GalaxyServer& operator=(const GalaxyServer&) = delete;
  // Shuts down (as Shutdown()) if still running.
  ~GalaxyServer();

  // The port actually bound (the chosen one when options.listen asked for port 0).
  int port() const { return port_; }
  // The metrics HTTP port (0 without --metrics-listen).
  int metrics_port() const;
  // The HTTP/JSON and web explorer port (0 without --http-listen).
  int http_port() const;
  // Version of the live snapshot; empty when none is loaded.
  std::string snapshot_version() const;

  // Stops accepting calls, lets in-flight calls finish for up to options.drain_seconds, cancels
  // the rest, and returns when the server has stopped. Health turns NOT_SERVING first. Safe to
  // call more than once and from any thread.
  void Shutdown();

 private:
  GalaxyServer(const ServerOptions& options, EmbedderLoader load_embedder);

  const ServerOptions options_;
  // Declared first so that it outlives the services (a rebuild thread swaps through it).
  std::unique_ptr<ServiceState> state_;
  std::unique_ptr<SearchService> search_;
  std::unique_ptr<AdminService> admin_;
  // A router (--shards) serves RouterService over its shards instead of search_ and admin_.
  std::unique_ptr<ShardSet> shards_;
  std::unique_ptr<RouterService> router_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  std::unique_ptr<HttpGateway> http_;
  int port_ = 0;
  absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
};

// Fully qualified names of the services a GalaxyServer registers.
inline constexpr char kSearchServiceName[] = "galaxy.v1.GalaxySearch";
inline constexpr char kAdminServiceName[] = "galaxy.v1.GalaxyAdmin";

}  // namespace galaxy

#endif  // GALAXY_SERVER_GALAXY_SERVER_H_
