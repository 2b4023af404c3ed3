#include "core/checksum.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

namespace galaxy {
namespace {

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / (name + std::to_string(::getpid()))).string();
}

TEST(ChecksumTest, KnownDigests) {
  const std::string path = TempPath("checksum_abc_");
  WriteFile(path, "abc");
  EXPECT_EQ(Sha256File(path).value(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(path);
}

// The digest of `contents`, computed afresh from a file of its own.
std::string DigestOf(const std::string& contents) {
  const std::string path = TempPath("checksum_fresh_");
  WriteFile(path, contents);
  std::string digest = Sha256File(path).value();
  std::filesystem::remove(path);
  return digest;
}

TEST(ChecksumTest, RememberedDigestFollowsTheFile) {
  const std::string path = TempPath("checksum_remembered_");
  WriteFile(path, "first contents");
  EXPECT_EQ(Sha256FileRemembered(path).value(), DigestOf("first contents"));
  EXPECT_EQ(Sha256FileRemembered(path).value(), DigestOf("first contents"));
  // Rewritten (another size, so another identity even where modification times are coarse):
  // the remembered digest is not reused.
  WriteFile(path, "second, longer contents");
  EXPECT_EQ(Sha256FileRemembered(path).value(), DigestOf("second, longer contents"));
  // Replaced by another file (another inode) of the same size.
  const std::string other = path + ".new";
  WriteFile(other, "second, LONGER contents");
  std::filesystem::rename(other, path);
  EXPECT_EQ(Sha256FileRemembered(path).value(), DigestOf("second, LONGER contents"));
  std::filesystem::remove(path);
  const absl::StatusOr<std::string> gone = Sha256FileRemembered(path);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace galaxy
