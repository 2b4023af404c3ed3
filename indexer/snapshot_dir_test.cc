#include "indexer/snapshot_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;

class SnapshotDirTest : public testing::Test {
 protected:
  testutil::ScopedTempDir temp_;
  const fs::path& dir_ = temp_.path();
};

TEST_F(SnapshotDirTest, NothingPublishedIsNotFound) {
  EXPECT_EQ(ReadCurrent(dir_).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SnapshotDirTest, PublishThenReadNamesTheNewVersionAndLeavesNoTemporary) {
  fs::create_directory(dir_ / "v1");
  fs::create_directory(dir_ / "v2");
  ASSERT_TRUE(PublishCurrent(dir_, "v1").ok());
  EXPECT_EQ(*ReadCurrent(dir_), "v1");
  ASSERT_TRUE(PublishCurrent(dir_, "v2").ok());
  EXPECT_EQ(*ReadCurrent(dir_), "v2");
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_FALSE(absl::StartsWith(entry.path().filename().string(), "CURRENT.tmp")) << entry.path();
  }
}

TEST_F(SnapshotDirTest, PublishingAMissingSnapshotKeepsTheOldOne) {
  fs::create_directory(dir_ / "v1");
  ASSERT_TRUE(PublishCurrent(dir_, "v1").ok());
  absl::Status status = PublishCurrent(dir_, "v9");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*ReadCurrent(dir_), "v1");
}

TEST_F(SnapshotDirTest, CorruptCurrentIsDataLoss) {
  std::ofstream(dir_ / "CURRENT") << "../../etc\n";
  absl::StatusOr<std::string> version = ReadCurrent(dir_);
  EXPECT_EQ(version.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(absl::StrContains(version.status().message(), "CURRENT is corrupt"));
}

TEST_F(SnapshotDirTest, CurrentNamingAVanishedSnapshotIsAFailedPrecondition) {
  std::ofstream(dir_ / "CURRENT") << "gone\n";
  EXPECT_EQ(ReadCurrent(dir_).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(SnapshotVersionTest, NamesAreValidatedAndFreshNamesAreUniqueAndValid) {
  EXPECT_TRUE(ValidateVersionName("20261126T104500Z-1a2b3c").ok());
  EXPECT_FALSE(ValidateVersionName("").ok());
  EXPECT_FALSE(ValidateVersionName("a/b").ok());
  EXPECT_FALSE(ValidateVersionName("..").ok());
  EXPECT_FALSE(ValidateVersionName(".hidden").ok());
  EXPECT_FALSE(ValidateVersionName("CURRENT").ok());
  EXPECT_FALSE(ValidateVersionName(std::string(129, 'a')).ok());
  absl::Time t = absl::FromUnixSeconds(1795000000);
  std::string a = NewVersionName(t), b = NewVersionName(t);
  EXPECT_TRUE(ValidateVersionName(a).ok()) << a;
  EXPECT_NE(a, b);
  EXPECT_TRUE(absl::StartsWith(a, "2026")) << a;
}

}  // namespace
}  // namespace galaxy
