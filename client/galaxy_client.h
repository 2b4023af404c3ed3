// A connection to a galaxy-search server, for the command-line client and for tests.
//
//   ClientOptions options;
//   options.server = "127.0.0.1:50051";
//   GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, GalaxyClient::Connect(options));
//   GALAXY_ASSIGN_OR_RETURN(galaxy::v1::IndexInfo info, client->GetIndexInfo());
//
// Every call carries options.timeout as its deadline. Errors come back as absl::Status with the
// server's code and message (UNAVAILABLE when the server cannot be reached). Thread-safe.
#ifndef GALAXY_CLIENT_GALAXY_CLIENT_H_
#define GALAXY_CLIENT_GALAXY_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "galaxy/v1/galaxy.grpc.pb.h"

namespace galaxy {

struct ClientOptions {
  // host:port of the server. Default 127.0.0.1:50051.
  std::string server = "127.0.0.1:50051";
  // Deadline of each call. Default 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // Largest response message accepted, bytes. Default 64 MiB (the server's default limit).
  int max_message_bytes = 64 << 20;
  // File holding the bearer token to send (`authorization: Bearer <token>`); the first
  // non-empty, non-comment line, or the token of a server token file's line "search|admin TOKEN".
  // Empty: no token.
  std::string token_file;
  // TLS: the CA bundle that signed the server's certificate (PEM). Set it to use TLS. With
  // tls_cert and tls_key, the client presents its own certificate (mutual TLS).
  std::string tls_ca, tls_cert, tls_key;
};

class GalaxyClient {
 public:
  // Creates the channel; does not wait for the server (calls fail with UNAVAILABLE if it is
  // down). INVALID_ARGUMENT for an empty server address.
  static absl::StatusOr<std::unique_ptr<GalaxyClient>> Connect(const ClientOptions& options);

  GalaxyClient(const GalaxyClient&) = delete;
  GalaxyClient& operator=(const GalaxyClient&) = delete;

  // grpc.health.v1 status of `service` ("" for the whole server): "SERVING", "NOT_SERVING",
  // "UNKNOWN". NOT_FOUND for a service the server does not know.
  absl::StatusOr<std::string> Health(const std::string& service);

  // Names of every service the server exposes, through server reflection, sorted.
  absl::StatusOr<std::vector<std::string>> ListServices();

  // Names of the methods of `service` (e.g. "galaxy.v1.GalaxySearch"), in declaration order,
  // from the descriptor the server serves through reflection.
  absl::StatusOr<std::vector<std::string>> ListMethods(const std::string& service);

  absl::StatusOr<v1::IndexInfo> GetIndexInfo();

  // The generated stubs, and a context for one call on them (deadline and token set).
  v1::GalaxySearch::Stub& search() { return *search_; }
  v1::GalaxyAdmin::Stub& admin() { return *admin_; }
  std::unique_ptr<grpc::ClientContext> NewContext() const;

  // The address, for messages.
  const std::string& server() const { return options_.server; }

 private:
  explicit GalaxyClient(const ClientOptions& options);

  ClientOptions options_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::GalaxySearch::Stub> search_;
  std::unique_ptr<v1::GalaxyAdmin::Stub> admin_;
};

}  // namespace galaxy

#endif  // GALAXY_CLIENT_GALAXY_CLIENT_H_
