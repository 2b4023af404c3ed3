#include "core/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace galaxy {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

std::string DirectoryOf(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? "." : parent.string();
}

absl::Status SyncFd(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", path);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return ErrnoError("cannot sync", path);
  return absl::OkStatus();
}

// The first failure of a RemoveTree walk on this thread (nftw's callback takes no state).
struct RemoveTreeFailure {
  int error = 0;
  std::string path;
};
thread_local RemoveTreeFailure remove_tree_failure;

int RemoveTreeEntry(const char* path, const struct stat*, int, struct FTW*) {
  if (::remove(path) != 0 && errno != ENOENT && remove_tree_failure.error == 0) {
    remove_tree_failure = {errno, path};
  }
  return 0;  // go on: remove what can be removed
}

}  // namespace

absl::Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? absl::OkStatus() : ErrnoError("cannot remove", path);
  }
  remove_tree_failure = {};
  // Depth first (entries before their directory), not following links, 32 descriptors at most.
  if (::nftw(path.c_str(), RemoveTreeEntry, 32, FTW_DEPTH | FTW_PHYS) != 0 && remove_tree_failure.error == 0) {
    return ErrnoError("cannot remove", path);
  }
  if (remove_tree_failure.error != 0) {
    errno = remove_tree_failure.error;
    return ErrnoError("cannot remove", remove_tree_failure.path);
  }
  return absl::OkStatus();
}

std::string TempPathFor(const std::string& path) {
  std::random_device device;
  return absl::StrCat(path, ".tmp-", ::getpid(), "-",
                      absl::StrFormat("%08x", static_cast<uint32_t>(device())));
}

std::vector<std::string> RemoveEntriesOfDeadProcesses(const std::string& dir, absl::string_view prefix,
                                                      absl::FunctionRef<int(absl::string_view rest)> owner_pid) {
  std::vector<std::string> removed;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, prefix)) continue;
    const int pid = owner_pid(absl::string_view(name).substr(prefix.size()));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno == EPERM) continue;  // still alive
    if (RemoveTree(entry.path().string()).ok()) removed.push_back(entry.path().string());
  }
  return removed;
}

int RemoveStaleTemps(const std::string& path) {
  const std::string prefix = std::filesystem::path(path).filename().string() + ".tmp-";
  // "<pid>-<random>" follows the prefix (TempPathFor).
  const auto pid_first = [](absl::string_view rest) {
    int pid = 0;
    return absl::SimpleAtoi(rest.substr(0, rest.find('-')), &pid) ? pid : 0;
  };
  return static_cast<int>(RemoveEntriesOfDeadProcesses(DirectoryOf(path), prefix, pid_first).size());
}

absl::Status SyncDirectory(const std::string& dir) { return SyncFd(dir, O_RDONLY | O_DIRECTORY); }

absl::Status DurableRename(const std::string& from, const std::string& to) {
  if (absl::Status s = SyncFd(from, O_RDONLY); !s.ok()) return s;
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoError("cannot rename to", to);
  return SyncDirectory(DirectoryOf(to));
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  const std::string tmp = TempPathFor(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("cannot create", tmp);
  size_t written = 0;
  while (written < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      absl::Status error = ErrnoError("cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return error;
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    absl::Status error = ErrnoError("cannot sync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status error = ErrnoError("cannot rename to", path);
    ::unlink(tmp.c_str());
    return error;
  }
  return SyncDirectory(DirectoryOf(path));
}

std::optional<FileIdentity> IdentityOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  FileIdentity id;
  id.device = static_cast<uint64_t>(st.st_dev);
  id.inode = static_cast<uint64_t>(st.st_ino);
  id.size = static_cast<int64_t>(st.st_size);
  id.mtime_sec = static_cast<int64_t>(st.st_mtim.tv_sec);
  id.mtime_nsec = static_cast<int64_t>(st.st_mtim.tv_nsec);
  return id;
}

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::StatusOr<std::string> ReadBearerToken(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", path));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<absl::string_view> parts = absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() >= 2 && (parts[0] == "search" || parts[0] == "admin")) return std::string(parts[1]);
    if (parts.size() == 1) return std::string(parts[0]);
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, ": the first line is neither a token nor "
                                                    "'search|admin TOKEN [NAME]'"));
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " holds no token"));
}

}  // namespace galaxy
