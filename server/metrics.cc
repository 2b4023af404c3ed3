#include "server/metrics.h"

#include <httplib.h>

#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "server/server_options.h"

namespace galaxy {
namespace {

const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,    10};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

std::string Number(double v) { return absl::StrFormat("%.9g", v); }

// Escapes a label value (backslash, quote, newline).
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"", Number(bounds_[i]), "\"} ", cumulative, "\n");
  }
  absl::StrAppend(out, name, "_bucket{", labels, sep, "le=\"+Inf\"} ", count_, "\n");
  const std::string braces = labels.empty() ? "" : absl::StrCat("{", labels, "}");
  absl::StrAppend(out, name, "_sum", braces, " ", Number(sum_), "\n", name, "_count", braces, " ", count_, "\n");
}

Metrics::Metrics() : batch_(kBatchBounds) {}

void Metrics::RecordRequest(const std::string& rpc, const std::string& code, double seconds) {
  absl::MutexLock lock(&mu_);
  ++requests_[{rpc, code}];
  latency_.try_emplace(rpc, kLatencyBounds).first->second.Observe(seconds);
}

void Metrics::RecordBatch(int images) {
  absl::MutexLock lock(&mu_);
  batch_.Observe(images);
}

void Metrics::SetModelQueue(int images) {
  absl::MutexLock lock(&mu_);
  model_queue_ = images;
}

void Metrics::SetSnapshot(const std::string& version, int64_t galaxies) {
  absl::MutexLock lock(&mu_);
  snapshot_version_ = version;
  galaxies_ = galaxies;
}

void Metrics::RecordSwap() {
  absl::MutexLock lock(&mu_);
  ++swaps_;
}

void Metrics::SetRebuild(const std::string& state, double progress) {
  absl::MutexLock lock(&mu_);
  rebuild_state_ = state;
  rebuild_progress_ = progress;
}

std::string Metrics::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  out += "# HELP galaxy_requests_total RPCs answered, by method and status code.\n";
  out += "# TYPE galaxy_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    absl::StrAppend(&out, "galaxy_requests_total{rpc=\"", Escape(key.first), "\",code=\"", Escape(key.second), "\"} ",
                    n, "\n");
  }
  out += "# HELP galaxy_request_duration_seconds Time to answer an RPC, by method.\n";
  out += "# TYPE galaxy_request_duration_seconds histogram\n";
  for (const auto& [rpc, h] : latency_) {
    h.Render("galaxy_request_duration_seconds", absl::StrCat("rpc=\"", Escape(rpc), "\""), &out);
  }
  out += "# HELP galaxy_model_batch_size Images per forward pass of the model.\n";
  out += "# TYPE galaxy_model_batch_size histogram\n";
  batch_.Render("galaxy_model_batch_size", "", &out);
  out += "# HELP galaxy_model_queue_images Images of image queries waiting for the model.\n";
  out += "# TYPE galaxy_model_queue_images gauge\n";
  absl::StrAppend(&out, "galaxy_model_queue_images ", model_queue_, "\n");
  out += "# HELP galaxy_snapshot_info The live snapshot (value 1).\n# TYPE galaxy_snapshot_info gauge\n";
  if (!snapshot_version_.empty()) {
    absl::StrAppend(&out, "galaxy_snapshot_info{version=\"", Escape(snapshot_version_), "\"} 1\n");
  }
  out += "# HELP galaxy_index_galaxies Galaxies in the live snapshot.\n# TYPE galaxy_index_galaxies gauge\n";
  absl::StrAppend(&out, "galaxy_index_galaxies ", galaxies_, "\n");
  out += "# HELP galaxy_snapshot_swaps_total Snapshot swaps since start.\n";
  out += "# TYPE galaxy_snapshot_swaps_total counter\n";
  absl::StrAppend(&out, "galaxy_snapshot_swaps_total ", swaps_, "\n");
  out += "# HELP galaxy_rebuild_state State of the latest rebuild (value 1).\n# TYPE galaxy_rebuild_state gauge\n";
  for (const char* state : {"idle", "running", "succeeded", "failed"}) {
    absl::StrAppend(&out, "galaxy_rebuild_state{state=\"", state, "\"} ", rebuild_state_ == state ? 1 : 0, "\n");
  }
  out += "# HELP galaxy_rebuild_progress_ratio Progress of the running rebuild's phase, 0..1.\n";
  out += "# TYPE galaxy_rebuild_progress_ratio gauge\n";
  absl::StrAppend(&out, "galaxy_rebuild_progress_ratio ", Number(rebuild_progress_), "\n");
  return out;
}

struct MetricsHttpServer::Impl {
  httplib::Server http;
  std::thread thread;
};

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(const std::string& listen,
                                                                             const Metrics* metrics) {
  GALAXY_ASSIGN_OR_RETURN(auto host_port, ParseListen("--metrics-listen", listen));
  const auto& [host, port] = host_port;
  std::unique_ptr<MetricsHttpServer> server(new MetricsHttpServer());
  server->impl_ = std::make_unique<Impl>();
  httplib::Server& http = server->impl_->http;
  http.Get("/metrics", [metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen: cannot listen on ", listen));
  }
  server->port_ = bound;
  server->impl_->thread = std::thread([&http] { http.listen_after_bind(); });
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (impl_ == nullptr) return;
  impl_->http.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace galaxy
