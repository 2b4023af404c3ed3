// The on-disk layout of published snapshots, and the one operation that publishes one:
//
//   SNAPSHOTS_DIR/
//     CURRENT             one line: the version of the live snapshot
//     <version>/          an immutable snapshot: index.faiss, meta.rocksdb/, manifest.json
//
// CURRENT is replaced by writing CURRENT.tmp, syncing it, renaming it over CURRENT and syncing
// the directory (the LevelDB CURRENT idea): a reader sees the old name or the new one, never a
// torn file, and a crash at any point leaves one of the two.
#ifndef GALAXY_INDEXER_SNAPSHOT_DIR_H_
#define GALAXY_INDEXER_SNAPSHOT_DIR_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace galaxy {

inline constexpr char kCurrentFileName[] = "CURRENT";

// A snapshot directory, or a snapshots directory (then the one CURRENT names).
absl::StatusOr<std::string> ResolveSnapshotDir(const std::string& path);

// The version CURRENT names. NOT_FOUND when there is no CURRENT (nothing published yet);
// DATA_LOSS when CURRENT does not hold a valid version name; FAILED_PRECONDITION when it names a
// directory that does not exist.
absl::StatusOr<std::string> ReadCurrent(const std::string& snapshots_dir);

// Makes `version` (an existing subdirectory of snapshots_dir) the live snapshot, atomically and
// durably. INVALID_ARGUMENT for a bad version name, FAILED_PRECONDITION when its directory is
// missing, INTERNAL when a write, sync or rename fails (CURRENT is then unchanged).
absl::Status PublishCurrent(const std::string& snapshots_dir, absl::string_view version);

// A fresh, sortable version name for a snapshot built at `now`: "20261126T104500Z-1a2b3c".
std::string NewVersionName(absl::Time now);

// OK when `version` can name a snapshot directory: 1..128 characters of [A-Za-z0-9._-], not
// starting with '.', not "CURRENT". INVALID_ARGUMENT naming the problem otherwise.
absl::Status ValidateVersionName(absl::string_view version);

}  // namespace galaxy

#endif  // GALAXY_INDEXER_SNAPSHOT_DIR_H_
