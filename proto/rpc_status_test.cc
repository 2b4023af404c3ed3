#include "proto/rpc_status.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(RpcStatusTest, CodeAndMessageCarryOverBothWays) {
  absl::Status original = absl::NotFoundError("galaxy 42 is not in snapshot v1");
  grpc::Status wire = ToGrpcStatus(original);
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(wire.error_message(), "galaxy 42 is not in snapshot v1");
  EXPECT_EQ(FromGrpcStatus(wire), original);
}

TEST(RpcStatusTest, OkStaysOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(RpcStatusTest, EveryCodeMapsToTheSameNumber) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code), "x");
    EXPECT_EQ(static_cast<int>(ToGrpcStatus(s).error_code()), code);
  }
}

}  // namespace
}  // namespace galaxy
