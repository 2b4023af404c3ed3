#include "server/auth.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/request_validation.h"

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
  int line_number = 0, searches = 0, admins = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    const std::string where = absl::StrCat(source, ":", line_number);
    if (parts.size() < 2 || parts.size() > 3 || (parts[0] != "search" && parts[0] != "admin")) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected 'search TOKEN [NAME]' or 'admin TOKEN [NAME]'"));
    }
    const absl::string_view token = parts[1];
    if (token.size() < 16 || token.size() > 512) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": a token of ", token.size(), " characters; use 16..512 (e.g. openssl rand -hex 32)"));
    }
    for (char c : token) {
      if (c < 0x21 || c > 0x7e) return absl::InvalidArgumentError(absl::StrCat(where, ": a non-printable character"));
    }
    Entry entry;
    entry.token = std::string(token);
    entry.caller.role = parts[0] == "admin" ? Role::kAdmin : Role::kSearch;
    const int number = entry.caller.role == Role::kAdmin ? ++admins : ++searches;
    entry.caller.name = parts.size() == 3 ? std::string(parts[2]) : absl::StrCat(parts[0], "-", number);
    if (absl::Status s = ValidateAuthorName(entry.caller.name, absl::StrCat(where, ": the name")); !s.ok()) return s;
    auth.entries_.push_back(std::move(entry));
  }
  if (admins == 0 || searches == 0) {
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
  absl::StatusOr<Caller> caller = Identify(authorization);
  if (!caller.ok()) return caller.status();
  if (caller->role == Role::kSearch && needed == Role::kAdmin) {
    return absl::UnauthenticatedError("this RPC needs the admin token; a search token was given");
  }
  return absl::OkStatus();
}

absl::StatusOr<Caller> TokenAuth::Identify(absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("missing 'authorization: Bearer <token>' metadata");
  }
  if (!absl::StartsWith(authorization, "Bearer ")) {
    return absl::UnauthenticatedError("the authorization metadata is not 'Bearer <token>'");
  }
  const absl::string_view token = absl::StripAsciiWhitespace(authorization.substr(7));
  // Every entry is compared, in constant time each: the time taken says nothing of which matched.
  const Entry* found = nullptr;
  for (const Entry& e : entries_) {
    if (ConstantTimeEquals(e.token, token)) found = &e;
  }
  if (found == nullptr) return absl::UnauthenticatedError("the bearer token is not valid for this server");
  return found->caller;
}

}  // namespace galaxy
