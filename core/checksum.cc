#include "core/checksum.h"

#include <openssl/evp.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "core/file_util.h"

namespace galaxy {
namespace {

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

std::string Hex(const unsigned char* digest, unsigned int n) {
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), n));
}

}  // namespace

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), file.get())) > 0) {
    EVP_DigestUpdate(ctx.get(), buffer.data(), n);
  }
  if (std::ferror(file.get())) return absl::DataLossError(absl::StrCat(path, ": read error"));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  return Hex(digest, len);
}

absl::StatusOr<std::string> Sha256FileRemembered(const std::string& path) {
  const std::optional<FileIdentity> id = IdentityOf(path);
  if (!id) return Sha256File(path);  // its error names the problem
  static std::mutex mu;
  static auto* known = new std::map<FileIdentity, std::string>();
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = known->find(*id);
    if (it != known->end()) return it->second;
  }
  absl::StatusOr<std::string> sha = Sha256File(path);
  if (sha.ok()) {
    std::lock_guard<std::mutex> lock(mu);
    (*known)[*id] = *sha;
  }
  return sha;
}

}  // namespace galaxy
