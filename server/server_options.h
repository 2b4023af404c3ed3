// Settings of galaxy-server, filled from flags in main (see `galaxy-server --help`).
#ifndef GALAXY_SERVER_SERVER_OPTIONS_H_
#define GALAXY_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galaxy {

struct ServerOptions {
  // host:port to listen on. Default loopback only; port 0 picks a free port (see
  // GalaxyServer::port()). Listening beyond loopback needs an explicit address.
  std::string listen = "127.0.0.1:50051";
  // Directory of published snapshots (SNAPSHOTS_DIR/CURRENT names the live one). Required. The
  // server loads what CURRENT names at start (serving NOT_SERVING until one exists) and on
  // ReloadSnapshot; RebuildIndex publishes new snapshots here.
  std::string snapshots_dir;
  // Where the model runs for image queries and rebuilds: "cpu", "cuda" or "auto" (the GPU when
  // present). Default auto.
  std::string device = "auto";
  // Dynamic batching of image queries: on/off, most images per forward pass, longest wait for
  // company (0: no waiting). Defaults on, 64, 2 ms.
  bool batching = true;
  int batch_max_size = 64;
  double batch_max_delay_ms = 2;
  // TLS: certificate chain and private key (PEM). Both or neither. With tls_client_ca, clients
  // must present a certificate signed by it (mutual TLS).
  std::string tls_cert, tls_key, tls_client_ca;
  // Bearer tokens (server/auth.h). Empty: no authentication (loopback use).
  std::string auth_token_file;
  // The label store, a RocksDB directory (server/label_store.h), created when missing; one
  // server at a time. Empty (default): SNAPSHOTS_DIR/.labels (no snapshot version starts with
  // a dot).
  std::string labels_db;
  // host:port of the Prometheus /metrics HTTP listener. Empty: none.
  std::string metrics_listen;
  // A router over shard servers (server/router_service.h) instead of a server over one
  // snapshot: the file lists the shards' host:port, one per line in shard order. Empty: none.
  std::string shards_file;
  // How long the router waits for a shard (the caller's deadline, when shorter, wins). 10000.
  double shard_timeout_ms = 10000;
  // A token file (as galaxy-client --token-file takes) whose token the router's health monitor
  // sends to shards that require tokens. Calls pass the caller's own token on. Empty: none.
  std::string shard_token_file;
  // host:port of the HTTP/JSON API and the web explorer (server/http_gateway.h), HTTPS with the
  // TLS options above. Empty (default): none.
  std::string http_listen;
  // Largest request and response message, bytes. Default 64 MiB (gRPC's default is 4 MiB, too
  // small for image batches). Range 1 MiB .. 1 GiB.
  uint64_t max_message_bytes = 64ull << 20;
  // Largest k of a similarity query. Default 1000.
  uint32_t max_k = 1000;
  // Most items in one batched call. Default 256.
  uint32_t max_batch = 256;
  // Largest Image.data, bytes. Default 32 MiB (16 bands x 512 x 512 x 8 bytes).
  uint64_t max_image_bytes = 32ull << 20;
  // Seconds that shutdown (SIGTERM) waits for in-flight requests before cancelling them.
  // Default 10.
  double drain_seconds = 10;
  // Threads LibTorch may use for image queries and rebuilds (0: every core).
  int threads = 0;

  // INVALID_ARGUMENT naming the first out-of-range field.
  absl::Status Validate() const;
};

// host and port of a `flag`'s "host:port" / "[v6]:port" (port 0..65535). INVALID_ARGUMENT naming
// the flag otherwise.
absl::StatusOr<std::pair<std::string, int>> ParseListen(const std::string& flag, const std::string& listen);

// True when `listen`'s host is a loopback address (127.x.x.x, ::1, localhost).
bool IsLoopbackAddress(const std::string& listen);

}  // namespace galaxy

#endif  // GALAXY_SERVER_SERVER_OPTIONS_H_
