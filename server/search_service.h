// The galaxy.v1 services over the live snapshot.
//
// Every RPC goes through one wrapper (ServiceState::Handle): authentication, the snapshot the
// call will read from start to end, deadline checks, metrics by RPC and status code, and one log
// line per failed call (code, message, peer; never a token).
#ifndef GALAXY_SERVER_SEARCH_SERVICE_H_
#define GALAXY_SERVER_SEARCH_SERVICE_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "server/auth.h"
#include "server/batcher.h"
#include "server/metrics.h"
#include "server/serving_snapshot.h"
#include "server/server_options.h"

namespace galaxy {

// A fixed set of threads running queued tasks (image queries of SimilarGalaxies: they wait for the
// model, which must not happen on gRPC's callback threads). Persistent threads keep LibTorch's
// per-thread state warm. Runs what is queued, then stops, on destruction.
class TaskPool {
 public:
  explicit TaskPool(int threads);
  ~TaskPool();
  void Run(std::function<void()> task);

 private:
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// What both services share. Thread-safe.
struct ServiceState {
  explicit ServiceState(const ServerOptions& options);

  const ServerOptions options;
  const RequestLimits limits;
  SnapshotHolder live;
  Metrics metrics;
  DynamicBatcher batcher;
  TaskPool image_tasks;
  std::optional<TokenAuth> auth;
  // Told whether a snapshot is being served (health).
  std::function<void(bool)> on_serving;

  // Opens `version` of the snapshots directory and makes it live. FAILED_PRECONDITION with the
  // reason when it does not open (the old snapshot keeps serving). Serialised.
  absl::Status SwapTo(const std::string& version, std::string* previous);
  absl::Mutex swap_mu;

  // Runs `body` as RPC `rpc` (auth for `role`, metrics, logging) and converts its status.
  grpc::Status Handle(const char* rpc, grpc::ServerContextBase* context, Role role,
                      const std::function<absl::Status()>& body);
};

// SimilarGalaxies, the hot path, uses gRPC's callback API: by-ID, vector and position queries are
// answered on the thread that received them (no hand-off to a thread pool); image queries, which
// wait for the model batcher, move to a thread of their own so that they never block gRPC's.
// The other RPCs are synchronous.
class SearchService final : public v1::GalaxySearch::WithCallbackMethod_SimilarGalaxies<v1::GalaxySearch::Service> {
 public:
  explicit SearchService(ServiceState* state) : state_(state) {}

  grpc::ServerUnaryReactor* SimilarGalaxies(grpc::CallbackServerContext*, const v1::SimilarGalaxiesRequest*,
                                            v1::SimilarGalaxiesResponse*) override;
  grpc::Status BatchSimilarGalaxies(grpc::ServerContext*, const v1::BatchSimilarGalaxiesRequest*,
                                    v1::BatchSimilarGalaxiesResponse*) override;
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

class AdminService final : public v1::GalaxyAdmin::Service {
 public:
  explicit AdminService(ServiceState* state) : state_(state) {}
  // Cancels a running rebuild and waits for it to stop (nothing is published by it then).
  ~AdminService() override { Stop(); }
  void Stop();

  grpc::Status RebuildIndex(grpc::ServerContext*, const v1::RebuildIndexRequest*, v1::RebuildIndexResponse*) override;
  grpc::Status GetRebuildStatus(grpc::ServerContext*, const v1::GetRebuildStatusRequest*, v1::RebuildStatus*) override;
  grpc::Status ReloadSnapshot(grpc::ServerContext*, const v1::ReloadSnapshotRequest*,
                              v1::ReloadSnapshotResponse*) override;

 private:
  ServiceState* state_;
  absl::Mutex mu_;
  std::map<std::string, v1::RebuildStatus> rebuilds_ ABSL_GUARDED_BY(mu_);
  std::string latest_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  // Set on destruction: a running rebuild stops at its next progress report, unpublished.
  std::atomic<bool> cancel_{false};
  std::thread worker_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_SEARCH_SERVICE_H_
