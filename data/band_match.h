// Which band a name denotes, as surveys write band names in FITS headers and catalogs ("g",
// "HSC-G", "g DECam SDSS c0001 4720.0 1520.0", "SDSS r"), and which plane of an image holds each
// band a model takes. A library of its own (galaxy_band_match, Abseil only): the request checks
// (server/request_validation.cc) use it without the dataset library.
#ifndef GALAXY_DATA_BAND_MATCH_H_
#define GALAXY_DATA_BAND_MATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace galaxy {

// Which of `wanted` `value` names, or -1 for none or more than one: `value` equal to it ignoring
// case, or else exactly one band among its words, split at spaces and - _ . , : with trailing
// digits dropped ("HSC-G", "g DECam SDSS c0001 4720.0 1520.0", "g.00000", "SDSS r", "HSC-R2").
int BandNamed(absl::string_view value, const std::vector<std::string>& wanted);

// Where each of `wanted` is among planes named `names` (one name a plane).
struct BandPlanes {
  std::vector<int64_t> planes;       // the plane of each of `wanted`; -1 where missing
  std::vector<std::string> missing;  // those of `wanted` no name gives
  std::string twice;                 // one of `wanted` that two planes name, if any
  bool ok() const { return missing.empty() && twice.empty(); }
};

// The planes of `wanted` among `names`; a name that is none of them is passed over.
BandPlanes MatchBands(const std::vector<std::string>& names, const std::vector<std::string>& wanted);

// Copies, for each of `images` images of `planes_in` planes of `plane` values each at `in`, the
// planes `planes` (in that order) to `out` (images x planes.size() x plane values).
void PickPlanes(const float* in, int64_t images, int64_t planes_in, int64_t plane, const std::vector<int64_t>& planes,
                float* out);

}  // namespace galaxy

#endif  // GALAXY_DATA_BAND_MATCH_H_
