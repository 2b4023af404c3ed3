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
#include "server/galaxy_server.h"
#include "proto/rpc_versions.h"

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

absl::Status Serve(const ServerOptions& options, const std::string& port_file) {
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
             {"version", Version()}});
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
    return galaxy::JoinVersions({galaxy::CoreLibraryVersions(), galaxy::RpcLibraryVersions()});
  });

  galaxy::ServerOptions options;
  std::string port_file;
  // Flags of features that are not available yet: refused when given, so that nobody runs an
  // unprotected server believing TLS or authentication is on.
  std::vector<std::pair<std::string, std::string>> planned = {
      {"--metrics-listen", "Prometheus metrics host:port"},
      {"--tls-cert", "Server certificate (PEM)"},
      {"--tls-key", "Server private key (PEM)"},
      {"--tls-client-ca", "CA bundle for client certificates (mutual TLS)"},
      {"--auth-token-file", "File of bearer tokens (search and admin)"},
  };
  std::vector<std::string> planned_values(planned.size());

  CLI::App& app = cli.app();
  app.add_option("--listen", options.listen,
                 "host:port to listen on; loopback unless told otherwise; port 0 picks one")
      ->capture_default_str()->envname("GALAXY_LISTEN");
  app.add_option("--snapshots", options.snapshots_dir,
                 "Snapshots directory (CURRENT names the live snapshot) [serving snapshots is "
                 "not available yet]")
      ->envname("GALAXY_SNAPSHOTS");
  app.add_option("--max-message-bytes", options.max_message_bytes,
                 "Largest request/response message in bytes")->capture_default_str();
  app.add_option("--max-k", options.max_k, "Largest k per similarity query")
      ->capture_default_str();
  app.add_option("--max-batch", options.max_batch, "Most items per batched call")
      ->capture_default_str();
  app.add_option("--max-image-bytes", options.max_image_bytes, "Largest uploaded image, bytes")
      ->capture_default_str();
  app.add_option("--drain-seconds", options.drain_seconds,
                 "On SIGTERM, how long in-flight requests may finish")->capture_default_str();
  app.add_option("--port-file", port_file,
                 "Write the bound port to this file once listening (for scripts and tests)");
  for (size_t i = 0; i < planned.size(); ++i) {
    app.add_option(planned[i].first, planned_values[i],
                   planned[i].second + " [not available yet]");
  }
  cli.SetMainAction([&]() -> absl::Status {
    for (size_t i = 0; i < planned.size(); ++i) {
      if (!planned_values[i].empty()) {
        return absl::UnimplementedError(absl::StrCat(
            planned[i].first, " is not available yet in galaxy-search ", galaxy::Version(),
            "; refusing to start without it"));
      }
    }
    return galaxy::Serve(options, port_file);
  });
  return cli.Run(argc, argv);
}
