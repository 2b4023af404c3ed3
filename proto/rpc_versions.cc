#include "proto/rpc_versions.h"

#include <google/protobuf/stubs/common.h>
#include <grpcpp/grpcpp.h>

namespace galaxy {

std::vector<std::string> RpcLibraryVersions() {
  return {"gRPC " + grpc::Version(),
          "Protobuf " + google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)};
}

}  // namespace galaxy
