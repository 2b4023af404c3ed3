#include "trainer/redshift_training.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/checksum.h"
#include "core/command_line.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"
#include "nlohmann/json.hpp"
#include "trainer/data_parallel.h"
#include "trainer/kept_contrast.h"
#include "trainer/pending_losses.h"
#include "trainer/redshift_model.h"
#include "trainer/training_data.h"

namespace galaxy {
namespace {

// Below this many validation galaxies, training warns that picking the best step and fitting the
// pdfs' temperature are noisy.
constexpr int64_t kFewValidationLabels = 50;

// Mean and spread of each galaxy's redshift pdf; with `pit` and `crps`, also how well the pdf
// describes the galaxy's known redshift (ScorePdf).
void Predict(GalaxyNet& net, const TrainingData& data, torch::Device device, int64_t batch,
             std::vector<double>* mean, std::vector<double>* sigma, std::vector<double>* pit = nullptr,
             std::vector<double>* crps = nullptr) {
  mean->clear();
  sigma->clear();
  EstimateInBatches(net, data, device, batch, [&](int64_t start, int64_t n, const RedshiftEstimate& e) {
    AppendDoubles(e.mean, mean);
    AppendDoubles(e.sigma, sigma);
    if (pit != nullptr && crps != nullptr) {
      const PdfScores scores = ScorePdf(e.pdf, data.redshift.narrow(0, start, n), net.bins);
      AppendDoubles(scores.pit, pit);
      AppendDoubles(scores.crps, crps);
    }
  });
}

// Targets spread over neighbouring bins: a Gaussian of `sigma_bins` bins around the true z
// (a one-hot bin when sigma_bins is 0). Neighbouring bins are nearly right, and saying so helps
// the classifier learn an ordered quantity from few labels.
torch::Tensor SoftTargets(const torch::Tensor& z, const RedshiftBins& bins, double sigma_bins) {
  const torch::Tensor centres = bins.Centres(z.device());
  if (sigma_bins <= 0) {
    return torch::one_hot(bins.Index(z), bins.bins).to(torch::kFloat32);
  }
  const double sigma = sigma_bins * bins.width();
  torch::Tensor t = torch::exp(-0.5 * ((centres.view({1, -1}) - z.view({-1, 1})) / sigma).pow(2));
  return t / t.sum(1, /*keepdim=*/true).clamp_min(1e-12);
}

// OK when the teacher of a distillation run (FinetuneOptions::teacher_path) can teach it: a model
// with a redshift head binned as this run's, trained on the same split and on a label fraction
// no larger than this run's (fractions are nested, so its labels are then among this run's).
// Reads the checkpoint's metadata only, before any data is loaded.
absl::Status CheckTeacher(const FinetuneOptions& options) {
  const std::string& path = options.teacher_path;
  absl::StatusOr<std::unique_ptr<CheckpointReader>> reader = CheckpointReader::Open(path);
  if (!reader.ok()) return absl::Status(reader.status().code(), absl::StrCat("--teacher: ", reader.status().message()));
  const ModelMetadata& meta = (*reader)->metadata();
  if (!meta.has_redshift_head) {
    return absl::FailedPreconditionError(
        absl::StrCat("--teacher ", path, " is a ", meta.kind, " checkpoint without a redshift head; fine-tune it first"));
  }
  if (meta.redshift_bins != options.bins || meta.z_min != 0 || meta.z_max != options.z_max) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "--teacher %s: its redshift head has %d bins on [%g, %g]; this run's has %d on [0, %g] (--bins, --z-max)", path,
        meta.redshift_bins, meta.z_min, meta.z_max, options.bins, options.z_max));
  }
  const nlohmann::json trained = nlohmann::json::parse(meta.training_json, nullptr, false);
  if (!trained.is_object() || !trained.contains("label_fraction") || !trained["label_fraction"].is_number() ||
      !trained.contains("fractions") || !trained["fractions"].is_string() || !trained.contains("split_seed") ||
      !trained["split_seed"].is_number_unsigned()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--teacher ", path, " does not record the labels it was trained on (label fraction and split); "
        "only a model of galaxy-train finetune or supervised can be a teacher"));
  }
  const std::string their_split = trained["fractions"].get<std::string>();
  const uint64_t their_seed = trained["split_seed"].get<uint64_t>();
  GALAXY_ASSIGN_OR_RETURN(SplitFractions ours, ParseSplitFractions(options.fractions));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions theirs, ParseSplitFractions(their_split));
  const auto near = [](double a, double b) { return std::abs(a - b) < 1e-9; };
  if (!near(ours.train, theirs.train) || !near(ours.validation, theirs.validation) || their_seed != options.split_seed) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--teacher ", path, " was trained on the split ", their_split, " (seed ", their_seed, "); this run's is ",
        options.fractions, " (seed ", options.split_seed, "): its pdfs could carry labels of this run's validation or test part"));
  }
  const double teacher_fraction = trained["label_fraction"].get<double>();
  if (teacher_fraction > options.label_fraction * (1 + 1e-9)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--teacher ", path, " was trained on label fraction ", teacher_fraction, "; this run has ",
        options.label_fraction, " (--label-fraction), and the teacher's pdfs would carry the labels it lacks"));
  }
  return absl::OkStatus();
}

// The targets of a distillation run (the teacher passed CheckTeacher), one row per galaxy of
// `train` (N x bins, on the CPU): the teacher's pdf, or for the galaxies inside the label
// fraction with a known redshift, their SoftTargets. `labelled` counts the latter.
absl::StatusOr<torch::Tensor> DistillationTargets(const FinetuneOptions& options, const TrainingData& train,
                                                  const RedshiftBins& bins, torch::Device device, int64_t* labelled) {
  const std::string& path = options.teacher_path;
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet teacher, LoadGalaxyNet(path, device));
  if (teacher.metadata.bands() != train.layout.bands) {
    return absl::InvalidArgumentError(absl::StrCat("--teacher ", path, " expects ", teacher.metadata.bands(),
                                                   " bands; ", options.data_path, " has ", train.layout.bands));
  }
  log::Info(absl::StrFormat("distillation: the teacher (%s) predicts %d galaxies", path, train.size()));
  std::vector<torch::Tensor> pdfs;
  Progress progress("teacher", "galaxies", train.size());
  EstimateInBatches(teacher, train, device, 256, [&](int64_t start, int64_t n, const RedshiftEstimate& e) {
    pdfs.push_back(e.pdf.cpu());
    progress.Update(start + n);
  });
  torch::Tensor targets = torch::cat(pdfs);
  std::vector<int64_t> rows;
  const torch::Tensor z = train.redshift.to(torch::kCPU, torch::kFloat32).contiguous();
  const float* zs = z.data_ptr<float>();
  for (int64_t i = 0; i < train.size(); ++i) {
    if (HasKnownRedshift(zs[i]) && InLabelFraction(train.ids[static_cast<size_t>(i)], options.label_fraction)) {
      rows.push_back(i);
    }
  }
  *labelled = static_cast<int64_t>(rows.size());
  if (!rows.empty()) {
    const torch::Tensor index = torch::tensor(rows, torch::kInt64);
    targets.index_copy_(0, index, SoftTargets(z.index_select(0, index), bins, options.label_smoothing_bins));
  }
  return targets;
}

}  // namespace

absl::StatusOr<RedshiftTrainResult> RunRedshiftTraining(const FinetuneOptions& options) {
  GALAXY_RETURN_IF_ERROR(options.Validate());
  GALAXY_ASSIGN_OR_RETURN(const torch::Device device, StartOn(options.device, options.threads));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions fractions, ParseSplitFractions(options.fractions));
  const bool finetune = !options.init_path.empty();
  // Data-parallel (trainer/data_parallel.h): each rank trains on every W-th galaxy of each global
  // batch with BatchNorm synchronised across the ranks; rank 0 validates and writes the model.
  GALAXY_ASSIGN_OR_RETURN(const DistributedEnv env, DistributedEnvFromEnvironment());
  GALAXY_ASSIGN_OR_RETURN(const std::shared_ptr<ProcessGroup> group,
                          JoinTrainingGroup(env, options.batch, options.dist_timeout_seconds));
  const bool leader = env.rank == 0;

  // Distillation trains on every galaxy of the training part, with or without a redshift.
  const bool distil = !options.teacher_path.empty();
  if (distil) GALAXY_RETURN_IF_ERROR(CheckTeacher(options));
  RowSelection train_rows = LabelledPart(SplitPart::kTrain, fractions, options.split_seed);
  if (distil) {
    train_rows.require_redshift = false;
  } else {
    train_rows.label_fraction = options.label_fraction;
  }
  GALAXY_ASSIGN_OR_RETURN(TrainingData train, LoadTrainingData(options.data_path, train_rows));
  RowSelection val_rows = LabelledPart(SplitPart::kValidation, fractions, options.split_seed);
  val_rows.label_fraction = options.ValidationFraction();
  absl::StatusOr<TrainingData> val_or = LoadTrainingData(options.data_path, val_rows);
  if (absl::IsFailedPrecondition(val_or.status()) && val_rows.label_fraction < 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--validation-labels label-fraction: ", val_or.status().message(), " at label fraction ",
        options.label_fraction, "; give more labels or --validation-labels all"));
  }
  GALAXY_ASSIGN_OR_RETURN(TrainingData val, std::move(val_or));
  if (val.size() < kFewValidationLabels) {
    log::Warn(absl::StrFormat("%d validation galaxies pick the best step and fit the pdfs' temperature: both are "
                              "noisy with so few",
                              val.size()));
  }

  torch::manual_seed(options.seed);
  GalaxyNet net;
  ResNetConfig config;
  if (finetune) {
    GALAXY_ASSIGN_OR_RETURN(net, LoadGalaxyNet(options.init_path, torch::kCPU));
    if (net.metadata.bands() != train.layout.bands) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.init_path, " was trained on ", net.metadata.bands(), " bands; ", options.data_path,
          " has ", train.layout.bands));
    }
    config.arch = net.metadata.arch;
    config.stem = net.metadata.stem;
  } else {
    config.arch = options.arch;
    config.stem = options.stem;
    net.metadata.kind = "supervised";
    net.metadata.arch = options.arch;
    net.metadata.stem = options.stem;
    net.metadata.band_names = train.layout.band_names;
    net.metadata.image_size = std::min<int64_t>(64, train.layout.height);
    net.metadata.has_projection_head = false;
    if (options.band_noise.empty()) {
      net.metadata.band_noise = EstimateBandNoise(train.images.narrow(0, 0, std::min<int64_t>(train.size(), 2000)));
    } else if (static_cast<int64_t>(options.band_noise.size()) != train.layout.bands) {
      return absl::InvalidArgumentError(absl::StrCat("band noise: ", options.band_noise.size(), " values for ",
                                                     options.data_path, "'s ", train.layout.bands, " bands"));
    } else {
      net.metadata.band_noise = options.band_noise;
    }
    GALAXY_ASSIGN_OR_RETURN(config.input_softening, InputSoftening(options.input_stretch, net.metadata.band_noise));
    net.metadata.input_softening = config.input_softening;
  }
  config.in_channels = train.layout.bands;
  GALAXY_RETURN_IF_ERROR(config.Validate());
  if (!finetune) net.backbone = ResNet(config);
  if (train.layout.height < net.metadata.image_size) {
    return absl::InvalidArgumentError(absl::StrCat(options.data_path, ": images are ", train.layout.height,
                                                   " px, smaller than the model's ", net.metadata.image_size));
  }
  net.metadata.kind = finetune ? "finetuned" : "supervised";
  net.metadata.feature_dim = config.feature_dim();
  net.metadata.embedding_dim = net.metadata.has_projection_head ? net.metadata.embedding_dim : config.feature_dim();
  net.metadata.has_redshift_head = true;
  net.metadata.z_min = 0;
  net.metadata.z_max = options.z_max;
  net.metadata.redshift_bins = options.bins;
  net.bins.z_min = 0;
  net.bins.z_max = options.z_max;
  net.bins.bins = options.bins;
  net.metadata.redshift_head_norm = options.head_norm;
  // The head is new, so is its calibration (a fine-tuned start may carry its own).
  net.metadata.redshift_temperature = 1;
  net.redshift = RedshiftHead(config.feature_dim(), options.bins, options.head_norm);
  // Per-galaxy targets of a distillation run (labels and the teacher's pdfs); otherwise each
  // batch's come from its labels.
  torch::Tensor distil_targets;
  int64_t labelled = train.size();
  if (distil) {
    try {
      GALAXY_ASSIGN_OR_RETURN(distil_targets, DistillationTargets(options, train, net.bins, device, &labelled));
    } catch (const std::exception& e) {
      return StatusFromException(e, "the teacher's predictions");
    }
  }
  net.backbone->to(device);
  net.redshift->to(device);
  if (net.projection) net.projection->to(device);
  if (group) {
    net.backbone->SetBatchNormSync(group);
    net.redshift->norm_sync = group;
    try {
      BroadcastState(*group, *net.backbone);
      BroadcastState(*group, *net.redshift);
    } catch (const std::exception& e) {
      return StatusFromException(e, net.metadata.kind);
    }
  }
  const bool cuda = device.is_cuda();
  if (cuda) {
    // As pretraining: channels-last weights and inputs, bf16 autocast, the data on the GPU.
    ToChannelsLast(*net.backbone);
    if (MoveToDeviceIfItFits(&train, device) && distil) distil_targets = distil_targets.to(device);
  }
  // A head warm-up keeps the pretrained BatchNorm statistics: the backbone is in eval mode until
  // the joint phase.
  const int64_t warmup = finetune ? options.head_warmup_steps : 0;
  net.backbone->train(warmup == 0);
  net.redshift->train();

  // Backbone at backbone_lr_factor of the head's rate when fine-tuning; the whole network at the
  // head's rate from scratch.
  const double backbone_lr = finetune ? options.head_lr * options.backbone_lr_factor : options.head_lr;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(net.backbone->parameters(),
                      std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(backbone_lr).weight_decay(options.weight_decay)));
  groups.emplace_back(net.redshift->parameters(),
                      std::make_unique<torch::optim::AdamOptions>(torch::optim::AdamOptions(options.head_lr).weight_decay(options.weight_decay)));
  // With the contrastive loss kept, the projection head trains too, at the backbone's rate.
  if (options.ssl_weight > 0 && net.projection) {
    groups.emplace_back(net.projection->parameters(), std::make_unique<torch::optim::AdamOptions>(
                                                          torch::optim::AdamOptions(backbone_lr).weight_decay(
                                                              options.weight_decay)));
  }
  torch::optim::Adam optimizer(std::move(groups), torch::optim::AdamOptions(options.head_lr));
  std::optional<GradientReducer> reducer;
  if (group) {
    std::vector<torch::Tensor> trained = net.backbone->parameters();
    for (const torch::Tensor& p : net.redshift->parameters()) trained.push_back(p);
    reducer.emplace(group, trained);
  }

  AugmentOptions aug = LabelTrainingAugmentations(net.metadata.image_size, net.metadata.band_noise, train.layout.bands);
  aug.noise_on_device = cuda;  // drawn on the GPU, not on the host and copied each step
  const Augmenter augmenter(aug, train.layout.bands, train.layout.height);

  const int64_t n = train.size();
  // The global batch; a multiple of the world size (checked above) unless the data are fewer.
  const int64_t batch = std::min<int64_t>(options.batch, n - n % env.world_size);
  const int64_t per_epoch = std::max<int64_t>(1, n / batch);
  const int64_t total = options.steps > 0 ? options.steps : options.epochs * per_epoch;
  GALAXY_RETURN_IF_ERROR(ValidateHeadWarmup(warmup, total));
  // About 20 validations per run, whatever the label count: with few labels an epoch is a handful
  // of steps, and validating every epoch (2,000 galaxies each time) cost more than the training.
  const int64_t validate_every = std::max<int64_t>(1, total / 20);
  std::unique_ptr<KeptContrast> contrast;
  if (options.ssl_weight > 0) {
    if (group) return absl::UnimplementedError("--ssl-weight: not with WORLD_SIZE > 1 yet (train in one process)");
    try {
      GALAXY_ASSIGN_OR_RETURN(contrast, KeptContrast::Start(options, fractions, net, device, batch));
    } catch (const std::exception& e) {
      return StatusFromException(e, "--ssl-weight: the key encoder");
    }
  }
  const std::string out_model = options.out_dir + "/model.pt";
  std::filesystem::create_directories(options.out_dir);
  GALAXY_ASSIGN_OR_RETURN(std::string checksum, Sha256FileRemembered(options.data_path));
  net.metadata.data_path = options.data_path;
  net.metadata.data_checksum = checksum;
  net.metadata.seed = options.seed;
  net.metadata.total_steps = total;
  net.metadata.software_version = std::string(Version());
  nlohmann::json training = nlohmann::json({{"label_fraction", options.label_fraction},
                                               {"labels", labelled},
                                               {"validation_labels", options.validation_labels},
                                               {"validation", val.size()},
                                               {"batch", batch},
                                               {"head_lr", options.head_lr},
                                               {"backbone_lr", backbone_lr},
                                               {"head_warmup_steps", warmup},
                                               {"ssl_weight", options.ssl_weight},
                                               {"init", options.init_path},
                                               {"fractions", options.fractions},
                                               {"split_seed", options.split_seed}});
  if (distil) {
    training["teacher"] = options.teacher_path;
    training["teacher_galaxies"] = n - labelled;
  }
  net.metadata.training_json = training.dump();
  log::Info(absl::StrFormat("%s: %d labelled galaxies (label fraction %g)%s, %d validation, %d steps",
                            net.metadata.kind, labelled, options.label_fraction,
                            distil ? absl::StrFormat(" and %d with the teacher's pdfs", n - labelled) : "",
                            val.size(), total));

  RedshiftTrainResult result;
  result.labels = labelled;
  result.validation_labels = val.size();
  result.teacher_galaxies = n - labelled;
  result.best_validation_sigma_mad = std::numeric_limits<double>::infinity();
  EpochOrder order(n, options.seed);
  Progress progress(net.metadata.kind, "steps", total);
  const std::vector<double> val_z = ToDoubles(val.redshift);
  const absl::Time start = absl::Now();
  // Losses not read back yet (pending_losses.h): on a GPU they are read at each validation, so
  // that the host never waits for the GPU between steps; on the CPU each is read before its
  // backward pass. A non-finite loss stops the run before the next model is saved.
  PendingLosses pending;
  double last_loss = 0;
  torch::Tensor last_infonce;  // the contrastive loss of the last step, with --ssl-weight
  auto read_losses = [&]() -> absl::Status {
    std::vector<double> read;
    const std::optional<PendingLosses::NonFinite> bad = pending.ReadInto(&read);
    if (!read.empty()) last_loss = read.back();
    if (!bad) return absl::OkStatus();
    return absl::AbortedError(absl::StrFormat("loss became %f at step %d; stopped (best model so far: %s)",
                                              bad->value, bad->step, out_model));
  };
  try {
    for (int64_t step = 0; step < total; ++step) {
      const double cosine = 0.5 * (1 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(total)));
      SetLearningRates(optimizer, {backbone_lr * cosine, options.head_lr * cosine, backbone_lr * cosine});
      torch::Tensor rows = order.Batch(step, batch);
      AugmentDraws draws = augmenter.Draw(batch, options.seed, static_cast<uint64_t>(step));
      if (group) {
        // This rank's share of the global batch, augmented as one process would.
        const torch::Tensor mine = RankRows(batch, env.rank, env.world_size);
        rows = rows.index_select(0, mine);
        draws = draws.Rows(mine);
      }
      const torch::Tensor index = ToDeviceAsync(rows, train.images.device());
      torch::Tensor x = augmenter.Apply(ToDeviceAsync(train.images.index_select(0, index), device),
                                        ToDeviceAsync(train.e_bv.index_select(0, index), device), draws);
      if (cuda) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      const torch::Tensor targets =
          distil ? ToDeviceAsync(distil_targets.index_select(0, index), device)
                 : SoftTargets(ToDeviceAsync(train.redshift.index_select(0, index), device), net.bins,
                               options.label_smoothing_bins);
      if (step == warmup && warmup > 0) {
        net.backbone->train();
        log::Info(absl::StrFormat("%s: head warmed up for %d steps; the backbone trains from here", net.metadata.kind,
                                  warmup));
      }
      // The contrastive pass first, forward and backward: its BatchNorm updates would otherwise
      // change statistics that the redshift loss's backward pass reads.
      DropGradients(optimizer);
      const bool contrast_now = contrast && step >= warmup;
      if (contrast_now) last_infonce = contrast->Backward(step, device, cuda, options.ssl_weight);
      torch::Tensor logits;
      {
        CudaAutocast autocast(cuda);
        torch::Tensor features;
        {
          // During the warm-up the backbone runs without a graph: its parameters get no gradient,
          // and Adam leaves them (and their moments) untouched.
          torch::AutoGradMode backbone_grad(step >= warmup);
          features = net.backbone(x);
        }
        logits = net.redshift(features);
      }
      const torch::Tensor loss = -(targets * torch::log_softmax(logits.to(torch::kFloat32), 1)).sum(1).mean();
      pending.Add(step, loss);
      if (!cuda) GALAXY_RETURN_IF_ERROR(read_losses());
      loss.backward();
      if (reducer) reducer->Finish();
      optimizer.step();
      if (contrast_now) contrast->AfterStep();
      result.steps = step + 1;
      if ((step + 1) % validate_every == 0 || step + 1 == total) {
        GALAXY_RETURN_IF_ERROR(read_losses());
        if (!leader) continue;
        const double value = last_loss;
        std::vector<double> mean, sigma;
        Predict(net, val, device, 256, &mean, &sigma);
        GALAXY_ASSIGN_OR_RETURN(PhotozMetrics m, ComputePhotozMetrics(mean, val_z));
        log::Debug("validation", {{"step", absl::StrCat(step + 1)}, {"sigma_mad", absl::StrFormat("%.4f", m.sigma_mad)},
                                  {"loss", absl::StrFormat("%.4f", value)},
                                  {"infonce", last_infonce.defined()
                                                  ? absl::StrFormat("%.4f", last_infonce.item<double>())
                                                  : std::string("-")}});
        if (m.sigma_mad < result.best_validation_sigma_mad) {
          result.best_validation_sigma_mad = m.sigma_mad;
          net.metadata.step = step + 1;
          net.metadata.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
          GALAXY_RETURN_IF_ERROR(SaveRedshiftModel(net, out_model));
        }
        progress.Update(step + 1);
      }
    }
  } catch (const std::exception& e) {
    return StatusFromException(e, "redshift training");
  }
  result.images_per_second = static_cast<double>(result.steps * batch) /
                             std::max(1e-9, absl::ToDoubleSeconds(absl::Now() - start));
  if (!leader) {
    log::Info(absl::StrFormat("%s: rank %d of %d done; rank 0 validates and writes the model", net.metadata.kind,
                              env.rank, env.world_size));
    return result;
  }
  if (options.calibrate_pdf) {
    try {
      // The best model on validation, not the last step's network.
      GALAXY_ASSIGN_OR_RETURN(GalaxyNet best, LoadGalaxyNet(out_model, device));
      GALAXY_ASSIGN_OR_RETURN(result.calibration, CalibratePdfs(best, val, device, out_model));
    } catch (const std::exception& e) {
      return StatusFromException(e, "pdf calibration");
    }
  }
  result.model = out_model;
  log::Info(absl::StrFormat("%s: best validation sigma_MAD %.4f; model %s", net.metadata.kind,
                            result.best_validation_sigma_mad, out_model));
  return result;
}

absl::StatusOr<EvalReport> RunEval(const EvalOptions& options) {
  GALAXY_ASSIGN_OR_RETURN(const torch::Device device, StartOn(options.device, options.threads));
  GALAXY_ASSIGN_OR_RETURN(SplitFractions fractions, ParseSplitFractions(options.fractions));
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet net, LoadRedshiftModel(options.model_path, device));
  GALAXY_ASSIGN_OR_RETURN(
      TrainingData test,
      LoadTrainingData(options.data_path, LabelledPart(SplitPart::kTest, fractions, options.split_seed)));
  if (test.layout.bands != net.metadata.bands()) {
    return absl::InvalidArgumentError(absl::StrCat(options.model_path, " expects ", net.metadata.bands(),
                                                   " bands; ", options.data_path, " has ", test.layout.bands));
  }
  EvalReport report;
  report.model_kind = net.metadata.kind;
  report.pdf_temperature = net.metadata.redshift_temperature;
  try {
    Predict(net, test, device, options.batch, &report.z_phot, &report.z_err, &report.pit, &report.crps);
  } catch (const std::exception& e) {
    return StatusFromException(e, "evaluation");
  }
  report.z_spec = ToDoubles(test.redshift);
  PdfSummary pdfs = SummarisePdfScores(report.pit, report.crps);
  report.pit_histogram = std::move(pdfs.pit_histogram);
  report.crps_mean = pdfs.crps_mean;
  report.coverage_68 = pdfs.coverage_68;
  report.coverage_95 = pdfs.coverage_95;
  GALAXY_ASSIGN_OR_RETURN(report.overall, ComputePhotozMetrics(report.z_phot, report.z_spec));
  std::vector<double> edges;
  for (double e = 0; e < 0.4 + 1e-9; e += 0.05) edges.push_back(e);
  GALAXY_ASSIGN_OR_RETURN(report.per_bin, ComputePhotozMetricsPerBin(report.z_phot, report.z_spec, edges));
  if (options.with_baseline) {
    GALAXY_ASSIGN_OR_RETURN(ColourTable table, MeasureColourTable(options.data_path, options.threads));
    GALAXY_ASSIGN_OR_RETURN(report.baseline, RunColourKnnBaseline(table, options.knn_k, fractions, options.split_seed,
                                                                  options.threads));
    report.has_baseline = true;
  }
  return report;
}

std::string EvalReportJson(const EvalReport& r) {
  nlohmann::json bins = nlohmann::json::array();
  for (const PhotozMetrics& m : r.per_bin) bins.push_back(nlohmann::json::parse(PhotozMetricsJson(m)));
  nlohmann::json j = {{"model_kind", r.model_kind},
                      {"test", nlohmann::json::parse(PhotozMetricsJson(r.overall))},
                      {"per_bin", bins},
                      {"pdf", {{"temperature", r.pdf_temperature},
                               {"crps_mean", r.crps_mean},
                               {"coverage_68", r.coverage_68},
                               {"coverage_95", r.coverage_95},
                               {"pit_histogram", r.pit_histogram}}}};
  if (r.has_baseline) j["knn_colours_baseline"] = nlohmann::json::parse(PhotozBaselineJson(r.baseline));
  return j.dump(2);
}

}  // namespace galaxy
