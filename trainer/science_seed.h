// One seed of the science report (trainer/science.h): everything it measured, and its saved
// form. A finished seed is saved (seed_<s>/seed_run.json) with the options it ran under, so that
// an interrupted run resumes after its last finished seed. Include only from trainer .cc files.
#ifndef GALAXY_TRAINER_SCIENCE_SEED_H_
#define GALAXY_TRAINER_SCIENCE_SEED_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"
#include "trainer/experiment.h"
#include "trainer/probe.h"
#include "trainer/redshift_training.h"
#include "trainer/representation_quality.h"
#include "trainer/science.h"

namespace galaxy {

// Everything measured with one seed.
struct SeedRun {
  uint64_t seed = 0;
  std::string pretrained;
  std::string monitor;  // the last monitor reading (JSON), empty without one
  ExperimentResult redshift;
  ProbeReport probe;
  // Similarity and anomalies on the report's representation (ScienceOptions::dihedral, features)
  // and on what the index stores and the server searches: one view of each image, the same
  // features. They are the same measurement when the report reads one view. The acceptance
  // checks of similarity and anomalies read `served`; fields NaN in seeds saved before it was
  // measured.
  QualityReport quality;
  QualityReport served;
  EvalReport eval;  // the SSL model fine-tuned on the largest fraction
  std::string eval_model;
  // Wall-clock minutes of the whole seed and of its pretraining; NaN in seeds saved before they
  // were recorded.
  double minutes = std::numeric_limits<double>::quiet_NaN();
  double pretrain_minutes = std::numeric_limits<double>::quiet_NaN();
  // The CPU threads the seed's last sitting ran with (ScienceOptions::threads; 0: every one);
  // -1 in seeds saved before it was recorded.
  int threads = -1;
};

// The thread counts `runs` ran with, for the report: "1 CPU thread" when every seed ran alike,
// else each seed's ("1 / 1 / 2 CPU threads"); "every CPU thread" for 0; "?" (or "an unrecorded
// number of CPU threads" for all) where not recorded.
std::string SeedThreadsText(const std::vector<SeedRun>& runs);


// The saved form of a seed and back. SeedRunFrom throws nlohmann::json::exception for a file
// that lacks a required field; figures added later (the isolation forest's) read as NaN.
nlohmann::json SeedRunJson(const SeedRun& run);
SeedRun SeedRunFrom(const nlohmann::json& j);

// What a seed's results depend on: a saved seed is reused only under the same values.
nlohmann::json SeedStamp(const ScienceOptions& o, const std::string& data, uint64_t seed);

// out_dir/seed_<seed>/seed_run.json
std::string SeedRunPath(const std::string& out_dir, uint64_t seed);

// The seed saved at `path` when it was saved under `stamp`; nullopt when there is none, it ran
// under other options, or it is unreadable (logged: it is then run again).
std::optional<SeedRun> LoadSavedSeed(const std::string& path, const nlohmann::json& stamp);

// A figure a seed did not measure (a fraction or stage left out).
inline constexpr double kNotMeasured = std::numeric_limits<double>::quiet_NaN();

// A quality report of nothing measured: every figure kNotMeasured, no anomaly kinds.
QualityReport NotMeasuredQuality();

// A seed's figure at one label fraction: the test sigma_MAD of each redshift arm
// (kNotMeasured when the fraction was not run) and the probe's row (nullptr when not run).
double SslAt(const SeedRun& run, double fraction);
double SupervisedAt(const SeedRun& run, double fraction);
const ProbeRow* ProbeAt(const SeedRun& run, double fraction);

// f(run) for every seed's run.
template <typename F>
std::vector<double> PerSeed(const std::vector<SeedRun>& runs, F f) {
  std::vector<double> out;
  for (const SeedRun& r : runs) out.push_back(f(r));
  return out;
}

// The summary plots of the report, written into o.out_dir and listed in `plots`: label
// efficiency and the probe against labels (means over seeds with their spread), the probe's
// confusion matrix and the first seed's redshift plots (trainer/science_plots.cc).
absl::Status WriteSummaryPlots(const ScienceOptions& o, const std::vector<SeedRun>& runs, std::vector<std::string>* plots);

// The JSON in file `path`; a discarded value when it is missing or not JSON.
nlohmann::json ReadJsonFile(const std::string& path);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_SCIENCE_SEED_H_
