// Test certificates made with the openssl command: a CA (ca.pem, ca.key), a server certificate
// for 127.0.0.1 / localhost (server.pem, server.key) and a client certificate (client.pem,
// client.key), all signed by the CA, valid for two days.
#ifndef GALAXY_TESTS_TEST_CERTIFICATES_H_
#define GALAXY_TESTS_TEST_CERTIFICATES_H_

#include <string>

#include "absl/status/status.h"

namespace galaxy::testutil {

// Writes the files into `dir`. INTERNAL naming the openssl command that failed.
absl::Status MakeTestCertificates(const std::string& dir);

// The whole file (empty when it cannot be read).
std::string ReadFile(const std::string& path);

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_TEST_CERTIFICATES_H_
