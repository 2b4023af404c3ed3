#include "tests/test_certificates.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace galaxy::testutil {
namespace {

absl::Status Openssl(const std::string& args) {
  const std::string command = "openssl " + args + " >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) return absl::InternalError(absl::StrCat("failed: ", command));
  return absl::OkStatus();
}

}  // namespace

absl::Status MakeTestCertificates(const std::string& d) {
  if (absl::Status s = Openssl("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout " + d +
                               "/ca.key -out " + d + "/ca.pem");
      !s.ok()) {
    return s;
  }
  for (const std::string name : {"server", "client"}) {
    if (absl::Status s = Openssl("req -newkey rsa:2048 -nodes -subj /CN=" + name + " -keyout " + d + "/" + name +
                                 ".key -out " + d + "/" + name + ".csr");
        !s.ok()) {
      return s;
    }
    std::ofstream(d + "/" + name + ".ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    if (absl::Status s = Openssl("x509 -req -days 2 -in " + d + "/" + name + ".csr -CA " + d + "/ca.pem -CAkey " + d +
                                 "/ca.key -CAcreateserial -extfile " + d + "/" + name + ".ext -out " + d + "/" + name +
                                 ".pem");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace galaxy::testutil
