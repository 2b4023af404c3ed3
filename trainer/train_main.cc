// galaxy-train: learns galaxy representations (MoCo v2) and fine-tunes a redshift head.
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/command_line.h"
#include "core/file_util.h"
#include "core/library_versions.h"
#include "core/status_macros.h"
#include "data/data_versions.h"
#include "model/arch.h"
#include "model/model_import.h"
#include "model/torch_info.h"
#include "trainer/experiment.h"
#include "trainer/pretrain.h"
#include "trainer/probe.h"
#include "trainer/redshift_training.h"
#include "trainer/representation_quality.h"
#include "trainer/train_bench.h"
#include "trainer/train_commands.h"
#include "trainer/train_options.h"

namespace galaxy {
namespace {

absl::Status Devices() {
  TorchInfo info = GetTorchInfo();
  std::cout << "LibTorch      " << info.version << "\n"
            << "built with    " << (info.built_with_cuda ? "CUDA" : "CPU only") << "\n"
            << "CUDA devices  " << info.cuda_devices << "\n";
  for (size_t d = 0; d < info.device_names.size(); ++d) {
    std::cout << "  cuda:" << d << "      " << info.device_names[d] << "\n";
  }
  std::cout << "CPU threads   " << info.cpu_threads << "\n";
  absl::StatusOr<DeviceKind> device = ResolveDevice("auto");
  std::cout << "--device auto " << (device.ok() && *device == DeviceKind::kCuda ? "cuda" : "cpu")
            << "\n";
  return absl::OkStatus();
}

// One line saying what a pdf calibration did.
std::string CalibrationLine(const PdfCalibration& c) {
  return absl::StrFormat("pdf temperature %.3f from %d validation galaxies: the 68%% interval holds %.3f of their "
                         "redshifts (%.3f before)\n",
                         c.temperature, c.galaxies, c.coverage_68_after, c.coverage_68_before);
}

}  // namespace
}  // namespace galaxy

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-train",
      "Self-supervised MoCo v2 pretraining of a ResNet on multi-band galaxy images, redshift\n"
      "fine-tuning, the supervised baseline, evaluation and the label-efficiency experiment.");
  cli.SetVersionDetails([] {
    return galaxy::JoinVersions(
        {galaxy::TorchLibraryVersions(), galaxy::DataLibraryVersions(), galaxy::CoreLibraryVersions()});
  });
  cli.AddCommand("devices", "Show LibTorch, CUDA devices and CPU threads",
                 [] { return galaxy::Devices(); });

  // Data-parallel training reads torchrun's variables; the rest is automatic.
  const char* const kDistTimeoutHelp =
      "Seconds a rank waits for the group to form (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) and for "
      "the others at each exchange before it stops";
  galaxy::PretrainOptions pretrain;
  CLI::App* pretrain_cmd = cli.AddCommand(
      "pretrain", "MoCo v2 pretraining (self-supervised; labels are never read)",
      [&]() -> absl::Status {
        absl::StatusOr<galaxy::PretrainResult> r = galaxy::RunPretrain(pretrain);
        if (!r.ok()) return r.status();
        std::cout << "pretrained " << r->steps << " steps at " << static_cast<int64_t>(r->images_per_second)
                  << " img/s"
                  << (r->checkpoint.empty() ? " (rank " + std::to_string(r->rank) + ": rank 0 writes the checkpoints)"
                                            : "; checkpoint " + r->checkpoint)
                  << (r->model.empty() ? "" : ", model " + r->model) << "\n";
        return absl::OkStatus();
      });
  pretrain_cmd->add_option("--data", pretrain.data_path, "Dataset (.h5)")->required();
  pretrain_cmd->add_option("--out", pretrain.out_dir, "Output directory (checkpoint.pt, model.pt)")->required();
  pretrain_cmd->add_option("--arch", pretrain.arch, galaxy::kArchChoices)->capture_default_str();
  pretrain_cmd->add_option("--stem", pretrain.stem, galaxy::kStemChoices)->capture_default_str();
  pretrain_cmd->add_option("--input-stretch", pretrain.input_stretch,
                           "asinh (flux / band noise; bright stars cannot swamp BatchNorm) | linear")
      ->capture_default_str();
  pretrain_cmd->add_option("--epochs", pretrain.epochs, "Passes over the data")->capture_default_str();
  pretrain_cmd->add_option("--steps", pretrain.steps, "Exact number of steps (instead of --epochs)");
  pretrain_cmd->add_option("--batch", pretrain.batch, "Images per step")->capture_default_str();
  pretrain_cmd->add_option("--queue", pretrain.queue, "Negatives in the queue (multiple of --batch)")
      ->capture_default_str();
  pretrain_cmd->add_option("--momentum", pretrain.momentum, "Key-encoder momentum")->capture_default_str();
  pretrain_cmd->add_option("--temperature", pretrain.temperature, "InfoNCE temperature")->capture_default_str();
  pretrain_cmd->add_option("--lr", pretrain.lr_per_256, "SGD learning rate per 256 images (cosine schedule)")
      ->capture_default_str();
  pretrain_cmd->add_option("--weight-decay", pretrain.weight_decay, "SGD weight decay")->capture_default_str();
  pretrain_cmd->add_option("--max-blur", pretrain.max_blur, "Largest PSF-blur sigma of the augmentation, px")
      ->capture_default_str();
  pretrain_cmd->add_option("--max-noise", pretrain.max_noise,
                           "Largest noise added to each band of a view, in units of the data's band noise (0: none)")
      ->capture_default_str();
  pretrain_cmd->add_option("--scale-jitter", pretrain.scale_jitter,
                           "Largest relative change of scale of the augmentation (views resized by U(1-s, 1+s))")
      ->capture_default_str();
  pretrain_cmd->add_option("--dust", pretrain.dust,
                           "New dust reddening of the views: survey (lognormal fitted to the data's e_bv) | "
                           "uniform (U(0, --max-dust)) | none")
      ->check(CLI::IsMember({"survey", "uniform", "none"}))
      ->capture_default_str();
  pretrain_cmd->add_option("--max-dust", pretrain.max_dust, "Largest E(B-V) of --dust uniform")->capture_default_str();
  pretrain_cmd->add_option("--mask-outskirts", pretrain.mask_outskirts,
                           "Share of the views whose outskirts become sky (neighbouring sources then differ "
                           "between views)")
      ->capture_default_str();
  pretrain_cmd->add_option("--outskirt-radius", pretrain.outskirt_radius,
                           "Smallest radius kept around the centre of a masked view, px of the stored cutout "
                           "(the largest is half its side)")
      ->capture_default_str();
  pretrain_cmd->add_option("--photometry-weight", pretrain.photometry_weight,
                           "Weight of the photometric pretext (predicting each image's own aperture magnitude "
                           "and colours from its features; 0: off)")
      ->capture_default_str();
  pretrain_cmd->add_option("--photometry-radii", pretrain.photometry_radii,
                           "Aperture radii of the photometric pretext, arcsec (comma-separated)")
      ->delimiter(',')
      ->capture_default_str();
  pretrain_cmd->add_option("--local-crops", pretrain.local_crops,
                           "Multi-crop: extra query views per image, each a --local-crop px crop around its "
                           "centre, contrasted with the image's global key (0: off)")
      ->capture_default_str();
  pretrain_cmd->add_option("--local-crop", pretrain.local_crop, "Side of the multi-crop local views, px")
      ->capture_default_str();
  pretrain_cmd->add_option("--bn-splits", pretrain.bn_splits,
                           "Shuffling BatchNorm: sub-batches with their own statistics (1: off)")
      ->capture_default_str();
  pretrain_cmd->add_option("--precision", pretrain.precision,
                           "Arithmetic of the step on a GPU: bf16 (autocast) | fp32 (the CPU is always fp32)")
      ->capture_default_str();
  pretrain_cmd->add_option("--monitor-every", pretrain.monitor_every,
                           "Steps between measurements of the representation (kNN redshift and type of a "
                           "labelled held-out sample; 0: never)")
      ->capture_default_str();
  pretrain_cmd->add_option("--checkpoint-every", pretrain.checkpoint_every, "Steps between checkpoints")
      ->capture_default_str();
  pretrain_cmd->add_option("--device", pretrain.device, "cpu | cuda | auto")->capture_default_str();
  pretrain_cmd->add_option("--seed", pretrain.seed, "Random seed")->capture_default_str();
  pretrain_cmd->add_option("--threads", pretrain.threads, "CPU threads (0: all)")->capture_default_str();
  pretrain_cmd->add_flag("--resume", pretrain.resume, "Continue exactly from --out/checkpoint.pt");
  pretrain_cmd->add_flag("--resume-if-present", pretrain.resume_if_present,
                         "Continue from --out/checkpoint.pt when it exists, else start (a restarted job)");
  pretrain_cmd->add_option("--dist-timeout", pretrain.dist_timeout_seconds, kDistTimeoutHelp)->capture_default_str();

  const char* const kValidationLabelsHelp =
      "Validation labels that pick the best step and fit the pdfs' temperature: all (every labelled galaxy of "
      "the validation part) | label-fraction (the same share of them as the run's label fraction takes of the "
      "training part's: what a user holding only that share of the labels has)";
  // The frozen representation that probe and quality read (galaxy::FeatureKinds).
  const char* const kFeaturesHelp =
      "backbone (the last stage, pooled) | stages (every stage's, concatenated) | projection";
  galaxy::FinetuneOptions finetune;
  auto add_redshift_flags = [&](CLI::App* cmd, bool from_scratch) {
    cmd->add_option("--data", finetune.data_path, "Dataset with specz_redshift (.h5)")->required();
    cmd->add_option("--out", finetune.out_dir, "Output directory (model.pt: best on validation)")->required();
    cmd->add_option("--label-fraction", finetune.label_fraction,
                    "Fraction of the training part's labels to use (nested across fractions)")->capture_default_str();
    cmd->add_option("--epochs", finetune.epochs, "Passes over the labelled galaxies")->capture_default_str();
    cmd->add_option("--validation-labels", finetune.validation_labels, kValidationLabelsHelp)
        ->capture_default_str();
    cmd->add_option("--steps", finetune.steps, "Exact number of steps (instead of --epochs)");
    cmd->add_flag("--no-head-norm{false}", finetune.head_norm,
                  "No BatchNorm on the redshift head's input features (the head of models before it)");
    cmd->add_flag("--no-pdf-calibration{false}", finetune.calibrate_pdf,
                  "Keep the head's own pdfs (no temperature fitted on the validation part)");
    cmd->add_option("--batch", finetune.batch, "Images per step")->capture_default_str();
    cmd->add_option("--teacher", finetune.teacher_path,
                    "Distil this model with a redshift head (of the same split and at most this label "
                    "fraction) into every galaxy of the training part: labelled galaxies train on their "
                    "labels, the others on the teacher's pdfs");
    cmd->add_option("--lr", finetune.head_lr,
                    from_scratch ? "Adam learning rate"
                                 : "Adam learning rate of the head (backbone: --backbone-lr-factor times it)")
        ->capture_default_str();
    cmd->add_option("--bins", finetune.bins, "Redshift bins on [0, --z-max]")->capture_default_str();
    cmd->add_option("--label-smoothing", finetune.label_smoothing_bins,
                    "Gaussian spread of each target over neighbouring bins, in bins (0: one-hot)")
        ->capture_default_str();
    cmd->add_option("--z-max", finetune.z_max, "Upper end of the redshift bins")->capture_default_str();
    cmd->add_option("--fractions", finetune.fractions, "train,validation,test split by ID hash")->capture_default_str();
    cmd->add_option("--split-seed", finetune.split_seed, "Seed of the split hash")->capture_default_str();
    cmd->add_option("--device", finetune.device, "cpu | cuda | auto")->capture_default_str();
    cmd->add_option("--seed", finetune.seed, "Random seed")->capture_default_str();
    cmd->add_option("--threads", finetune.threads, "CPU threads (0: all)")->capture_default_str();
    cmd->add_option("--dist-timeout", finetune.dist_timeout_seconds, kDistTimeoutHelp)->capture_default_str();
    if (from_scratch) {
      cmd->add_option("--arch", finetune.arch, galaxy::kArchChoices)->capture_default_str();
      cmd->add_option("--stem", finetune.stem, galaxy::kStemChoices)->capture_default_str();
      cmd->add_option("--input-stretch", finetune.input_stretch, "asinh (flux / band noise) | linear")
          ->capture_default_str();
    }
  };
  auto run_redshift = [&]() -> absl::Status {
    absl::StatusOr<galaxy::RedshiftTrainResult> r = galaxy::RunRedshiftTraining(finetune);
    if (!r.ok()) return r.status();
    if (r->model.empty()) {
      std::cout << absl::StrFormat("%d steps on this rank; rank 0 validates and writes the model\n", r->steps);
      return absl::OkStatus();
    }
    std::cout << absl::StrFormat("%d labelled galaxies%s, %d steps; best validation sigma_MAD %.4f; model %s\n",
                                 r->labels,
                                 finetune.teacher_path.empty()
                                     ? ""
                                     : absl::StrFormat(" and %d with the teacher's pdfs", r->teacher_galaxies),
                                 r->steps, r->best_validation_sigma_mad, r->model);
    if (r->calibration.galaxies > 0) std::cout << galaxy::CalibrationLine(r->calibration);
    return absl::OkStatus();
  };
  CLI::App* finetune_cmd = cli.AddCommand(
      "finetune", "Fine-tune a pretrained network with a 180-bin redshift head on [0, 0.4]", run_redshift);
  finetune_cmd->add_option("--init", finetune.init_path, "Pretrained checkpoint (galaxy-train pretrain)")->required();
  finetune_cmd->add_option("--backbone-lr-factor", finetune.backbone_lr_factor,
                           "Backbone learning rate as a multiple of --lr")
      ->capture_default_str();
  finetune_cmd->add_option("--head-warmup-steps", finetune.head_warmup_steps,
                           "First steps that train the head alone on the frozen backbone (pretrained "
                           "BatchNorm statistics kept); then the whole network")
      ->capture_default_str();
  finetune_cmd->add_option("--ssl-weight", finetune.ssl_weight,
                           "Keep pretraining's contrastive loss on every galaxy of the training part, at this "
                           "weight beside the redshift loss (semi-supervised; ~3x the time a step)")
      ->capture_default_str();
  add_redshift_flags(finetune_cmd, false);
  CLI::App* supervised_cmd = cli.AddCommand(
      "supervised", "The same network trained from scratch on the labels (the baseline)", run_redshift);
  add_redshift_flags(supervised_cmd, true);

  galaxy::EvalOptions eval;
  std::string eval_json, eval_plot;
  bool eval_stdout_json = false;
  CLI::App* eval_cmd = cli.AddCommand(
      "eval", "sigma_MAD, bias, outlier rate overall and per redshift bin, with the kNN-on-colours baseline",
      [&]() -> absl::Status { return galaxy::RunEvalCommand(eval, eval_json, eval_plot, eval_stdout_json); });
  eval_cmd->add_option("--data", eval.data_path, "Dataset with specz_redshift (.h5)")->required();
  eval_cmd->add_option("--model", eval.model_path, "Checkpoint with a redshift head")->required();
  eval_cmd->add_option("--fractions", eval.fractions, "The split used in training (test part evaluated)")
      ->capture_default_str();
  eval_cmd->add_option("--split-seed", eval.split_seed, "Seed of the split hash")->capture_default_str();
  eval_cmd->add_option("--json", eval_json, "Write the report as JSON to this file");
  eval_cmd->add_flag("--print-json", eval_stdout_json, "Print the JSON report instead of the table");
  eval_cmd->add_option("--plot", eval_plot, "Write predicted vs true redshift as a PNG");
  eval_cmd->add_option("--device", eval.device, "cpu | cuda | auto")->capture_default_str();
  eval_cmd->add_option("--threads", eval.threads, "CPU threads (0: all)")->capture_default_str();

  galaxy::CalibrateOptions calibrate;
  CLI::App* calibrate_cmd = cli.AddCommand(
      "calibrate",
      "Fit the temperature of a model's redshift pdfs on the validation part and keep it in the model (what "
      "finetune and supervised end with; for models trained before it)",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::PdfCalibration c, galaxy::RunCalibrate(calibrate));
        std::cout << galaxy::CalibrationLine(c) << "wrote "
                  << (calibrate.out_path.empty() ? calibrate.model_path : calibrate.out_path) << "\n";
        return absl::OkStatus();
      });
  calibrate_cmd->add_option("--data", calibrate.data_path, "Dataset with specz_redshift (.h5)")->required();
  calibrate_cmd->add_option("--model", calibrate.model_path, "Checkpoint with a redshift head")->required();
  calibrate_cmd->add_option("--out", calibrate.out_path, "Write the calibrated model here (default: over --model)");
  calibrate_cmd->add_option("--fractions", calibrate.fractions, "The split used in training (validation part fitted)")
      ->capture_default_str();
  calibrate_cmd->add_option("--split-seed", calibrate.split_seed, "Seed of the split hash")->capture_default_str();
  calibrate_cmd->add_option("--device", calibrate.device, "cpu | cuda | auto")->capture_default_str();
  calibrate_cmd->add_option("--threads", calibrate.threads, "CPU threads (0: all)")->capture_default_str();

  galaxy::ExperimentOptions experiment;
  std::string experiment_fractions = "0.01,0.05,0.25,1";
  CLI::App* label_efficiency = nullptr;
  auto run_label_efficiency = [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(experiment.fractions, galaxy::ParseFractionList(experiment_fractions));
    experiment.redshift.device = experiment.pretrain.device;
    experiment.pretrain.seed = experiment.redshift.seed;
    experiment.redshift.threads = experiment.pretrain.threads;
    experiment.redshift.arch = experiment.pretrain.arch;
    experiment.redshift.stem = experiment.pretrain.stem;
    GALAXY_ASSIGN_OR_RETURN(galaxy::ExperimentResult r, galaxy::RunLabelEfficiency(experiment));
    std::cout << galaxy::ReadFileOrEmpty(r.table_md) << "wrote " << r.table_md << ", " << r.table_json << ", "
              << r.plot_png << "\n";
    return absl::OkStatus();
  };
  CLI::App* experiment_cmd = cli.AddCommand(
      "experiment", "Experiments; `experiment label-efficiency`: SSL+fine-tune vs supervised per label fraction",
      [&]() -> absl::Status {
        if (label_efficiency->parsed()) return run_label_efficiency();
        return absl::InvalidArgumentError("name an experiment: label-efficiency");
      });
  experiment_cmd->require_subcommand(1);
  label_efficiency = experiment_cmd->add_subcommand(
      "label-efficiency", "For each label fraction: fine-tune the pretrained model and train the supervised\n"
                          "baseline; writes label_efficiency.{md,json,png} into --out");
  label_efficiency->add_option("--data", experiment.data_path, "Dataset with specz_redshift (.h5)")->required();
  label_efficiency->add_option("--out", experiment.out_dir, "Output directory")->required();
  label_efficiency->add_option("--pretrained", experiment.pretrained,
                               "Pretrained checkpoint (default: pretrain first)");
  label_efficiency->add_option("--fractions", experiment_fractions, "Label fractions")->capture_default_str();
  label_efficiency->add_option("--arch", experiment.pretrain.arch, "Backbone (when pretraining here)")
      ->capture_default_str();
  label_efficiency->add_option("--stem", experiment.pretrain.stem, "Stem (when pretraining here)")
      ->capture_default_str();
  label_efficiency->add_option("--input-stretch", experiment.pretrain.input_stretch,
                               "asinh | linear (when pretraining here; the supervised arm takes the model's)")
      ->capture_default_str();
  label_efficiency->add_option("--pretrain-steps", experiment.pretrain.steps,
                               "Pretraining steps (when pretraining here)");
  label_efficiency->add_option("--pretrain-batch", experiment.pretrain.batch, "Pretraining batch")
      ->capture_default_str();
  label_efficiency->add_option("--queue", experiment.pretrain.queue, "MoCo queue")->capture_default_str();
  label_efficiency
      ->add_option("--momentum", experiment.pretrain.momentum, "MoCo key-encoder momentum (when pretraining here)")
      ->capture_default_str();
  label_efficiency->add_option("--monitor-every", experiment.pretrain.monitor_every,
                               "Representation monitor interval (when pretraining here)")
      ->capture_default_str();
  label_efficiency
      ->add_option("--bn-splits", experiment.pretrain.bn_splits,
                   "Shuffling BatchNorm sub-batches (when pretraining here)")
      ->capture_default_str();
  label_efficiency->add_option("--dust", experiment.pretrain.dust, "Dust augmentation (when pretraining here)")
      ->check(CLI::IsMember({"survey", "uniform", "none"}))
      ->capture_default_str();
  label_efficiency->add_option("--epochs", experiment.redshift.epochs, "Redshift-training epochs per run")
      ->capture_default_str();
  label_efficiency->add_option("--validation-labels", experiment.redshift.validation_labels, kValidationLabelsHelp)
      ->capture_default_str();
  label_efficiency->add_option("--steps", experiment.redshift.steps,
                               "Redshift-training steps per run, the same for every fraction (instead of --epochs)");
  label_efficiency->add_option("--batch", experiment.redshift.batch, "Redshift-training batch")->capture_default_str();
  label_efficiency->add_option("--lr", experiment.redshift.head_lr, "Redshift-training learning rate")
      ->capture_default_str();
  label_efficiency->add_option("--backbone-lr-factor", experiment.redshift.backbone_lr_factor,
                               "Fine-tuning: backbone learning rate as a multiple of --lr")
      ->capture_default_str();
  label_efficiency->add_option("--head-warmup-steps", experiment.redshift.head_warmup_steps,
                               "Fine-tuning: first steps that train the head alone on the frozen backbone")
      ->capture_default_str();
  label_efficiency->add_option("--ssl-weight", experiment.redshift.ssl_weight,
                               "Fine-tuning: keep the contrastive loss on every training galaxy at this weight")
      ->capture_default_str();
  label_efficiency->add_flag("--no-head-norm{false}", experiment.redshift.head_norm,
                             "No BatchNorm on the redshift head's input features");
  label_efficiency->add_flag("--no-pdf-calibration{false}", experiment.redshift.calibrate_pdf,
                             "Keep the head's own pdfs (no temperature fitted on the validation part)");
  label_efficiency->add_option("--seed", experiment.redshift.seed,
                               "Seed of the redshift trainings (and of pretraining, when done here)")
      ->capture_default_str();
  label_efficiency->add_option("--device", experiment.pretrain.device, "cpu | cuda | auto")->capture_default_str();
  label_efficiency->add_option("--threads", experiment.pretrain.threads, "CPU threads (0: all)")->capture_default_str();

  galaxy::ProbeOptions probe;
  std::string probe_fractions = "0.01,0.05,0.25,1", probe_json;
  bool probe_print_json = false;
  CLI::App* probe_cmd = cli.AddCommand(
      "probe",
      "Linear probe: a linear model on the frozen representation predicts a label from a fraction of the\n"
      "labels: a class (e.g. galaxy type; accuracy, recall per class, confusion matrix) or a continuous value\n"
      "(e.g. a Galaxy Zoo vote fraction; ridge regression, RMSE and R^2)",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(probe.fractions, galaxy::ParseFractionList(probe_fractions));
        GALAXY_ASSIGN_OR_RETURN(galaxy::ProbeReport report, galaxy::RunProbe(probe));
        if (!probe_json.empty()) GALAXY_RETURN_IF_ERROR(galaxy::WriteFileAtomically(probe_json, report.Json() + "\n"));
        std::cout << (probe_print_json ? report.Json() + "\n" : report.Markdown());
        return absl::OkStatus();
      });
  probe_cmd->add_option("--model", probe.model_path, "Checkpoint (pretrained or trained)")->required();
  probe_cmd->add_option("--data", probe.data_path, "Dataset (.h5)")->required();
  probe_cmd->add_option("--label", probe.label_column, "Column of the label (in --data, or in --labels)")->required();
  probe_cmd->add_option("--task", probe.task,
                        "classification | regression | auto (classes when every label is a non-negative integer)")
      ->check(CLI::IsMember({"auto", "classification", "regression"}))
      ->capture_default_str();
  probe_cmd->add_option("--labels", probe.labels_csv, "CSV with ObjID and the --label column, joined by ObjID");
  probe_cmd->add_option("--features", probe.features, kFeaturesHelp)
      ->check(CLI::IsMember(galaxy::FeatureKinds()))
      ->capture_default_str();
  probe_cmd->add_flag("--dihedral", probe.dihedral,
                      absl::StrCat("Average the representation over ", galaxy::kDihedralViews));
  probe_cmd->add_option("--fractions", probe_fractions, "Label fractions of the training part")->capture_default_str();
  probe_cmd->add_option("--split", probe.split, "train,validation,test split by ID hash")->capture_default_str();
  probe_cmd->add_option("--split-seed", probe.split_seed, "Seed of the split hash")->capture_default_str();
  probe_cmd->add_option("--scratch-steps", probe.scratch_steps,
                        "Also train the same network from scratch on each fraction's labels for this many steps "
                        "and compare (0: off)")
      ->capture_default_str();
  probe_cmd->add_option("--scratch-batch", probe.scratch_batch, "Batch of the from-scratch training")
      ->capture_default_str();
  probe_cmd->add_option("--scratch-lr", probe.scratch_lr, "Adam rate of the from-scratch training")
      ->capture_default_str();
  probe_cmd->add_option("--steps", probe.steps, "Full-batch optimiser steps (classification)")->capture_default_str();
  probe_cmd->add_option("--lr", probe.lr, "Adam learning rate (classification)")->capture_default_str();
  probe_cmd->add_option("--weight-decay", probe.weight_decay,
                        "L2 penalty on the weights (per labelled galaxy for the ridge regression); negative: chosen "
                        "by 5-fold cross-validation on each fraction's labels")
      ->capture_default_str();
  probe_cmd->add_option("--json", probe_json, "Write the report as JSON to this file");
  probe_cmd->add_flag("--print-json", probe_print_json, "Print the JSON report instead of the table");
  probe_cmd->add_option("--device", probe.device, "cpu | cuda | auto")->capture_default_str();
  probe_cmd->add_option("--threads", probe.threads, "CPU threads (0: all)")->capture_default_str();
  probe_cmd->add_option("--seed", probe.seed, "Random seed")->capture_default_str();

  galaxy::QualityOptions quality;
  std::string quality_json;
  CLI::App* quality_cmd = cli.AddCommand(
      "quality",
      "Similarity and anomaly quality of the frozen representation on a dataset with truth columns:\n"
      "same-type precision@k, neighbours' redshift spread, rotation stability, anomaly ROC AUC per kind",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::QualityReport report, galaxy::RunQuality(quality));
        if (!quality_json.empty())
          GALAXY_RETURN_IF_ERROR(galaxy::WriteFileAtomically(quality_json, report.Json() + "\n"));
        std::cout << report.Markdown();
        return absl::OkStatus();
      });
  quality_cmd->add_option("--model", quality.model_path, "Checkpoint")->required();
  quality_cmd->add_option("--data", quality.data_path, "Dataset (.h5) with type / anomaly_kind / specz_redshift")
      ->required();
  quality_cmd->add_option("--features", quality.features, kFeaturesHelp)
      ->check(CLI::IsMember(galaxy::FeatureKinds()))
      ->capture_default_str();
  quality_cmd->add_flag("--dihedral", quality.dihedral,
                        absl::StrCat("Average the representation over ", galaxy::kDihedralViews));
  quality_cmd->add_option("--k", quality.k, "Neighbours")->capture_default_str();
  quality_cmd->add_option("--max-galaxies", quality.max_galaxies, "Use at most this many (the file's first)")
      ->capture_default_str();
  quality_cmd->add_option("--stability-queries", quality.stability_queries,
                          "Galaxies whose turned and mirrored copies are searched (the file's first)")
      ->capture_default_str();
  quality_cmd->add_flag("--turns-score,!--no-turns-score", quality.turns_score,
                        absl::StrCat("Also measure the anomaly score of one view joined with its average over ",
                                     galaxy::kDihedralViews,
                                     " (the index's --anomaly-score mahalanobis-turns); it embeds every galaxy eight "
                                     "more times, so --no-turns-score makes a one-view run a single pass (default on)"));
  quality_cmd->add_option("--json", quality_json, "Write the report as JSON to this file");
  quality_cmd->add_option("--embeddings", quality.embeddings_path,
                          "Write the measured representation (unit vectors, float32, the file's first galaxies in "
                          "order) to this .npy file");
  quality_cmd->add_option("--device", quality.device, "cpu | cuda | auto")->capture_default_str();
  quality_cmd->add_option("--threads", quality.threads, "CPU threads (0: all)")->capture_default_str();

  galaxy::TrainBenchOptions bench;
  bool bench_json = false;
  CLI::App* bench_cmd = cli.AddCommand(
      "bench", "Training-step (MoCo, augmentation on the device) and embedding throughput, img/s",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(galaxy::TrainBenchResult r, galaxy::RunTrainBench(bench));
        if (bench_json) {
          std::cout << galaxy::TrainBenchJson(bench, r) << "\n";
        } else {
          std::cout << absl::StrFormat("%s %s stem, batch %d, %s (%d threads)\n"
                                       "  MoCo training step   %8.1f img/s (%.1f without augmentation)\n"
                                       "  augmentation         %8.2f ms per view of %d images (%s form)\n"
                                       "  embedding            %8.1f img/s\n",
                                       bench.arch, bench.stem, bench.batch, r.device, r.threads,
                                       r.train_images_per_s, r.train_no_augment_images_per_s, r.augment_ms_per_view,
                                       bench.batch, bench.augment_form, r.embed_images_per_s);
        }
        return absl::OkStatus();
      });
  bench_cmd->add_option("--arch", bench.arch, galaxy::kArchChoices)->capture_default_str();
  bench_cmd->add_option("--stem", bench.stem, galaxy::kStemChoices)->capture_default_str();
  bench_cmd->add_option("--batch", bench.batch, "Images per step")->capture_default_str();
  bench_cmd->add_option("--steps", bench.steps, "Timed steps")->capture_default_str();
  bench_cmd->add_option("--embed-batch", bench.embed_batch, "Images per embedding call")->capture_default_str();
  bench_cmd->add_option("--device", bench.device, "cpu | cuda | auto")->capture_default_str();
  bench_cmd->add_option("--threads", bench.threads, "CPU threads (0: all)")->capture_default_str();
  bench_cmd->add_flag("--json", bench_json, "JSON output");
  // An option, not a pair of int flags: CLI11 2.3 sets an int flag declared as
  // "--x{1},--no-x{0}" to 0 when neither is given (the auto default was lost on CUDA).
  bench_cmd
      ->add_option_function<std::string>(
          "--channels-last",
          [&bench](const std::string& mode) { bench.channels_last = mode == "on" ? 1 : mode == "off" ? 0 : -1; },
          "Channels-last layout: auto (CUDA only, as pretrain), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->default_str("auto");
  bench_cmd->add_flag("--amp,!--no-amp", bench.amp, "bf16 autocast on CUDA (default on)");
  bench_cmd->add_option("--augment-form", bench.augment_form,
                        "auto (as training) | device | stepwise (the reference), to compare them")
      ->capture_default_str();
  bench_cmd->add_flag("--multi-tensor-sgd,!--no-multi-tensor-sgd", bench.multi_tensor_sgd,
                      "Optimizer step as multi-tensor kernels on CUDA (default on, as pretrain)");

  galaxy::ImportOptions import;
  int import_bands = 5;
  std::string import_band_names;
  bool no_projection = false;
  CLI::App* import_cmd = cli.AddCommand(
      "import", "A PyTorch ResNet state dict (torch.save; torchvision names, MoCo prefixes) as a galaxy-search model",
      [&]() -> absl::Status {
        if (!import_band_names.empty()) {
          import.band_names = absl::StrSplit(import_band_names, ',');
        } else if (import_bands != 5) {
          return absl::InvalidArgumentError(
              absl::StrCat("--bands ", import_bands, ": name them with --band-names (u,g,r,i,z is the default of 5)"));
        }
        if (static_cast<int>(import.band_names.size()) != import_bands) {
          return absl::InvalidArgumentError(absl::StrCat("--band-names names ", import.band_names.size(),
                                                         " bands, --bands says ", import_bands));
        }
        import.projection = !no_projection;
        GALAXY_ASSIGN_OR_RETURN(galaxy::ImportReport r, galaxy::ImportStateDict(import));
        std::cout << absl::StrFormat("%s: %d tensors under '%s' -> %s (%s %s stem, %s, %d-d embedding%s)\n",
                                     import.state_dict_path, r.tensors, r.prefix, import.out_path, import.arch,
                                     import.stem, absl::StrJoin(import.band_names, ""), r.metadata.embedding_dim,
                                     r.has_projection_head ? ", with its projection head" : "");
        return absl::OkStatus();
      });
  import_cmd->add_option("--state-dict", import.state_dict_path, "torch.save file (zip format) with the weights")
      ->required();
  import_cmd->add_option("--out", import.out_path, "galaxy-search checkpoint to write")->required();
  import_cmd->add_option("--arch", import.arch, galaxy::kArchChoices)->capture_default_str();
  import_cmd
      ->add_option("--stem", import.stem,
                   "torchvision (7x7 stride 2 + max-pool) | half (7x7 stride 2) | paper (7x7 stride 1)")
      ->capture_default_str();
  import_cmd->add_option("--bands", import_bands, "Input channels of the first convolution")->capture_default_str();
  import_cmd->add_option("--band-names", import_band_names,
                         "Their names in order, comma-separated (default u,g,r,i,z)");
  import_cmd->add_option("--image-size", import.image_size, "Side of the centre crop the model sees, px")
      ->capture_default_str();
  import_cmd->add_option("--prefix", import.prefix,
                         "Where the encoder's keys start, nested dicts joined by '.', e.g. "
                         "state_dict.module.encoder_q. (default: found; a MoCo pair's query encoder)");
  import_cmd->add_flag("--no-projection", no_projection, "Leave out the MoCo projection head (fc.0, fc.2)");
  return cli.Run(argc, argv);
}
