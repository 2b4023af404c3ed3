// SHA-256 of files, for self-describing checkpoints (which data trained them) and snapshot
// manifests (which model and data built them).
#ifndef GALAXY_CORE_CHECKSUM_H_
#define GALAXY_CORE_CHECKSUM_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// Lower-case hex SHA-256 of a file's bytes, streamed. NOT_FOUND if it cannot be opened.
absl::StatusOr<std::string> Sha256File(const std::string& path);

// Sha256File, remembered for the life of the process while the file's identity (device, inode,
// size, modification time) stays the same: a science run trains a dozen networks on one
// dataset of several GB, and each checkpoint names the data's checksum.
absl::StatusOr<std::string> Sha256FileRemembered(const std::string& path);


}  // namespace galaxy

#endif  // GALAXY_CORE_CHECKSUM_H_
