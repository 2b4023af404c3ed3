// galaxy.v1.GalaxySearch over the live snapshot.
//
// SimilarGalaxies, the hot path, uses gRPC's callback API: by-ID, vector and position queries are
// answered on the thread that received them; image queries are handed to the model batcher, whose
// thread runs the search and finishes the call once the model has embedded the image (no thread
// waits on the call's behalf). The other RPCs are synchronous.
#ifndef GALAXY_SERVER_SEARCH_SERVICE_H_
#define GALAXY_SERVER_SEARCH_SERVICE_H_

#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/service_state.h"

namespace galaxy {

class SearchService final : public v1::GalaxySearch::WithCallbackMethod_SimilarGalaxies<v1::GalaxySearch::Service> {
 public:
  explicit SearchService(ServiceState* state) : state_(state) {}

  grpc::ServerUnaryReactor* SimilarGalaxies(grpc::CallbackServerContext*, const v1::SimilarGalaxiesRequest*,
                                            v1::SimilarGalaxiesResponse*) override;
  grpc::Status BatchSimilarGalaxies(grpc::ServerContext*, const v1::BatchSimilarGalaxiesRequest*,
                                    v1::BatchSimilarGalaxiesResponse*) override;
  grpc::Status Recommend(grpc::ServerContext*, const v1::RecommendRequest*, v1::SimilarGalaxiesResponse*) override;
  grpc::Status RankByExamples(grpc::ServerContext*, const v1::RankByExamplesRequest*,
                              v1::RankByExamplesResponse*) override;
  grpc::Status StreamRankByExamples(grpc::ServerContext*, const v1::RankByExamplesRequest*,
                                    grpc::ServerWriter<v1::RankByExamplesResponse>*) override;
  // Labels (server/label_rpcs.cc).
  grpc::Status AddLabels(grpc::ServerContext*, const v1::AddLabelsRequest*, v1::AddLabelsResponse*) override;
  grpc::Status ListLabels(grpc::ServerContext*, const v1::ListLabelsRequest*, v1::ListLabelsResponse*) override;
  grpc::Status DeleteLabels(grpc::ServerContext*, const v1::DeleteLabelsRequest*, v1::DeleteLabelsResponse*) override;
  grpc::Status ExportLabels(grpc::ServerContext*, const v1::ExportLabelsRequest*,
                            grpc::ServerWriter<v1::ExportLabelsChunk>*) override;
  grpc::Status PredictRedshift(grpc::ServerContext*, const v1::PredictRedshiftRequest*,
                               v1::PredictRedshiftResponse*) override;
  grpc::Status ScoreAnomaly(grpc::ServerContext*, const v1::ScoreAnomalyRequest*, v1::ScoreAnomalyResponse*) override;
  grpc::Status ListAnomalies(grpc::ServerContext*, const v1::ListAnomaliesRequest*,
                             v1::ListAnomaliesResponse*) override;
  grpc::Status GetGalaxy(grpc::ServerContext*, const v1::GetGalaxyRequest*, v1::GalaxyRecord*) override;
  grpc::Status GetIndexInfo(grpc::ServerContext*, const v1::GetIndexInfoRequest*, v1::IndexInfo*) override;

 private:
  ServiceState* state_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_SEARCH_SERVICE_H_
