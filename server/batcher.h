// Dynamic batching of image queries: concurrent requests that need the model wait together for
// at most `max_delay`, then share one forward pass of up to `max_batch` images (on the GPU when
// the model is there). A request never waits longer than max_delay for company, and one whose
// deadline passes while queued is answered DEADLINE_EXCEEDED without running.
//
//   max_delay 0: no waiting; whatever is queued when the model is free runs together.
//   enabled false: each request runs the model itself (the baseline the benchmark compares).
#ifndef GALAXY_SERVER_BATCHER_H_
#define GALAXY_SERVER_BATCHER_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "model/embedder.h"
#include "server/request_validation.h"

namespace galaxy {

struct BatcherOptions {
  bool enabled = true;
  // Most images in one forward pass. Default 64.
  int max_batch = 64;
  // Longest a request waits for others to join its batch. Default 2 ms.
  absl::Duration max_delay = absl::Milliseconds(2);
};

class DynamicBatcher {
 public:
  // `on_batch` (may be empty) is told the size of every forward pass, for metrics.
  DynamicBatcher(const BatcherOptions& options, std::function<void(int)> on_batch);
  // Fails what is still queued with UNAVAILABLE and stops the worker.
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Embeds `images` (all for the same model; each already centre-cropped to the model's size)
  // with `model`, batched with other callers' images of the same model; with their redshift
  // pdfs when `redshift` (a batch runs the redshift head when any of its callers asks). `model`
  // must stay alive until this returns (callers hold its snapshot).
  absl::StatusOr<EmbedOutput> Run(const Embedder& model, const std::vector<const DecodedImage*>& images,
                                  absl::Time deadline, bool redshift);

  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending;
  void Work();

  const BatcherOptions options_;
  const std::function<void(int)> on_batch_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_BATCHER_H_
