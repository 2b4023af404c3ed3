#include "indexer/snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"

namespace galaxy {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

absl::Status SyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) return ErrnoError("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoError("cannot sync", path);
  return absl::OkStatus();
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
  std::string tmp = absl::StrCat(snapshots_dir, "/", kCurrentFileName, ".tmp");
  std::string current = absl::StrCat(snapshots_dir, "/", kCurrentFileName);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  std::string line = absl::StrCat(version, "\n");
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  int saved_errno = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved_errno;
    return ErrnoError("cannot write", tmp);
  }
  if (::rename(tmp.c_str(), current.c_str()) != 0) {
    absl::Status error = ErrnoError("cannot rename over", current);
    ::unlink(tmp.c_str());
    return error;
  }
  return SyncPath(snapshots_dir, O_RDONLY | O_DIRECTORY);
}

std::string NewVersionName(absl::Time now) {
  std::random_device device;
  uint32_t suffix = std::uniform_int_distribution<uint32_t>(0, 0xFFFFFF)(device);
  return absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone()), "-",
                      absl::StrFormat("%06x", suffix));
}

}  // namespace galaxy
