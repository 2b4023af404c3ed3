// An Embedder without a network, for tests of the code that moves images and answers around
// (the batcher, serving): each image's embedding is its per-band pixel sums, L2-normalised, so a
// test can tell which image produced which row; the redshift is its E(B-V) plus 0.1; its
// "turn-averaged" embedding is the per-band sums of the squared pixels, L2-normalised (as invariant
// to turns as the sums, and another vector, so that a test can tell which of the two was read).
// It records every call and can be told to fail or to return a non-finite embedding.
#ifndef GALAXY_TESTS_FAKE_EMBEDDER_H_
#define GALAXY_TESTS_FAKE_EMBEDDER_H_

#include <cmath>
#include <limits>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "model/embedder.h"

namespace galaxy {

class FakeEmbedder : public Embedder {
 public:
  struct Call {
    int n = 0;
    bool redshift = false;
    bool turn_average = false;
  };

  // A model of `bands` bands that sees `size` x `size` pixels and embeds in `bands` dimensions.
  explicit FakeEmbedder(int bands = 2, int size = 4) {
    metadata_.band_names.assign(static_cast<size_t>(bands), "b");
    metadata_.image_size = size;
    metadata_.embedding_dim = bands;
    metadata_.has_redshift_head = true;
    metadata_.redshift_bins = 2;
  }

  const ModelMetadata& metadata() const override { return metadata_; }
  bool on_gpu() const override { return false; }
  // The pixel sums are its "backbone features"; it has no projection.
  EmbeddingFeatures features() const override { return EmbeddingFeatures::kBackbone; }
  int64_t embedding_dim() const override { return metadata_.embedding_dim; }

  absl::StatusOr<EmbedOutput> Embed(const ImageBatch& images, const EmbedParts& parts) const override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back({images.n, parts.redshift, parts.turn_average});
    if (!fail_.ok()) return fail_;
    if (absl::Status s = CheckImageBatch(images, metadata_); !s.ok()) return s;
    const int bands = metadata_.bands();
    const size_t plane = static_cast<size_t>(images.height) * static_cast<size_t>(images.width);
    EmbedOutput out;
    // Image i's per-band sums of f(pixel), L2-normalised, appended to `to`.
    const auto append_sums = [&](int i, float (*f)(float), std::vector<float>* to) {
      std::vector<float> e(static_cast<size_t>(bands), 0.0f);
      double norm = 0;
      for (int b = 0; b < bands; ++b) {
        const float* p = images.pixels + (static_cast<size_t>(i) * static_cast<size_t>(bands) + static_cast<size_t>(b)) * plane;
        for (size_t k = 0; k < plane; ++k) e[static_cast<size_t>(b)] += f(p[k]);
        norm += static_cast<double>(e[static_cast<size_t>(b)]) * e[static_cast<size_t>(b)];
      }
      for (float& v : e) v = non_finite_ ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(v / std::sqrt(norm));
      to->insert(to->end(), e.begin(), e.end());
    };
    for (int i = 0; i < images.n; ++i) {
      append_sums(i, [](float v) { return v; }, &out.embeddings);
      if (parts.turn_average) append_sums(i, [](float v) { return v * v; }, &out.turn_averaged);
      if (parts.redshift) {
        out.pdf.insert(out.pdf.end(), {0.5f, 0.5f});
        out.z_mean.push_back(images.e_bv[i] + 0.1f);
        out.z_sigma.push_back(0.01f);
      }
    }
    return out;
  }

  void FailWith(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(status);
  }
  void GiveNonFinite() {
    std::lock_guard<std::mutex> lock(mu_);
    non_finite_ = true;
  }
  std::vector<Call> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  ModelMetadata metadata_;
  mutable std::mutex mu_;
  mutable std::vector<Call> calls_;
  absl::Status fail_;
  bool non_finite_ = false;
};

}  // namespace galaxy

#endif  // GALAXY_TESTS_FAKE_EMBEDDER_H_
