// The science report in one command (galaxy-bench science): everything the product claims about
// its representation, measured on one synthetic survey over several seeds, beside its baselines.
// For each seed it pretrains MoCo v2, runs the label-efficiency experiment (SSL + fine-tune
// against the same network from scratch, kNN on colours beside them), the linear probe of galaxy
// type against the network trained from scratch on the same labels, the similarity and anomaly
// quality of the frozen embedding, and the calibration of the fine-tuned model's redshift pdfs.
// It writes
//   results.json   every number, per seed and as mean and standard deviation, and the acceptance
//                  checks (each with its numbers, whether it holds, and whether the difference is
//                  larger than its spread over seeds);
//   report.md      the same as tables, with the command and the machine;
//   *.png          the label-efficiency curves with error bars, predicted vs true redshift, the
//                  metrics per redshift bin, the PIT histogram, probe accuracy against labels and
//                  the probe's confusion matrix;
//   seed_<s>/      each seed's models and the stages' own reports.
// --quick runs the same pipeline at a scale that takes a couple of minutes on two cores (the
// test suite runs it).
#ifndef GALAXY_TRAINER_SCIENCE_H_
#define GALAXY_TRAINER_SCIENCE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/train_options.h"

namespace galaxy {

struct ScienceOptions {
  // Output directory. Required.
  std::string out_dir;
  // An existing dataset with truth columns (specz_redshift, type, anomaly_kind); empty (default):
  // simulate `galaxies` galaxies with `survey_seed` into out_dir/survey.h5 (reused when there).
  std::string data_path;
  int64_t galaxies = 50000;
  uint64_t survey_seed = 1;
  // Seeds of pretraining and of every training after it. Default 3.
  int seeds = 3;
  // Run only this seed (0..seeds-1) and save it, without the report: seeds can then run in
  // parallel processes or machines sharing out_dir, and a run without it reuses them all and
  // writes the report. -1 (default): every seed, then the report.
  int only_seed = -1;
  // Model and pretraining. The defaults are the recipe of the recorded three-seed report
  // (docs/SCIENCE.md, "The three-seed report from one directory"): half resolution (half stem),
  // temperature 0.1 and the photometric pretext, 3,000 steps of 128 (~2 hours per seed on one
  // core with every stage after it). Full resolution (`--stem paper --photometry-radii 1.5,3,6
  // --pretrain-steps 2000`) measured level with it within the spread at several times the cost
  // of each stage after pretraining. Before it the defaults were the torchvision stem at
  // temperature 0.2 without the pretext, 6,000 steps: a worse frozen redshift and type probe.
  std::string arch = "tiny";
  std::string stem = "half";
  std::string input_stretch = PretrainOptions().input_stretch;
  int64_t pretrain_steps = 3000;
  int pretrain_batch = 128;
  int queue = 4096;
  // Key-encoder momentum. 0.99, not the 0.999 of long ImageNet runs: over a few thousand steps the
  // slower key encoder lags most of the run (docs/SCIENCE.md, "What each knob was worth").
  double momentum = 0.99;
  // InfoNCE temperature (pretraining's own default is 0.2; docs/SCIENCE.md, "A sharper contrast").
  double temperature = 0.1;
  // Share of the views whose outskirts become sky (PretrainOptions::mask_outskirts).
  double mask_outskirts = PretrainOptions().mask_outskirts;
  // Weight of the photometric pretext (PretrainOptions::photometry_weight; pretraining's own
  // default is 0, off; docs/SCIENCE.md, "A photometric pretext") and its aperture radii, arcsec
  // (pretraining's default, one).
  double photometry_weight = 5;
  std::vector<double> photometry_radii = PretrainOptions().photometry_radii;
  // Redshift training (both arms) and its label fractions.
  int64_t finetune_steps = 1000;
  int finetune_batch = 128;
  double backbone_lr_factor = 1.0;
  // Steps of each fine-tuning that train the head alone first (FinetuneOptions::head_warmup_steps).
  int64_t head_warmup_steps = 0;
  // The validation labels of both arms (FinetuneOptions::validation_labels): "all" (default) or
  // "label-fraction".
  std::string validation_labels = FinetuneOptions().validation_labels;
  std::vector<double> fractions = {0.01, 0.04, 0.05, 0.2, 1.0};
  // The probe's label fractions and the from-scratch classifier's steps.
  std::vector<double> probe_fractions = {0.01, 0.05, 0.2, 1.0};
  int scratch_steps = 1000;
  // The probe (both arms) and the quality measures average the frozen representation over each
  // image's four 90-degree turns and their mirrors (ProbeOptions::dihedral). Default on.
  bool dihedral = true;
  // The frozen representation the probe and the quality measures read: "backbone" (default, the
  // last stage), "stages" (every stage's, as `galaxy-index build --features stages` serves) or
  // "projection" (FeatureKinds(), trainer/probe.h).
  std::string features = "backbone";
  // Similarity and anomaly quality: neighbours and galaxies used.
  int k = 10;
  int64_t quality_galaxies = 50000;
  std::string device = "auto";
  int threads = 0;
  // The command line and the machine (markdown), recorded in the report.
  std::string command;
  std::string machine;

  // The quick form's scale (a few thousand galaxies, tens of steps, two seeds, the torchvision
  // stem, which takes a quarter of the half stem's pixels through the network).
  void SetQuick();
  absl::Status Validate() const;
};

// One acceptance check of the science issue: `lhs` compared with `rhs` (means over seeds), with
// their spreads. holds: the comparison is true of the means; significant: the difference of the
// means is larger than the larger of the two standard deviations (whether it holds or fails).
// measured: false when a stage that
// feeds it was not run (e.g. a fraction left out); then the rest is meaningless.
struct ScienceCheck {
  std::string name, description;
  double lhs = 0, lhs_std = 0, rhs = 0, rhs_std = 0;
  bool measured = false, holds = false, significant = false;
};

struct ScienceResult {
  // Empty with only_seed (then `seed_run` is the saved seed).
  std::string results_json, report_md, seed_run;
  std::vector<std::string> plots;
  std::vector<ScienceCheck> checks;
};

// Runs everything (see the header comment). INVALID_ARGUMENT for bad options; errors of each
// stage pass through, naming the stage.
absl::StatusOr<ScienceResult> RunScience(const ScienceOptions& options);

// Mean and sample standard deviation (0 for one value) of the finite values; NaN when none.
struct MeanStd {
  double mean = 0, std = 0;
  int n = 0;
};
MeanStd Summarise(const std::vector<double>& values);

// The check "lhs <= rhs" (or "lhs >= rhs" when !at_most) from per-seed values.
ScienceCheck Compare(const std::string& name, const std::string& description, const std::vector<double>& lhs,
                     const std::vector<double>& rhs, bool at_most);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_SCIENCE_H_
