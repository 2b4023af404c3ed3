// Bearer-token authentication of RPCs (`galaxy-server --auth-token-file FILE`).
//
// The token file holds one token per line, each after its role:
//   # comments and blank lines are ignored
//   search  3f1c...   (may call GalaxySearch)
//   admin   9b7e...   (may call GalaxyAdmin and GalaxySearch)
// At least one admin and one search token; tokens are 16..512 printable characters without
// spaces. Clients send `authorization: Bearer <token>` metadata. A missing or wrong token is
// refused with UNAUTHENTICATED; a search token on an admin RPC too. Tokens never reach the logs:
// messages say which role was missing, not what was sent. grpc.health.v1 and reflection stay
// open (load balancers and container health checks call them without credentials).
#ifndef GALAXY_SERVER_AUTH_H_
#define GALAXY_SERVER_AUTH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

enum class Role { kSearch, kAdmin };

class TokenAuth {
 public:
  // Reads and checks a token file. INVALID_ARGUMENT naming the file and line of a problem (never
  // the token itself); NOT_FOUND for a missing file.
  static absl::StatusOr<TokenAuth> FromFile(const std::string& path);
  // From lines as in the file (for tests).
  static absl::StatusOr<TokenAuth> FromText(absl::string_view text, absl::string_view source);

  // OK when `authorization` (the metadata value, "" when absent) carries a token of a role that
  // may call an RPC needing `needed`; UNAUTHENTICATED otherwise.
  absl::Status Check(absl::string_view authorization, Role needed) const;

 private:
  std::vector<std::string> search_, admin_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_AUTH_H_
