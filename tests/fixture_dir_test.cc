// FixtureDir (tests/fixture_dir.h): the key follows its inputs, a call marks its own directory as
// used, and other keys' directories are pruned only once unused for kFixtureKeepHours.
#include "tests/fixture_dir.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

namespace galaxy::testutil {
namespace {

namespace fs = std::filesystem;

class FixtureDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prefix_ = "galaxy-fixture-dir-test-" + std::to_string(::getpid());
    input_ = fs::path(::testing::TempDir()) / (prefix_ + ".input");
    std::ofstream(input_) << "one";
  }
  void TearDown() override {
    for (const auto& entry : fs::directory_iterator(::testing::TempDir())) {
      if (entry.path().filename().string().rfind(prefix_, 0) == 0) RemoveTree(entry.path()).IgnoreError();
    }
  }
  // A directory of another key, last used `hours` ago.
  fs::path OtherKey(const std::string& name, int hours) const {
    const fs::path dir = fs::path(::testing::TempDir()) / (prefix_ + "-" + name);
    fs::create_directories(dir / "data");
    fs::last_write_time(dir, fs::file_time_type::clock::now() - std::chrono::hours(hours));
    return dir;
  }
  std::string prefix_;
  fs::path input_;
};

TEST_F(FixtureDirTest, TheKeyFollowsTheInputs) {
  const fs::path first = FixtureDir(prefix_, input_.string());
  EXPECT_EQ(first, FixtureDir(prefix_, input_.string()));
  EXPECT_TRUE(fs::equivalent(first.parent_path(), ::testing::TempDir()));
  std::ofstream(input_) << "a rebuilt library";
  EXPECT_NE(first, FixtureDir(prefix_, input_.string()));
}

TEST_F(FixtureDirTest, OtherKeysArePrunedOnlyOnceUnusedForLong) {
  const fs::path stale = OtherKey("stale", kFixtureKeepHours + 1);
  const fs::path recent = OtherKey("recent", kFixtureKeepHours - 1);
  const fs::path unrelated = fs::path(::testing::TempDir()) / (prefix_ + "x-old");
  fs::create_directories(unrelated);
  fs::last_write_time(unrelated, fs::file_time_type::clock::now() - std::chrono::hours(kFixtureKeepHours + 1));

  FixtureDir(prefix_, input_.string());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(recent / "data"));
  EXPECT_TRUE(fs::exists(unrelated)) << "another prefix is not ours to prune";
}

TEST_F(FixtureDirTest, UsingADirectoryKeepsItFromBeingPruned) {
  const fs::path own = FixtureDir(prefix_, input_.string());
  fs::create_directories(own / "data");
  const auto long_ago = fs::file_time_type::clock::now() - std::chrono::hours(kFixtureKeepHours + 1);
  fs::last_write_time(own, long_ago);

  EXPECT_EQ(own, FixtureDir(prefix_, input_.string()));
  EXPECT_GT(fs::last_write_time(own), long_ago + std::chrono::hours(kFixtureKeepHours));

  // Another build's suite (another key) now leaves it alone.
  std::ofstream(input_) << "another build";
  FixtureDir(prefix_, input_.string());
  EXPECT_TRUE(fs::exists(own / "data"));
}

}  // namespace
}  // namespace galaxy::testutil
