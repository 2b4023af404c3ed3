// What the galaxy.v1 services share: the live snapshot, the model batcher, metrics, auth, and the
// one way every RPC is answered (ServiceState::Handle, or Admit ... Finish for a call that ends on
// another thread): authentication, the status converted for gRPC, metrics by RPC and status code,
// and one log line per failed call (code, message, peer; never a token).
#ifndef GALAXY_SERVER_SERVICE_STATE_H_
#define GALAXY_SERVER_SERVICE_STATE_H_

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/auth.h"
#include "server/batcher.h"
#include "server/label_store.h"
#include "server/metrics.h"
#include "server/request_validation.h"
#include "server/server_options.h"
#include "server/serving_snapshot.h"

namespace galaxy {

// Thread-safe.
struct ServiceState {
  // `load_embedder`: how snapshots' models are loaded (empty: LoadEmbedder; tests give a fake).
  ServiceState(const ServerOptions& options, EmbedderLoader load_embedder);

  const ServerOptions options;
  const EmbedderLoader load_embedder;
  const RequestLimits limits;
  SnapshotHolder live;
  Metrics metrics;
  DynamicBatcher batcher;
  std::optional<TokenAuth> auth;
  // Set before the server takes calls.
  std::unique_ptr<LabelStore> labels;
  // Told whether a snapshot is being served (health).
  std::function<void(bool)> on_serving;

  // The live snapshot; FAILED_PRECONDITION saying how to publish one when none is loaded.
  absl::StatusOr<std::shared_ptr<const ServingSnapshot>> Live() const;

  // Opens `version` of the snapshots directory and makes it live. FAILED_PRECONDITION with the
  // reason when it does not open (the old snapshot keeps serving). Serialised.
  absl::Status SwapTo(const std::string& version, std::string* previous);

  // Runs `body` as RPC `rpc` (auth for `role`, metrics, logging) and converts its status.
  grpc::Status Handle(const char* rpc, grpc::ServerContextBase* context, Role role,
                      const std::function<absl::Status()>& body);
  // The two ends of Handle, for a call answered later on another thread: Admit checks the
  // caller's token for `role`; Finish records and logs the outcome of a call admitted at `start`.
  absl::Status Admit(grpc::ServerContextBase* context, Role role) const;
  // Who an admitted call comes from: its token's holder; nullopt without tokens.
  std::optional<Caller> CallerOf(grpc::ServerContextBase* context) const;
  grpc::Status Finish(const char* rpc, grpc::ServerContextBase* context, absl::Time start, const absl::Status& status);

 private:
  absl::Mutex swap_mu_;
};

// Metadata the HTTP gateway (server/http_gateway.h) adds to its in-process calls: the HTTP
// client's address, for the logs.
inline constexpr char kHttpPeerMetadata[] = "x-galaxy-http-peer";

// The call's `authorization` metadata ("" when absent).
absl::string_view AuthorizationOf(const grpc::ServerContextBase* context);

// Who is calling, for the logs: the gRPC peer, or "http:ADDRESS" for a call of the HTTP gateway.
std::string PeerOf(grpc::ServerContextBase* context);

// `body`'s status, or INTERNAL naming `rpc` and the exception it threw.
absl::Status Guarded(const char* rpc, const std::function<absl::Status()>& body);

// The call's deadline (InfiniteFuture when it has none).
absl::Time DeadlineOf(const grpc::ServerContextBase* context);

// DEADLINE_EXCEEDED or CANCELLED when the caller no longer waits for the answer.
absl::Status StillWanted(grpc::ServerContextBase* context);

}  // namespace galaxy

#endif  // GALAXY_SERVER_SERVICE_STATE_H_
