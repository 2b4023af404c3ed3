#include "server/search_service.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/command_line.h"

namespace galaxy {
namespace {

grpc::Status NotYet(const char* rpc) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat(rpc, " is not implemented in galaxy-search ", Version()));
}

}  // namespace

grpc::Status SearchService::SimilarGalaxies(grpc::ServerContext*,
                                            const v1::SimilarGalaxiesRequest*,
                                            v1::SimilarGalaxiesResponse*) {
  return NotYet("SimilarGalaxies");
}

grpc::Status SearchService::BatchSimilarGalaxies(grpc::ServerContext*,
                                                 const v1::BatchSimilarGalaxiesRequest*,
                                                 v1::BatchSimilarGalaxiesResponse*) {
  return NotYet("BatchSimilarGalaxies");
}

grpc::Status SearchService::PredictRedshift(grpc::ServerContext*,
                                            const v1::PredictRedshiftRequest*,
                                            v1::PredictRedshiftResponse*) {
  return NotYet("PredictRedshift");
}

grpc::Status SearchService::ScoreAnomaly(grpc::ServerContext*, const v1::ScoreAnomalyRequest*,
                                         v1::ScoreAnomalyResponse*) {
  return NotYet("ScoreAnomaly");
}

grpc::Status SearchService::ListAnomalies(grpc::ServerContext*, const v1::ListAnomaliesRequest*,
                                          v1::ListAnomaliesResponse*) {
  return NotYet("ListAnomalies");
}

grpc::Status SearchService::GetGalaxy(grpc::ServerContext*, const v1::GetGalaxyRequest*,
                                      v1::GalaxyRecord*) {
  return NotYet("GetGalaxy");
}

grpc::Status SearchService::GetIndexInfo(grpc::ServerContext*, const v1::GetIndexInfoRequest*,
                                         v1::IndexInfo* response) {
  // No snapshot is served yet: snapshot_version stays empty, as the contract says.
  response->set_server_version(std::string(Version()));
  v1::ServerLimits* limits = response->mutable_limits();
  limits->set_max_k(options_.max_k);
  limits->set_max_batch(options_.max_batch);
  limits->set_max_message_bytes(options_.max_message_bytes);
  limits->set_max_image_bytes(options_.max_image_bytes);
  return grpc::Status::OK;
}

grpc::Status AdminService::RebuildIndex(grpc::ServerContext*, const v1::RebuildIndexRequest*,
                                        v1::RebuildIndexResponse*) {
  return NotYet("RebuildIndex");
}

grpc::Status AdminService::GetRebuildStatus(grpc::ServerContext*,
                                            const v1::GetRebuildStatusRequest*,
                                            v1::RebuildStatus*) {
  return NotYet("GetRebuildStatus");
}

grpc::Status AdminService::ReloadSnapshot(grpc::ServerContext*, const v1::ReloadSnapshotRequest*,
                                          v1::ReloadSnapshotResponse*) {
  return NotYet("ReloadSnapshot");
}

}  // namespace galaxy
