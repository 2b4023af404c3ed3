#include "core/library_versions.h"

#include "absl/base/config.h"
#include "absl/strings/str_cat.h"

namespace galaxy {

std::vector<std::string> CoreLibraryVersions() {
  std::vector<std::string> lines;
#ifdef ABSL_LTS_RELEASE_VERSION
  lines.push_back(absl::StrCat("Abseil ", ABSL_LTS_RELEASE_VERSION));
#endif
  return lines;
}

std::vector<std::string> JoinVersions(std::initializer_list<std::vector<std::string>> lists) {
  std::vector<std::string> all;
  for (const auto& list : lists) all.insert(all.end(), list.begin(), list.end());
  return all;
}

}  // namespace galaxy
