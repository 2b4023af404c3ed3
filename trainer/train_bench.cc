#include "trainer/train_bench.h"

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "data/photoz/photoz_metrics.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/embedder.h"
#include "model/moco.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"

namespace galaxy {

absl::StatusOr<TrainBenchResult> RunTrainBench(const TrainBenchOptions& o) {
  SetCpuThreads(o.threads);
  KeepFreedMemoryForReuse();
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(o.device));
  const torch::Device device = kind == DeviceKind::kCuda ? torch::kCUDA : torch::kCPU;
  ResNetConfig config;
  config.arch = o.arch;
  config.stem = o.stem;
  config.in_channels = o.bands;
  // The default pretraining's input stretch at the bench's band noise: the path being timed.
  const std::vector<double> band_noise(static_cast<size_t>(o.bands), 0.05);
  GALAXY_ASSIGN_OR_RETURN(config.input_softening, InputSoftening("asinh", band_noise));
  GALAXY_RETURN_IF_ERROR(config.Validate());
  if (o.batch < 2 || o.steps < 1) return absl::InvalidArgumentError("--batch >= 2 and --steps >= 1");
  TrainBenchResult result;
  result.device = kind == DeviceKind::kCuda ? "cuda" : "cpu";
  result.threads = GetTorchInfo().cpu_threads;
  try {
    torch::manual_seed(0);
    MocoConfig moco_config;
    moco_config.queue = 4096 - 4096 % o.batch;
    Moco moco(config, moco_config);
    moco->to(device);
    const bool channels_last = o.channels_last == 1 || (o.channels_last < 0 && kind == DeviceKind::kCuda);
    result.channels_last = channels_last;
    if (channels_last) ToChannelsLast(*moco);
    moco->train();
    std::vector<torch::Tensor> params = moco->encoder_q->parameters();
    for (const auto& p : moco->head_q->parameters()) params.push_back(p);
    torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.03).momentum(0.9).weight_decay(1e-4));
    AugmentOptions aug;
    aug.band_noise = band_noise;
    aug.noise_on_device = kind == DeviceKind::kCuda;
    const Augmenter augmenter(aug, o.bands, o.image_size);
    const torch::Tensor images = torch::randn({o.batch, o.bands, o.image_size, o.image_size}).abs().to(device);
    const torch::Tensor ebv = torch::full({o.batch}, 0.03f).to(device);
    auto sync = [&] {
      if (kind == DeviceKind::kCuda) (void)moco->queue.sum().item<float>();
    };
    const bool amp = kind == DeviceKind::kCuda && o.amp;
    if (o.augment_form != "auto" && o.augment_form != "device" && o.augment_form != "stepwise") {
      return absl::InvalidArgumentError(absl::StrCat("--augment-form: unknown '", o.augment_form,
                                                     "' (auto, device or stepwise)"));
    }
    auto augment_view = [&](int64_t stream) {
      const AugmentDraws draws = augmenter.Draw(o.batch, 1, static_cast<uint64_t>(stream));
      if (o.augment_form == "device") return augmenter.ApplyOnDevice(images, ebv, draws);
      if (o.augment_form == "stepwise") return augmenter.ApplyStepByStep(images, ebv, draws);
      return augmenter.Apply(images, ebv, draws);
    };
    const bool multi_tensor_sgd = kind == DeviceKind::kCuda && o.multi_tensor_sgd;
    result.multi_tensor_sgd = multi_tensor_sgd;
    // Pretraining's own step (MocoTrainStep), on views made as pretraining makes them.
    auto step = [&](bool augment, int64_t k) {
      torch::Tensor q = images, key = images;
      if (augment) {
        CudaAutocast autocast(amp);
        q = augment_view(2 * k);
        key = augment_view(2 * k + 1);
      }
      if (channels_last) {
        q = q.contiguous(torch::MemoryFormat::ChannelsLast);
        key = key.contiguous(torch::MemoryFormat::ChannelsLast);
      }
      (void)MocoTrainStep(moco, optimizer, q, key, /*key_order=*/{}, amp, multi_tensor_sgd);
    };
    // Images per second over `count` calls of `run` (after one warm-up call): from the median
    // call on the CPU, from the total on CUDA (see TrainBenchResult).
    auto throughput = [&](int64_t images_per_call, const std::function<void(int)>& run) {
      run(0);  // warm-up
      sync();
      std::vector<double> seconds;
      const absl::Time start = absl::Now();
      for (int k = 1; k <= o.steps; ++k) {
        const absl::Time t = absl::Now();
        run(k);
        seconds.push_back(absl::ToDoubleSeconds(absl::Now() - t));
      }
      sync();
      if (kind == DeviceKind::kCuda) {
        return static_cast<double>(images_per_call) * o.steps / absl::ToDoubleSeconds(absl::Now() - start);
      }
      return static_cast<double>(images_per_call) / Median(seconds);
    };
    auto time_steps = [&](bool augment) { return throughput(o.batch, [&](int k) { step(augment, k); }); };
    result.train_images_per_s = time_steps(true);
    result.train_no_augment_images_per_s = time_steps(false);
    {
      // The augmentation alone (as in the step: inside the autocast region).
      CudaAutocast autocast(amp);
      torch::NoGradGuard no_grad;
      result.augment_ms_per_view = 1e3 * o.batch / throughput(o.batch, [&](int k) { (void)augment_view(1000 + k); });
    }
    // Embedding through the Embedder the indexer and server use (model/embedder.h): host
    // images in, de-reddened and cropped, BatchNorm folded, normalised embeddings back on the host.
    moco->eval();
    GalaxyNet net;
    net.metadata.band_names.assign(static_cast<size_t>(o.bands), "band");
    net.metadata.image_size = o.image_size;
    net.metadata.feature_dim = config.feature_dim();
    net.metadata.embedding_dim = moco_config.projection_dim;
    net.metadata.input_softening = config.input_softening;
    net.backbone = moco->encoder_q;
    net.projection = moco->head_q;
    // The served features: the backbone's (the projection head adds one small MLP).
    absl::StatusOr<std::unique_ptr<Embedder>> made = MakeEmbedder(std::move(net), device, EmbeddingFeatures::kBackbone);
    if (!made.ok()) throw std::runtime_error(std::string(made.status().message()));
    const std::unique_ptr<Embedder> embedder = std::move(*made);
    const torch::Tensor embed_images = torch::randn({o.embed_batch, o.bands, o.image_size, o.image_size}).abs();
    const std::vector<float> no_dust(static_cast<size_t>(o.embed_batch), 0.0f);
    ImageBatch batch;
    batch.pixels = embed_images.data_ptr<float>();
    batch.e_bv = no_dust.data();
    batch.n = static_cast<int>(o.embed_batch);
    batch.height = static_cast<int>(o.image_size);
    batch.width = static_cast<int>(o.image_size);
    result.embed_images_per_s = throughput(o.embed_batch, [&](int) {
      absl::StatusOr<EmbedOutput> out = embedder->Embed(batch, EmbedParts{});
      if (!out.ok()) throw std::runtime_error(std::string(out.status().message()));
    });
  } catch (const std::exception& e) {
    return StatusFromException(e, "benchmark");
  }
  return result;
}

std::string TrainBenchJson(const TrainBenchOptions& o, const TrainBenchResult& r) {
  return absl::StrFormat(
      "{\"benchmark\":\"train\",\"arch\":\"%s\",\"stem\":\"%s\",\"batch\":%d,\"device\":\"%s\",\"threads\":%d,"
      "\"channels_last\":%s,\"channels_last_mode\":\"%s\",\"timing\":\"%s\",\"train_images_per_s\":%.1f,\"train_no_augment_images_per_s\":%.1f,"
      "\"embed_images_per_s\":%.1f,\"augment_ms_per_view\":%.3f,\"augment_form\":\"%s\",\"multi_tensor_sgd\":%s}",
      o.arch, o.stem, o.batch, r.device, r.threads, r.channels_last ? "true" : "false",
      o.channels_last < 0 ? "auto" : o.channels_last == 1 ? "on" : "off",
      r.device == "cuda" ? "mean over steps" : "median step", r.train_images_per_s, r.train_no_augment_images_per_s,
      r.embed_images_per_s, r.augment_ms_per_view, o.augment_form, r.multi_tensor_sgd ? "true" : "false");
}

}  // namespace galaxy
