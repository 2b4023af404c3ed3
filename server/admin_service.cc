#include "server/admin_service.h"

#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "indexer/snapshot_dir.h"
#include "server/proto_convert.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

// What RebuildIndex `request` asks to build, checked; what it leaves out comes from `live`.
absl::StatusOr<BuildOptions> BuildOf(const ServiceState& state, const v1::RebuildIndexRequest& request,
                                     const ServingSnapshot* live) {
  BuildOptions build;
  build.snapshots_dir = state.options.snapshots_dir;
  build.device = state.options.device;
  build.threads = state.options.threads;
  build.load_embedder = state.load_embedder;
  build.data_path = request.data_path();
  if (build.data_path.empty()) return absl::InvalidArgumentError("data_path: required");
  std::error_code ec;
  if (!fs::is_regular_file(build.data_path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("data_path: ", build.data_path, " is not a file on the server"));
  }
  build.model_path = request.model_path();
  // Unspecified: the live model keeps its features; another model gets the default.
  const EmbeddingFeatures unspecified = build.model_path.empty() && live != nullptr
                                            ? live->snapshot().manifest().features
                                            : build.features;
  GALAXY_ASSIGN_OR_RETURN(build.features, FromProtoFeatures(request.features(), unspecified));
  if (build.model_path.empty()) {
    if (live == nullptr) return absl::InvalidArgumentError("model_path: required while no snapshot is loaded");
    build.model_path = live->snapshot().dir() + "/" + kModelFile;
  } else if (!fs::is_regular_file(build.model_path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("model_path: ", build.model_path, " is not a file on the server"));
  }
  GALAXY_ASSIGN_OR_RETURN(build.index.kind,
                          FromProtoKind(request.index_kind(), live ? live->snapshot().manifest().index.kind
                                                                   : build.index.kind));
  std::map<std::string, std::string> params(request.index_params().begin(), request.index_params().end());
  if (absl::Status s = build.index.Apply(params); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("index_params: ", s.message()));
  }
  return build;
}

}  // namespace

grpc::Status AdminService::ReloadSnapshot(grpc::ServerContext* context, const v1::ReloadSnapshotRequest*,
                                          v1::ReloadSnapshotResponse* response) {
  return state_->Handle("ReloadSnapshot", context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<std::string> current = ReadCurrent(state_->options.snapshots_dir);
    if (!current.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("cannot reload: ", current.status().message()));
    }
    std::shared_ptr<const ServingSnapshot> live = state_->live.Get();
    response->set_previous_version(live ? live->version() : "");
    if (live && live->version() == *current) {
      response->set_current_version(*current);
      response->set_changed(false);
      return absl::OkStatus();
    }
    std::string previous;
    GALAXY_RETURN_IF_ERROR(state_->SwapTo(*current, &previous));
    response->set_previous_version(previous);
    response->set_current_version(*current);
    response->set_changed(previous != *current);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::RebuildIndex(grpc::ServerContext* context, const v1::RebuildIndexRequest* request,
                                        v1::RebuildIndexResponse* response) {
  return state_->Handle("RebuildIndex", context, Role::kAdmin, [&]() -> absl::Status {
    std::shared_ptr<const ServingSnapshot> live = state_->live.Get();
    GALAXY_ASSIGN_OR_RETURN(BuildOptions build, BuildOf(*state_, *request, live.get()));
    GALAXY_ASSIGN_OR_RETURN(std::string id, rebuilds_.Start(std::move(build), !request->has_swap() || request->swap()));
    response->set_rebuild_id(id);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::GetRebuildStatus(grpc::ServerContext* context, const v1::GetRebuildStatusRequest* request,
                                            v1::RebuildStatus* response) {
  return state_->Handle("GetRebuildStatus", context, Role::kAdmin, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(*response, rebuilds_.Status(request->rebuild_id()));
    return absl::OkStatus();
  });
}

}  // namespace galaxy
