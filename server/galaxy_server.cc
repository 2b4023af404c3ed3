#include "server/galaxy_server.h"

#include <chrono>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "server/search_service.h"

namespace galaxy {

GalaxyServer::GalaxyServer(const ServerOptions& options)
    : options_(options),
      search_(std::make_unique<SearchService>(options)),
      admin_(std::make_unique<AdminService>()) {}

GalaxyServer::~GalaxyServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<GalaxyServer>> GalaxyServer::Start(const ServerOptions& options) {
  GALAXY_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<GalaxyServer> server(new GalaxyServer(options));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &server->port_);
  // gRPC sets SO_REUSEPORT by default, which would let a second server share the port
  // silently; a port in use must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  builder.RegisterService(server->search_.get());
  builder.RegisterService(server->admin_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    absl::MutexLock lock(&server->mu_);
    server->stopped_ = true;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen, " (address in use, or no such interface?)"));
  }
  // Ready only once a snapshot is loaded; until then the search service reports NOT_SERVING.
  server->server_->GetHealthCheckService()->SetServingStatus(kSearchServiceName, false);
  server->server_->GetHealthCheckService()->SetServingStatus(kAdminServiceName, true);
  if (!IsLoopbackAddress(options.listen)) {
    log::Warn("listening beyond loopback without TLS or authentication",
              {{"listen", options.listen}});
  }
  return server;
}

void GalaxyServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  server_->GetHealthCheckService()->Shutdown();
  auto deadline = std::chrono::system_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(options_.drain_seconds * 1000));
  server_->Shutdown(deadline);
  server_->Wait();
}

}  // namespace galaxy
