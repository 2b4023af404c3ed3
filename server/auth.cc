#include "server/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace galaxy {
namespace {

// Compares without an early exit, so response time does not reveal how much of a token matched.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool AnyEquals(const std::vector<std::string>& tokens, absl::string_view token) {
  bool found = false;
  for (const std::string& t : tokens) found |= ConstantTimeEquals(t, token);
  return found;
}

}  // namespace

absl::StatusOr<TokenAuth> TokenAuth::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--auth-token-file: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return FromText(text.str(), path);
}

absl::StatusOr<TokenAuth> TokenAuth::FromText(absl::string_view text, absl::string_view source) {
  TokenAuth auth;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = absl::StrCat(source, ":", line_number);
    if (parts.size() != 2 || (parts[0] != "search" && parts[0] != "admin")) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected 'search TOKEN' or 'admin TOKEN'"));
    }
    const absl::string_view token = parts[1];
    if (token.size() < 16 || token.size() > 512) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a token of ", token.size(), " characters; use 16..512 (e.g. openssl rand -hex 32)"));
    }
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) return absl::InvalidArgumentError(absl::StrCat(where, ": a non-printable character"));
    }
    (parts[0] == "admin" ? auth.admin_ : auth.search_).emplace_back(token);
  }
  if (auth.admin_.empty() || auth.search_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": needs at least one 'search' and one 'admin' token (separate roles)"));
  }
  return auth;
}

absl::Status TokenAuth::Check(absl::string_view authorization, Role needed) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  if (!absl::StartsWith(authorization, "Bearer ")) {
    return absl::UnauthenticatedError("the authorization metadata is not 'Bearer <token>'");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(7));
  if (AnyEquals(admin_, token)) return absl::OkStatus();
  if (AnyEquals(search_, token)) {
    if (needed == Role::kSearch) return absl::OkStatus();
    return absl::UnauthenticatedError("this RPC needs the admin token; a search token was given");
  }
  return absl::UnauthenticatedError("the bearer token is not valid for this server");
}

}  // namespace galaxy
