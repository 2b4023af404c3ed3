// Crash-safe file publishing: write under a temporary name, sync, rename into place, sync the
// directory. A reader sees the old file or the complete new one, never a torn one.
#ifndef GALAXY_CORE_FILE_UTIL_H_
#define GALAXY_CORE_FILE_UTIL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// A fresh temporary name beside `path`: "<path>.tmp-<pid>-<random>".
std::string TempPathFor(const std::string& path);

// Removes temporary files "<path>.tmp-<pid>-*" left by processes that no longer run (debris of
// a crash). Never touches a live process's file. Returns how many were removed.
int RemoveStaleTemps(const std::string& path);

// Removes (RemoveTree) each entry of `dir` whose name starts with `prefix` and whose owner, the
// process `owner_pid` reads from the rest of the name, no longer runs: the debris of a process
// that crashed mid-write. `owner_pid` returns 0 for a name that holds no process ID. Never
// touches an entry of this process or of a live one (nor of another user's, which kill() cannot
// probe). Returns the paths removed; an entry that cannot be removed is left and not returned.
std::vector<std::string> RemoveEntriesOfDeadProcesses(const std::string& dir, absl::string_view prefix,
                                                      absl::FunctionRef<int(absl::string_view rest)> owner_pid);

// Removes `path` and, when it is a directory, everything below it, without following symbolic
// links (POSIX nftw). OK when nothing is there. INTERNAL naming the first entry that could not
// be removed and why; the rest is still removed. Use it instead of std::filesystem::remove_all,
// which LibTorch's libraries on the GPU machine export a copy of that crashed our test binaries
// there (docs/DEVELOPING.md, "Known issues").
absl::Status RemoveTree(const std::string& path);

// Fsyncs `from`, renames it over `to`, fsyncs the directory of `to`. INTERNAL naming the step
// and errno on failure (`to` is then unchanged).
absl::Status DurableRename(const std::string& from, const std::string& to);

// Fsyncs a directory (after creating, renaming or removing entries in it).
absl::Status SyncDirectory(const std::string& dir);

// Writes `contents` to `path` durably through a temporary file.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// What tells a file's current contents apart without reading them: device, inode, size and
// modification time (as make and rsync judge). Equal identities: the same, unchanged file; a
// file rewritten in place or replaced by a rename gets another.
struct FileIdentity {
  uint64_t device = 0, inode = 0;
  int64_t size = 0, mtime_sec = 0, mtime_nsec = 0;
  auto Tied() const { return std::tie(device, inode, size, mtime_sec, mtime_nsec); }
  bool operator==(const FileIdentity& o) const { return Tied() == o.Tied(); }
  bool operator<(const FileIdentity& o) const { return Tied() < o.Tied(); }
};
// nullopt when the file cannot be stat'ed.
std::optional<FileIdentity> IdentityOf(const std::string& path);

// The contents of a text file, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// The bearer token a client sends, from a token file: its first line that is not blank or a
// comment, either the token alone or a server token file's "ROLE TOKEN [NAME]". NOT_FOUND or
// INVALID_ARGUMENT naming `flag` and the file (never the token).
absl::StatusOr<std::string> ReadBearerToken(const std::string& flag, const std::string& path);

}  // namespace galaxy

#endif  // GALAXY_CORE_FILE_UTIL_H_
