// A fresh directory for one test, removed afterwards. Unique per process and test, so that
// ctest may run tests in parallel processes.
#ifndef GALAXY_TESTS_TEMP_DIR_H_
#define GALAXY_TESTS_TEMP_DIR_H_

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "core/file_util.h"

namespace galaxy::testutil {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? std::string(info->test_suite_name()) + "." + info->name() : "suite";
    static int counter = 0;  // several directories in one test get distinct names
    path_ = std::filesystem::path(::testing::TempDir()) /
            (name + "." + std::to_string(::getpid()) + "." + std::to_string(counter++));
    RemoveTree(path_.string()).IgnoreError();
    std::filesystem::create_directories(path_);
  }
  ~ScopedTempDir() { RemoveTree(path_.string()).IgnoreError(); }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path()/name as a string.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_TEMP_DIR_H_
