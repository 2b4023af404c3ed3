// The commands of galaxy-index (indexer/index_main.cc parses the flags).
#ifndef GALAXY_INDEXER_INDEX_COMMANDS_H_
#define GALAXY_INDEXER_INDEX_COMMANDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "indexer/snapshot_builder.h"

namespace galaxy {

// A snapshot directory, or a snapshots directory (then the one CURRENT names).
absl::StatusOr<std::string> ResolveSnapshotDir(const std::string& path);

absl::Status RunBuild(const BuildOptions& options);
absl::Status RunInfo(const std::string& path, bool json);
absl::Status RunVerify(const std::string& path);
// Writes DIR/ids.npy (int64), embeddings.npy (N x D float32), anomaly_score.npy,
// zphot.npy and zphot_err.npy (NaN where unknown), in ID order.
absl::Status RunExport(const std::string& path, const std::string& npy_dir);
absl::Status RunListAnomalies(const std::string& path, int top, bool json);

struct AnomalyAuc {
  int64_t positives = 0, negatives = 0;
  double auc = 0;
  std::map<int, double> auc_by_kind;  // when the dataset has an anomaly_kind column
};
// ROC AUC of the snapshot's anomaly scores against a 0/1 label column of the dataset (joined by
// ObjID). FAILED_PRECONDITION when the column is missing or has a single class.
absl::StatusOr<AnomalyAuc> ComputeAnomalyAuc(const std::string& path, const std::string& data_path,
                                             const std::string& label_column);
absl::Status RunAnomalyAuc(const std::string& path, const std::string& data_path,
                           const std::string& label_column, bool json);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_INDEX_COMMANDS_H_
