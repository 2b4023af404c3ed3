#include "data/band_match.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"

namespace galaxy {

int BandNamed(absl::string_view value, const std::vector<std::string>& wanted) {
  for (size_t b = 0; b < wanted.size(); ++b) {
    if (absl::EqualsIgnoreCase(value, wanted[b])) return static_cast<int>(b);
  }
  int found = -1;
  for (absl::string_view word : absl::StrSplit(value, absl::ByAnyChar(" -_.,:"), absl::SkipEmpty())) {
    while (word.size() > 1 && absl::ascii_isdigit(static_cast<unsigned char>(word.back()))) word.remove_suffix(1);
    for (size_t b = 0; b < wanted.size(); ++b) {
      if (!absl::EqualsIgnoreCase(word, wanted[b])) continue;
      if (found >= 0 && found != static_cast<int>(b)) return -1;
      found = static_cast<int>(b);
    }
  }
  return found;
}

BandPlanes MatchBands(const std::vector<std::string>& names, const std::vector<std::string>& wanted) {
  BandPlanes out;
  out.planes.assign(wanted.size(), -1);
  for (size_t k = 0; k < names.size(); ++k) {
    const int b = BandNamed(names[k], wanted);
    if (b < 0) continue;
    if (out.planes[static_cast<size_t>(b)] >= 0 && out.twice.empty()) out.twice = wanted[static_cast<size_t>(b)];
    out.planes[static_cast<size_t>(b)] = static_cast<int64_t>(k);
  }
  for (size_t b = 0; b < wanted.size(); ++b) {
    if (out.planes[b] < 0) out.missing.push_back(wanted[b]);
  }
  return out;
}

void PickPlanes(const float* in, int64_t images, int64_t planes_in, int64_t plane, const std::vector<int64_t>& planes,
                float* out) {
  for (int64_t i = 0; i < images; ++i) {
    for (int64_t plane_in : planes) {
      const float* from = in + (i * planes_in + plane_in) * plane;
      out = std::copy(from, from + plane, out);
    }
  }
}

}  // namespace galaxy
