// Prometheus metrics of the server, rendered in the text exposition format (version 0.0.4) and
// served on `--metrics-listen` at GET /metrics:
//   galaxy_requests_total{rpc,code}                 counter
//   galaxy_request_duration_seconds{rpc}            histogram
//   galaxy_model_batch_size                         histogram (images per forward pass)
//   galaxy_model_queue_images                       gauge, images waiting for the model
//   galaxy_snapshot_info{version}                   1 for the live snapshot
//   galaxy_index_galaxies                           gauge
//   galaxy_snapshot_swaps_total                     counter
//   galaxy_rebuild_state{state}                     1 for the current state (idle/running/...)
//   galaxy_rebuild_progress_ratio                   gauge, 0..1 of the current phase
#ifndef GALAXY_SERVER_METRICS_H_
#define GALAXY_SERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace galaxy {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
  void Observe(double value);
  // Prometheus lines for `name` with `labels` ("" or `rpc="X"`).
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void RecordRequest(const std::string& rpc, const std::string& code, double seconds);
  void RecordBatch(int images);
  void SetModelQueue(int images);
  void SetSnapshot(const std::string& version, int64_t galaxies);
  void RecordSwap();
  void SetRebuild(const std::string& state, double progress);
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> requests_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Histogram> latency_ ABSL_GUARDED_BY(mu_);
  Histogram batch_ ABSL_GUARDED_BY(mu_);
  int model_queue_ ABSL_GUARDED_BY(mu_) = 0;
  std::string snapshot_version_ ABSL_GUARDED_BY(mu_);
  int64_t galaxies_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t swaps_ ABSL_GUARDED_BY(mu_) = 0;
  std::string rebuild_state_ ABSL_GUARDED_BY(mu_) = "idle";
  double rebuild_progress_ ABSL_GUARDED_BY(mu_) = 0;
};

// An HTTP listener answering GET /metrics (and GET /healthz with "ok"). Stops on destruction.
class MetricsHttpServer {
 public:
  // Binds `listen` (host:port; port 0 picks one). UNAVAILABLE when it cannot.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& listen, const Metrics* metrics);
  ~MetricsHttpServer();
  int port() const { return port_; }

 private:
  struct Impl;
  MetricsHttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_METRICS_H_
