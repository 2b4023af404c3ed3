#include "server/batcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace galaxy {
namespace {

// The model's inputs for `images`, concatenated.
void Gather(const std::vector<const DecodedImage*>& images, std::vector<float>* pixels, std::vector<float>* e_bv) {
  for (const DecodedImage* image : images) {
    pixels->insert(pixels->end(), image->pixels.begin(), image->pixels.end());
    e_bv->push_back(image->e_bv);
  }
}

// Embeds the concatenated `images` in one call of `model`.
absl::StatusOr<EmbedOutput> EmbedAll(const Embedder& model, const std::vector<const DecodedImage*>& images,
                                     bool redshift) {
  std::vector<float> pixels, e_bv;
  Gather(images, &pixels, &e_bv);
  const int side = static_cast<int>(model.metadata().image_size);
  ImageBatch batch;
  batch.pixels = pixels.data();
  batch.e_bv = e_bv.data();
  batch.n = static_cast<int>(images.size());
  batch.height = side;
  batch.width = side;
  absl::StatusOr<EmbedOutput> out = model.Embed(batch, redshift);
  if (out.ok() && out->FirstNonFinite(batch.n) >= 0) {
    return absl::InternalError("the model gave a non-finite embedding");
  }
  return out;
}

}  // namespace

struct DynamicBatcher::Pending {
  const Embedder* model;
  const std::vector<const DecodedImage*>* images;
  bool redshift = false;
  absl::Time deadline;
  absl::Time queued_at;
  bool done = false;
  absl::StatusOr<EmbedOutput> result;
};

DynamicBatcher::DynamicBatcher(const BatcherOptions& options, std::function<void(int)> on_batch)
    : options_(options), on_batch_(std::move(on_batch)) {
  if (options_.enabled) worker_ = std::thread([this] { Work(); });
}

DynamicBatcher::~DynamicBatcher() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (worker_.joinable()) worker_.join();
}

absl::StatusOr<EmbedOutput> DynamicBatcher::Run(const Embedder& model, const std::vector<const DecodedImage*>& images,
                                                absl::Time deadline, bool redshift) {
  if (images.empty()) return EmbedOutput();
  if (!options_.enabled) {
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("deadline passed before the model ran");
    if (on_batch_) on_batch_(static_cast<int>(images.size()));
    return EmbedAll(model, images, redshift);
  }
  auto pending = std::make_shared<Pending>();
  pending->model = &model;
  pending->images = &images;
  pending->redshift = redshift;
  pending->deadline = deadline;
  pending->queued_at = absl::Now();
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  queue_.push_back(pending);
  mu_.Await(absl::Condition(+[](Pending* p) { return p->done; }, pending.get()));
  return std::move(pending->result);
}

void DynamicBatcher::Work() {
  while (true) {
    std::vector<std::shared_ptr<Pending>> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](DynamicBatcher* b) ABSL_EXCLUSIVE_LOCKS_REQUIRED(b->mu_) { return b->stopping_ || !b->queue_.empty(); },
          this));
      if (stopping_) {
        for (auto& p : queue_) {
          p->result = absl::UnavailableError("the server is shutting down");
          p->done = true;
        }
        queue_.clear();
        return;
      }
      // Wait for company until the oldest request has waited max_delay or the batch is full.
      const absl::Time until = queue_.front()->queued_at + options_.max_delay;
      const Embedder* model = queue_.front()->model;
      const auto full = [this, model]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        int images = 0;
        for (const auto& p : queue_) {
          if (p->model == model) images += static_cast<int>(p->images->size());
        }
        return stopping_ || images >= options_.max_batch;
      };
      while (!full() && absl::Now() < until) {
        mu_.AwaitWithDeadline(absl::Condition(&full), until);
      }
      // Take requests of the same model, in order, up to max_batch images (the first always).
      int images = 0;
      for (auto it = queue_.begin(); it != queue_.end();) {
        const int n = static_cast<int>((*it)->images->size());
        if ((*it)->model == model && (batch.empty() || images + n <= options_.max_batch)) {
          images += n;
          batch.push_back(*it);
          it = queue_.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Requests whose deadline passed while queued do not run.
    const absl::Time now = absl::Now();
    std::vector<std::shared_ptr<Pending>> live;
    std::vector<const DecodedImage*> inputs;
    bool redshift = false;
    for (auto& p : batch) {
      if (now >= p->deadline) {
        p->result = absl::DeadlineExceededError("deadline passed while waiting for the model");
      } else {
        live.push_back(p);
        inputs.insert(inputs.end(), p->images->begin(), p->images->end());
        redshift = redshift || p->redshift;
      }
    }
    absl::StatusOr<EmbedOutput> all = EmbedOutput();
    if (!live.empty()) {
      if (on_batch_) on_batch_(static_cast<int>(inputs.size()));
      all = EmbedAll(*live.front()->model, inputs, redshift);
    }
    absl::MutexLock lock(&mu_);
    int first = 0;
    for (auto& p : live) {
      const int n = static_cast<int>(p->images->size());
      p->result = all.ok() ? absl::StatusOr<EmbedOutput>(all->Rows(static_cast<int>(inputs.size()), first, n))
                           : absl::StatusOr<EmbedOutput>(all.status());
      first += n;
    }
    for (auto& p : batch) p->done = true;
  }
}

}  // namespace galaxy
