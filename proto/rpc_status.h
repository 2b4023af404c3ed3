// The one place where absl::Status and grpc::Status are converted into each other. Abseil's
// status codes are gRPC's codes, so the code and message carry over unchanged.
#ifndef GALAXY_PROTO_RPC_STATUS_H_
#define GALAXY_PROTO_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace galaxy {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace galaxy

#endif  // GALAXY_PROTO_RPC_STATUS_H_
