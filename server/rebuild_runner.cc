#include "server/rebuild_runner.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace galaxy {

RebuildRunner::~RebuildRunner() { Stop(); }

void RebuildRunner::Stop() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
}

absl::StatusOr<std::string> RebuildRunner::Start(BuildOptions build, bool swap) {
  absl::MutexLock lock(&mu_);
  if (running_) return absl::FailedPreconditionError(absl::StrCat("rebuild ", latest_, " is still running"));
  if (worker_.joinable()) worker_.join();  // the previous one has finished
  const std::string id = absl::StrCat("rebuild-", ++started_, "-",
                                      absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone()));
  v1::RebuildStatus& status = rebuilds_[id];
  status.set_rebuild_id(id);
  status.set_state(v1::RebuildStatus::STATE_RUNNING);
  status.set_phase("starting");
  status.mutable_started_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  latest_ = id;
  running_ = true;
  metrics_->SetRebuild("running", 0);
  log::Info("rebuild started", {{"rebuild_id", id}, {"data", build.data_path}, {"model", build.model_path},
                                {"index", IndexKindName(build.index.kind)}});
  build.cancel = &cancel_;
  worker_ = std::thread([this, id, build, swap] { Run(id, build, swap); });
  return id;
}

void RebuildRunner::Run(const std::string& id, const BuildOptions& build, bool swap) {
  const absl::Time start = absl::Now();
  absl::Time phase_start = start;
  std::string phase;
  absl::StatusOr<BuildReport> report = BuildSnapshot(build, [&](const BuildProgress& p) {
    if (p.phase != phase) {
      phase = p.phase;
      phase_start = absl::Now();
    }
    const double fraction = p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0;
    const double elapsed = absl::ToDoubleSeconds(absl::Now() - phase_start);
    absl::MutexLock lock(&mu_);
    v1::RebuildStatus& s = rebuilds_[id];
    s.set_phase(p.phase);
    s.set_done(static_cast<uint64_t>(p.done));
    s.set_total(static_cast<uint64_t>(p.total));
    s.set_eta_seconds(fraction > 0 && fraction < 1 ? elapsed / fraction - elapsed : 0);
    metrics_->SetRebuild("running", fraction);
  });
  absl::Status outcome = report.status();
  if (outcome.ok() && swap) outcome = publish_(report->version);
  absl::MutexLock lock(&mu_);
  v1::RebuildStatus& s = rebuilds_[id];
  s.mutable_finished_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  s.set_eta_seconds(0);
  if (report.ok()) s.set_snapshot_version(report->version);
  if (outcome.ok()) {
    s.set_state(v1::RebuildStatus::STATE_SUCCEEDED);
    s.set_phase("done");
    metrics_->SetRebuild("succeeded", 1);
    log::Info("rebuild succeeded", {{"rebuild_id", id}, {"version", report->version},
                                    {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  } else {
    s.set_state(v1::RebuildStatus::STATE_FAILED);
    s.set_error(std::string(outcome.message()));
    metrics_->SetRebuild("failed", 0);
    log::Error("rebuild failed", {{"rebuild_id", id}, {"error", outcome.message()}});
  }
  running_ = false;
}

absl::StatusOr<v1::RebuildStatus> RebuildRunner::Status(const std::string& requested) {
  absl::MutexLock lock(&mu_);
  const std::string id = requested.empty() ? latest_ : requested;
  v1::RebuildStatus out;
  if (id.empty()) {
    out.set_state(v1::RebuildStatus::STATE_IDLE);
    return out;
  }
  auto it = rebuilds_.find(id);
  if (it == rebuilds_.end()) return absl::NotFoundError(absl::StrCat("rebuild_id: no rebuild '", id, "'"));
  return it->second;
}

}  // namespace galaxy
