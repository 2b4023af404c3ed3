#include "server/batcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"

namespace galaxy {
namespace {

// Embeds `images` in one call of `model`: each one's centre crop (uploads come in any size at
// least the model's), concatenated.
absl::StatusOr<EmbedOutput> EmbedAll(const Embedder& model, const std::vector<const DecodedImage*>& images,
                                     const EmbedParts& parts) {
  const int side = static_cast<int>(model.metadata().image_size);
  const int bands = model.metadata().bands();
  std::vector<float> pixels, e_bv;
  pixels.reserve(images.size() * static_cast<size_t>(bands) * static_cast<size_t>(side) * static_cast<size_t>(side));
  for (const DecodedImage* image : images) {
    AppendCentreCrop(image->pixels.data(), bands, image->height, image->width, side, &pixels);
    e_bv.push_back(image->e_bv);
  }
  ImageBatch batch;
  batch.pixels = pixels.data();
  batch.e_bv = e_bv.data();
  batch.n = static_cast<int>(images.size());
  batch.height = side;
  batch.width = side;
  absl::StatusOr<EmbedOutput> out = model.Embed(batch, parts);
  if (out.ok() && out->FirstNonFinite(batch.n) >= 0) {
    return absl::InternalError("the model gave a non-finite embedding");
  }
  return out;
}

}  // namespace

struct DynamicBatcher::Pending {
  const Embedder* model = nullptr;
  std::vector<const DecodedImage*> images;
  EmbedParts parts;
  absl::Time deadline;
  absl::Time queued_at;
  EmbedDone done;
  absl::StatusOr<EmbedOutput> result;
};

DynamicBatcher::DynamicBatcher(const BatcherOptions& options, std::function<void(int)> on_batch,
                               std::function<void(int)> on_queue)
    : options_(options), on_batch_(std::move(on_batch)), on_queue_(std::move(on_queue)) {
  const int workers = options_.workers > 0 ? options_.workers : (options_.enabled ? 2 : 16);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Work(); });
}

DynamicBatcher::~DynamicBatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void DynamicBatcher::Submit(const Embedder& model, std::vector<const DecodedImage*> images, absl::Time deadline,
                            const EmbedParts& parts, EmbedDone done) {
  if (images.empty()) {
    done(EmbedOutput());
    return;
  }
  auto pending = std::make_shared<Pending>();
  pending->model = &model;
  pending->images = std::move(images);
  pending->parts = parts;
  pending->deadline = deadline;
  pending->queued_at = absl::Now();
  pending->done = std::move(done);
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      CountQueued(static_cast<int>(pending->images.size()));
      queue_.push_back(std::move(pending));
      return;
    }
  }
  pending->done(absl::UnavailableError("the server is shutting down"));
}

absl::StatusOr<EmbedOutput> DynamicBatcher::Run(const Embedder& model, std::vector<const DecodedImage*> images,
                                                absl::Time deadline, const EmbedParts& parts) {
  absl::Notification answered;
  absl::StatusOr<EmbedOutput> result;
  Submit(model, std::move(images), deadline, parts, [&](absl::StatusOr<EmbedOutput> out) {
    result = std::move(out);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void DynamicBatcher::CountQueued(int n) {
  queued_images_ += n;
  if (on_queue_) on_queue_(queued_images_);
}

std::vector<std::shared_ptr<DynamicBatcher::Pending>> DynamicBatcher::Take(bool* stopping) {
  std::vector<std::shared_ptr<Pending>> batch;
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](DynamicBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) { return b->stopping_ || !b->queue_.empty(); },
      this));
  *stopping = stopping_;
  if (stopping_) {
    for (auto& p : queue_) {
      p->result = absl::UnavailableError("the server is shutting down");
      batch.push_back(std::move(p));
    }
    queue_.clear();
    CountQueued(-queued_images_);
    return batch;
  }
  if (!options_.enabled) {
    CountQueued(-static_cast<int>(queue_.front()->images.size()));
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
    return batch;
  }
  // Wait for company until the oldest request has waited max_delay or the batch is full.
  const absl::Time until = queue_.front()->queued_at + options_.max_delay;
  const Embedder* model = queue_.front()->model;
  const auto full = [this, model]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    int images = 0;
    for (const auto& p : queue_) {
      if (p->model == model) images += static_cast<int>(p->images.size());
    }
    return stopping_ || images >= options_.max_batch;
  };
  while (!full() && absl::Now() < until) {
    mu_.AwaitWithDeadline(absl::Condition(&full), until);
  }
  // Requests of the same model, in order, up to max_batch images (the first always).
  int images = 0;
  for (auto it = queue_.begin(); it != queue_.end();) {
    const int n = static_cast<int>((*it)->images.size());
    if ((*it)->model == model && (batch.empty() || images + n <= options_.max_batch)) {
      images += n;
      CountQueued(-n);
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  return batch;
}

void DynamicBatcher::Work() {
  while (true) {
    std::vector<std::shared_ptr<Pending>> batch;
    {
      std::unique_lock<std::mutex> turn(model_turn_, std::defer_lock);
      if (options_.enabled) turn.lock();
      bool stopping = false;
      batch = Take(&stopping);
      if (stopping) {  // what was queued is refused
        if (turn.owns_lock()) turn.unlock();
        for (auto& p : batch) p->done(std::move(p->result));
        return;
      }
      // Requests whose deadline passed while queued do not run.
      const absl::Time now = absl::Now();
      std::vector<Pending*> live;
      std::vector<const DecodedImage*> inputs;
      EmbedParts parts;
      for (auto& p : batch) {
        if (now >= p->deadline) {
          p->result = absl::DeadlineExceededError("deadline passed while waiting for the model");
        } else {
          live.push_back(p.get());
          inputs.insert(inputs.end(), p->images.begin(), p->images.end());
          parts.redshift = parts.redshift || p->parts.redshift;
          parts.turn_average = parts.turn_average || p->parts.turn_average;
        }
      }
      if (!live.empty()) {
        if (on_batch_) on_batch_(static_cast<int>(inputs.size()));
        const absl::StatusOr<EmbedOutput> all = EmbedAll(*live.front()->model, inputs, parts);
        int first = 0;
        for (Pending* p : live) {
          const int n = static_cast<int>(p->images.size());
          p->result = all.ok() ? absl::StatusOr<EmbedOutput>(all->Rows(static_cast<int>(inputs.size()), first, n))
                               : absl::StatusOr<EmbedOutput>(all.status());
          first += n;
        }
      }
    }
    // The model is free for the next batch while these requests finish.
    for (auto& p : batch) p->done(std::move(p->result));
  }
}

}  // namespace galaxy
