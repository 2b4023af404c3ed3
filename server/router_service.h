// GalaxySearch as a router over shard servers (galaxy-server --shards FILE; server/shard_set.h).
//
// Each shard is an ordinary galaxy-server over the snapshot of one shard of the survey
// (galaxy-index build --shard I --shards N: the galaxies whose ID hashes to I). The router
// holds no snapshot; it answers:
//   SimilarGalaxies, BatchSimilarGalaxies, Recommend
//       by-ID (and by-position) queries fetch the galaxy's stored embedding from the shard that
//       owns it, then every shard is searched with that vector (the galaxy excluded) and the
//       answers merged by score: exactly the neighbours and scores of one index over the whole
//       survey. Image and vector queries go to every shard as they are.
//   GetGalaxy, PredictRedshift, ScoreAnomaly
//       by ID to the owning shard; images to one serving shard (each shard is a uniform sample
//       of the survey, so an image's anomaly score is measured against a sample of it).
//   ListAnomalies
//       the shards' rankings merged by anomaly score, paged (each shard scored its galaxies
//       against its own galaxies; shards are uniform samples, so the scores are comparable).
//   GetIndexInfo
//       the shards' snapshots summed, with each shard's state.
// A shard that does not answer in time (down, or past --shard-timeout-ms or the caller's
// deadline) fails the call with UNAVAILABLE naming it, or, with `allow_partial`, leaves the
// answer to the others with the shard named in `missing_shards`. Errors a shard gives about the
// request itself (INVALID_ARGUMENT, NOT_FOUND, ...) are the router's answer. RankByExamples and
// the label RPCs are not served through a router yet (UNIMPLEMENTED, saying so), nor are
// `diversity` and `duplicate_threshold`, which need the whole candidate list in one place.
#ifndef GALAXY_SERVER_ROUTER_SERVICE_H_
#define GALAXY_SERVER_ROUTER_SERVICE_H_

#include <memory>

#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/shard_set.h"

namespace galaxy {

struct ServiceState;

class RouterService final : public v1::GalaxySearch::Service {
 public:
  // `state`: auth, metrics and logs of the router's own calls; `shards` must outlive this.
  RouterService(ServiceState* state, ShardSet* shards, absl::Duration shard_timeout);

  grpc::Status SimilarGalaxies(grpc::ServerContext* context, const v1::SimilarGalaxiesRequest* request,
                               v1::SimilarGalaxiesResponse* response) override;
  grpc::Status BatchSimilarGalaxies(grpc::ServerContext* context, const v1::BatchSimilarGalaxiesRequest* request,
                                    v1::BatchSimilarGalaxiesResponse* response) override;
  grpc::Status Recommend(grpc::ServerContext* context, const v1::RecommendRequest* request,
                         v1::SimilarGalaxiesResponse* response) override;
  grpc::Status GetGalaxy(grpc::ServerContext* context, const v1::GetGalaxyRequest* request,
                         v1::GalaxyRecord* response) override;
  grpc::Status PredictRedshift(grpc::ServerContext* context, const v1::PredictRedshiftRequest* request,
                               v1::PredictRedshiftResponse* response) override;
  grpc::Status ScoreAnomaly(grpc::ServerContext* context, const v1::ScoreAnomalyRequest* request,
                            v1::ScoreAnomalyResponse* response) override;
  grpc::Status ListAnomalies(grpc::ServerContext* context, const v1::ListAnomaliesRequest* request,
                             v1::ListAnomaliesResponse* response) override;
  grpc::Status GetIndexInfo(grpc::ServerContext* context, const v1::GetIndexInfoRequest* request,
                            v1::IndexInfo* response) override;
  grpc::Status RankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest* request,
                              v1::RankByExamplesResponse* response) override;
  grpc::Status StreamRankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest* request,
                                    grpc::ServerWriter<v1::RankByExamplesResponse>* writer) override;
  grpc::Status AddLabels(grpc::ServerContext* context, const v1::AddLabelsRequest* request,
                         v1::AddLabelsResponse* response) override;
  grpc::Status ListLabels(grpc::ServerContext* context, const v1::ListLabelsRequest* request,
                          v1::ListLabelsResponse* response) override;
  grpc::Status DeleteLabels(grpc::ServerContext* context, const v1::DeleteLabelsRequest* request,
                            v1::DeleteLabelsResponse* response) override;
  grpc::Status ExportLabels(grpc::ServerContext* context, const v1::ExportLabelsRequest* request,
                            grpc::ServerWriter<v1::ExportLabelsChunk>* writer) override;

  // One routed call (defined in the .cc).
  struct Call;

 private:
  ServiceState* const state_;
  ShardSet* const shards_;
  const absl::Duration shard_timeout_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_ROUTER_SERVICE_H_
