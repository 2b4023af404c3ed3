#include "server/server_options.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(ServerOptionsTest, DefaultsAreValidAndListenOnLoopback) {
  ServerOptions options;
  EXPECT_NE(options.Validate().message().find("--snapshots: required"), std::string::npos);
  options.snapshots_dir = "/srv/snapshots";
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_TRUE(IsLoopbackAddress(options.listen));
  EXPECT_GT(options.max_message_bytes, 4u << 20);  // above gRPC's 4 MiB default
}

TEST(ServerOptionsTest, LoopbackDetection) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:50051"));
}

TEST(ServerOptionsTest, RejectsMalformedListenAddress) {
  ServerOptions options;
  options.snapshots_dir = "/srv/snapshots";
  for (const char* bad : {"127.0.0.1", ":50051", "127.0.0.1:port", "127.0.0.1:70000"}) {
    options.listen = bad;
    absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("--listen"), std::string::npos) << bad;
  }
  options.listen = "127.0.0.1:0";
  options.http_listen = "0.0.0.0";
  EXPECT_EQ(options.Validate().message(), "--http-listen: '0.0.0.0' is not host:port (e.g. 127.0.0.1:50051)");
  options.http_listen = "";
  options.metrics_listen = "localhost:99999";
  EXPECT_EQ(options.Validate().message(),
            "--metrics-listen: 'localhost:99999' is not host:port (e.g. 127.0.0.1:50051)");
}

TEST(ServerOptionsTest, RejectsLimitsOutOfRange) {
  ServerOptions options;
  options.max_k = 0;
  options.snapshots_dir = "/srv/snapshots";
  EXPECT_NE(options.Validate().message().find("--max-k"), std::string::npos);
  options = ServerOptions();
  options.max_message_bytes = 1000;
  EXPECT_NE(options.Validate().message().find("--max-message-bytes"), std::string::npos);
  options = ServerOptions();
  options.max_image_bytes = options.max_message_bytes + 1;
  EXPECT_NE(options.Validate().message().find("--max-image-bytes"), std::string::npos);
  options = ServerOptions();
  options.drain_seconds = -1;
  EXPECT_FALSE(options.Validate().ok());
  options = ServerOptions();
  options.snapshots_dir = "/srv/snapshots";
  options.tls_cert = "cert.pem";
  EXPECT_NE(options.Validate().message().find("--tls-cert and --tls-key"), std::string::npos);
  options.tls_cert.clear();
  options.tls_client_ca = "ca.pem";
  EXPECT_NE(options.Validate().message().find("--tls-client-ca"), std::string::npos);
  options = ServerOptions();
  options.snapshots_dir = "/srv/snapshots";
  options.batch_max_delay_ms = -1;
  EXPECT_NE(options.Validate().message().find("--batch-max-delay-ms"), std::string::npos);
}

}  // namespace
}  // namespace galaxy
