// Redshift training: fine-tuning a pretrained network with a 180-bin classification head
// (backbone learning rate 10x smaller than the head's), or the same network from scratch (the
// supervised baseline). Evaluation with the photo-z metrics (data/photoz/photoz_metrics.h).
#ifndef GALAXY_TRAINER_REDSHIFT_TRAINING_H_
#define GALAXY_TRAINER_REDSHIFT_TRAINING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/photoz/photoz_baseline.h"
#include "data/photoz/photoz_metrics.h"
#include "trainer/train_options.h"

namespace galaxy {

// The pdfs' temperature fitted on a model's validation part (model/heads.h FitPdfTemperature),
// and the fraction of the validation redshifts inside the central 68% interval before and after.
struct PdfCalibration {
  double temperature = 1;
  int64_t galaxies = 0;
  double coverage_68_before = 0, coverage_68_after = 0;
};

struct RedshiftTrainResult {
  int64_t labels = 0;               // labelled galaxies trained on
  int64_t teacher_galaxies = 0;     // galaxies trained on the teacher's pdfs (distillation)
  int64_t validation_labels = 0;    // validation galaxies that picked the best step (and calibrated)
  int64_t steps = 0;
  double best_validation_sigma_mad = 0;
  PdfCalibration calibration;       // temperature 1 and no galaxies when not calibrated
  double images_per_second = 0;
  std::string model;                // out_dir/model.pt: the best on validation
};

// galaxy-train finetune (options.init_path set) and galaxy-train supervised (empty); with
// options.teacher_path, either distils the teacher into the training part's unlabelled galaxies.
absl::StatusOr<RedshiftTrainResult> RunRedshiftTraining(const FinetuneOptions& options);

struct CalibrateOptions {
  std::string data_path;
  std::string model_path;
  // Where the calibrated model goes; empty: over model_path (through a temporary file and a
  // rename, as every checkpoint).
  std::string out_path;
  // The split used in training: its validation part is fitted on.
  std::string fractions = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  std::string device = "auto";
  int threads = 0;
};

// galaxy-train calibrate: the step a redshift training ends with (FinetuneOptions::calibrate_pdf),
// for a model trained before it or with --no-pdf-calibration: fits the pdfs' temperature on the
// validation labels it was trained with (all of the validation part's, or its label fraction's
// share with `--validation-labels label-fraction`) and writes the model with it.
// FAILED_PRECONDITION for a model without a redshift head; the data's errors (a split whose
// validation part holds no labelled galaxy).
absl::StatusOr<PdfCalibration> RunCalibrate(const CalibrateOptions& options);

struct EvalOptions {
  std::string data_path;
  std::string model_path;
  // The split used in training (the test part is evaluated).
  std::string fractions = "0.8,0.1,0.1";
  uint64_t split_seed = 0;
  // Also run the kNN-on-colours baseline on the same split. Default true.
  bool with_baseline = true;
  int knn_k = 20;
  std::string device = "auto";
  int threads = 0;
  int batch = 256;
};

struct EvalReport {
  PhotozMetrics overall;
  std::vector<PhotozMetrics> per_bin;  // z_spec bins of 0.05 on [0, 0.4]
  bool has_baseline = false;
  PhotozBaselineReport baseline;
  std::vector<double> z_spec, z_phot, z_err;  // per test galaxy
  // Calibration of the predicted pdfs (model/heads.h ScorePdf): per test galaxy PIT and
  // CRPS; their summary: the PIT histogram in 10 equal bins (flat when calibrated), mean CRPS,
  // and the fractions of true redshifts inside the central 68% and 95% intervals.
  std::vector<double> pit, crps;
  std::vector<int64_t> pit_histogram;
  double crps_mean = 0, coverage_68 = 0, coverage_95 = 0;
  // The model's pdf temperature (ModelMetadata::redshift_temperature; 1: the head's own pdfs).
  double pdf_temperature = 1;
  std::string model_kind;
};

// Predicts the test part's redshifts with the model's redshift head. FAILED_PRECONDITION when the
// model has no redshift head; INVALID_ARGUMENT when its bands do not match the data's.
absl::StatusOr<EvalReport> RunEval(const EvalOptions& options);

std::string EvalReportJson(const EvalReport& report);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_REDSHIFT_TRAINING_H_
