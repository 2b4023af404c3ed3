// The commands of galaxy-index (indexer/index_main.cc parses the flags).
#ifndef GALAXY_INDEXER_INDEX_COMMANDS_H_
#define GALAXY_INDEXER_INDEX_COMMANDS_H_

#include <string>

#include "absl/status/statusor.h"
#include "indexer/snapshot_builder.h"

namespace galaxy {

absl::Status RunBuild(const BuildOptions& options);
absl::Status RunInfo(const std::string& path, bool json);
absl::Status RunVerify(const std::string& path);
// The snapshot's galaxies, in ID order, as .npy files in `npy_dir` (ids.npy int64, embeddings.npy
// N x D float32, anomaly_score.npy, zphot.npy and zphot_err.npy, NaN where unknown) and/or one
// table at `table_path` (HDF5 or FITS by its extension: data/table_file.h); at least one of the two.
absl::Status RunExport(const std::string& path, const std::string& npy_dir, const std::string& table_path);
absl::Status RunListAnomalies(const std::string& path, int top, bool json);

absl::Status RunAnomalyAuc(const std::string& path, const std::string& data_path,
                           const std::string& label_column, bool json);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_INDEX_COMMANDS_H_
