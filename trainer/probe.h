// The linear probe (galaxy-train probe): how much of a label a frozen representation holds, the
// standard test of a self-supervised model (Hayat et al. 2021 classify Galaxy Zoo 2 morphology
// this way). Embeds every galaxy with the model's backbone (frozen, evaluation mode), then, for
// each label fraction, fits a softmax (multinomial logistic) regression on the standardised
// features of that fraction of the training part and scores it on the test part of the same
// ID-hash split: accuracy, recall per class, confusion matrix.
//
//   ProbeOptions o;
//   o.model_path = "runs/moco/model.pt";
//   o.data_path = "survey.h5";
//   o.label_column = "type";
//   GALAXY_ASSIGN_OR_RETURN(ProbeReport report, RunProbe(o));
#ifndef GALAXY_TRAINER_PROBE_H_
#define GALAXY_TRAINER_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

struct ProbeOptions {
  // Checkpoint (any kind) and dataset. Required.
  std::string model_path;
  std::string data_path;
  // The label: a column of the dataset holding non-negative integer classes (e.g. "type"), or,
  // with labels_csv, the column of that CSV file. Required.
  std::string label_column;
  // Optional CSV with a header row naming "ObjID" and label_column; its labels replace the
  // dataset's, joined by ObjID (galaxies without a row are unlabelled).
  std::string labels_csv;
  // "backbone" (default: the representation before the projection head) or "projection".
  std::string features = "backbone";
  // Label fractions of the training part (nested). Default 1%, 5%, 25%, 100%.
  std::vector<double> fractions = {0.01, 0.05, 0.25, 1.0};
  // train,validation,test split by ID hash and its seed.
  std::string split = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  // Full-batch Adam steps, learning rate and L2 penalty of the regression. Defaults 500, 0.05,
  // 1e-3.
  int steps = 500;
  double lr = 0.05;
  double weight_decay = 1e-3;
  std::string device = "auto";
  int threads = 0;
  uint64_t seed = 0;
  // The comparison the probe exists for: when > 0, the same network (the model's architecture
  // and stem, random weights) with a linear classifier on top is also trained from scratch on
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
  double accuracy = 0;      // on the test part
  std::vector<double> recall;                  // per class
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]
  // The network trained from scratch on the same labels (ProbeOptions::scratch_steps); -1 and
  // empty when not run.
  double scratch_accuracy = -1;
  std::vector<double> scratch_recall;
};

struct ProbeReport {
  int64_t classes = 0;
  int64_t test_count = 0;
  double majority_accuracy = 0;  // predicting the training part's most common class
  std::vector<int64_t> class_counts;  // test part
  std::vector<ProbeRow> rows;
  std::string Markdown() const;
  std::string Json() const;
};

// INVALID_ARGUMENT for bad options (naming the flag); NOT_FOUND for a missing label column;
// FAILED_PRECONDITION when too few galaxies are labelled or a class label is not a non-negative
// integer below 1000.
absl::StatusOr<ProbeReport> RunProbe(const ProbeOptions& options);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_PROBE_H_
