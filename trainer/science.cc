#include "trainer/science.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/sim/synth_population.h"
#include "data/sim/synth_survey.h"
#include "nlohmann/json.hpp"
#include "trainer/dataset_cache.h"
#include "trainer/experiment.h"
#include "trainer/galaxy_features.h"
#include "trainer/pretrain.h"
#include "trainer/probe.h"
#include "trainer/redshift_training.h"
#include "trainer/representation_quality.h"
#include "trainer/science_seed.h"
#include "trainer/train_options.h"

namespace galaxy {
namespace {

using Json = nlohmann::json;

// The anomaly AUC of the weakest kind, for the best of the five scores (kNN distance, isolation
// forest, their mean rank, Mahalanobis distance, and that with the turn average): the one whose
// weakest kind is best.
double MinKindAuc(const QualityReport& q) {
  if (q.kinds.empty()) return kNotMeasured;
  double knn = 1, forest = 1, combined = 1, mahalanobis = 1, turns = 1;
  for (const AnomalyKindQuality& k : q.kinds) {
    knn = std::min(knn, k.auc);
    // NaN (not measured) loses every comparison: that method does not count.
    forest = std::isnan(k.iforest_auc) ? -1 : std::min(forest, k.iforest_auc);
    combined = std::isnan(k.combined_auc) ? -1 : std::min(combined, k.combined_auc);
    mahalanobis = std::isnan(k.mahalanobis_auc) ? -1 : std::min(mahalanobis, k.mahalanobis_auc);
    turns = std::isnan(k.turns_auc) ? -1 : std::min(turns, k.turns_auc);
  }
  return std::max({knn, forest, combined, mahalanobis, turns});
}

std::string Pm(const MeanStd& m, int digits = 4) {
  if (m.n == 0) return "n/a";
  return absl::StrFormat("%.*f ± %.*f", digits, m.mean, digits, m.std);
}

Json MeanStdJson(const MeanStd& m) {
  if (m.n == 0) return Json(nullptr);
  return {{"mean", m.mean}, {"std", m.std}, {"n", m.n}};
}

// Every quality figure of `member` (SeedRun::quality or ::served) as mean and spread over seeds.
Json QualitySummaryJson(const std::vector<SeedRun>& runs, QualityReport SeedRun::*member, int k) {
  auto over_seeds = [&](double QualityReport::*field) {
    return MeanStdJson(Summarise(PerSeed(runs, [&](const SeedRun& r) { return (r.*member).*field; })));
  };
  Json kinds = Json::array();
  for (const AnomalyKindQuality& first : (runs.front().*member).kinds) {
    auto kind_field = [&](double AnomalyKindQuality::*field) {
      return MeanStdJson(Summarise(PerSeed(runs, [&](const SeedRun& r) {
        for (const AnomalyKindQuality& q : (r.*member).kinds) {
          if (q.kind == first.kind) return q.*field;
        }
        return kNotMeasured;
      })));
    };
    kinds.push_back({{"kind", first.name},
                     {"count", first.count},
                     {"auc", kind_field(&AnomalyKindQuality::auc)},
                     {"iforest_auc", kind_field(&AnomalyKindQuality::iforest_auc)},
                     {"combined_auc", kind_field(&AnomalyKindQuality::combined_auc)},
                     {"mahalanobis_auc", kind_field(&AnomalyKindQuality::mahalanobis_auc)},
                     {"turns_auc", kind_field(&AnomalyKindQuality::turns_auc)},
                     {"found_in_top1", kind_field(&AnomalyKindQuality::found_in_top1)},
                     {"same_kind_precision", kind_field(&AnomalyKindQuality::same_kind_precision)}});
  }
  return {{"k", k},
          {"type_precision", over_seeds(&QualityReport::type_precision)},
          {"type_precision_colour", over_seeds(&QualityReport::type_precision_colour)},
          {"type_precision_chance", over_seeds(&QualityReport::type_precision_chance)},
          {"dz_median", over_seeds(&QualityReport::dz_median)},
          {"dz_median_colour", over_seeds(&QualityReport::dz_median_colour)},
          {"dz_median_random", over_seeds(&QualityReport::dz_median_random)},
          {"rotation_overlap", over_seeds(&QualityReport::rotation_overlap)},
          {"flip_overlap", over_seeds(&QualityReport::flip_overlap)},
          {"anomaly_auc", over_seeds(&QualityReport::anomaly_auc)},
          {"iforest_anomaly_auc", over_seeds(&QualityReport::iforest_anomaly_auc)},
          {"combined_anomaly_auc", over_seeds(&QualityReport::combined_anomaly_auc)},
          {"mahalanobis_anomaly_auc", over_seeds(&QualityReport::mahalanobis_anomaly_auc)},
          {"turns_anomaly_auc", over_seeds(&QualityReport::turns_anomaly_auc)},
          {"top1_precision", over_seeds(&QualityReport::top1_precision)},
          {"kinds", kinds}};
}

// One representation's similarity and anomaly tables from its QualitySummaryJson.
std::string QualityMarkdown(const Json& q, const std::string& title) {
  auto cell = [](const Json& v, int digits = 3) {
    return v.is_null() ? std::string("n/a")
                       : absl::StrFormat("%.*f ± %.*f", digits, v["mean"].get<double>(), digits, v["std"].get<double>());
  };
  std::string md = absl::StrFormat(
      "\n### %s\n\n"
      "| | embedding | aperture colours | chance |\n| --- | --- | --- | --- |\n"
      "| same-type precision@k | %s | %s | %s |\n| neighbours' median abs(dz)/(1+z) | %s | %s | %s |\n\n"
      "Top-k overlap with the 90-degree turned copy %s, with the mirror image %s. Anomaly ROC AUC over all kinds "
      "%s (kNN distance), %s (isolation forest), %s (mean rank of both), %s (Mahalanobis distance), %s "
      "(Mahalanobis distance of one view joined with its turn average); anomalies among the top 1%% of the kNN "
      "scores %s.\n\n| anomaly kind | galaxies | ROC AUC kNN | isolation forest | both | Mahalanobis | "
      "Mahalanobis with turns | share found in the top 1%% | same-kind precision@k |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
      title, cell(q["type_precision"]), cell(q["type_precision_colour"]), cell(q["type_precision_chance"]),
      cell(q["dz_median"], 4), cell(q["dz_median_colour"], 4), cell(q["dz_median_random"], 4),
      cell(q["rotation_overlap"]), cell(q["flip_overlap"]), cell(q["anomaly_auc"]), cell(q["iforest_anomaly_auc"]),
      cell(q["combined_anomaly_auc"]), cell(q["mahalanobis_anomaly_auc"]), cell(q["turns_anomaly_auc"]),
      cell(q["top1_precision"]));
  for (const Json& k : q["kinds"]) {
    absl::StrAppendFormat(&md, "| %s | %d | %s | %s | %s | %s | %s | %s | %s |\n", k["kind"].get<std::string>(),
                          k["count"].get<int64_t>(), cell(k["auc"]), cell(k["iforest_auc"]), cell(k["combined_auc"]),
                          cell(k["mahalanobis_auc"]), cell(k["turns_auc"]), cell(k["found_in_top1"]),
                          cell(k["same_kind_precision"]));
  }
  return md;
}

absl::StatusOr<std::string> EnsureSurvey(const ScienceOptions& o) {
  if (!o.data_path.empty()) return o.data_path;
  const std::string path = o.out_dir + "/survey.h5";
  const std::string stamp_path = o.out_dir + "/survey.json";
  const Json stamp = {{"galaxies", o.galaxies}, {"seed", o.survey_seed}, {"image_size", 64}};
  if (std::filesystem::exists(path)) {
    if (ReadJsonFile(stamp_path) == stamp) {
      log::Info("science: reusing the survey", {{"path", path}});
      return path;
    }
  }
  SynthOptions synth;
  synth.count = o.galaxies;
  synth.seed = o.survey_seed;
  synth.image_size = 64;
  log::Info(absl::StrFormat("science: simulating %d galaxies (seed %d)", o.galaxies, o.survey_seed), {{"path", path}});
  GALAXY_RETURN_IF_ERROR(WriteSyntheticSurvey(synth, path, o.threads));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(stamp_path, stamp.dump() + "\n"));
  return path;
}

absl::Status Stage(const std::string& name, absl::Status status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("science: ", name, ": ", status.message()));
}

// The pretraining of one seed. ScienceOptions::Validate checks these same options, so that a bad
// pretraining option is refused before the survey is simulated, with pretraining's own message.
PretrainOptions PretrainingOf(const ScienceOptions& o, const std::string& data, uint64_t seed) {
  PretrainOptions pretrain;
  pretrain.data_path = data;
  pretrain.out_dir = absl::StrCat(o.out_dir, "/seed_", seed, "/pretrain");
  pretrain.arch = o.arch;
  pretrain.stem = o.stem;
  pretrain.input_stretch = o.input_stretch;
  pretrain.steps = o.pretrain_steps;
  pretrain.batch = o.pretrain_batch;
  pretrain.queue = o.queue;
  pretrain.momentum = o.momentum;
  pretrain.temperature = o.temperature;
  pretrain.mask_outskirts = o.mask_outskirts;
  pretrain.photometry_weight = o.photometry_weight;
  pretrain.photometry_radii = o.photometry_radii;
  pretrain.seed = seed;
  pretrain.device = o.device;
  pretrain.threads = o.threads;
  // Checkpoints at pretraining's default interval, so that a seed stopped in its pretraining
  // takes it up from the last one (PretrainOrTakeUp).
  pretrain.monitor_every = std::max<int64_t>(1, o.pretrain_steps / 3);
  return pretrain;
}

absl::StatusOr<SeedRun> RunSeed(const ScienceOptions& o, const std::string& data, uint64_t seed) {
  SeedRun run;
  run.seed = seed;
  const std::string dir = absl::StrCat(o.out_dir, "/seed_", seed);
  std::filesystem::create_directories(dir);
  const absl::Time start = absl::Now();

  const PretrainOptions pretrain = PretrainingOf(o, data, seed);
  log::Info(absl::StrFormat("science: seed %d: pretraining %s/%s for %d steps", seed, o.arch, o.stem, o.pretrain_steps));
  absl::StatusOr<PretrainResult> pretrained = PretrainOrTakeUp(pretrain);
  GALAXY_RETURN_IF_ERROR(Stage("pretraining", pretrained.status()));
  run.pretrained = pretrained->model;
  run.pretrain_minutes = absl::ToDoubleMinutes(absl::Now() - start);
  if (!pretrained->monitor.empty()) run.monitor = pretrained->monitor.back();

  ExperimentOptions experiment;
  experiment.data_path = data;
  experiment.out_dir = dir + "/label_efficiency";
  experiment.pretrained = run.pretrained;
  experiment.fractions = o.fractions;
  experiment.redshift.steps = o.finetune_steps;
  experiment.redshift.batch = o.finetune_batch;
  experiment.redshift.backbone_lr_factor = o.backbone_lr_factor;
  experiment.redshift.head_warmup_steps = o.head_warmup_steps;
  experiment.redshift.validation_labels = o.validation_labels;
  experiment.redshift.seed = seed;
  experiment.redshift.device = o.device;
  experiment.redshift.threads = o.threads;
  log::Info(absl::StrFormat("science: seed %d: label efficiency", seed));
  absl::StatusOr<ExperimentResult> redshift = RunLabelEfficiency(experiment);
  GALAXY_RETURN_IF_ERROR(Stage("label efficiency", redshift.status()));
  run.redshift = *std::move(redshift);

  // The SSL model of the largest fraction, as the experiment evaluated it.
  const auto largest = std::max_element(run.redshift.rows.begin(), run.redshift.rows.end(),
                                        [](const ExperimentRow& a, const ExperimentRow& b) { return a.fraction < b.fraction; });
  run.eval_model = absl::StrFormat("%s/ssl_%g/model.pt", experiment.out_dir, largest->fraction);
  run.eval = std::move(largest->ssl_eval);
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(dir + "/eval.json", EvalReportJson(run.eval) + "\n"));

  ProbeOptions probe;
  probe.model_path = run.pretrained;
  probe.data_path = data;
  probe.label_column = "type";
  probe.fractions = o.probe_fractions;
  probe.scratch_steps = o.scratch_steps;
  probe.dihedral = o.dihedral;
  probe.features = o.features;
  probe.scratch_batch = o.finetune_batch;
  probe.seed = seed;
  probe.device = o.device;
  probe.threads = o.threads;
  log::Info(absl::StrFormat("science: seed %d: linear probe of galaxy type", seed));
  absl::StatusOr<ProbeReport> probed = RunProbe(probe);
  GALAXY_RETURN_IF_ERROR(Stage("probe", probed.status()));
  run.probe = *std::move(probed);
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(dir + "/probe.json", run.probe.Json() + "\n"));

  QualityOptions quality;
  quality.model_path = run.pretrained;
  quality.data_path = data;
  quality.k = o.k;
  quality.dihedral = o.dihedral;
  quality.features = o.features;
  quality.max_galaxies = o.quality_galaxies;
  quality.stability_queries = std::min<int64_t>(1000, o.quality_galaxies / 4);
  quality.device = o.device;
  quality.threads = o.threads;
  if (o.dihedral) {
    // Beside the average, what the index stores and the server searches: one view of each image
    // (one forward pass per image instead of eight).
    log::Info(absl::StrFormat("science: seed %d: similarity and anomaly quality, averaged and as served (one view)",
                              seed));
    absl::StatusOr<QualityPair> measured = RunQualityBothViews(quality);
    GALAXY_RETURN_IF_ERROR(Stage("quality", measured.status()));
    run.quality = std::move(measured->averaged);
    run.served = std::move(measured->one_view);
    GALAXY_RETURN_IF_ERROR(WriteFileAtomically(dir + "/quality_served.json", run.served.Json() + "\n"));
  } else {
    log::Info(absl::StrFormat("science: seed %d: similarity and anomaly quality", seed));
    absl::StatusOr<QualityReport> measured = RunQuality(quality);
    GALAXY_RETURN_IF_ERROR(Stage("quality", measured.status()));
    run.quality = *std::move(measured);
    run.served = run.quality;
  }
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(dir + "/quality.json", run.quality.Json() + "\n"));
  run.minutes = absl::ToDoubleMinutes(absl::Now() - start);
  run.threads = o.threads;
  log::Info(absl::StrFormat("science: seed %d done in %s", seed, absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1)))));
  return run;
}

}  // namespace

void ScienceOptions::SetQuick() {
  galaxies = 2400;
  seeds = 2;
  stem = "torchvision";
  pretrain_steps = 60;
  pretrain_batch = 32;
  queue = 256;
  finetune_steps = 200;
  finetune_batch = 32;
  fractions = {0.01, 0.04, 0.05, 0.2, 1.0};
  probe_fractions = {0.01, 0.05, 1.0};
  scratch_steps = 100;
  quality_galaxies = 2400;
}

absl::Status ScienceOptions::Validate() const {
  if (out_dir.empty()) return absl::InvalidArgumentError("--out: required");
  if (data_path.empty() && galaxies < 500) {
    return absl::InvalidArgumentError(absl::StrCat("--galaxies: ", galaxies, " < 500 (too few for a test part)"));
  }
  if (seeds < 1 || seeds > 20) return absl::InvalidArgumentError(absl::StrCat("--seeds: ", seeds, " is outside 1..20"));
  if (only_seed < -1 || only_seed >= seeds) {
    return absl::InvalidArgumentError(absl::StrCat("--only-seed: ", only_seed, " is outside 0..", seeds - 1));
  }
  if (pretrain_steps < 1) return absl::InvalidArgumentError(absl::StrCat("--pretrain-steps: ", pretrain_steps, " < 1"));
  if (finetune_steps < 1) return absl::InvalidArgumentError(absl::StrCat("--finetune-steps: ", finetune_steps, " < 1"));
  GALAXY_RETURN_IF_ERROR(ValidateHeadWarmup(head_warmup_steps, finetune_steps));
  GALAXY_RETURN_IF_ERROR(ValidateValidationLabels(validation_labels));
  if (scratch_steps < 0) return absl::InvalidArgumentError(absl::StrCat("--scratch-steps: ", scratch_steps, " < 0"));
  if (fractions.empty()) return absl::InvalidArgumentError("--fractions: at least one");
  if (probe_fractions.empty()) return absl::InvalidArgumentError("--probe-fractions: at least one");
  for (double f : fractions) {
    if (!(f > 0 && f <= 1)) return absl::InvalidArgumentError(absl::StrCat("--fractions: ", f, " is outside (0, 1]"));
  }
  for (double f : probe_fractions) {
    if (!(f > 0 && f <= 1)) return absl::InvalidArgumentError(absl::StrCat("--probe-fractions: ", f, " is outside (0, 1]"));
  }
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("--k: ", k, " < 1"));
  GALAXY_RETURN_IF_ERROR(ValidateFeatureKind(features));
  // Momentum, temperature, outskirts, input stretch, architecture, queue against batch: as
  // pretraining checks them (the data path stands in for a survey not simulated yet).
  return PretrainingOf(*this, data_path.empty() ? out_dir + "/survey.h5" : data_path, 0).Validate();
}

MeanStd Summarise(const std::vector<double>& values) {
  MeanStd m;
  double sum = 0;
  for (double v : values) {
    if (std::isfinite(v)) sum += v, ++m.n;
  }
  if (m.n == 0) {
    m.mean = m.std = kNotMeasured;
    return m;
  }
  m.mean = sum / m.n;
  if (m.n > 1) {
    double ss = 0;
    for (double v : values) {
      if (std::isfinite(v)) ss += (v - m.mean) * (v - m.mean);
    }
    m.std = std::sqrt(ss / (m.n - 1));
  }
  return m;
}

ScienceCheck Compare(const std::string& name, const std::string& description, const std::vector<double>& lhs,
                     const std::vector<double>& rhs, bool at_most) {
  ScienceCheck c;
  c.name = name;
  c.description = description;
  const MeanStd a = Summarise(lhs), b = Summarise(rhs);
  c.lhs = a.mean, c.lhs_std = a.std, c.rhs = b.mean, c.rhs_std = b.std;
  c.measured = a.n > 0 && b.n > 0;
  if (!c.measured) return c;
  c.holds = at_most ? a.mean <= b.mean : a.mean >= b.mean;
  c.significant = std::abs(a.mean - b.mean) > std::max(a.std, b.std);
  return c;
}

absl::StatusOr<ScienceResult> RunScience(const ScienceOptions& o) {
  GALAXY_RETURN_IF_ERROR(o.Validate());
  std::filesystem::create_directories(o.out_dir);
  const absl::Time start = absl::Now();
  GALAXY_ASSIGN_OR_RETURN(const std::string data, EnsureSurvey(o));
  // Every stage of every seed loads this survey: read it once.
  const ScopedDatasetCache cache;
  std::vector<SeedRun> runs;
  for (int s = 0; s < o.seeds; ++s) {
    if (o.only_seed >= 0 && s != o.only_seed) continue;
    const uint64_t seed = static_cast<uint64_t>(s);
    const std::string saved = SeedRunPath(o.out_dir, seed);
    const Json stamp = SeedStamp(o, data, seed);
    if (std::optional<SeedRun> done = LoadSavedSeed(saved, stamp)) {
      log::Info(absl::StrFormat("science: seed %d: reusing the finished seed", seed), {{"path", saved}});
      runs.push_back(*std::move(done));
      continue;
    }
    GALAXY_ASSIGN_OR_RETURN(SeedRun run, RunSeed(o, data, seed));
    GALAXY_RETURN_IF_ERROR(WriteFileAtomically(saved, Json({{"stamp", stamp}, {"run", SeedRunJson(run)}}).dump() + "\n"));
    runs.push_back(std::move(run));
  }
  if (o.only_seed >= 0) {
    ScienceResult saved;
    saved.seed_run = SeedRunPath(o.out_dir, static_cast<uint64_t>(o.only_seed));
    return saved;
  }

  // The acceptance checks (docs/SCIENCE.md).
  auto ssl = [&](double f) { return PerSeed(runs, [&](const SeedRun& r) { return SslAt(r, f); }); };
  auto sup = [&](double f) { return PerSeed(runs, [&](const SeedRun& r) { return SupervisedAt(r, f); }); };
  const std::vector<double> knn = PerSeed(runs, [](const SeedRun& r) { return r.redshift.knn.sigma_mad; });
  const std::vector<double> mean_z = PerSeed(runs, [](const SeedRun& r) { return r.redshift.predict_mean_sigma_mad; });
  auto probe_at = [&](double f, bool scratch) {
    return PerSeed(runs, [&](const SeedRun& r) {
      const ProbeRow* p = ProbeAt(r, f);
      if (p == nullptr) return kNotMeasured;
      if (scratch) return p->scratch_accuracy >= 0 ? p->scratch_accuracy : kNotMeasured;
      return p->accuracy;
    });
  };
  const double largest_probe = *std::max_element(o.probe_fractions.begin(), o.probe_fractions.end());
  const double largest = *std::max_element(o.fractions.begin(), o.fractions.end());
  // Similarity and anomalies are checked on what the server searches (SeedRun::served).
  const std::vector<double> type_p = PerSeed(runs, [](const SeedRun& r) { return r.served.type_precision; });
  const std::vector<double> min_auc = PerSeed(runs, [](const SeedRun& r) { return MinKindAuc(r.served); });
  ScienceResult result;
  result.checks = {
      Compare("ssl_5pc_vs_supervised_20pc", "SSL + fine-tune at 5% of the labels <= supervised at 20% (sigma_MAD)",
              ssl(0.05), sup(0.2), true),
      Compare("ssl_1pc_vs_supervised_4pc", "SSL + fine-tune at 1% of the labels <= supervised at 4% (sigma_MAD)",
              ssl(0.01), sup(0.04), true),
      Compare("network_vs_knn_colours", "SSL + fine-tune at 100% of the labels < kNN on colours (sigma_MAD)", ssl(1.0),
              knn, true),
      Compare("probe_vs_scratch_1pc", "linear probe of type at 1% of the labels >= the network from scratch (accuracy)",
              probe_at(0.01, false), probe_at(0.01, true), false),
      Compare("type_precision_at_k", "same-type precision@k of the embedding as served (one view) >= 0.7", type_p,
              std::vector<double>(runs.size(), 0.7), false),
      Compare("anomaly_auc_every_kind", "anomaly ROC AUC >= 0.9 for every anomaly kind, as served (one view; the weakest kind, best of kNN, isolation forest, both, Mahalanobis, Mahalanobis with turns)",
              min_auc,
              std::vector<double>(runs.size(), 0.9), false),
  };
  // Directions that must hold at any scale (the quick form's test asserts these).
  const std::vector<ScienceCheck> sanity = {
      Compare("network_vs_predict_mean", "the fine-tuned network (largest fraction) beats predicting the mean",
              ssl(largest), mean_z, true),
      Compare("probe_vs_majority", "the probe at the largest fraction beats predicting the most common type",
              probe_at(largest_probe, false),
              PerSeed(runs, [](const SeedRun& r) { return r.probe.majority_accuracy; }), false),
      Compare("type_precision_vs_chance", "same-type precision@k beats chance", type_p,
              PerSeed(runs, [](const SeedRun& r) { return r.served.type_precision_chance; }), false),
      Compare("anomaly_auc_vs_chance", "anomaly ROC AUC over all kinds beats 0.5",
              PerSeed(runs, [](const SeedRun& r) { return r.served.anomaly_auc; }),
              std::vector<double>(runs.size(), 0.5), false),
  };

  // results.json
  auto check_json = [](const ScienceCheck& c) {
    return Json{{"name", c.name},       {"description", c.description}, {"lhs", c.lhs},
                {"lhs_std", c.lhs_std}, {"rhs", c.rhs},                 {"rhs_std", c.rhs_std},
                {"measured", c.measured}, {"holds", c.holds},           {"significant", c.significant}};
  };
  Json j;
  j["command"] = o.command;
  j["date"] = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  j["data"] = data;
  j["seeds"] = o.seeds;
  j["options"] = {{"galaxies", o.galaxies},         {"survey_seed", o.survey_seed},
                  {"arch", o.arch},                 {"stem", o.stem},
                  {"input_stretch", o.input_stretch},
                  {"pretrain_steps", o.pretrain_steps}, {"pretrain_batch", o.pretrain_batch},
                  {"queue", o.queue},               {"momentum", o.momentum},
                  {"temperature", o.temperature},   {"mask_outskirts", o.mask_outskirts},
                  {"photometry_weight", o.photometry_weight}, {"photometry_radii", o.photometry_radii},
                  {"finetune_steps", o.finetune_steps},
                  {"finetune_batch", o.finetune_batch}, {"backbone_lr_factor", o.backbone_lr_factor},
                  {"head_warmup_steps", o.head_warmup_steps}, {"validation_labels", o.validation_labels},
                  {"fractions", o.fractions},       {"probe_fractions", o.probe_fractions},
                  {"scratch_steps", o.scratch_steps}, {"dihedral", o.dihedral}, {"features", o.features},
                  {"k", o.k}};
  Json redshift = Json::array();
  for (const ExperimentRow& row : runs.front().redshift.rows) {
    redshift.push_back({{"fraction", row.fraction},
                        {"labels", row.labels},
                        {"ssl_sigma_mad", MeanStdJson(Summarise(ssl(row.fraction)))},
                        {"supervised_sigma_mad", MeanStdJson(Summarise(sup(row.fraction)))},
                        {"ssl_per_seed", ssl(row.fraction)},
                        {"supervised_per_seed", sup(row.fraction)}});
  }
  j["redshift"] = {{"rows", redshift},
                   {"knn_colours_sigma_mad", MeanStdJson(Summarise(knn))},
                   {"predict_mean_sigma_mad", MeanStdJson(Summarise(mean_z))},
                   {"pdf",
                    {{"model_fraction", largest},
                     {"temperature", MeanStdJson(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.pdf_temperature; })))},
                     {"crps_mean", MeanStdJson(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.crps_mean; })))},
                     {"coverage_68", MeanStdJson(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.coverage_68; })))},
                     {"coverage_95", MeanStdJson(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.coverage_95; })))},
                     {"outlier_rate", MeanStdJson(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.overall.outlier_rate; })))}}}};
  Json probe = Json::array();
  for (const ProbeRow& row : runs.front().probe.rows) {
    probe.push_back({{"fraction", row.fraction},
                     {"labels", row.labels},
                     {"probe_accuracy", MeanStdJson(Summarise(probe_at(row.fraction, false)))},
                     {"scratch_accuracy", MeanStdJson(Summarise(probe_at(row.fraction, true)))}});
  }
  j["probe"] = {{"rows", probe},
                {"majority_accuracy", runs.front().probe.majority_accuracy},
                {"classes", runs.front().probe.classes}};
  j["quality"] = QualitySummaryJson(runs, &SeedRun::quality, o.k);
  j["served_quality"] = QualitySummaryJson(runs, &SeedRun::served, o.k);
  Json monitors = Json::array();
  for (const SeedRun& r : runs) monitors.push_back(r.monitor.empty() ? Json(nullptr) : Json::parse(r.monitor));
  j["pretraining_monitor"] = monitors;
  Json checks = Json::array(), sanity_json = Json::array();
  for (const ScienceCheck& c : result.checks) checks.push_back(check_json(c));
  for (const ScienceCheck& c : sanity) sanity_json.push_back(check_json(c));
  j["acceptance"] = checks;
  j["sanity"] = sanity_json;
  const double minutes = absl::ToDoubleMinutes(absl::Now() - start);
  j["minutes"] = minutes;
  const MeanStd seed_minutes = Summarise(PerSeed(runs, [](const SeedRun& r) { return r.minutes; }));
  const MeanStd pretrain_minutes = Summarise(PerSeed(runs, [](const SeedRun& r) { return r.pretrain_minutes; }));
  j["seed_minutes"] = MeanStdJson(seed_minutes);
  j["pretrain_minutes"] = MeanStdJson(pretrain_minutes);

  GALAXY_RETURN_IF_ERROR(WriteSummaryPlots(o, runs, &result.plots));

  // report.md
  std::string md = absl::StrFormat(
      "# Science report\n\n`%s`\n\nData: `%s`; %d seed%s (pretraining and every training after it); %s/%s, %s input, "
      "%d pretraining steps of %d, queue %d, key momentum %g, temperature %g, outskirts masked in %g of the views, photometric pretext at weight %g (apertures of %s arcsec); redshift training %d steps of %d, backbone rate x%g, head warmed up alone for %d of them, validated on %s; probe and quality on the %s features, %s.\n\n"
      "Time: %s minutes per seed, of which pretraining %s, on %s (each seed's last sitting: what it read back "
      "from an earlier one is not counted); this command %.1f minutes (seeds it found finished are reused, not "
      "run again).\n\n",
      o.command, data, o.seeds, o.seeds == 1 ? "" : "s", o.arch, o.stem, o.input_stretch, o.pretrain_steps, o.pretrain_batch, o.queue, o.momentum, o.temperature, o.mask_outskirts,
      o.photometry_weight, absl::StrJoin(o.photometry_radii, ", "),
      o.finetune_steps,
      o.finetune_batch, o.backbone_lr_factor, o.head_warmup_steps,
      o.validation_labels == "label-fraction" ? "the fraction's share of the validation labels"
                                               : "every validation label",
      o.features,
      o.dihedral ? absl::StrCat("representation averaged over ", kDihedralViews) : "single-view representation",
      Pm(seed_minutes, 1), Pm(pretrain_minutes, 1),
      SeedThreadsText(runs), minutes);
  if (!o.machine.empty()) md += "## Machine\n\n" + o.machine + "\n";
  md += "## Acceptance\n\n| check | measured | holds | difference beyond the spread |\n| --- | --- | --- | --- |\n";
  for (const ScienceCheck& c : result.checks) {
    absl::StrAppendFormat(&md, "| %s | %s | %s | %s |\n", c.description,
                          c.measured ? absl::StrFormat("%.4f ± %.4f vs %.4f ± %.4f", c.lhs, c.lhs_std, c.rhs, c.rhs_std)
                                     : "not measured",
                          c.measured ? (c.holds ? "yes" : "**no**") : "-", c.measured ? (c.significant ? "yes" : "no") : "-");
  }
  md += "\nDirections that hold at any scale:\n\n";
  for (const ScienceCheck& c : sanity) {
    absl::StrAppendFormat(&md, "- %s: %.4f vs %.4f: %s\n", c.description, c.lhs, c.rhs, c.holds ? "yes" : "**no**");
  }
  md += "\n## Redshift: label efficiency (sigma_MAD on the test part, mean ± std over seeds)\n\n"
        "| label fraction | labels | SSL + fine-tune | supervised from scratch |\n| --- | --- | --- | --- |\n";
  for (const ExperimentRow& row : runs.front().redshift.rows) {
    absl::StrAppendFormat(&md, "| %g | %d | %s | %s |\n", row.fraction, row.labels, Pm(Summarise(ssl(row.fraction))),
                          Pm(Summarise(sup(row.fraction))));
  }
  absl::StrAppendFormat(&md, "\nkNN on colours (all training labels): %s; predicting the mean: %s.\n",
                        Pm(Summarise(knn)), Pm(Summarise(mean_z)));
  absl::StrAppendFormat(
      &md,
      "\nRedshift pdfs of the model fine-tuned on %g%% of the labels (temperature %s, fitted on the validation part): "
      "CRPS %s, 68%% interval holds %s, 95%% holds %s.\n",
      100 * largest, Pm(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.pdf_temperature; })), 2),
      Pm(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.crps_mean; }))),
      Pm(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.coverage_68; })), 3),
      Pm(Summarise(PerSeed(runs, [](const SeedRun& r) { return r.eval.coverage_95; })), 3));
  absl::StrAppendFormat(&md,
                        "\n## Galaxy type from the frozen embedding\n\nPredicting the most common type: %.3f.\n\n"
                        "| label fraction | labels | linear probe | same network from scratch |\n| --- | --- | --- | --- |\n",
                        runs.front().probe.majority_accuracy);
  for (const ProbeRow& row : runs.front().probe.rows) {
    absl::StrAppendFormat(&md, "| %g | %d | %s | %s |\n", row.fraction, row.labels,
                          Pm(Summarise(probe_at(row.fraction, false)), 3),
                          Pm(Summarise(probe_at(row.fraction, true)), 3));
  }
  md += absl::StrFormat("\n## Similarity and anomalies (frozen embedding, k = %d)\n", o.k);
  if (o.dihedral) {
    md += QualityMarkdown(j["served_quality"], "As served: one view of each image, as the index stores it and the server "
                                               "searches it (the checks above read these)");
    md += QualityMarkdown(j["quality"], absl::StrCat("The representation averaged over ", kDihedralViews,
                                                     " (as the probe reads it)"));
  } else {
    md += QualityMarkdown(j["quality"], "One view of each image, as served");
  }
  md += "\n## Plots\n\n";
  for (const std::string& p : result.plots) {
    const std::string name = std::filesystem::path(p).filename().string();
    absl::StrAppendFormat(&md, "![%s](%s)\n", name, name);
  }
  result.results_json = o.out_dir + "/results.json";
  result.report_md = o.out_dir + "/report.md";
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(result.results_json, j.dump(2) + "\n"));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(result.report_md, md));
  return result;
}

}  // namespace galaxy
