// The galaxy.v1.GalaxySearch service. GetIndexInfo reports the server's limits and version (and
// an empty snapshot until snapshot serving lands); the query RPCs answer UNIMPLEMENTED with a
// message naming the RPC until their implementation lands.
#ifndef GALAXY_SERVER_SEARCH_SERVICE_H_
#define GALAXY_SERVER_SEARCH_SERVICE_H_

#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/server_options.h"

namespace galaxy {

// Thread-safe: gRPC calls the methods concurrently.
class SearchService final : public galaxy::v1::GalaxySearch::Service {
 public:
  explicit SearchService(const ServerOptions& options) : options_(options) {}

  grpc::Status SimilarGalaxies(grpc::ServerContext*, const v1::SimilarGalaxiesRequest*,
                               v1::SimilarGalaxiesResponse*) override;
  grpc::Status BatchSimilarGalaxies(grpc::ServerContext*, const v1::BatchSimilarGalaxiesRequest*,
                                    v1::BatchSimilarGalaxiesResponse*) override;
  grpc::Status PredictRedshift(grpc::ServerContext*, const v1::PredictRedshiftRequest*,
                               v1::PredictRedshiftResponse*) override;
  grpc::Status ScoreAnomaly(grpc::ServerContext*, const v1::ScoreAnomalyRequest*,
                            v1::ScoreAnomalyResponse*) override;
  grpc::Status ListAnomalies(grpc::ServerContext*, const v1::ListAnomaliesRequest*,
                             v1::ListAnomaliesResponse*) override;
  grpc::Status GetGalaxy(grpc::ServerContext*, const v1::GetGalaxyRequest*,
                         v1::GalaxyRecord*) override;
  grpc::Status GetIndexInfo(grpc::ServerContext*, const v1::GetIndexInfoRequest*,
                            v1::IndexInfo* response) override;

 private:
  const ServerOptions options_;
};

// The galaxy.v1.GalaxyAdmin service: every RPC answers UNIMPLEMENTED until snapshot rebuilding
// and reloading land.
class AdminService final : public galaxy::v1::GalaxyAdmin::Service {
 public:
  grpc::Status RebuildIndex(grpc::ServerContext*, const v1::RebuildIndexRequest*,
                            v1::RebuildIndexResponse*) override;
  grpc::Status GetRebuildStatus(grpc::ServerContext*, const v1::GetRebuildStatusRequest*,
                                v1::RebuildStatus*) override;
  grpc::Status ReloadSnapshot(grpc::ServerContext*, const v1::ReloadSnapshotRequest*,
                              v1::ReloadSnapshotResponse*) override;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_SEARCH_SERVICE_H_
