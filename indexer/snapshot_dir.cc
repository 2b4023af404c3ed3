#include "indexer/snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/file_util.h"
#include "core/status_macros.h"
#include "indexer/snapshot.h"

namespace galaxy {
namespace {

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

absl::Status ValidateVersionName(absl::string_view version) {
  if (version.empty() || version.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot version '", version, "' must have 1..128 characters"));
  }
  if (version.front() == '.' || version == kCurrentFileName) {
    return absl::InvalidArgumentError(
        absl::StrCat("snapshot version '", version, "' is reserved"));
  }
  for (char c : version) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return absl::InvalidArgumentError(absl::StrCat(
          "snapshot version '", version, "' may only hold letters, digits, '.', '_' and '-'"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCurrent(const std::string& snapshots_dir) {
  std::string path = absl::StrCat(snapshots_dir, "/", kCurrentFileName);
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("no snapshot published in ", snapshots_dir,
                                            " (", path, " does not exist)"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string version(absl::StripAsciiWhitespace(buffer.str()));
  if (absl::Status valid = ValidateVersionName(version); !valid.ok()) {
    return absl::DataLossError(absl::StrCat(path, " is corrupt: ", valid.message()));
  }
  if (!IsDirectory(absl::StrCat(snapshots_dir, "/", version))) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " names snapshot ", version, ", which does not exist"));
  }
  return version;
}

absl::Status PublishCurrent(const std::string& snapshots_dir, absl::string_view version) {
  if (absl::Status valid = ValidateVersionName(version); !valid.ok()) return valid;
  std::string target = absl::StrCat(snapshots_dir, "/", version);
  if (!IsDirectory(target)) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot publish ", version, ": ", target, " is not a directory"));
  }
  return WriteFileAtomically(absl::StrCat(snapshots_dir, "/", kCurrentFileName),
                             absl::StrCat(version, "\n"));
}

std::string NewVersionName(absl::Time now) {
  std::random_device device;
  uint32_t suffix = std::uniform_int_distribution<uint32_t>(0, 0xFFFFFF)(device);
  return absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()), "-",
                      absl::StrFormat("%06x", suffix));
}

absl::StatusOr<std::string> ResolveSnapshotDir(const std::string& path) {
  if (std::filesystem::exists(path + "/" + kManifestFile)) return path;
  if (std::filesystem::exists(path + "/" + kCurrentFileName)) {
    GALAXY_ASSIGN_OR_RETURN(std::string version, ReadCurrent(path));
    return path + "/" + version;
  }
  return absl::NotFoundError(absl::StrCat(path, ": neither a snapshot (no ", kManifestFile,
                                          ") nor a snapshots directory (no CURRENT)"));
}

}  // namespace galaxy
