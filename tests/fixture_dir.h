// Where a fixture that several test processes share (a survey, a trained model, snapshots) is
// kept: TempDir()/<prefix>-<key>, the key made from the size and modification time of the
// libraries that produce it (passed in by the build, GALAXY_FIXTURE_INPUTS). A rebuild of any of
// them gives a new directory, so a fixture made by older code is never reused. Each call marks
// its own directory as used (its modification time); directories of other keys unused for
// kFixtureKeepHours are removed, so that a day of rebuilds does not leave gigabytes in TempDir()
// (each is 0.4 GB), while a suite still running on another build keeps its own.
#ifndef GALAXY_TESTS_FIXTURE_DIR_H_
#define GALAXY_TESTS_FIXTURE_DIR_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/file_util.h"

namespace galaxy::testutil {

inline constexpr int kFixtureKeepHours = 3;

// `inputs`: the producing libraries' paths, separated by ':'.
inline std::filesystem::path FixtureDir(const std::string& prefix, const std::string& inputs) {
  namespace fs = std::filesystem;
  uint64_t key = 1469598103934665603ull;  // FNV-1a over each input's path, size and time
  const auto mix = [&key](const std::string& s) {
    for (unsigned char c : s) key = (key ^ c) * 1099511628211ull;
  };
  std::stringstream list(inputs);
  for (std::string path; std::getline(list, path, ':');) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    const auto time = fs::last_write_time(path, ec);
    mix(path + "|" + std::to_string(ec ? 0 : size) + "|" +
        std::to_string(ec ? 0 : static_cast<long long>(time.time_since_epoch().count())));
  }
  std::ostringstream hex;
  hex << std::hex << key;
  const fs::path root = ::testing::TempDir();
  const fs::path dir = root / (prefix + "-" + hex.str());
  std::error_code ec;
  if (fs::is_directory(dir, ec)) fs::last_write_time(dir, fs::file_time_type::clock::now(), ec);
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix + "-", 0) != 0 || entry.path() == dir) continue;
    std::error_code age_ec;
    const auto age = fs::file_time_type::clock::now() - fs::last_write_time(entry.path(), age_ec);
    if (!age_ec && age > std::chrono::hours(kFixtureKeepHours)) RemoveTree(entry.path()).IgnoreError();
  }
  return dir;
}

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_FIXTURE_DIR_H_
