// galaxy-server: serves galaxy similarity search, redshift and anomaly queries over gRPC.
#include <pthread.h>
#include <signal.h>

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/data_versions.h"
#include "proto/rpc_versions.h"
#include "server/galaxy_server.h"

namespace galaxy {
namespace {

// Writes the bound port to `path` atomically (temporary file + rename), for scripts and tests
// that start the server on port 0.
absl::Status WritePortFile(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.good()) return absl::InternalError(absl::StrCat("--port-file: cannot write ", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("--port-file: cannot rename ", tmp, " to ", path));
  }
  return absl::OkStatus();
}

absl::Status Serve(const ServerOptions& options, const std::string& port_file, const std::string& http_port_file) {
  // Block the shutdown signals in every thread (gRPC's threads inherit this mask) and wait for
  // them here, so that a signal never interrupts a request handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, GalaxyServer::Start(options));
  log::Info("galaxy-server listening",
            {{"listen", options.listen}, {"port", absl::StrCat(server->port())},
             {"version", Version()}, {"snapshot", server->snapshot_version()},
             {"tls", options.tls_cert.empty() ? "off" : (options.tls_client_ca.empty() ? "on" : "mutual")},
             {"auth", options.auth_token_file.empty() ? "off" : "tokens"},
             {"metrics_port", absl::StrCat(server->metrics_port())}, {"http_port", absl::StrCat(server->http_port())}});
  if (server->http_port() != 0) {
    const std::string host = options.http_listen.substr(0, options.http_listen.rfind(':'));
    log::Info("web explorer", {{"url", absl::StrCat(options.tls_cert.empty() ? "http" : "https", "://",
                                                    host == "0.0.0.0" || host == "[::]" ? "localhost" : host, ":",
                                                    server->http_port(), "/")}});
  }
  if (!http_port_file.empty()) GALAXY_RETURN_IF_ERROR(WritePortFile(http_port_file, server->http_port()));
  if (!port_file.empty()) GALAXY_RETURN_IF_ERROR(WritePortFile(port_file, server->port()));

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log::Info("shutting down: draining in-flight requests",
            {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
             {"drain_seconds", absl::StrCat(options.drain_seconds)}});
  server->Shutdown();
  log::Info("galaxy-server stopped");
  return absl::OkStatus();
}

}  // namespace
}  // namespace galaxy

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-server",
      "Serves galaxy similarity search, photometric redshift and anomaly scores over gRPC\n"
      "(services galaxy.v1.GalaxySearch and galaxy.v1.GalaxyAdmin, grpc.health.v1.Health,\n"
      "server reflection). Stops cleanly on SIGTERM/SIGINT, draining in-flight requests.");
  cli.SetVersionDetails([] {
    return galaxy::JoinVersions({galaxy::DataLibraryVersions(), galaxy::CoreLibraryVersions(), galaxy::RpcLibraryVersions()});
  });

  galaxy::ServerOptions options;
  std::string port_file, http_port_file;
  CLI::App& app = cli.app();
  // Every option below may come from a TOML file instead (deploy/galaxy-server.conf.example):
  // flags override it; GALAXY_* environment variables fill only what it leaves out.
  app.set_config("--config", "", "Read options from this TOML file (keys: the long option names)");
  app.add_option("--snapshots", options.snapshots_dir,
                 "Snapshots directory (galaxy-index build --out); CURRENT names the live snapshot")
      ->envname("GALAXY_SNAPSHOTS");
  app.add_option("--listen", options.listen,
                 "host:port to listen on; loopback unless told otherwise; port 0 picks one")
      ->capture_default_str()->envname("GALAXY_LISTEN");
  app.add_option("--device", options.device, "Where the model runs: cpu, cuda or auto")
      ->capture_default_str()->envname("GALAXY_DEVICE");
  app.add_option("--threads", options.threads, "CPU threads for the model (0: every core)")->capture_default_str();
  app.add_option("--max-message-bytes", options.max_message_bytes,
                 "Largest request/response message in bytes")->capture_default_str();
  app.add_option("--max-k", options.max_k, "Largest k per similarity query")->capture_default_str();
  app.add_option("--max-batch", options.max_batch, "Most items per batched call")->capture_default_str();
  app.add_option("--max-image-bytes", options.max_image_bytes, "Largest uploaded image, bytes")
      ->capture_default_str();
  app.add_flag("--batching,!--no-batching", options.batching,
               "Batch concurrent image queries into one forward pass")->capture_default_str();
  app.add_option("--batch-max-size", options.batch_max_size, "Most images per forward pass")->capture_default_str();
  app.add_option("--batch-max-delay-ms", options.batch_max_delay_ms,
                 "Longest an image query waits for others to join its batch (0: no waiting)")
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls_cert, "Server certificate chain (PEM); with --tls-key")
      ->envname("GALAXY_TLS_CERT");
  app.add_option("--tls-key", options.tls_key, "Server private key (PEM)")->envname("GALAXY_TLS_KEY");
  app.add_option("--tls-client-ca", options.tls_client_ca,
                 "CA bundle (PEM): clients must present a certificate it signed (mutual TLS)")
      ->envname("GALAXY_TLS_CLIENT_CA");
  app.add_option("--auth-token-file", options.auth_token_file,
                 "File of bearer tokens, lines 'search TOKEN [NAME]' / 'admin TOKEN [NAME]'; every RPC then "
                 "needs 'authorization: Bearer TOKEN' (admin RPCs the admin token); NAME signs the labels")
      ->envname("GALAXY_AUTH_TOKEN_FILE");
  app.add_option("--labels-db", options.labels_db,
                 "Directory of the label store (RocksDB, created when missing; default SNAPSHOTS/.labels)")
      ->envname("GALAXY_LABELS_DB");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "host:port for Prometheus metrics over HTTP (GET /metrics); off when empty")
      ->envname("GALAXY_METRICS_LISTEN");
  app.add_option("--shards", options.shards_file,
                 "Serve as a router over shard servers: a file of their host:port, one per line in shard order "
                 "(instead of --snapshots)")
      ->envname("GALAXY_SHARDS");
  app.add_option("--shard-token-file", options.shard_token_file,
                 "Token file whose token the router's health checks send to shards that need one")
      ->envname("GALAXY_SHARD_TOKEN_FILE");
  app.add_option("--shard-timeout-ms", options.shard_timeout_ms,
                 "How long the router waits for a shard before the answer fails or is marked partial")
      ->capture_default_str();
  app.add_option("--http-listen", options.http_listen,
                 "host:port for the HTTP/JSON API and the web explorer (HTTPS with --tls-cert); off when empty")
      ->envname("GALAXY_HTTP_LISTEN");
  app.add_option("--drain-seconds", options.drain_seconds,
                 "On SIGTERM, how long in-flight requests may finish")->capture_default_str();
  app.add_option("--port-file", port_file,
                 "Write the bound port to this file once listening (for scripts and tests)");
  app.add_option("--http-port-file", http_port_file,
                 "Write the bound --http-listen port to this file (before --port-file is written)");
  cli.SetMainAction([&]() -> absl::Status { return galaxy::Serve(options, port_file, http_port_file); });
  return cli.Run(argc, argv);
}
