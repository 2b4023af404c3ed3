#include "trainer/science_seed.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/log.h"
#include "trainer/train_options.h"

namespace galaxy {
namespace {

using Json = nlohmann::json;

Json MetricsJson(const PhotozMetrics& m) {
  return {{"count", m.count}, {"sigma_mad", m.sigma_mad}, {"bias", m.bias}, {"outlier_rate", m.outlier_rate},
          {"z_lo", m.z_lo}, {"z_hi", m.z_hi}};
}

PhotozMetrics MetricsFrom(const Json& j) {
  PhotozMetrics m;
  m.count = j.at("count").get<int64_t>();
  m.sigma_mad = j.at("sigma_mad").get<double>();
  m.bias = j.at("bias").get<double>();
  m.outlier_rate = j.at("outlier_rate").get<double>();
  m.z_lo = j.at("z_lo").get<double>();
  m.z_hi = j.at("z_hi").get<double>();
  return m;
}

// NaN-safe numbers: JSON has no NaN (nlohmann writes null), read back as NaN.
double Number(const Json& j) { return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN(); }

// Label fractions are compared as the same numbers parsed from the same flags.
bool Same(double a, double b) { return std::abs(a - b) < 1e-9; }

QualityReport QualityFrom(const Json& q) {
  QualityReport r;
  r.galaxies = q.at("galaxies").get<int64_t>();
  r.k = q.at("k").get<int>();
  // Seeds saved before these were recorded: the report's options say what they were.
  r.dihedral = q.value("dihedral", false);
  r.features = q.value("features", std::string());
  r.type_precision = Number(q.at("type_precision"));
  r.type_precision_colour = Number(q.at("type_precision_colour"));
  r.type_precision_chance = Number(q.at("type_precision_chance"));
  r.dz_median = Number(q.at("dz_median"));
  r.dz_median_colour = Number(q.at("dz_median_colour"));
  r.dz_median_random = Number(q.at("dz_median_random"));
  r.rotation_overlap = Number(q.at("rotation_overlap"));
  r.flip_overlap = Number(q.at("flip_overlap"));
  r.anomaly_auc = Number(q.at("anomaly_auc"));
  // Seeds saved before the isolation forest existed lack its figures: not measured.
  r.iforest_anomaly_auc = Number(q.value("iforest_anomaly_auc", Json()));
  r.combined_anomaly_auc = Number(q.value("combined_anomaly_auc", Json()));
  r.mahalanobis_anomaly_auc = Number(q.value("mahalanobis_anomaly_auc", Json()));
  r.mahalanobis_top1_precision = Number(q.value("mahalanobis_top1_precision", Json()));
  r.turns_anomaly_auc = Number(q.value("turns_anomaly_auc", Json()));
  r.top1_precision = Number(q.at("top1_precision"));
  // Seeds are saved in `galaxy-train quality --json`'s form (QualityReport::Json). Seeds saved
  // before that have "kinds", each with the column value as "kind" and its "name".
  const bool own_form = q.contains("anomaly_kinds");
  for (const Json& k : own_form ? q.at("anomaly_kinds") : q.at("kinds")) {
    AnomalyKindQuality e;
    e.kind = k.at(own_form ? "anomaly_kind" : "kind").get<int>();
    e.name = k.at(own_form ? "kind" : "name").get<std::string>();
    e.count = k.at("count").get<int64_t>();
    e.auc = Number(k.at("auc"));
    e.iforest_auc = Number(k.value("iforest_auc", Json()));
    e.combined_auc = Number(k.value("combined_auc", Json()));
    e.mahalanobis_auc = Number(k.value("mahalanobis_auc", Json()));
    e.turns_auc = Number(k.value("turns_auc", Json()));
    e.found_in_top1 = Number(k.at("found_in_top1"));
    e.same_kind_precision = Number(k.at("same_kind_precision"));
    r.kinds.push_back(e);
  }
  return r;
}

}  // namespace

QualityReport NotMeasuredQuality() {
  QualityReport q;
  q.galaxies = 0;
  for (double* f : {&q.type_precision, &q.type_precision_colour, &q.type_precision_chance, &q.dz_median,
                    &q.dz_median_colour, &q.dz_median_random, &q.rotation_overlap, &q.flip_overlap, &q.anomaly_auc,
                    &q.iforest_anomaly_auc, &q.combined_anomaly_auc, &q.mahalanobis_anomaly_auc,
                    &q.mahalanobis_top1_precision, &q.top1_precision}) {
    *f = kNotMeasured;
  }
  return q;
}

Json SeedRunJson(const SeedRun& r) {
  Json rows = Json::array();
  for (const ExperimentRow& row : r.redshift.rows) {
    rows.push_back({{"fraction", row.fraction}, {"labels", row.labels}, {"ssl", MetricsJson(row.ssl)},
                    {"supervised", MetricsJson(row.supervised)}});
  }
  Json probe = Json::array();
  for (const ProbeRow& row : r.probe.rows) {
    probe.push_back({{"fraction", row.fraction}, {"labels", row.labels}, {"accuracy", row.accuracy},
                     {"recall", row.recall}, {"confusion", row.confusion}, {"scratch_accuracy", row.scratch_accuracy},
                     {"scratch_recall", row.scratch_recall}});
  }
  Json bins = Json::array();
  for (const PhotozMetrics& m : r.eval.per_bin) bins.push_back(MetricsJson(m));
  return {{"seed", r.seed},
          {"minutes", r.minutes},
          {"pretrain_minutes", r.pretrain_minutes},
          {"threads", r.threads},
          {"pretrained", r.pretrained},
          {"monitor", r.monitor},
          {"redshift", {{"rows", rows}, {"knn", MetricsJson(r.redshift.knn)}, {"predict_mean", r.redshift.predict_mean_sigma_mad}}},
          {"probe", {{"classes", r.probe.classes}, {"test_count", r.probe.test_count},
                     {"majority_accuracy", r.probe.majority_accuracy}, {"class_counts", r.probe.class_counts}, {"rows", probe}}},
          {"quality", Json::parse(r.quality.Json())},
          {"served_quality", Json::parse(r.served.Json())},
          {"eval", {{"model", r.eval_model}, {"overall", MetricsJson(r.eval.overall)}, {"per_bin", bins},
                    {"z_spec", r.eval.z_spec}, {"z_phot", r.eval.z_phot}, {"pit_count", r.eval.pit.size()},
                    {"pit_histogram", r.eval.pit_histogram}, {"crps_mean", r.eval.crps_mean},
                    {"coverage_68", r.eval.coverage_68}, {"coverage_95", r.eval.coverage_95},
                    {"pdf_temperature", r.eval.pdf_temperature}, {"model_kind", r.eval.model_kind}}}};
}

SeedRun SeedRunFrom(const Json& j) {
  SeedRun r;
  r.seed = j.at("seed").get<uint64_t>();
  r.minutes = Number(j.value("minutes", Json()));
  r.pretrain_minutes = Number(j.value("pretrain_minutes", Json()));
  r.threads = j.value("threads", -1);
  r.pretrained = j.at("pretrained").get<std::string>();
  r.monitor = j.at("monitor").get<std::string>();
  const Json& z = j.at("redshift");
  for (const Json& row : z.at("rows")) {
    ExperimentRow e;
    e.fraction = row.at("fraction").get<double>();
    e.labels = row.at("labels").get<int64_t>();
    e.ssl = MetricsFrom(row.at("ssl"));
    e.supervised = MetricsFrom(row.at("supervised"));
    r.redshift.rows.push_back(e);
  }
  r.redshift.knn = MetricsFrom(z.at("knn"));
  r.redshift.predict_mean_sigma_mad = z.at("predict_mean").get<double>();
  const Json& p = j.at("probe");
  r.probe.classes = p.at("classes").get<int64_t>();
  r.probe.test_count = p.at("test_count").get<int64_t>();
  r.probe.majority_accuracy = p.at("majority_accuracy").get<double>();
  r.probe.class_counts = p.at("class_counts").get<std::vector<int64_t>>();
  for (const Json& row : p.at("rows")) {
    ProbeRow e;
    e.fraction = row.at("fraction").get<double>();
    e.labels = row.at("labels").get<int64_t>();
    e.accuracy = row.at("accuracy").get<double>();
    for (const Json& v : row.at("recall")) e.recall.push_back(Number(v));
    e.confusion = row.at("confusion").get<std::vector<std::vector<int64_t>>>();
    e.scratch_accuracy = row.at("scratch_accuracy").get<double>();
    for (const Json& v : row.at("scratch_recall")) e.scratch_recall.push_back(Number(v));
    r.probe.rows.push_back(e);
  }
  r.quality = QualityFrom(j.at("quality"));
  // Seeds saved before the served representation was measured: not measured.
  r.served = j.contains("served_quality") ? QualityFrom(j.at("served_quality")) : NotMeasuredQuality();
  const Json& e = j.at("eval");
  r.eval_model = e.at("model").get<std::string>();
  r.eval.overall = MetricsFrom(e.at("overall"));
  for (const Json& b : e.at("per_bin")) r.eval.per_bin.push_back(MetricsFrom(b));
  r.eval.z_spec = e.at("z_spec").get<std::vector<double>>();
  r.eval.z_phot = e.at("z_phot").get<std::vector<double>>();
  r.eval.pit.assign(e.at("pit_count").get<size_t>(), 0.0);  // only their number is used (the plot's scale)
  r.eval.pit_histogram = e.at("pit_histogram").get<std::vector<int64_t>>();
  r.eval.crps_mean = e.at("crps_mean").get<double>();
  r.eval.coverage_68 = e.at("coverage_68").get<double>();
  r.eval.coverage_95 = e.at("coverage_95").get<double>();
  r.eval.pdf_temperature = e.value("pdf_temperature", 1.0);  // seeds saved before calibration: the head's own
  r.eval.model_kind = e.at("model_kind").get<std::string>();
  return r;
}

Json SeedStamp(const ScienceOptions& o, const std::string& data, uint64_t seed) {
  Json stamp = {{"data", data},
                {"galaxies", o.data_path.empty() ? o.galaxies : -1},
                {"survey_seed", o.survey_seed},
                {"seed", seed},
                {"arch", o.arch},
                {"stem", o.stem},
                {"input_stretch", o.input_stretch},
                {"pretrain_steps", o.pretrain_steps},
                {"pretrain_batch", o.pretrain_batch},
                {"queue", o.queue},
                {"momentum", o.momentum},
                {"temperature", o.temperature},
                // Not a science option, but a seed pretrained under another default blur (1 px before
                // 2026-12-01) is another run.
                {"max_blur", PretrainOptions().max_blur},
                {"mask_outskirts", o.mask_outskirts},
                {"photometry_weight", o.photometry_weight},
                {"finetune_steps", o.finetune_steps},
                {"finetune_batch", o.finetune_batch},
                {"backbone_lr_factor", o.backbone_lr_factor},
                {"head_warmup_steps", o.head_warmup_steps},
                {"fractions", o.fractions},
                {"probe_fractions", o.probe_fractions},
                {"scratch_steps", o.scratch_steps},
                {"dihedral", o.dihedral},
                {"features", o.features},
                {"k", o.k},
                {"quality_galaxies", o.quality_galaxies}};
  // Only when not the default: seeds saved before the option existed stay reusable.
  if (o.photometry_radii != PretrainOptions().photometry_radii) stamp["photometry_radii"] = o.photometry_radii;
  if (o.validation_labels != FinetuneOptions().validation_labels) stamp["validation_labels"] = o.validation_labels;
  return stamp;
}

std::string SeedThreadsText(const std::vector<SeedRun>& runs) {
  auto one = [](int threads) {
    return threads < 0 ? std::string("?") : threads == 0 ? std::string("every") : absl::StrCat(threads);
  };
  if (runs.empty()) return "no seeds";
  bool alike = true;
  std::vector<std::string> each;
  for (const SeedRun& r : runs) {
    alike = alike && r.threads == runs.front().threads;
    each.push_back(one(r.threads));
  }
  if (!alike) return absl::StrCat(absl::StrJoin(each, " / "), " CPU threads");
  if (runs.front().threads < 0) return "an unrecorded number of CPU threads";
  return absl::StrCat(each.front(), runs.front().threads > 1 ? " CPU threads" : " CPU thread");
}

std::string SeedRunPath(const std::string& out_dir, uint64_t seed) {
  return absl::StrCat(out_dir, "/seed_", seed, "/seed_run.json");
}

Json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Json(Json::value_t::discarded);
  return Json::parse(in, nullptr, /*allow_exceptions=*/false);
}

std::optional<SeedRun> LoadSavedSeed(const std::string& path, const Json& stamp) {
  const Json saved = ReadJsonFile(path);
  if (saved.is_discarded() || saved.value("stamp", Json()) != stamp || !saved.contains("run")) return std::nullopt;
  try {
    return SeedRunFrom(saved.at("run"));
  } catch (const Json::exception& e) {
    log::Warn(absl::StrFormat("science: %s is unreadable (%s); running that seed again", path, e.what()));
    return std::nullopt;
  }
}

double SslAt(const SeedRun& run, double fraction) {
  for (const ExperimentRow& r : run.redshift.rows) {
    if (Same(r.fraction, fraction)) return r.ssl.sigma_mad;
  }
  return kNotMeasured;
}

double SupervisedAt(const SeedRun& run, double fraction) {
  for (const ExperimentRow& r : run.redshift.rows) {
    if (Same(r.fraction, fraction)) return r.supervised.sigma_mad;
  }
  return kNotMeasured;
}

const ProbeRow* ProbeAt(const SeedRun& run, double fraction) {
  for (const ProbeRow& r : run.probe.rows) {
    if (Same(r.fraction, fraction)) return &r;
  }
  return nullptr;
}

}  // namespace galaxy
