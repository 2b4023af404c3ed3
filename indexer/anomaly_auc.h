// How well a snapshot's anomaly scores pick out a dataset's labelled anomalies
// (galaxy-index anomaly-auc, and the indexer's tests).
#ifndef GALAXY_INDEXER_ANOMALY_AUC_H_
#define GALAXY_INDEXER_ANOMALY_AUC_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

struct AnomalyAuc {
  int64_t positives = 0, negatives = 0;
  double auc = 0;
  std::map<int, double> auc_by_kind;  // when the dataset has an anomaly_kind column
};
// ROC AUC of the snapshot's anomaly scores against a 0/1 label column of the dataset (joined by
// ObjID). FAILED_PRECONDITION when the column is missing or has a single class.
absl::StatusOr<AnomalyAuc> ComputeAnomalyAuc(const std::string& path, const std::string& data_path,
                                             const std::string& label_column);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_ANOMALY_AUC_H_
