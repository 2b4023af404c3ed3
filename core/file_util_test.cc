#include "core/file_util.h"

#include <gtest/gtest.h>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

TEST(ReadBearerTokenTest, TakesATokenAloneOrTheTokenOfAServerTokenFileLine) {
  testutil::ScopedTempDir dir;
  const auto token_of = [&](const std::string& text) {
    std::ofstream(dir.File("t")) << text;
    return ReadBearerToken("--token-file", dir.File("t"));
  };
  EXPECT_EQ(*token_of("# mine\n\n  3f1c0123456789abcdef  \n"), "3f1c0123456789abcdef");
  EXPECT_EQ(*token_of("search 3f1c0123456789abcdef ada\nadmin 9b7e0123456789abcdef\n"), "3f1c0123456789abcdef");
  EXPECT_EQ(*token_of("admin\t9b7e0123456789abcdef\n"), "9b7e0123456789abcdef");
  EXPECT_EQ(token_of("# nothing\n").status().message(), "--token-file: " + dir.File("t") + " holds no token");
  EXPECT_EQ(token_of("reader abc def\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadBearerToken("--shard-token-file", dir.File("missing")).status().message(),
            "--shard-token-file: cannot read " + dir.File("missing"));
}

TEST(RemoveTreeTest, RemovesADirectoryBelowItButNotWhatItsLinksPointTo) {
  namespace fs = std::filesystem;
  testutil::ScopedTempDir dir;
  const fs::path tree = dir.path() / "tree", outside = dir.path() / "outside";
  fs::create_directories(tree / "a" / "b" / "c");
  fs::create_directories(outside);
  std::ofstream(tree / "top.txt") << "x";
  std::ofstream(tree / "a" / "b" / "c" / "deep.bin") << "y";
  std::ofstream(outside / "kept.txt") << "z";
  fs::create_directory_symlink(outside, tree / "a" / "link");
  fs::create_symlink(outside / "kept.txt", tree / "file-link");

  ASSERT_TRUE(RemoveTree(tree.string()).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(tree)));
  EXPECT_TRUE(fs::exists(outside / "kept.txt"));  // links are removed, not followed

  std::ofstream(dir.File("plain")) << "p";
  EXPECT_TRUE(RemoveTree(dir.File("plain")).ok());
  EXPECT_FALSE(fs::exists(dir.File("plain")));
  EXPECT_TRUE(RemoveTree(dir.File("never-there")).ok());
}

TEST(RemoveTreeTest, NamesWhatCouldNotBeRemoved) {
  // Not even root may unlink a file of /proc.
  const absl::Status removed = RemoveTree("/proc/self/status");
  EXPECT_EQ(removed.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StartsWith(removed.message(), "cannot remove /proc/self/status: ")) << removed;
}

// RemoveTree(path) in a child process that is not root, because root ignores a read-only
// directory's mode (as root, `owned` is given to nobody first): the status code, plus 100 when the
// message does not name `named`; 99 when the child could not give up root.
int RemoveTreeUnprivileged(const std::filesystem::path& owned, const std::string& path, const std::string& named) {
  constexpr uid_t kNobody = 65534;
  const bool root = ::geteuid() == 0;
  if (root) {
    ::lchown(owned.c_str(), kNobody, kNobody);
    for (const auto& entry : std::filesystem::recursive_directory_iterator(owned)) {
      ::lchown(entry.path().c_str(), kNobody, kNobody);
    }
  }
  const pid_t child = ::fork();
  if (child == 0) {
    if (root && (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0)) ::_exit(99);
    const absl::Status status = RemoveTree(path);
    ::_exit(static_cast<int>(status.code()) + (absl::StrContains(status.message(), named) ? 0 : 100));
  }
  int wait_status = 0;
  ::waitpid(child, &wait_status, 0);
  return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

TEST(RemoveTreeTest, RemovesWhatItCanPastAFailure) {
  namespace fs = std::filesystem;
  testutil::ScopedTempDir dir;
  const fs::path tree = dir.path() / "tree";
  fs::create_directories(tree / "locked");
  fs::create_directories(tree / "open");
  std::ofstream(tree / "locked" / "stays") << "s";
  std::ofstream(tree / "open" / "goes") << "g";
  ASSERT_EQ(::chmod((tree / "locked").c_str(), 0500), 0);
  EXPECT_EQ(RemoveTreeUnprivileged(dir.path(), tree.string(), (tree / "locked" / "stays").string()),
            static_cast<int>(absl::StatusCode::kInternal));
  ::chmod((tree / "locked").c_str(), 0700);
  EXPECT_FALSE(fs::exists(tree / "open"));
  EXPECT_TRUE(fs::exists(tree / "locked" / "stays"));
  EXPECT_TRUE(RemoveTree(tree.string()).ok());
  EXPECT_FALSE(fs::exists(tree));
}


// The ID of a process that has ended (forked, exited and reaped), for debris "of a crash".
int PidOfEndedProcess() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  return static_cast<int>(child);
}

TEST(RemoveStaleTempsTest, RemovesOnlyTheTemporaryFilesOfEndedProcesses) {
  namespace fs = std::filesystem;
  testutil::ScopedTempDir dir;
  const std::string path = dir.File("catalog.h5");
  const std::string dead = std::to_string(PidOfEndedProcess()), mine = std::to_string(::getpid());
  for (const std::string& name : std::vector<std::string>{"catalog.h5.tmp-" + dead + "-0badf00d",   // debris: removed
                                  "catalog.h5.tmp-" + mine + "-12345678",   // this process's
                                  "catalog.h5.tmp-1-87654321",              // init, alive
                                  "catalog.h5.tmp-notapid-1",               // not a temporary of ours
                                  "other.h5.tmp-" + dead + "-0badf00d",     // another file's
                                  "catalog.h5"}) {
    std::ofstream(dir.File(name)) << "x";
  }
  fs::create_directories(dir.path() / ("catalog.h5.tmp-" + dead + "-dir") / "inner");  // a tree: removed

  EXPECT_EQ(RemoveStaleTemps(path), 2);
  EXPECT_FALSE(fs::exists(dir.File("catalog.h5.tmp-" + dead + "-0badf00d")));
  EXPECT_FALSE(fs::exists(dir.File("catalog.h5.tmp-" + dead + "-dir")));
  for (const std::string& kept : std::vector<std::string>{"catalog.h5.tmp-" + mine + "-12345678", "catalog.h5.tmp-1-87654321",
                                                          "catalog.h5.tmp-notapid-1", "other.h5.tmp-" + dead + "-0badf00d",
                                                          "catalog.h5"}) {
    EXPECT_TRUE(fs::exists(dir.File(kept))) << kept;
  }
  EXPECT_EQ(RemoveStaleTemps(path), 0);
  EXPECT_EQ(RemoveStaleTemps(dir.File("missing-dir/x.h5")), 0);  // nothing to list: nothing removed
}

TEST(RemoveEntriesOfDeadProcessesTest, ReadsTheOwnerWhereTheCallerSays) {
  namespace fs = std::filesystem;
  testutil::ScopedTempDir dir;
  const std::string dead = std::to_string(PidOfEndedProcess()), mine = std::to_string(::getpid());
  fs::create_directories(dir.path() / (".building-20261207T000000-" + dead) / "index");
  fs::create_directories(dir.path() / (".building-20261207T000001-" + mine));
  const auto pid_last = [](absl::string_view rest) {
    return std::atoi(std::string(rest.substr(rest.rfind('-') + 1)).c_str());
  };
  const std::vector<std::string> removed = RemoveEntriesOfDeadProcesses(dir.path().string(), ".building-", pid_last);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], dir.File(".building-20261207T000000-" + dead));
  EXPECT_FALSE(fs::exists(removed[0]));
  EXPECT_TRUE(fs::exists(dir.File(".building-20261207T000001-" + mine)));
}

}  // namespace
}  // namespace galaxy
