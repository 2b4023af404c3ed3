#include "trainer/pretrain.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/checksum.h"
#include "core/command_line.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "data/bands.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/moco.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"
#include "nlohmann/json.hpp"
#include "trainer/data_parallel.h"
#include "trainer/galaxy_features.h"
#include "trainer/pending_losses.h"
#include "trainer/pretrain_record.h"
#include "trainer/ssl_monitor.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

// Mixed into the seed of the multi-crop local views' draws, so that they are independent of the
// global views' (streams 2 step and 2 step + 1 of the seed itself).
constexpr uint64_t kLocalViewSeedSalt = 0x6c6f63616c766965ull;

// The photometric pretext's targets (PretrainOptions::photometry_weight): every galaxy's
// de-reddened r magnitude and colours in each aperture of `radii_arcsec`, measured on its own
// image (ApertureColourRows; no labels), each column centred on its median, scaled by its
// MAD-based sigma and clipped to +-5 (faint galaxies' colours have long tails). N x D float32 on
// the CPU.
torch::Tensor PhotometryTargets(const TrainingData& data, const std::vector<double>& radii_arcsec) {
  const int64_t n = data.size();
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  std::vector<torch::Tensor> columns;
  for (double radius : radii_arcsec) {
    int dim = 0;
    const std::vector<double> values = ApertureColourRows(data, all, &dim, radius / kSdssPixelScale);
    columns.push_back(torch::tensor(values, torch::kFloat64).view({n, dim}));
  }
  torch::Tensor t = torch::cat(columns, 1);
  t = torch::where(torch::isfinite(t), t, torch::full_like(t, std::numeric_limits<double>::quiet_NaN()));
  const torch::Tensor median = std::get<0>(t.nanmedian(0));
  t = torch::where(torch::isnan(t), median.expand_as(t), t);
  const torch::Tensor sigma = (std::get<0>((t - median).abs().median(0)) * 1.4826).clamp_min(1e-6);
  return ((t - median) / sigma).clamp(-5, 5).to(torch::kFloat32);
}

// The order in which step `step`'s keys pass the key encoder under shuffling BatchNorm: a
// permutation drawn from (seed, step), so that a resumed run shuffles as the uninterrupted one.
torch::Tensor KeyOrder(int64_t n, uint64_t seed, int64_t step) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  Random rng(seed ^ 0x5B0FF1Eull, static_cast<uint64_t>(step));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[rng.Below(static_cast<uint64_t>(i) + 1)]);
  return torch::tensor(order, torch::kInt64);
}

// How the ranks of a data-parallel group share shuffling BatchNorm's sub-batches: each normalises
// bn_splits / W of them (the global sub-batches r + W g, data_parallel.h RankRows), or, with one
// sub-batch, all normalise the global batch together (SyncBatchNorm).
absl::Status ValidateBatchNormSplits(const PretrainOptions& o, int world_size) {
  if (o.bn_splits > 1 && o.bn_splits % world_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat("--bn-splits ", o.bn_splits, " is not a multiple of WORLD_SIZE ",
                                                   world_size, ": use a multiple, or 1 (BatchNorm synchronised ",
                                                   "across the ranks)"));
  }
  return absl::OkStatus();
}

// MocoTrainStep for one rank of a data-parallel group: the rank's share of the global batch
// (RankRows) in `query_view` and `key_view`; with bn_splits > 1, the keys of the whole batch are
// gathered, shuffled by `key_order` (a permutation of the global batch, as MocoImpl::forward),
// and each rank encodes every W-th of the shuffled keys; the gradients are averaged by `reducer`;
// every rank puts the whole batch's keys into its queue. The loss and accuracy returned are the
// global batch's; the local views' loss (`local_views`: this rank's images' local views, as
// LocalViewLoss) and the auxiliary one are this rank's.
MocoStep DataParallelMocoStep(Moco& moco, torch::optim::SGD& optimizer, GradientReducer& reducer,
                              ProcessGroup& group, const torch::Tensor& query_view, const torch::Tensor& key_view,
                              const torch::Tensor& key_order, int64_t bn_splits, bool autocast, bool multi_tensor_sgd,
                              const AuxiliaryLoss& auxiliary, const torch::Tensor& local_views) {
  const int world = group.world_size();
  const int64_t batch = query_view.size(0) * world;
  const torch::Tensor mine = RankRows(batch, group.rank(), world).to(query_view.device());
  MocoStep out;
  torch::Tensor keys;  // the global batch's, in its order
  torch::Tensor total;
  {
    CudaAutocast scope(autocast);
    torch::Tensor features;
    const torch::Tensor q = moco->EncodeQueries(query_view, &features);
    {
      torch::NoGradGuard no_grad;
      if (bn_splits > 1) {
        const torch::Tensor views = GlobalOrder(group.AllGather(key_view), world);
        const torch::Tensor order = key_order.to(views.device(), torch::kInt64);
        const torch::Tensor encoded = moco->EncodeKeys(views.index_select(0, order.index_select(0, mine)));
        const torch::Tensor shuffled = GlobalOrder(group.AllGather(encoded), world);
        keys = torch::empty_like(shuffled).index_copy_(0, order, shuffled);
      } else {
        keys = GlobalOrder(group.AllGather(moco->EncodeKeys(key_view)), world);
      }
    }
    out = moco->Contrast(q, keys.index_select(0, mine));
    total = LossWithAuxiliary(&out, features, auxiliary);  // the auxiliary value is this rank's
    if (local_views.defined()) total = total + LocalViewLoss(*moco, &out, local_views, keys.index_select(0, mine));
  }
  MocoUpdate(moco, optimizer, total, keys, multi_tensor_sgd, [&reducer] { reducer.Finish(); });
  torch::Tensor means = torch::stack({out.loss.detach().to(torch::kFloat32), out.accuracy.to(torch::kFloat32)});
  group.AllReduceSum(means);
  means.div_(world);
  out.loss = means[0];
  out.accuracy = means[1];
  return out;
}

void SetLearningRate(torch::optim::SGD& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) {
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
  }
}

}  // namespace

AugmentOptions ContrastiveViews(const PretrainOptions& options, const TrainingData& data,
                                const std::vector<double>& band_noise, int64_t crop) {
  AugmentOptions aug;
  aug.crop = crop;
  aug.max_blur = options.max_blur;
  aug.max_noise = options.max_noise;
  aug.min_scale = 1 - options.scale_jitter;
  aug.max_scale = 1 + options.scale_jitter;
  if (options.dust == "survey") {
    const DustDistribution dust = FitDustDistribution(data.e_bv);
    aug.dust_median = dust.median;
    aug.dust_log_sigma = dust.log_sigma;
    aug.max_dust = 0;  // no positive E(B-V) in the catalog: no dust change
    log::Info(absl::StrFormat("dust augmentation: lognormal E(B-V), median %.4f, sigma(ln) %.3f (fitted to the data)",
                              dust.median, dust.log_sigma));
  } else {
    aug.max_dust = options.dust == "uniform" ? options.max_dust : 0;
  }
  aug.band_noise = band_noise;
  aug.max_jitter = std::min(aug.max_jitter, std::max(0.0, (data.layout.height - crop) / 2.0 + 7));
  aug.outskirt_mask_prob = options.mask_outskirts;
  aug.outskirt_max_radius = data.layout.height / 2.0;
  aug.outskirt_min_radius = std::min(options.outskirt_radius, aug.outskirt_max_radius);
  return aug;
}

absl::StatusOr<PretrainResult> RunPretrain(const PretrainOptions& options, int64_t stop_after) {
  GALAXY_RETURN_IF_ERROR(options.Validate());
  SetCpuThreads(options.threads);
  KeepFreedMemoryForReuse();
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(options.device));
  const torch::Device device = kind == DeviceKind::kCuda ? torch::kCUDA : torch::kCPU;
  GALAXY_ASSIGN_OR_RETURN(const DistributedEnv env, DistributedEnvFromEnvironment());
  GALAXY_RETURN_IF_ERROR(ValidateBatchNormSplits(options, env.world_size));
  GALAXY_ASSIGN_OR_RETURN(const std::shared_ptr<ProcessGroup> group,
                          JoinTrainingGroup(env, options.batch, options.dist_timeout_seconds));
  const bool leader = env.rank == 0;
  std::filesystem::create_directories(options.out_dir);
  const std::string checkpoint_path = options.out_dir + "/checkpoint.pt";
  const std::string model_path = options.out_dir + "/model.pt";

  log::Info("loading training data", {{"path", options.data_path}});
  RowSelection rows;
  rows.extra_columns = {"type"};  // for the representation monitor only, when present
  GALAXY_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(options.data_path, rows));
  GALAXY_ASSIGN_OR_RETURN(std::string checksum, Sha256FileRemembered(options.data_path));
  const int64_t n = data.size();
  if (group) {
    GALAXY_RETURN_IF_ERROR(group->CheckSame(static_cast<int64_t>(std::stoull(checksum.substr(0, 15), nullptr, 16)),
                                            "the training data (--data's checksum)"));
  }
  if (n < options.batch) {
    return absl::InvalidArgumentError(absl::StrCat(options.data_path, " has ", n,
                                                   " galaxies, fewer than --batch ", options.batch));
  }
  if (data.layout.height < 64 && data.layout.height != data.layout.width) {
    return absl::InvalidArgumentError("images must be square");
  }
  const int64_t crop = std::min<int64_t>(64, data.layout.height);
  if (options.local_crops > 0 && options.local_crop >= crop) {
    return absl::InvalidArgumentError(absl::StrCat("--local-crop: ", options.local_crop, " px is not smaller than the ",
                                                   crop, " px global views of ", options.data_path));
  }
  const int64_t steps_per_epoch = n / options.batch;
  const int64_t total_steps = options.steps > 0 ? options.steps : options.epochs * steps_per_epoch;
  if (options.queue > n) {
    log::Warn("the queue holds more keys than there are galaxies: negatives repeat",
              {{"queue", absl::StrCat(options.queue)}, {"galaxies", absl::StrCat(n)}});
  }

  // The band noise sets the noise augmentation and the input stretch; the data's first images
  // give the same figure on every resume (the checksum is checked below).
  const std::vector<double> band_noise = EstimateBandNoise(data.images.narrow(0, 0, std::min<int64_t>(n, 2000)));
  ResNetConfig backbone;
  backbone.arch = options.arch;
  backbone.stem = options.stem;
  backbone.in_channels = data.layout.bands;
  GALAXY_ASSIGN_OR_RETURN(backbone.input_softening, InputSoftening(options.input_stretch, band_noise));
  GALAXY_RETURN_IF_ERROR(backbone.Validate());
  MocoConfig moco_config;
  moco_config.queue = options.queue;
  moco_config.momentum = options.momentum;
  moco_config.temperature = options.temperature;
  // One rank's share of the sub-batches (ValidateBatchNormSplits).
  moco_config.bn_splits = options.bn_splits > 1 ? options.bn_splits / env.world_size : 1;

  torch::manual_seed(options.seed);
  Moco moco(backbone, moco_config);
  if (group && options.bn_splits == 1) {
    moco->encoder_q->SetBatchNormSync(group);
    moco->encoder_k->SetBatchNormSync(group);
  }
  moco->to(device);
  const bool cuda = kind == DeviceKind::kCuda;
  if (cuda) {
    // Channels-last weights feed tensor cores; the dataset stays resident on the GPU when it
    // fits, so that batches never cross the PCIe bus.
    ToChannelsLast(*moco);
    MoveToDeviceIfItFits(&data, device);
    log::Info(absl::StrFormat("pretrain on the GPU: %s arithmetic, channels-last, %d BatchNorm sub-batches",
                              options.precision, options.bn_splits));
  }
  std::vector<torch::Tensor> trainable = moco->encoder_q->parameters();
  for (const auto& p : moco->head_q->parameters()) trainable.push_back(p);
  // The photometric pretext: a linear map from the query encoder's features to the image's own
  // aperture photometry, trained with it (made after MoCo, whose initialisation stays the same).
  torch::nn::Linear photometry_head{nullptr};
  torch::Tensor photometry_targets;
  AuxiliaryLoss photometry_loss;
  if (options.photometry_weight > 0) {
    photometry_targets = PhotometryTargets(data, options.photometry_radii).to(device);
    photometry_head = torch::nn::Linear(backbone.feature_dim(), photometry_targets.size(1));
    photometry_head->to(device);
    for (const auto& p : photometry_head->parameters()) trainable.push_back(p);
    log::Info(absl::StrFormat("photometric pretext: %d aperture features per image (radii %s arcsec), weight %g",
                              photometry_targets.size(1), absl::StrJoin(options.photometry_radii, ","),
                              options.photometry_weight));
  }
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
  meta.input_softening = backbone.input_softening;
  meta.band_noise = band_noise;
  meta.data_path = options.data_path;
  meta.data_checksum = checksum;
  meta.total_steps = total_steps;
  meta.seed = options.seed;
  meta.training_json = PretrainingRecord(options, total_steps, n);
  meta.software_version = std::string(Version());

  int64_t step = 0;
  if (options.resume || (options.resume_if_present && std::filesystem::exists(checkpoint_path))) {
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(checkpoint_path));
    const ModelMetadata& old = reader->metadata();
    GALAXY_RETURN_IF_ERROR(CheckResumable(old, meta, checkpoint_path));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kBackbonePart, *moco->encoder_q));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule(kProjectionPart, *moco->head_q));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule("encoder_k", *moco->encoder_k));
    GALAXY_RETURN_IF_ERROR(reader->LoadModule("head_k", *moco->head_k));
    if (photometry_head) GALAXY_RETURN_IF_ERROR(reader->LoadModule(kPhotometryHeadPart, *photometry_head));
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
    meta.monitor_json = old.monitor_json;
    log::Info("resuming", {{"checkpoint", checkpoint_path}, {"step", absl::StrCat(step)}});
  }
  std::optional<GradientReducer> reducer;
  if (group) {
    GALAXY_RETURN_IF_ERROR(group->CheckSame(step, "the step to resume from (--out must be one directory shared by "
                                                  "every rank)"));
    try {
      // The same start everywhere (the seed already gives it; a broadcast makes sure).
      BroadcastState(*group, *moco);
    } catch (const std::exception& e) {
      return StatusFromException(e, "pretraining");
    }
    reducer.emplace(group, trainable);
  }
  // Ranks that normalise their own sub-batches keep their own BatchNorm statistics: their mean is
  // the one-process statistics (data_parallel.h AverageBuffers), taken before they are read.
  auto gather_statistics = [&] {
    if (!group || options.bn_splits == 1) return;
    AverageBuffers(*group, *moco->encoder_q);
    AverageBuffers(*group, *moco->encoder_k);
  };

  AugmentOptions aug = ContrastiveViews(options, data, meta.band_noise, crop);
  aug.noise_on_device = cuda;
  const Augmenter augmenter(aug, data.layout.bands, data.layout.height);
  // Multi-crop's local views: the global views' augmentation with a smaller crop.
  std::optional<Augmenter> local_augmenter;
  if (options.local_crops > 0) {
    AugmentOptions local = aug;
    local.crop = options.local_crop;
    local_augmenter.emplace(local, data.layout.bands, data.layout.height);
    log::Info(absl::StrFormat("multi-crop: %d local views of %d px per image beside the two of %d px",
                              options.local_crops, options.local_crop, crop));
  }

  std::optional<SslMonitor> monitor;  // rank 0's
  if (options.monitor_every > 0 && leader) {
    SslMonitorOptions monitor_options;
    monitor_options.crop = crop;
    absl::StatusOr<SslMonitor> made = SslMonitor::Create(data, monitor_options);
    if (made.ok()) {
      monitor.emplace(*std::move(made));
      log::Info(absl::StrFormat("monitor: %d reference and %d query galaxies; kNN on their aperture colours: "
                                "sigma_MAD %.4f",
                                monitor->reference_count(), monitor->query_count(), monitor->colour_sigma_mad()));
    } else {
      log::Info(absl::StrCat("representation monitor off: ", made.status().message()));
    }
  }
  PretrainResult result;
  // A resumed run's readings from before this call: the result holds the whole run's.
  for (const nlohmann::json& reading : nlohmann::json::parse(meta.monitor_json)) result.monitor.push_back(reading.dump());
  auto measure = [&](int64_t at) {
    const SslMonitorReading reading = monitor->Measure(*moco->encoder_q, *moco->head_q, at);
    log::Info(absl::StrCat("monitor: ", reading.Line()));
    nlohmann::json history = nlohmann::json::parse(meta.monitor_json);
    history.push_back(nlohmann::json::parse(reading.Json()));
    meta.monitor_json = history.dump();
    result.monitor.push_back(reading.Json());
  };

  auto save = [&](int64_t at) -> absl::Status {
    meta.step = at;
    meta.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
    CheckpointWriter writer(meta);
    writer.AddModule(kBackbonePart, *moco->encoder_q);
    writer.AddModule(kProjectionPart, *moco->head_q);
    writer.AddModule("encoder_k", *moco->encoder_k);
    writer.AddModule("head_k", *moco->head_k);
    if (photometry_head) writer.AddModule(kPhotometryHeadPart, *photometry_head);
    writer.AddTensor("queue", moco->queue);
    writer.AddTensor("queue_ptr", moco->queue_ptr);
    writer.AddOptimizer(optimizer);
    return writer.Save(checkpoint_path);
  };

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
  // checkpoint holds the weights it produced. On the CPU each is read right after its step.
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
    // The untrained network's reading: what pretraining has to beat.
    if (monitor && step == 0) measure(0);
    log::Info(absl::StrFormat("pretrain: training from step %d of %d%s", step, total_steps,
                              group ? absl::StrFormat(", rank %d of %d", env.rank, env.world_size) : ""));
    while (step < total_steps && (stop_after <= 0 || steps_this_call < stop_after)) {
      const double lr = base_lr * 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total_steps)));
      SetLearningRate(optimizer, lr);
      // A rank's share of the global batch (data_parallel.h RankRows); the augmentation's draws
      // are the whole batch's, so that each image is augmented as in one process.
      const torch::Tensor rows = group ? RankRows(options.batch, env.rank, env.world_size) : torch::Tensor();
      torch::Tensor batch_index = order.Batch(step, options.batch);
      if (group) batch_index = batch_index.index_select(0, rows);
      const torch::Tensor index = ToDeviceAsync(batch_index, data.images.device());
      const torch::Tensor x = ToDeviceAsync(data.images.index_select(0, index), device);
      const torch::Tensor ebv = ToDeviceAsync(data.e_bv.index_select(0, index), device);
      const bool bf16 = cuda && options.precision == "bf16";
      torch::Tensor view_q, view_k, view_local, key_order;
      {
        // The views under the same autocast as the forward pass, as they always were.
        CudaAutocast autocast(bf16);
        AugmentDraws draw_q = augmenter.Draw(options.batch, options.seed, 2 * static_cast<uint64_t>(step));
        AugmentDraws draw_k = augmenter.Draw(options.batch, options.seed, 2 * static_cast<uint64_t>(step) + 1);
        if (group) {
          draw_q = draw_q.Rows(rows);
          draw_k = draw_k.Rows(rows);
        }
        view_q = augmenter.Apply(x, ebv, draw_q);
        view_k = augmenter.Apply(x, ebv, draw_k);
        if (local_augmenter) {
          // Local view j of image i at row j * batch + i, drawn for the whole batch like the others.
          const int64_t copies = options.local_crops;
          AugmentDraws draw_local = local_augmenter->Draw(options.batch * copies, options.seed ^ kLocalViewSeedSalt,
                                                         static_cast<uint64_t>(step));
          if (group) {
            std::vector<torch::Tensor> mine;
            for (int64_t j = 0; j < copies; ++j) mine.push_back(rows + j * options.batch);
            draw_local = draw_local.Rows(torch::cat(mine));
          }
          view_local = local_augmenter->Apply(x.repeat({copies, 1, 1, 1}), ebv.repeat({copies}), draw_local);
        }
      }
      if (cuda) {
        view_q = view_q.contiguous(torch::MemoryFormat::ChannelsLast);
        view_k = view_k.contiguous(torch::MemoryFormat::ChannelsLast);
        if (view_local.defined()) view_local = view_local.contiguous(torch::MemoryFormat::ChannelsLast);
      }
      if (options.bn_splits > 1) key_order = ToDeviceAsync(KeyOrder(options.batch, options.seed, step), device);
      if (photometry_head) {
        const torch::Tensor target = photometry_targets.index_select(0, ToDeviceAsync(batch_index, device));
        photometry_loss = [&, target](const torch::Tensor& features) {
          return options.photometry_weight *
                 torch::nn::functional::smooth_l1_loss(photometry_head(features).to(torch::kFloat32), target);
        };
      }
      const MocoStep out =
          group ? DataParallelMocoStep(moco, optimizer, *reducer, *group, view_q, view_k, key_order, options.bn_splits,
                                       bf16, /*multi_tensor_sgd=*/cuda, photometry_loss, view_local)
                : MocoTrainStep(moco, optimizer, view_q, view_k, key_order, bf16, /*multi_tensor_sgd=*/cuda,
                                photometry_loss, view_local);
      pending.Add(step, RecordedLoss(out));
      ++step;
      ++steps_this_call;
      images += options.batch;
      const bool save_now = step % options.checkpoint_every == 0 || step == total_steps;
      const bool log_now = step % 10 == 0 || step == total_steps;
      if (save_now || log_now || step % readback == 0) GALAXY_RETURN_IF_ERROR(read_losses());
      // Decided alike on every rank: the statistics are gathered by all of them.
      const bool measure_now = options.monitor_every > 0 && (step % options.monitor_every == 0 || step == total_steps);
      if (measure_now || save_now) gather_statistics();
      if (monitor && measure_now) measure(step);
      if (save_now) {
        if (leader) GALAXY_RETURN_IF_ERROR(save(step));
        last_saved = step;
      }
      if (log_now) {
        if (leader) progress.Update(step);
        log::Debug("step", {{"step", absl::StrCat(step)}, {"loss", absl::StrFormat("%.4f", loss_ema)},
                            {"accuracy", absl::StrFormat("%.3f", out.accuracy.item<double>())},
                            {"photometry", out.auxiliary.defined()
                                               ? absl::StrFormat("%.4f", out.auxiliary.item<double>()) : "-"},
                            {"local", out.local.defined() ? absl::StrFormat("%.4f", out.local.item<double>()) : "-"},
                            {"lr", absl::StrFormat("%.5f", lr)}});
      }
    }
    GALAXY_RETURN_IF_ERROR(read_losses());
  } catch (const std::exception& e) {
    return StatusFromException(e, absl::StrCat("pretraining at step ", step));
  }
  if (last_saved != step) {
    try {
      gather_statistics();
    } catch (const std::exception& e) {
      return StatusFromException(e, absl::StrCat("pretraining at step ", step));
    }
    if (leader) GALAXY_RETURN_IF_ERROR(save(step));
  }
  result.steps = step;
  result.rank = env.rank;
  result.world_size = env.world_size;
  if (!leader) result.checkpoint.clear();
  result.images_per_second = images / std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  if (step == total_steps && leader) {
    std::filesystem::copy_file(checkpoint_path, model_path + ".tmp", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::rename(model_path + ".tmp", model_path);
    result.model = model_path;
  }
  const std::string rank = group ? absl::StrFormat(" (rank %d of %d)", env.rank, env.world_size) : "";
  if (steps_this_call == 0) {
    log::Info(absl::StrFormat("pretrain: the checkpoint is at step %d of %d; nothing to train%s", step, total_steps, rank));
  } else {
    log::Info(absl::StrFormat("pretrain: step %d/%d, loss %.4f, %.1f img/s%s", step, total_steps, loss_ema,
                              result.images_per_second, rank));
  }
  return result;
}

}  // namespace galaxy
