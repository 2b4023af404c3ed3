// The science report's summary plots (trainer/science_seed.h, WriteSummaryPlots).
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/status_macros.h"
#include "data/sim/synth_population.h"
#include "trainer/plot.h"
#include "trainer/redshift_plots.h"
#include "trainer/science_seed.h"

namespace galaxy {

absl::Status WriteSummaryPlots(const ScienceOptions& o, const std::vector<SeedRun>& runs, std::vector<std::string>* plots) {
  PlotSeries ssl{"SSL + fine-tune", {}, {}, 31, 119, 180, true, {}};
  PlotSeries sup{"supervised from scratch", {}, {}, 214, 39, 40, true, {}};
  PlotSeries knn{"kNN on colours (all labels)", {}, {}, 120, 120, 120, true, {}};
  for (size_t i = 0; i < runs.front().redshift.rows.size(); ++i) {
    const ExperimentRow& row = runs.front().redshift.rows[i];
    const MeanStd a = Summarise(PerSeed(runs, [&](const SeedRun& r) { return SslAt(r, row.fraction); }));
    const MeanStd b = Summarise(PerSeed(runs, [&](const SeedRun& r) { return SupervisedAt(r, row.fraction); }));
    ssl.x.push_back(static_cast<double>(row.labels));
    ssl.y.push_back(a.mean);
    ssl.y_err.push_back(a.std);
    sup.x.push_back(static_cast<double>(row.labels));
    sup.y.push_back(b.mean);
    sup.y_err.push_back(b.std);
  }
  knn.x = {ssl.x.front(), ssl.x.back()};
  knn.y = {runs.front().redshift.knn.sigma_mad, runs.front().redshift.knn.sigma_mad};
  PlotOptions le;
  le.title = absl::StrFormat("redshift: sigma_MAD against labels (mean ± std over %d seeds)", runs.size());
  le.x_label = "labelled galaxies";
  le.y_label = "sigma_MAD (test part)";
  le.log_x = ssl.x.front() > 0;
  const std::string le_path = o.out_dir + "/label_efficiency.png";
  GALAXY_RETURN_IF_ERROR(WritePlotPng(le_path, {ssl, sup, knn}, le));
  plots->push_back(le_path);

  PlotSeries probe{"linear probe on the frozen embedding", {}, {}, 31, 119, 180, true, {}};
  PlotSeries scratch{"same network from scratch", {}, {}, 214, 39, 40, true, {}};
  for (const ProbeRow& row : runs.front().probe.rows) {
    const MeanStd a = Summarise(PerSeed(runs, [&](const SeedRun& r) {
      const ProbeRow* p = ProbeAt(r, row.fraction);
      return p ? p->accuracy : kNotMeasured;
    }));
    const MeanStd b = Summarise(PerSeed(runs, [&](const SeedRun& r) {
      const ProbeRow* p = ProbeAt(r, row.fraction);
      return p && p->scratch_accuracy >= 0 ? p->scratch_accuracy : kNotMeasured;
    }));
    probe.x.push_back(static_cast<double>(row.labels));
    probe.y.push_back(a.mean);
    probe.y_err.push_back(a.std);
    if (b.n > 0) {
      scratch.x.push_back(static_cast<double>(row.labels));
      scratch.y.push_back(b.mean);
      scratch.y_err.push_back(b.std);
    }
  }
  if (!probe.x.empty()) {
    PlotOptions p;
    p.title = "galaxy type: test accuracy against labels";
    p.x_label = "labelled galaxies";
    p.y_label = "accuracy";
    p.log_x = true;
    p.notes = {absl::StrFormat("most common class: %.3f", runs.front().probe.majority_accuracy)};
    std::vector<PlotSeries> series = {probe};
    if (!scratch.x.empty()) series.push_back(scratch);
    const std::string path = o.out_dir + "/probe.png";
    GALAXY_RETURN_IF_ERROR(WritePlotPng(path, series, p));
    plots->push_back(path);
    const ProbeRow& last = runs.front().probe.rows.back();
    std::vector<std::string> names;
    for (int64_t c = 0; c < runs.front().probe.classes; ++c) {
      names.push_back(c < kGalaxyTypes ? GalaxyTypeName(static_cast<GalaxyType>(c)) : absl::StrCat(c));
    }
    PlotOptions m;
    m.title = absl::StrFormat("linear probe, %d labels (seed %d): confusion matrix", last.labels, runs.front().seed);
    m.x_label = "predicted type";
    m.y_label = "true type";
    const std::string confusion = o.out_dir + "/confusion.png";
    GALAXY_RETURN_IF_ERROR(WriteMatrixPlotPng(confusion, last.confusion, names, m));
    plots->push_back(confusion);
  }
  const std::string redshift = o.out_dir + "/redshift.png";
  GALAXY_RETURN_IF_ERROR(WriteRedshiftPlots(
      redshift, runs.front().eval,
      absl::StrFormat("SSL + fine-tune on %d labels (seed %d), test part", runs.front().redshift.rows.back().labels,
                      runs.front().seed)));
  for (const char* suffix : {"", "_per_bin", "_pit"}) {
    const std::string path = SiblingPath(redshift, suffix);
    if (std::filesystem::exists(path)) plots->push_back(path);
  }
  return absl::OkStatus();
}

}  // namespace galaxy
