#include "trainer/pretrain.h"

#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/checksum.h"
#include "core/command_line.h"
#include "core/log.h"
#include "core/model/augment.h"
#include "core/model/checkpoint.h"
#include "core/model/moco.h"
#include "core/model/torch_compat.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "core/torch_info.h"
#include "nlohmann/json.hpp"
#include "trainer/pending_losses.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

nlohmann::json TrainingJson(const PretrainOptions& o, int64_t total_steps, int64_t rows) {
  return {{"batch", o.batch},         {"queue", o.queue},
          {"momentum", o.momentum},   {"temperature", o.temperature},
          {"lr_per_256", o.lr_per_256}, {"weight_decay", o.weight_decay},
          {"sgd_momentum", o.sgd_momentum}, {"total_steps", total_steps},
          {"max_blur", o.max_blur},   {"rows", rows}};
}

void SetLearningRate(torch::optim::SGD& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
}

}  // namespace

absl::StatusOr<PretrainResult> RunPretrain(const PretrainOptions& options, int64_t stop_after) {
  GALAXY_RETURN_IF_ERROR(options.Validate());
  SetCpuThreads(options.threads);
  KeepFreedMemoryForReuse();
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(options.device));
  const torch::Device device = kind == DeviceKind::kCuda ? torch::kCUDA : torch::kCPU;
  std::filesystem::create_directories(options.out_dir);
  const std::string checkpoint_path = options.out_dir + "/checkpoint.pt";
  const std::string model_path = options.out_dir + "/model.pt";

  log::Info("loading training data", {{"path", options.data_path}});
  GALAXY_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(options.data_path, RowSelection()));
  GALAXY_ASSIGN_OR_RETURN(std::string checksum, Sha256File(options.data_path));
  const int64_t n = data.size();
  if (n < options.batch) {
    return absl::InvalidArgumentError(absl::StrCat(options.data_path, " has ", n,
                                                   " galaxies, fewer than --batch ", options.batch));
  }
  if (data.layout.height < 64 && data.layout.height != data.layout.width) {
    return absl::InvalidArgumentError("images must be square");
  }
  const int64_t crop = std::min<int64_t>(64, data.layout.height);
  const int64_t steps_per_epoch = n / options.batch;
  const int64_t total_steps = options.steps > 0 ? options.steps : options.epochs * steps_per_epoch;
  if (options.queue > n) {
    log::Warn("the queue holds more keys than there are galaxies: negatives repeat",
              {{"queue", absl::StrCat(options.queue)}, {"galaxies", absl::StrCat(n)}});
  }

  ResNetConfig backbone;
  backbone.arch = options.arch;
  backbone.stem = options.stem;
  backbone.in_channels = data.layout.bands;
  GALAXY_RETURN_IF_ERROR(backbone.Validate());
  MocoConfig moco_config;
  moco_config.queue = options.queue;
  moco_config.momentum = options.momentum;
  moco_config.temperature = options.temperature;

  torch::manual_seed(options.seed);
  Moco moco(backbone, moco_config);
  moco->to(device);
  const bool cuda = kind == DeviceKind::kCuda;
  if (cuda) {
    // Channels-last weights feed tensor cores; the dataset stays resident on the GPU when it
    // fits, so that batches never cross the PCIe bus.
    ToChannelsLast(*moco);
    MoveToDeviceIfItFits(&data, device);
  }
  std::vector<torch::Tensor> trainable = moco->encoder_q->parameters();
  for (const auto& p : moco->head_q->parameters()) trainable.push_back(p);
  const double base_lr = options.lr_per_256 * options.batch / 256.0;
  torch::optim::SGD optimizer(trainable, torch::optim::SGDOptions(base_lr)
                                             .momentum(options.sgd_momentum)
                                             .weight_decay(options.weight_decay));

  ModelMetadata meta;
  meta.kind = "moco";
  meta.arch = options.arch;
  meta.stem = options.stem;
  meta.band_names = data.layout.band_names;
  meta.image_size = crop;
  meta.feature_dim = backbone.feature_dim();
  meta.embedding_dim = moco_config.projection_dim;
  meta.has_projection_head = true;
  meta.data_path = options.data_path;
  meta.data_checksum = checksum;
  meta.total_steps = total_steps;
  meta.seed = options.seed;
  meta.training_json = TrainingJson(options, total_steps, n).dump();
  meta.software_version = std::string(Version());

  int64_t step = 0;
  if (options.resume) {
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(checkpoint_path));
    const ModelMetadata& old = reader->metadata();
    if (old.kind != "moco") {
      return absl::FailedPreconditionError(absl::StrCat(checkpoint_path, " is a ", old.kind, " checkpoint, not a pretraining one"));
    }
    if (old.data_checksum != checksum) {
      return absl::FailedPreconditionError(absl::StrCat("--resume: ", checkpoint_path, " was trained on other data (", old.data_path, ")"));
    }
    const nlohmann::json was = nlohmann::json::parse(old.training_json), now = nlohmann::json::parse(meta.training_json);
    for (const auto& [key, value] : now.items()) {
      if (!was.contains(key) || was[key] != value) {
        return absl::FailedPreconditionError(absl::StrCat("--resume: ", checkpoint_path, " was made with ", key, " = ",
                                                          was.contains(key) ? was[key].dump() : "(unset)", ", now ", value.dump()));
      }
    }
    if (old.arch != options.arch || old.stem != options.stem || old.seed != options.seed) {
      return absl::FailedPreconditionError(absl::StrCat("--resume: ", checkpoint_path, " is ", old.arch, "/", old.stem,
                                                        " seed ", old.seed));
    }
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kBackbonePart, *moco->encoder_q));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kProjectionPart, *moco->head_q));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule("encoder_k", *moco->encoder_k));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule("head_k", *moco->head_k));
    GALAXY_ASSIGN_OR_RETURN(torch::Tensor queue, reader->LoadTensor("queue"));
    GALAXY_ASSIGN_OR_RETURN(torch::Tensor queue_ptr, reader->LoadTensor("queue_ptr"));
    {
      torch::NoGradGuard no_grad;
      moco->queue.copy_(queue);
      moco->queue_ptr.copy_(queue_ptr);
    }
    moco->to(device);
    GALAXY_RETURN_IF_ERROR(reader->LoadOptimizer(optimizer));
    step = old.step;
    meta.band_noise = old.band_noise;
    log::Info("resuming", {{"checkpoint", checkpoint_path}, {"step", absl::StrCat(step)}});
  } else {
    meta.band_noise = EstimateBandNoise(data.images.narrow(0, 0, std::min<int64_t>(n, 2000)));
  }

  AugmentOptions aug;
  aug.crop = crop;
  aug.max_blur = options.max_blur;
  aug.band_noise = meta.band_noise;
  aug.noise_on_device = cuda;
  aug.max_jitter = std::min(aug.max_jitter, std::max(0.0, (data.layout.height - crop) / 2.0 + 7));
  const Augmenter augmenter(aug, data.layout.bands, data.layout.height);

  auto save = [&](int64_t at) -> absl::Status {
    meta.step = at;
    meta.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
    CheckpointWriter writer(meta);
    writer.AddModule(kBackbonePart, *moco->encoder_q);
    writer.AddModule(kProjectionPart, *moco->head_q);
    writer.AddModule("encoder_k", *moco->encoder_k);
    writer.AddModule("head_k", *moco->head_k);
    writer.AddTensor("queue", moco->queue);
    writer.AddTensor("queue_ptr", moco->queue_ptr);
    writer.AddOptimizer(optimizer);
    return writer.Save(checkpoint_path);
  };

  PretrainResult result;
  result.checkpoint = checkpoint_path;
  EpochOrder order(n, options.seed);
  moco->train();
  Progress progress("pretrain", "steps", total_steps);
  const absl::Time start = absl::Now();
  int64_t images = 0, steps_this_call = 0;
  double loss_ema = 0;
  int64_t last_saved = step;
  // Losses not read back yet (pending_losses.h). On a GPU they are read every tenth step and
  // before every save: reading one makes the host wait for the GPU, which then idles while the
  // host queues the next step. A non-finite loss is still caught before any
  // checkpoint holds the weights it produced. On the CPU each is read before its backward pass.
  const int64_t readback = options.loss_readback_every > 0 ? options.loss_readback_every : (cuda ? 10 : 1);
  PendingLosses pending;
  auto read_losses = [&]() -> absl::Status {
    const size_t before = result.losses.size();
    const std::optional<PendingLosses::NonFinite> bad = pending.ReadInto(&result.losses);
    for (size_t i = before; i < result.losses.size(); ++i) {
      loss_ema = i == 0 ? result.losses[i] : 0.95 * loss_ema + 0.05 * result.losses[i];
    }
    if (!bad) return absl::OkStatus();
    const std::string kept =
        last_saved > 0 ? absl::StrFormat("The last good checkpoint is %s (after step %d)", checkpoint_path, last_saved)
                       : std::string("No checkpoint had been written yet");
    return absl::AbortedError(
        absl::StrFormat("loss became %f in step %d; stopped. %s; try a lower --lr", bad->value, bad->step + 1, kept));
  };
  try {
    while (step < total_steps && (stop_after <= 0 || steps_this_call < stop_after)) {
      const double lr = base_lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
      SetLearningRate(optimizer, lr);
      const torch::Tensor index = ToDeviceAsync(order.Batch(step, options.batch), data.images.device());
      const torch::Tensor x = ToDeviceAsync(data.images.index_select(0, index), device);
      const torch::Tensor ebv = ToDeviceAsync(data.e_bv.index_select(0, index), device);
      MocoStep out;
      {
        CudaAutocast autocast(cuda);
        torch::Tensor view_q = augmenter.Apply(x, ebv, augmenter.Draw(options.batch, options.seed, 2 * static_cast<uint64_t>(step)));
        torch::Tensor view_k = augmenter.Apply(x, ebv, augmenter.Draw(options.batch, options.seed, 2 * static_cast<uint64_t>(step) + 1));
        if (cuda) {
          view_q = view_q.contiguous(torch::MemoryFormat::ChannelsLast);
          view_k = view_k.contiguous(torch::MemoryFormat::ChannelsLast);
        }
        out = moco->forward(view_q, view_k);
      }
      pending.Add(step, out.loss);
      if (readback == 1) GALAXY_RETURN_IF_ERROR(read_losses());
      DropGradients(optimizer);
      out.loss.backward();
      if (cuda) {
        MultiTensorSgdStep(optimizer);
      } else {
        optimizer.step();
      }
      moco->MomentumUpdate();
      moco->Enqueue(moco->last_keys());
      ++step;
      ++steps_this_call;
      images += options.batch;
      const bool save_now = step % options.checkpoint_every == 0 || step == total_steps;
      const bool log_now = step % 10 == 0 || step == total_steps;
      if (save_now || log_now || step % readback == 0) GALAXY_RETURN_IF_ERROR(read_losses());
      if (save_now) {
        GALAXY_RETURN_IF_ERROR(save(step));
        last_saved = step;
      }
      if (log_now) {
        progress.Update(step);
        log::Debug("step", {{"step", absl::StrCat(step)}, {"loss", absl::StrFormat("%.4f", loss_ema)},
                            {"accuracy", absl::StrFormat("%.3f", out.accuracy.item<double>())},
                            {"lr", absl::StrFormat("%.5f", lr)}});
      }
    }
    GALAXY_RETURN_IF_ERROR(read_losses());
  } catch (const std::exception& e) {
    return StatusFromException(e, absl::StrCat("pretraining at step ", step));
  }
  if (last_saved != step) GALAXY_RETURN_IF_ERROR(save(step));
  result.steps = step;
  result.images_per_second = images / std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  if (step == total_steps) {
    std::filesystem::copy_file(checkpoint_path, model_path + ".tmp", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(model_path + ".tmp", model_path);
    result.model = model_path;
  }
  log::Info(absl::StrFormat("pretrain: step %d/%d, loss %.4f, %.1f img/s", step, total_steps, loss_ema,
                            result.images_per_second));
  return result;
}

}  // namespace galaxy
