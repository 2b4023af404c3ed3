// The batcher with a fake embedder (tests/fake_embedder.h): who shares a forward pass, which rows
// each caller gets back, when the redshift head runs, deadlines and failures. No model is trained
// and nothing waits on a clock: a full batch runs at once, and the delays that matter are long.
#include "server/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tests/fake_embedder.h"

namespace galaxy {
namespace {

// A 2-band 4 x 4 image whose pixels are `a` in band 0 and `b` in band 1 (embedding ~ (a, b)).
DecodedImage Image(float a, float b, float e_bv = 0) {
  DecodedImage image;
  image.pixels.assign(16, a);
  image.pixels.insert(image.pixels.end(), 16, b);
  image.height = 4;
  image.width = 4;
  image.e_bv = e_bv;
  return image;
}

absl::Time Later() { return absl::Now() + absl::Seconds(60); }

BatcherOptions Options(int max_batch, absl::Duration max_delay) {
  BatcherOptions o;
  o.max_batch = max_batch;
  o.max_delay = max_delay;
  return o;
}

TEST(BatcherTest, ConcurrentCallersShareOneForwardPassAndEachGetsItsOwnRows) {
  FakeEmbedder model;
  std::vector<int> sizes;
  std::mutex sizes_mu;
  // A batch of 4 images runs as soon as it is full; the hour-long delay is never reached.
  DynamicBatcher batcher(Options(4, absl::Hours(1)), [&](int n) {
    std::lock_guard<std::mutex> lock(sizes_mu);
    sizes.push_back(n);
  });
  const DecodedImage a = Image(1, 0), b = Image(0, 1), c = Image(3, 4), d = Image(4, 3);
  absl::StatusOr<EmbedOutput> first, second;
  std::thread t1([&] { first = batcher.Run(model, {&a, &b}, Later(), EmbedParts{}); });
  std::thread t2([&] { second = batcher.Run(model, {&c, &d}, Later(), EmbedParts{}); });
  t1.join();
  t2.join();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(model.calls().size(), 1u);
  EXPECT_EQ(model.calls()[0].n, 4);
  EXPECT_EQ(sizes, std::vector<int>({4}));
  EXPECT_EQ(first->embeddings, std::vector<float>({1, 0, 0, 1}));
  EXPECT_EQ(second->embeddings, std::vector<float>({0.6f, 0.8f, 0.8f, 0.6f}));
  EXPECT_TRUE(first->z_mean.empty());
}

TEST(BatcherTest, TheRedshiftHeadRunsOnlyWhenACallerAsks) {
  FakeEmbedder model;
  DynamicBatcher batcher(Options(64, absl::ZeroDuration()), nullptr);
  const DecodedImage a = Image(1, 1, 0.05f);
  absl::StatusOr<EmbedOutput> similar = batcher.Run(model, {&a}, Later(), EmbedParts{});
  absl::StatusOr<EmbedOutput> redshift = batcher.Run(model, {&a}, Later(), EmbedParts{/*redshift=*/true});
  ASSERT_TRUE(similar.ok() && redshift.ok());
  ASSERT_EQ(model.calls().size(), 2u);
  EXPECT_FALSE(model.calls()[0].redshift);
  EXPECT_TRUE(model.calls()[1].redshift);
  EXPECT_TRUE(similar->z_mean.empty());
  ASSERT_EQ(redshift->z_mean.size(), 1u);
  EXPECT_FLOAT_EQ(redshift->z_mean[0], 0.15f);
  EXPECT_EQ(redshift->pdf.size(), 2u);
}

TEST(BatcherTest, ACallWhoseDeadlineHasPassedDoesNotRunTheModel) {
  FakeEmbedder model;
  for (bool enabled : {true, false}) {
    BatcherOptions o = Options(64, absl::ZeroDuration());
    o.enabled = enabled;
    DynamicBatcher batcher(o, nullptr);
    const DecodedImage a = Image(1, 1);
    absl::StatusOr<EmbedOutput> out = batcher.Run(model, {&a}, absl::Now() - absl::Seconds(1), EmbedParts{});
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded) << out.status();
  }
  EXPECT_TRUE(model.calls().empty());
}

TEST(BatcherTest, WithoutBatchingEachCallerRunsTheModelItself) {
  FakeEmbedder model;
  BatcherOptions o = Options(64, absl::Hours(1));
  o.enabled = false;
  DynamicBatcher batcher(o, nullptr);
  const DecodedImage a = Image(1, 0), b = Image(0, 1);
  absl::StatusOr<EmbedOutput> out = batcher.Run(model, {&a, &b}, Later(), EmbedParts{});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->embeddings, std::vector<float>({1, 0, 0, 1}));
  ASSERT_EQ(model.calls().size(), 1u);
  EXPECT_EQ(model.calls()[0].n, 2);
}

TEST(BatcherTest, TheModelsFailureAndANonFiniteEmbeddingReachTheCaller) {
  FakeEmbedder model;
  DynamicBatcher batcher(Options(64, absl::ZeroDuration()), nullptr);
  const DecodedImage a = Image(1, 1);
  model.GiveNonFinite();
  absl::StatusOr<EmbedOutput> nan = batcher.Run(model, {&a}, Later(), EmbedParts{});
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(nan.status().message().find("non-finite"), absl::string_view::npos) << nan.status();
  model.FailWith(absl::InternalError("running the model: out of memory"));
  absl::StatusOr<EmbedOutput> failed = batcher.Run(model, {&a}, Later(), EmbedParts{});
  EXPECT_EQ(failed.status().message(), "running the model: out of memory");
}

TEST(BatcherTest, BatchesNeverExceedTheirSizeAndKeepEveryImage) {
  FakeEmbedder model;
  DynamicBatcher batcher(Options(3, absl::ZeroDuration()), nullptr);
  std::vector<DecodedImage> images;
  for (int i = 0; i < 8; ++i) images.push_back(Image(static_cast<float>(i + 1), 1));
  std::vector<absl::StatusOr<EmbedOutput>> out(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      out[static_cast<size_t>(i)] = batcher.Run(model, {&images[static_cast<size_t>(i)]}, Later(), EmbedParts{});
    });
  }
  for (std::thread& t : threads) t.join();
  int total = 0;
  for (const FakeEmbedder::Call& call : model.calls()) {
    EXPECT_LE(call.n, 3);
    total += call.n;
  }
  EXPECT_EQ(total, 8);
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(out[static_cast<size_t>(i)].ok()) << out[static_cast<size_t>(i)].status();
    const float a = static_cast<float>(i + 1), norm = std::sqrt(a * a + 1);
    EXPECT_FLOAT_EQ(out[static_cast<size_t>(i)]->embeddings[0], a / norm) << "image " << i;
  }
}

TEST(BatcherTest, ContinuationsRunOnTheBatchersThreadNotTheCallers) {
  FakeEmbedder model;
  DynamicBatcher batcher(Options(2, absl::Hours(1)), nullptr);
  const DecodedImage a = Image(1, 0), b = Image(0, 1);
  absl::Mutex mu;
  std::vector<std::thread::id> threads;
  std::vector<std::vector<float>> rows;
  for (const DecodedImage* image : {&a, &b}) {
    // The second Submit fills the batch; neither caller waits.
    batcher.Submit(model, {image}, Later(), EmbedParts{}, [&](absl::StatusOr<EmbedOutput> out) {
      absl::MutexLock lock(&mu);
      threads.push_back(std::this_thread::get_id());
      rows.push_back(out.ok() ? out->embeddings : std::vector<float>());
    });
  }
  absl::MutexLock lock(&mu);
  mu.Await(absl::Condition(+[](std::vector<std::thread::id>* t) { return t->size() == 2; }, &threads));
  EXPECT_NE(threads[0], std::this_thread::get_id());
  EXPECT_EQ(threads[0], threads[1]);  // one worker ran the pass and finished both
  EXPECT_EQ(rows, std::vector<std::vector<float>>({{1, 0}, {0, 1}}));
  ASSERT_EQ(model.calls().size(), 1u);
}

TEST(BatcherTest, UploadsOfAnySizeShareAPassAsTheModelsCentreCrop) {
  FakeEmbedder model;  // sees 4 x 4
  DynamicBatcher batcher(Options(2, absl::Hours(1)), nullptr);
  // A 6 x 8 upload, 1 in both bands inside its centre 4 x 4 (rows 1-4, columns 2-5); outside,
  // 0 in band 0 and 100 in band 1: any pixel from outside the centre tilts the embedding.
  DecodedImage large;
  large.height = 6;
  large.width = 8;
  for (int b = 0; b < 2; ++b) {
    for (int y = 0; y < 6; ++y) {
      for (int x = 0; x < 8; ++x) {
        const bool centre = y >= 1 && y <= 4 && x >= 2 && x <= 5;
        large.pixels.push_back(centre ? 1.0f : (b == 0 ? 0.0f : 100.0f));
      }
    }
  }
  const DecodedImage small = Image(0, 1);
  absl::StatusOr<EmbedOutput> first, second;
  std::thread t1([&] { first = batcher.Run(model, {&large}, Later(), EmbedParts{}); });
  std::thread t2([&] { second = batcher.Run(model, {&small}, Later(), EmbedParts{}); });
  t1.join();
  t2.join();
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_EQ(model.calls().size(), 1u);
  EXPECT_EQ(model.calls()[0].n, 2);
  ASSERT_EQ(first->embeddings.size(), 2u);
  EXPECT_FLOAT_EQ(first->embeddings[0], std::sqrt(0.5f));  // band sums 16 and 16
  EXPECT_FLOAT_EQ(first->embeddings[1], std::sqrt(0.5f));
  EXPECT_EQ(second->embeddings, std::vector<float>({0, 1}));
}

TEST(BatcherTest, StoppingAnswersEveryQueuedRequest) {
  FakeEmbedder model;
  std::atomic<int> answered{0};
  const DecodedImage a = Image(1, 1);
  {
    DynamicBatcher batcher(Options(64, absl::Hours(1)), nullptr);
    for (int i = 0; i < 5; ++i) {
      batcher.Submit(model, {&a}, Later(), EmbedParts{}, [&](absl::StatusOr<EmbedOutput> out) {
        EXPECT_TRUE(out.ok() || out.status().code() == absl::StatusCode::kUnavailable) << out.status();
        ++answered;
      });
    }
  }
  EXPECT_EQ(answered.load(), 5);
}

}  // namespace
}  // namespace galaxy
