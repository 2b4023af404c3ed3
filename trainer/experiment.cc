#include "trainer/experiment.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/checksum.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "model/checkpoint.h"
#include "nlohmann/json.hpp"
#include "trainer/plot.h"
#include "trainer/redshift_training.h"

namespace galaxy {
namespace {

using Json = nlohmann::json;

// What an arm's model depends on: the data's and the initial weights' bytes and every training
// option (not where it runs: device, threads). The checksums are remembered while the files stay
// the same: every fine-tuned arm of an experiment starts from the same pretrained model.
absl::StatusOr<Json> ArmStamp(const FinetuneOptions& o) {
  GALAXY_ASSIGN_OR_RETURN(std::string data, Sha256FileRemembered(o.data_path));
  std::string init, teacher;
  if (!o.init_path.empty()) {
    GALAXY_ASSIGN_OR_RETURN(init, Sha256FileRemembered(o.init_path));
  }
  if (!o.teacher_path.empty()) {
    GALAXY_ASSIGN_OR_RETURN(teacher, Sha256FileRemembered(o.teacher_path));
  }
  Json stamp{{"data", data},
             {"init", init},
             {"teacher", teacher},
             {"label_fraction", o.label_fraction},
             {"epochs", o.epochs},
             {"steps", o.steps},
             {"batch", o.batch},
             {"head_lr", o.head_lr},
             {"backbone_lr_factor", o.backbone_lr_factor},
             {"head_warmup_steps", o.head_warmup_steps},
             {"head_norm", o.head_norm},
             {"ssl_weight", o.ssl_weight},
             {"weight_decay", o.weight_decay},
             {"arch", o.arch},
             {"stem", o.stem},
             {"input_stretch", o.input_stretch},
             {"band_noise", o.band_noise},
             {"label_smoothing_bins", o.label_smoothing_bins},
             {"bins", o.bins},
             {"z_max", o.z_max},
             {"fractions", o.fractions},
             {"split_seed", o.split_seed},
             {"seed", o.seed}};
  // Only when off: arms finished before calibration existed keep their stamps (and are
  // calibrated, not trained again, when evaluated).
  if (!o.calibrate_pdf) stamp["calibrate_pdf"] = false;
  // The same for the validation labels: arms of the default keep their stamps.
  if (o.validation_labels != FinetuneOptions().validation_labels) stamp["validation_labels"] = o.validation_labels;
  return stamp;
}

// One arm: its network trained into `out` and evaluated on the test part. An arm that finished
// under the same stamp (its out/arm.json, written once its model is final) is evaluated again
// instead of trained again: a stopped experiment keeps the arms it finished (on the CPU each
// costs minutes to an hour).
absl::StatusOr<EvalReport> TrainAndEvaluate(FinetuneOptions options, const std::string& out, int64_t* labels) {
  options.out_dir = out;
  GALAXY_ASSIGN_OR_RETURN(Json stamp, ArmStamp(options));
  const std::string arm_path = out + "/arm.json";
  std::string model = out + "/model.pt";
  const std::string name = std::filesystem::path(out).filename().string();
  const Json saved = Json::parse(ReadFileOrEmpty(arm_path), nullptr, /*allow_exceptions=*/false);
  const bool same_stamp = !saved.is_discarded() && saved.value("stamp", Json()) == stamp;
  // A finished arm whose model predates calibration is calibrated now.
  bool calibrate = false;
  if (same_stamp && saved.value("labels", Json()).is_number_integer() && std::filesystem::exists(model)) {
    *labels = saved.at("labels").get<int64_t>();
    log::Info(absl::StrFormat("label-efficiency: %s finished earlier under the same options; evaluating its model", name),
              {{"model", model}});
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(model));
    calibrate = options.calibrate_pdf && reader->metadata().redshift_temperature == 1.0;
  } else {
    if (!saved.is_discarded()) {
      log::Info(absl::StrFormat("label-efficiency: %s finished earlier %s; training it again", name,
                                same_stamp ? "but its model is gone" : "under other options"));
    }
    std::error_code ignored;
    std::filesystem::remove(arm_path, ignored);  // the model it vouched for is about to be replaced
    GALAXY_ASSIGN_OR_RETURN(RedshiftTrainResult trained, RunRedshiftTraining(options));
    *labels = trained.labels;
    // Only the process that wrote the model vouches for it (the other ranks of a data-parallel
    // run return no model).
    model = trained.model;
    if (!model.empty()) {
      GALAXY_RETURN_IF_ERROR(WriteFileAtomically(arm_path, Json{{"stamp", stamp}, {"labels", trained.labels}}.dump(2) + "\n"));
    }
  }
  // Calibration and evaluation read the model on the arm's split, device and threads.
  const auto on_arm = [&](auto run_options) {
    run_options.data_path = options.data_path;
    run_options.model_path = model;
    run_options.fractions = options.fractions;
    run_options.split_seed = options.split_seed;
    run_options.device = options.device;
    run_options.threads = options.threads;
    return run_options;
  };
  if (calibrate) GALAXY_RETURN_IF_ERROR(RunCalibrate(on_arm(CalibrateOptions())).status());
  EvalOptions eval = on_arm(EvalOptions());
  eval.with_baseline = false;
  return RunEval(eval);
}

}  // namespace

absl::StatusOr<PretrainResult> PretrainOrTakeUp(PretrainOptions pretrain) {
  const std::string checkpoint = pretrain.out_dir + "/checkpoint.pt";
  if (!std::filesystem::exists(checkpoint)) return RunPretrain(pretrain);
  pretrain.resume = true;
  absl::StatusOr<PretrainResult> resumed = RunPretrain(pretrain);
  if (resumed.ok() || !IsResumeRefusal(resumed.status())) return resumed;
  log::Info(absl::StrCat("pretraining afresh: ", resumed.status().message()));
  std::error_code ignored;
  std::filesystem::rename(checkpoint, checkpoint + ".other-options", ignored);
  pretrain.resume = false;
  return RunPretrain(pretrain);
}

absl::StatusOr<ExperimentResult> RunLabelEfficiency(const ExperimentOptions& options) {
  if (options.data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out: required");
  if (options.fractions.empty()) return absl::InvalidArgumentError("--fractions: at least one");
  for (double f : options.fractions) {
    if (!(f > 0 && f <= 1)) return absl::InvalidArgumentError(absl::StrCat("--fractions: ", f, " is outside (0, 1]"));
  }
  GALAXY_RETURN_IF_ERROR(ValidateValidationLabels(options.redshift.validation_labels));
  if (options.redshift.steps > 0) {
    GALAXY_RETURN_IF_ERROR(ValidateHeadWarmup(options.redshift.head_warmup_steps, options.redshift.steps));
  }
  std::filesystem::create_directories(options.out_dir);
  std::string pretrained = options.pretrained;
  if (pretrained.empty()) {
    PretrainOptions pretrain = options.pretrain;
    pretrain.data_path = options.data_path;
    pretrain.out_dir = options.out_dir + "/pretrain";
    log::Info("label-efficiency: pretraining first", {{"out", pretrain.out_dir}});
    GALAXY_ASSIGN_OR_RETURN(PretrainResult p, PretrainOrTakeUp(pretrain));
    pretrained = p.model;
  }
  // The supervised baseline is always the pretrained network's architecture: the comparison is
  // of the initialisation, nothing else.
  FinetuneOptions redshift = options.redshift;
  {
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<CheckpointReader> reader, CheckpointReader::Open(pretrained));
    redshift.arch = reader->metadata().arch;
    redshift.stem = reader->metadata().stem;
    redshift.input_stretch = reader->metadata().input_softening.empty() ? "linear" : "asinh";
    redshift.band_noise = reader->metadata().band_noise;  // hence the same input softening
  }
  log::Info(absl::StrFormat("label-efficiency: both arms use %s with the %s stem and %s input", redshift.arch,
                            redshift.stem, redshift.input_stretch));
  ExperimentResult result;
  for (double fraction : options.fractions) {
    ExperimentRow row;
    row.fraction = fraction;
    FinetuneOptions ssl = redshift;
    ssl.data_path = options.data_path;
    ssl.init_path = pretrained;
    ssl.label_fraction = fraction;
    GALAXY_ASSIGN_OR_RETURN(row.ssl_eval,
                            TrainAndEvaluate(ssl, absl::StrFormat("%s/ssl_%g", options.out_dir, fraction), &row.labels));
    row.ssl = row.ssl_eval.overall;
    FinetuneOptions supervised = ssl;
    supervised.init_path.clear();
    supervised.head_warmup_steps = 0;  // nothing pretrained to keep
    supervised.ssl_weight = 0;
    int64_t labels = 0;
    GALAXY_ASSIGN_OR_RETURN(EvalReport supervised_eval,
                            TrainAndEvaluate(supervised, absl::StrFormat("%s/supervised_%g", options.out_dir, fraction), &labels));
    row.supervised = supervised_eval.overall;
    log::Info(absl::StrFormat("label-efficiency: fraction %g (%d labels): SSL sigma_MAD %.4f, supervised %.4f",
                              fraction, row.labels, row.ssl.sigma_mad, row.supervised.sigma_mad));
    result.rows.push_back(row);
  }
  GALAXY_ASSIGN_OR_RETURN(SplitFractions split, ParseSplitFractions(options.redshift.fractions));
  GALAXY_ASSIGN_OR_RETURN(ColourTable table, MeasureColourTable(options.data_path, options.redshift.threads));
  GALAXY_ASSIGN_OR_RETURN(PhotozBaselineReport knn, RunColourKnnBaseline(table, 20, split, options.redshift.split_seed,
                                                                         options.redshift.threads));
  result.knn = knn.test;
  result.predict_mean_sigma_mad = knn.predict_mean.sigma_mad;

  // Table (markdown + JSON) and plot.
  std::string md = absl::StrFormat(
      "# Label efficiency\n\nData: `%s`; pretrained model: `%s`; test part of the ID-hash split %s.\n"
      "Validation (the best step, the pdfs' temperature): %s.\n\n"
      "| label fraction | labels | SSL + fine-tune sigma_MAD | supervised sigma_MAD | SSL bias | supervised bias | SSL eta | supervised eta |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
      options.data_path, pretrained, options.redshift.fractions,
      options.redshift.validation_labels == "label-fraction"
          ? "the same share of the validation part's labels as of the training part's (`--validation-labels "
            "label-fraction`)"
          : "every labelled galaxy of the validation part, at every fraction");
  nlohmann::json rows = nlohmann::json::array();
  PlotSeries ssl_line{"SSL + fine-tune", {}, {}, 31, 119, 180, true, {}};
  PlotSeries sup_line{"supervised from scratch", {}, {}, 214, 39, 40, true, {}};
  PlotSeries knn_line{"kNN on colours (all labels)", {}, {}, 120, 120, 120, true, {}};
  for (const ExperimentRow& r : result.rows) {
    absl::StrAppendFormat(&md, "| %g | %d | %.4f | %.4f | %+.4f | %+.4f | %.3f | %.3f |\n", r.fraction, r.labels,
                          r.ssl.sigma_mad, r.supervised.sigma_mad, r.ssl.bias, r.supervised.bias,
                          r.ssl.outlier_rate, r.supervised.outlier_rate);
    rows.push_back({{"fraction", r.fraction}, {"labels", r.labels},
                    {"ssl", nlohmann::json::parse(PhotozMetricsJson(r.ssl))},
                    {"supervised", nlohmann::json::parse(PhotozMetricsJson(r.supervised))}});
    ssl_line.x.push_back(static_cast<double>(r.labels));
    ssl_line.y.push_back(r.ssl.sigma_mad);
    sup_line.x.push_back(static_cast<double>(r.labels));
    sup_line.y.push_back(r.supervised.sigma_mad);
  }
  absl::StrAppendFormat(&md, "\nkNN on colours (all training labels): sigma_MAD %.4f; predicting the mean: %.4f.\n",
                        result.knn.sigma_mad, result.predict_mean_sigma_mad);
  if (!ssl_line.x.empty()) {
    knn_line.x = {ssl_line.x.front(), ssl_line.x.back()};
    knn_line.y = {result.knn.sigma_mad, result.knn.sigma_mad};
  }
  nlohmann::json j = {{"data", options.data_path}, {"pretrained", pretrained}, {"rows", rows},
                      {"validation_labels", options.redshift.validation_labels},
                      {"knn_colours", nlohmann::json::parse(PhotozMetricsJson(result.knn))},
                      {"predict_mean_sigma_mad", result.predict_mean_sigma_mad}};
  result.table_md = options.out_dir + "/label_efficiency.md";
  result.table_json = options.out_dir + "/label_efficiency.json";
  result.plot_png = options.out_dir + "/label_efficiency.png";
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(result.table_md, md));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(result.table_json, j.dump(2) + "\n"));
  PlotOptions plot;
  plot.title = "redshift sigma_MAD against the number of labels";
  plot.x_label = "labelled galaxies";
  plot.y_label = "sigma_MAD (test part)";
  plot.log_x = true;
  GALAXY_RETURN_IF_ERROR(WritePlotPng(result.plot_png, {ssl_line, sup_line, knn_line}, plot));
  return result;
}

}  // namespace galaxy
