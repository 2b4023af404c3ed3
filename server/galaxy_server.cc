#include "server/galaxy_server.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "indexer/snapshot_dir.h"
#include "model/torch_info.h"
#include "server/http_gateway.h"
#include "server/metrics.h"
#include "server/admin_service.h"
#include "server/router_service.h"
#include "server/search_service.h"
#include "server/shard_set.h"

namespace galaxy {
namespace {

// The text of the file a flag names; NOT_FOUND naming the flag when it cannot be read.
absl::StatusOr<std::string> ReadFlagFile(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  GALAXY_ASSIGN_OR_RETURN(std::string text, ReadFlagFile(flag, path));
  if (text.find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is not a PEM file"));
  }
  return text;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  GALAXY_ASSIGN_OR_RETURN(pair.private_key, ReadPem("--tls-key", o.tls_key));
  GALAXY_ASSIGN_OR_RETURN(pair.cert_chain, ReadPem("--tls-cert", o.tls_cert));
  ssl.pem_key_cert_pairs.push_back(pair);
  if (!o.tls_client_ca.empty()) {
    GALAXY_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem("--tls-client-ca", o.tls_client_ca));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

GalaxyServer::GalaxyServer(const ServerOptions& options, EmbedderLoader load_embedder)
    : options_(options),
      state_(std::make_unique<ServiceState>(options, std::move(load_embedder))),
      search_(std::make_unique<SearchService>(state_.get())),
      admin_(std::make_unique<AdminService>(state_.get())) {}

GalaxyServer::~GalaxyServer() { Shutdown(); }

int GalaxyServer::metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }

int GalaxyServer::http_port() const { return http_ ? http_->port() : 0; }

std::string GalaxyServer::snapshot_version() const {
  auto live = state_->live.Get();
  return live ? live->version() : "";
}

absl::StatusOr<std::unique_ptr<GalaxyServer>> GalaxyServer::Start(const ServerOptions& options, EmbedderLoader load_embedder) {
  GALAXY_RETURN_IF_ERROR(options.Validate());
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a debugging aid that
  // costs a graph lookup per lock on the request path). The server's locks are leaf locks.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  GALAXY_RETURN_IF_ERROR(ResolveDevice(options.device).status());
  GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, Credentials(options));
  std::unique_ptr<GalaxyServer> server(new GalaxyServer(options, std::move(load_embedder)));
  if (!options.auth_token_file.empty()) {
    GALAXY_ASSIGN_OR_RETURN(TokenAuth auth, TokenAuth::FromFile(options.auth_token_file));
    server->state_->auth = std::move(auth);
  }
  if (!options.shards_file.empty()) {
    GALAXY_ASSIGN_OR_RETURN(std::string text, ReadFlagFile("--shards", options.shards_file));
    GALAXY_ASSIGN_OR_RETURN(std::vector<std::string> addresses, ParseShardsFile(text, options.shards_file));
    server->shards_ = std::make_unique<ShardSet>(std::move(addresses), static_cast<int>(options.max_message_bytes));
    server->router_ = std::make_unique<RouterService>(server->state_.get(), server->shards_.get(),
                                                      absl::Milliseconds(options.shard_timeout_ms));
  } else {
    const std::string labels = options.labels_db.empty() ? options.snapshots_dir + "/.labels" : options.labels_db;
    GALAXY_ASSIGN_OR_RETURN(server->state_->labels, LabelStore::Open(labels));
  }
  SetCpuThreads(options.threads);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, credentials, &server->port_);
  // gRPC sets SO_REUSEPORT by default, which would let a second server share the port
  // silently; a port in use must be an error instead.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  if (server->router_ != nullptr) {
    builder.RegisterService(server->router_.get());
  } else {
    builder.RegisterService(server->search_.get());
    builder.RegisterService(server->admin_.get());
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    absl::MutexLock lock(&server->mu_);
    server->stopped_ = true;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen, " (address in use, or no such interface?)"));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  // Ready only once a snapshot is loaded; until then the search service reports NOT_SERVING.
  health->SetServingStatus(kSearchServiceName, false);
  if (server->router_ == nullptr) health->SetServingStatus(kAdminServiceName, true);
  server->state_->on_serving = [health](bool serving) { health->SetServingStatus(kSearchServiceName, serving); };
  if (!options.metrics_listen.empty()) {
    GALAXY_ASSIGN_OR_RETURN(server->metrics_http_,
                            MetricsHttpServer::Start(options.metrics_listen, &server->state_->metrics));
  }
  if (!options.http_listen.empty()) {
    // The HTTP twin calls this very server in process: one code path for both protocols.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
    args.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
    HttpGatewayOptions http;
    http.listen = options.http_listen;
    http.tls_cert = options.tls_cert;
    http.tls_key = options.tls_key;
    http.tls_client_ca = options.tls_client_ca;
    http.max_body_bytes = options.max_message_bytes;
    GALAXY_ASSIGN_OR_RETURN(server->http_, HttpGateway::Start(http, server->server_->InProcessChannel(args)));
  }
  if (!IsLoopbackAddress(options.listen) && (options.tls_cert.empty() || options.auth_token_file.empty())) {
    log::Warn("listening beyond loopback without both TLS and token authentication",
              {{"listen", options.listen},
               {"tls", options.tls_cert.empty() ? "off" : "on"},
               {"auth", options.auth_token_file.empty() ? "off" : "on"}});
  }
  if (server->router_ != nullptr) {
    // A router serves while any shard does.
    std::string authorization;
    if (!options.shard_token_file.empty()) {
      GALAXY_ASSIGN_OR_RETURN(std::string token, ReadBearerToken("--shard-token-file", options.shard_token_file));
      authorization = absl::StrCat("Bearer ", token);
    }
    server->shards_->StartMonitor(absl::Seconds(1), authorization, server->state_->on_serving);
    return server;
  }
  absl::StatusOr<std::string> current = ReadCurrent(options.snapshots_dir);
  if (current.ok()) {
    absl::Status loaded = server->state_->SwapTo(*current, nullptr);
    if (!loaded.ok()) log::Error("starting without a snapshot", {{"reason", loaded.message()}});
  } else {
    log::Warn("no snapshot to serve yet; NOT_SERVING until one is published and reloaded",
              {{"snapshots", options.snapshots_dir}, {"reason", current.status().message()}});
  }
  return server;
}

void GalaxyServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (stopped_) return;
  stopped_ = true;
  admin_->Stop();  // a running rebuild stops unpublished; it would swap into a stopping server
  if (server_ == nullptr) return;  // Start failed before the gRPC server was built
  http_.reset();  // its calls in flight finish first: they are calls of the gRPC server
  server_->GetHealthCheckService()->Shutdown();
  auto deadline = std::chrono::system_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(options_.drain_seconds * 1000));
  server_->Shutdown(deadline);
  server_->Wait();
  shards_.reset();  // stops the monitor
  metrics_http_.reset();
}

}  // namespace galaxy
