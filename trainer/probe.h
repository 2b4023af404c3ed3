// The linear probe (galaxy-train probe): how much of a label a frozen representation holds, the
// standard test of a self-supervised model (Hayat et al. 2021 classify Galaxy Zoo 2 morphology
// this way). Embeds the galaxies it reads with the model's backbone (frozen, evaluation mode): the
// test part, and the training part's labelled galaxies within the largest label fraction (or
// about 5,000 of them, when that is more), on which the features are standardised. Then, for
// each label fraction, it fits a linear model on the standardised features of that fraction of
// the training part and scores it on the test part of the same ID-hash split:
//   - classes (integer labels such as "type"): a softmax (multinomial logistic) regression;
//     accuracy, recall per class, confusion matrix;
//   - a continuous label (a Galaxy Zoo vote fraction, a bulge-to-total ratio): ridge regression;
//     RMSE and R^2, against predicting the training mean.
//
//   ProbeOptions o;
//   o.model_path = "runs/moco/model.pt";
//   o.data_path = "survey.h5";
//   o.label_column = "type";
//   GALAXY_ASSIGN_OR_RETURN(ProbeReport report, RunProbe(o));
#ifndef GALAXY_TRAINER_PROBE_H_
#define GALAXY_TRAINER_PROBE_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

// What the eight-view average (`dihedral` of the probe, quality and science options;
// EmbedImages) averages over, for reports and help texts.
inline constexpr char kDihedralViews[] = "each image's 4 turns by 90 degrees and their mirrors";

// The frozen representations that probe and quality read (--features; LoadFrozenModel): the
// backbone's last stage pooled, every stage's pooled output concatenated, or the projection
// head's output.
inline const std::vector<std::string>& FeatureKinds() {
  static const std::vector<std::string> kinds = {"backbone", "stages", "projection"};
  return kinds;
}

struct ProbeOptions {
  // Checkpoint (any kind) and dataset. Required.
  std::string model_path;
  std::string data_path;
  // The label: a column of the dataset (e.g. "type", "bulge_fraction", or the standard
  // "specz_redshift" and "e_bv"), or, with labels_csv, the column of that CSV file. Required.
  std::string label_column;
  // "classification" (non-negative integer classes; negative values are unlabelled),
  // "regression" (any finite value; NaN is unlabelled), or "auto" (default): classification when
  // every finite non-negative label is an integer and none is negative, regression otherwise.
  std::string task = "auto";
  // Optional CSV with a header row naming "ObjID" and label_column; its labels replace the
  // dataset's, joined by ObjID (galaxies without a row are unlabelled).
  std::string labels_csv;
  // "backbone" (default: the representation before the projection head), "stages" (every stage of
  // the backbone pooled, concatenated) or "projection".
  std::string features = "backbone";
  // Average the representation over each image's turns by 90 degrees and mirrors (EmbedImages).
  bool dihedral = false;
  // Label fractions of the training part (nested). Default 1%, 5%, 25%, 100%.
  std::vector<double> fractions = {0.01, 0.05, 0.25, 1.0};
  // train,validation,test split by ID hash and its seed.
  std::string split = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  // Full-batch Adam steps and learning rate of the softmax regression. Defaults 500 and 0.05 (the
  // ridge regression is solved exactly).
  int steps = 500;
  double lr = 0.05;
  // The L2 penalty on the weights (the ridge regression's per labelled galaxy); negative
  // (default): chosen for each fraction by 5-fold cross-validation on its own labels from
  // 1e-5 .. 1 (ProbeRow::penalty says which).
  double weight_decay = -1;
  std::string device = "auto";
  int threads = 0;
  uint64_t seed = 0;
  // The comparison the probe exists for: when > 0, the same network (the model's architecture
  // and stem, random weights) with a linear output on top is also trained from scratch on
  // the same labelled galaxies of each fraction, for this many Adam steps of `scratch_batch`
  // (geometric augmentations, blur and noise, as redshift training), and scored on the same test
  // part. 0 (default): the probe alone.
  int scratch_steps = 0;
  int scratch_batch = 128;
  double scratch_lr = 1e-3;
};

struct ProbeRow {
  double fraction = 0;
  int64_t labels = 0;       // training labels used
  double penalty = 0;       // the L2 penalty used (ProbeOptions::weight_decay)
  double accuracy = 0;      // on the test part
  std::vector<double> recall;                  // per class
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  // The network trained from scratch on the same labels (ProbeOptions::scratch_steps); -1 and
  // empty when not run.
  double scratch_accuracy = -1;
  std::vector<double> scratch_recall;
  // Regression: root-mean-square error and R^2 (1 - MSE / variance of the test labels) on the
  // test part, of the probe and of the network from scratch (NaN when not run).
  double rmse = 0, r2 = 0;
  double scratch_rmse = std::numeric_limits<double>::quiet_NaN();
  double scratch_r2 = std::numeric_limits<double>::quiet_NaN();
};

struct ProbeReport {
  std::string task = "classification";  // or "regression"
  int64_t test_count = 0;
  // Classification.
  int64_t classes = 0;
  double majority_accuracy = 0;  // predicting the training part's most common class
  std::vector<int64_t> class_counts;  // test part
  // Regression: the test labels' mean and standard deviation, and the RMSE of predicting the
  // training part's mean.
  double label_mean = 0, label_std = 0, mean_rmse = 0;
  // Whether the representation (and the network from scratch) was averaged over each image's
  // turns and mirrors (ProbeOptions::dihedral).
  bool dihedral = false;
  // The frozen representation read (ProbeOptions::features).
  std::string features = "backbone";
  std::vector<ProbeRow> rows;
  std::string Markdown() const;
  std::string Json() const;
};

// INVALID_ARGUMENT for bad options (naming the flag); NOT_FOUND for a missing label column;
// FAILED_PRECONDITION when too few galaxies are labelled, or, for classification, a label is not
// an integer below 1000 (naming the galaxy).
absl::StatusOr<ProbeReport> RunProbe(const ProbeOptions& options);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PROBE_H_
