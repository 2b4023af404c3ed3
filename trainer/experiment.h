// The label-efficiency experiment of Hayat et al. (2021): for several label fractions, fine-tune
// the pretrained network and train the same network from scratch on the same labels; compare
// sigma_MAD on the test part, with the kNN-on-colours baseline as a reference.
#ifndef GALAXY_TRAINER_EXPERIMENT_H_
#define GALAXY_TRAINER_EXPERIMENT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/photoz/photoz_metrics.h"
#include "trainer/pretrain.h"
#include "trainer/redshift_training.h"
#include "trainer/train_options.h"

namespace galaxy {

struct ExperimentOptions {
  std::string data_path;
  std::string out_dir;
  // A pretrained checkpoint; empty: pretrain first with `pretrain` (into out_dir/pretrain).
  std::string pretrained;
  PretrainOptions pretrain;
  // Label fractions. Default 1%, 5%, 25%, 100%.
  std::vector<double> fractions = {0.01, 0.05, 0.25, 1.0};
  // Template of both redshift trainings (data, out, init, label fraction are set per run).
  FinetuneOptions redshift;
};

struct ExperimentRow {
  double fraction = 0;
  int64_t labels = 0;
  PhotozMetrics ssl, supervised;
  // The SSL model's whole evaluation on the test part (pdf calibration, per-galaxy predictions).
  EvalReport ssl_eval;
};

struct ExperimentResult {
  std::vector<ExperimentRow> rows;
  PhotozMetrics knn;           // kNN on colours, full training labels, same split
  double predict_mean_sigma_mad = 0;
  std::string table_md, table_json, plot_png;
};

// A pretraining that takes up the checkpoint a stopped run of the same options left in its
// out_dir (a finished one is read back, not run again: on the CPU it is two fifths of a science
// seed's time). A checkpoint that RunPretrain refuses (IsResumeRefusal: other options, data or
// network) is renamed checkpoint.pt.other-options and the pretraining starts afresh: the
// directory belongs to the experiment that writes into it.
absl::StatusOr<PretrainResult> PretrainOrTakeUp(PretrainOptions pretrain);

// Runs everything, pretraining first into out_dir/pretrain (PretrainOrTakeUp) when no
// pretrained model is given, writing out_dir/label_efficiency.{md,json,png} and one model per run
// (out_dir/{ssl,supervised}_<fraction>/model.pt, with arm.json beside it once it is final: a
// later run of the same options, data and pretrained weights evaluates that model instead of
// training it again, so a stopped experiment keeps its finished arms).
absl::StatusOr<ExperimentResult> RunLabelEfficiency(const ExperimentOptions& options);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_EXPERIMENT_H_
