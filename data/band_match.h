// Which band a name denotes, as surveys write band names in FITS headers and catalogs ("g",
// "HSC-G", "g DECam SDSS c0001 4720.0 1520.0", "SDSS r"), and which plane of an image holds each
// band a model takes. Header-only: the request checks (server/request_validation.cc) use it
// without the dataset library.
#ifndef GALAXY_DATA_BAND_MATCH_H_
#define GALAXY_DATA_BAND_MATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// Which of `wanted` `value` names, or -1 for none or more than one: `value` equal to it ignoring
// case, or else exactly one band among its words, split at spaces and - _ . , : with trailing
// digits dropped ("HSC-G", "g DECam SDSS c0001 4720.0 1520.0", "g.00000", "SDSS r", "HSC-R2").
inline int BandNamed(absl::string_view value, const std::vector<std::string>& wanted) {
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

// Where each of `wanted` is among planes named `names` (one name a plane).
struct BandPlanes {
  std::vector<int64_t> planes;       // the plane of each of `wanted`; -1 where missing
  std::vector<std::string> missing;  // those of `wanted` no name gives
  std::string twice;                 // one of `wanted` that two planes name, if any
  bool ok() const { return missing.empty() && twice.empty(); }
};

inline BandPlanes MatchBands(const std::vector<std::string>& names, const std::vector<std::string>& wanted) {
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

}  // namespace galaxy

#endif  // GALAXY_DATA_BAND_MATCH_H_
