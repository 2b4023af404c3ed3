// galaxy.v1.GalaxyAdmin: rebuilds of the index (RebuildRunner) and reloads of the published
// snapshot. Every call needs the admin role when tokens are on.
#ifndef GALAXY_SERVER_ADMIN_SERVICE_H_
#define GALAXY_SERVER_ADMIN_SERVICE_H_

#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/rebuild_runner.h"
#include "server/service_state.h"

namespace galaxy {

class AdminService final : public v1::GalaxyAdmin::Service {
 public:
  explicit AdminService(ServiceState* state)
      : state_(state),
        rebuilds_(&state->metrics, [state](const std::string& version) { return state->SwapTo(version, nullptr); }) {}
  // Cancels a running rebuild and waits for it to stop (nothing is published by it then).
  void Stop() { rebuilds_.Stop(); }

  grpc::Status RebuildIndex(grpc::ServerContext*, const v1::RebuildIndexRequest*, v1::RebuildIndexResponse*) override;
  grpc::Status GetRebuildStatus(grpc::ServerContext*, const v1::GetRebuildStatusRequest*, v1::RebuildStatus*) override;
  grpc::Status ReloadSnapshot(grpc::ServerContext*, const v1::ReloadSnapshotRequest*,
                              v1::ReloadSnapshotResponse*) override;

 private:
  ServiceState* state_;
  RebuildRunner rebuilds_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_ADMIN_SERVICE_H_
