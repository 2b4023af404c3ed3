// The HTTP/JSON twin of GalaxySearch and the web explorer (`galaxy-server --http-listen ADDR`).
//
// Every call goes through the gRPC server itself, over an in-process channel: the same
// validation, limits, tokens, roles, metrics and logs as a gRPC client gets. The JSON is
// protobuf's own mapping of the galaxy.v1 messages (field names in lowerCamelCase, int64 IDs as
// strings, bytes as base64, enums by name). Routes (docs/API.md, "HTTP/JSON"):
//   POST /api/v1/{Rpc}                  any unary GalaxySearch RPC: body the request, answer the
//                                       response (an empty body is the empty request)
//   POST /api/v1/StreamRankByExamples   answer: one RankByExamplesResponse per line (NDJSON)
//   POST /api/v1/ExportLabels           answer: the CSV (text/csv)
//   GET  /api/v1/galaxies/{id}/cutout.png?bands=i,r,g&size=128&stretch=0.4&q=8
//                                       asinh colour composite (ETag; answers 304 to a match)
//   GET  /, /app.js, /style.css         the explorer's page (web/, built into the binary)
// Errors answer {"code": "INVALID_ARGUMENT", "message": "..."} with the HTTP status of the gRPC
// code (400, 401, 403, 404, 409, 412, 413, 500, 501, 503, 504). The bearer token travels in the
// `Authorization` header only; it is never logged. Every answer carries a Content Security Policy
// that allows nothing but this origin's own scripts, styles, images and API.
#ifndef GALAXY_SERVER_HTTP_GATEWAY_H_
#define GALAXY_SERVER_HTTP_GATEWAY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class Channel;
}

namespace galaxy {

struct HttpGatewayOptions {
  // host:port (port 0 picks one).
  std::string listen;
  // HTTPS when set: certificate chain and key files (PEM); with client_ca, clients must present
  // a certificate it signed.
  std::string tls_cert, tls_key, tls_client_ca;
  // Largest request body, bytes (413 beyond).
  uint64_t max_body_bytes = 64ull << 20;
  // Rendered cutouts kept for repeat requests, bytes.
  uint64_t cutout_cache_bytes = 64ull << 20;
};

class HttpGateway {
 public:
  // Binds `options.listen` and serves calls through `channel` (the gRPC server's in-process
  // channel). INVALID_ARGUMENT for a bad address or TLS file; UNAVAILABLE when it cannot bind.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(const HttpGatewayOptions& options,
                                                            std::shared_ptr<grpc::Channel> channel);
  // Stops listening and waits for the calls in progress.
  ~HttpGateway();
  int port() const { return port_; }

 private:
  struct Impl;
  HttpGateway() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_HTTP_GATEWAY_H_
