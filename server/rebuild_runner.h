// The RebuildIndex RPC's work: one snapshot build at a time on a thread of its own, and every
// build's status (phase, progress, ETA, outcome) for GetRebuildStatus.
#ifndef GALAXY_SERVER_REBUILD_RUNNER_H_
#define GALAXY_SERVER_REBUILD_RUNNER_H_

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "galaxy/v1/galaxy.pb.h"
#include "indexer/snapshot_builder.h"
#include "server/metrics.h"

namespace galaxy {

class RebuildRunner {
 public:
  // `publish` makes a built snapshot version live (for builds started with swap).
  RebuildRunner(Metrics* metrics, std::function<absl::Status(const std::string& version)> publish)
      : metrics_(metrics), publish_(std::move(publish)) {}
  // Stop().
  ~RebuildRunner();
  RebuildRunner(const RebuildRunner&) = delete;
  RebuildRunner& operator=(const RebuildRunner&) = delete;

  // Starts building `build` (the runner sets its cancel flag), publishing the result when `swap`.
  // Returns the new rebuild's ID; FAILED_PRECONDITION when one is still running.
  absl::StatusOr<std::string> Start(BuildOptions build, bool swap);

  // The status of rebuild `id` ("": the latest; STATE_IDLE when none has run). NOT_FOUND for an
  // unknown ID.
  absl::StatusOr<v1::RebuildStatus> Status(const std::string& id);

  // Cancels a running build and waits for it to stop (a cancelled build publishes nothing).
  void Stop();

 private:
  void Run(const std::string& id, const BuildOptions& build, bool swap);

  Metrics* const metrics_;
  const std::function<absl::Status(const std::string&)> publish_;
  absl::Mutex mu_;
  std::map<std::string, v1::RebuildStatus> rebuilds_ ABSL_GUARDED_BY(mu_);
  std::string latest_ ABSL_GUARDED_BY(mu_);
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  // Set by Stop: a running build stops at its next progress report, unpublished.
  std::atomic<bool> cancel_{false};
  std::thread worker_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_REBUILD_RUNNER_H_
