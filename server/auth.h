// Bearer-token authentication of RPCs (`galaxy-server --auth-token-file FILE`).
//
// The token file holds one token per line, each after its role, optionally followed by the
// holder's name (the author of the labels written with it):
//   # comments and blank lines are ignored
//   search  3f1c...  ada      (may call GalaxySearch)
//   admin   9b7e...           (may call GalaxyAdmin and GalaxySearch)
// At least one admin and one search token; tokens are 16..512 printable characters without
// spaces; names 1..64 of [A-Za-z0-9._@-], by default the role and the token's number among that
// role's ("search-1", "admin-1"). Clients send `authorization: Bearer <token>` metadata. A missing or wrong token is
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

// Who called: the name and role of the token.
struct Caller {
  std::string name;
  Role role = Role::kSearch;
};

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
  // The holder of the token `authorization` carries; UNAUTHENTICATED as Check.
  absl::StatusOr<Caller> Identify(absl::string_view authorization) const;

 private:
  struct Entry {
    std::string token;
    Caller caller;
  };
  std::vector<Entry> entries_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_AUTH_H_
