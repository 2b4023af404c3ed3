#include "indexer/anomaly_auc.h"

#include <cmath>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/statistics.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"

namespace galaxy {
namespace {

// RocAuc over (score, is positive) pairs; NaN when a class is empty.
double Auc(const std::vector<std::pair<float, bool>>& scored) {
  std::vector<double> scores;
  std::vector<bool> positive;
  scores.reserve(scored.size());
  positive.reserve(scored.size());
  for (const auto& [score, is_positive] : scored) {
    scores.push_back(score);
    positive.push_back(is_positive);
  }
  const double auc = RocAuc(scores, positive);
  return auc < 0 ? std::nan("") : auc;
}

}  // namespace

absl::StatusOr<AnomalyAuc> ComputeAnomalyAuc(const std::string& path, const std::string& data_path,
                                             const std::string& label_column) {
  GALAXY_ASSIGN_OR_RETURN(std::string dir, ResolveSnapshotDir(path));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> s, Snapshot::Open(dir));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(data_path));
  absl::StatusOr<std::vector<double>> labels = reader->ReadColumn(label_column);
  if (!labels.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(data_path, ": no label column '", label_column, "'"));
  }
  std::vector<double> kinds;
  if (absl::StatusOr<std::vector<double>> k = reader->ReadColumn("anomaly_kind"); k.ok()) kinds = *k;
  GALAXY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, reader->ReadIds());
  std::unordered_map<int64_t, size_t> row_of;
  for (size_t i = 0; i < ids.size(); ++i) row_of[ids[i]] = i;
  std::vector<std::pair<float, bool>> all;
  std::map<int, std::vector<std::pair<float, bool>>> by_kind;
  std::vector<float> normal_scores;
  GALAXY_RETURN_IF_ERROR(s->metadata().ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
    auto it = row_of.find(r.id());
    if (it == row_of.end()) return absl::OkStatus();
    const bool positive = (*labels)[it->second] != 0;
    all.emplace_back(r.anomaly_score(), positive);
    if (!kinds.empty()) {
      const int kind = static_cast<int>(kinds[it->second]);
      if (positive) by_kind[kind].emplace_back(r.anomaly_score(), true);
      else normal_scores.push_back(r.anomaly_score());
    }
    return absl::OkStatus();
  }));
  AnomalyAuc result;
  for (const auto& [score, positive] : all) (positive ? result.positives : result.negatives)++;
  if (result.positives == 0 || result.negatives == 0) {
    return absl::FailedPreconditionError(absl::StrCat("'", label_column, "' has ", result.positives,
                                                      " positives and ", result.negatives, " negatives; need both"));
  }
  result.auc = Auc(all);
  for (auto& [kind, positives] : by_kind) {
    for (float v : normal_scores) positives.emplace_back(v, false);
    result.auc_by_kind[kind] = Auc(positives);
  }
  return result;
}

}  // namespace galaxy
