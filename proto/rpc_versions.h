// Versions of the RPC libraries, for --version and benchmark reports.
#ifndef GALAXY_PROTO_RPC_VERSIONS_H_
#define GALAXY_PROTO_RPC_VERSIONS_H_

#include <string>
#include <vector>

namespace galaxy {

// "gRPC 1.51.1", "Protobuf 3.21.12".
std::vector<std::string> RpcLibraryVersions();

}  // namespace galaxy

#endif  // GALAXY_PROTO_RPC_VERSIONS_H_
