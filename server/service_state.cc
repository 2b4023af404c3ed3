#include "server/service_state.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "proto/rpc_status.h"

namespace galaxy {
namespace {

RequestLimits LimitsOf(const ServerOptions& o) { return RequestLimits{o.max_k, o.max_batch, o.max_image_bytes}; }

BatcherOptions BatcherOf(const ServerOptions& o) {
  BatcherOptions b;
  b.enabled = o.batching;
  b.max_batch = o.batch_max_size;
  b.max_delay = absl::Microseconds(static_cast<int64_t>(o.batch_max_delay_ms * 1000));
  return b;
}

}  // namespace

ServiceState::ServiceState(const ServerOptions& o, EmbedderLoader load)
    : options(o),
      load_embedder(std::move(load)),
      limits(LimitsOf(o)), batcher(
          BatcherOf(o), [this](int n) { metrics.RecordBatch(n); }, [this](int n) { metrics.SetModelQueue(n); }) {}

absl::StatusOr<std::shared_ptr<const ServingSnapshot>> ServiceState::Live() const {
  std::shared_ptr<const ServingSnapshot> snap = live.Get();
  if (snap == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no snapshot is loaded yet: publish one into ", options.snapshots_dir,
                     " (galaxy-index build, or the RebuildIndex RPC), then call ReloadSnapshot"));
  }
  return snap;
}

absl::Status ServiceState::SwapTo(const std::string& version, std::string* previous) {
  absl::MutexLock lock(&swap_mu_);
  std::shared_ptr<const ServingSnapshot> old = live.Get();
  if (previous != nullptr) *previous = old ? old->version() : "";
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const ServingSnapshot>> next =
      ServingSnapshot::Open(options.snapshots_dir + "/" + version, options.device, load_embedder);
  if (!next.ok()) {
    log::Error("snapshot refused; the old one keeps serving",
               {{"version", version}, {"serving", old ? old->version() : "none"}, {"reason", next.status().message()}});
    return absl::FailedPreconditionError(absl::StrCat("snapshot ", version, " refused (", next.status().message(),
                                                      "); still serving ", old ? old->version() : "none"));
  }
  live.Swap(*next);
  metrics.SetSnapshot(version, (*next)->count());
  metrics.RecordSwap();
  if (on_serving) on_serving(true);
  log::Info("serving snapshot", {{"version", version},
                                 {"galaxies", absl::StrCat((*next)->count())},
                                 {"previous", old ? old->version() : "none"},
                                 {"load_seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  return absl::OkStatus();
}

absl::string_view AuthorizationOf(const grpc::ServerContextBase* context) {
  const auto& md = context->client_metadata();
  auto it = md.find("authorization");
  return it == md.end() ? absl::string_view() : absl::string_view(it->second.data(), it->second.size());
}

std::string PeerOf(grpc::ServerContextBase* context) {
  std::string peer = context->peer();
  // Calls of the HTTP gateway arrive in process (gRPC names no peer for them: "unknown"); the
  // gateway names the HTTP client. A network client's own x-galaxy-http-peer is ignored (its
  // peer is "ipv4:...", "ipv6:..." or "unix:..."): it could say anything.
  if (peer == "unknown" || absl::StartsWith(peer, "inproc")) {
    const auto& md = context->client_metadata();
    auto it = md.find(kHttpPeerMetadata);
    if (it != md.end()) peer = absl::StrCat("http:", absl::string_view(it->second.data(), it->second.size()));
  }
  return peer;
}

absl::Status ServiceState::Admit(grpc::ServerContextBase* context, Role role) const {
  if (!auth) return absl::OkStatus();
  return auth->Check(AuthorizationOf(context), role);
}

std::optional<Caller> ServiceState::CallerOf(grpc::ServerContextBase* context) const {
  if (!auth) return std::nullopt;
  absl::StatusOr<Caller> caller = auth->Identify(AuthorizationOf(context));
  if (!caller.ok()) return std::nullopt;
  return *caller;
}

grpc::Status ServiceState::Finish(const char* rpc, grpc::ServerContextBase* context, absl::Time start,
                                  const absl::Status& status) {
  const std::string code = absl::StatusCodeToString(status.code());
  metrics.RecordRequest(rpc, code, absl::ToDoubleSeconds(absl::Now() - start));
  if (!status.ok()) {
    const std::string peer = PeerOf(context);
    const log::Fields fields = {{"rpc", rpc}, {"code", code}, {"error", status.message()}, {"peer", peer}};
    if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kDataLoss) {
      log::Error("request failed", fields);
    } else {
      log::Info("request refused", fields);
    }
  }
  return ToGrpcStatus(status);
}

grpc::Status ServiceState::Handle(const char* rpc, grpc::ServerContextBase* context, Role role,
                                  const std::function<absl::Status()>& body) {
  const absl::Time start = absl::Now();
  absl::Status status = Admit(context, role);
  if (status.ok()) status = Guarded(rpc, body);
  return Finish(rpc, context, start, status);
}

absl::Status Guarded(const char* rpc, const std::function<absl::Status()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(rpc, ": ", e.what()));
  }
}

absl::Time DeadlineOf(const grpc::ServerContextBase* context) {
  const auto d = context->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

absl::Status StillWanted(grpc::ServerContextBase* context) {
  if (context->IsCancelled()) return absl::CancelledError("the call was cancelled by the client");
  if (absl::Now() >= DeadlineOf(context)) return absl::DeadlineExceededError("the call's deadline passed");
  return absl::OkStatus();
}

}  // namespace galaxy
