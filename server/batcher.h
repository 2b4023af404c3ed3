// Dynamic batching of image queries: concurrent requests that need the model wait together for
// at most `max_delay`, then share one forward pass of up to `max_batch` images (on the GPU when
// the model is there). A request never waits longer than max_delay for company, and one whose
// deadline passes while queued is answered DEADLINE_EXCEEDED without running.
//
// The batcher's own threads run the model and then each request's continuation (the search and
// the answer of a SimilarGalaxies call): no thread waits for the model on a caller's behalf.
// While one worker finishes the last batch's requests, the other collects and runs the next.
//
//   max_delay 0: no waiting; whatever is queued when the model is free runs together.
//   enabled false: each request runs the model alone on one of `workers` threads (the baseline
//   the benchmark compares).
#ifndef GALAXY_SERVER_BATCHER_H_
#define GALAXY_SERVER_BATCHER_H_

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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
  // Threads that run the model and the requests' continuations; 0: 2 with batching (one runs the
  // model while the other finishes the previous batch's requests), 16 without (that many
  // requests run the model at once).
  int workers = 0;
};

// What a request does with its rows of the model's output (or the reason it has none).
using EmbedDone = std::function<void(absl::StatusOr<EmbedOutput>)>;

class DynamicBatcher {
 public:
  // `on_batch` (may be empty) is told the size of every forward pass, `on_queue` (may be empty)
  // how many images wait for the model whenever that changes; for metrics.
  DynamicBatcher(const BatcherOptions& options, std::function<void(int)> on_batch,
                 std::function<void(int)> on_queue = nullptr);
  // Fails what is still queued with UNAVAILABLE (its continuations run) and stops the workers.
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Embeds `images` (all for the same model, each at least the model's size; it sees their
  // centre crops) with `model`, batched with other callers' images of the same model; with
  // what `parts` asks besides the embeddings (a batch runs the redshift head, or the eight turns
  // and mirrors, when any of its callers asks). Then calls `done` with this request's rows, on a
  // worker thread; on the calling thread only when the request is refused at once (no images:
  // an empty output; shutting down: UNAVAILABLE).
  // `model` and the images must stay alive until `done` is called (callers hold the snapshot).
  void Submit(const Embedder& model, std::vector<const DecodedImage*> images, absl::Time deadline,
              const EmbedParts& parts, EmbedDone done);

  // Submit, waiting for the answer: for synchronous RPCs, which own their thread.
  absl::StatusOr<EmbedOutput> Run(const Embedder& model, std::vector<const DecodedImage*> images,
                                  absl::Time deadline, const EmbedParts& parts);

  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending;
  void Work();
  // The next requests to run together, waiting for company when batching; when stopping, every
  // queued request, each failed with UNAVAILABLE.
  std::vector<std::shared_ptr<Pending>> Take(bool* stopping);
  // Counts images into (`n` > 0) or out of the queue, and tells on_queue.
  void CountQueued(int n) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const BatcherOptions options_;
  const std::function<void(int)> on_batch_, on_queue_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  int queued_images_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // With batching, held by the worker whose turn it is to collect a batch and run the model.
  std::mutex model_turn_;
  std::vector<std::thread> workers_;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_BATCHER_H_
