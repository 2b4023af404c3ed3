// Images for upload from the files astronomers have:
//   survey.h5   the native HDF5 layout: row `row` (default 0), with its E(B-V) and the names of
//               its planes when the file gives them (attribute "bands", as our files do);
//   cube.fits   a FITS image HDU of bands x height x width (FITS axes width, height, bands), or
//               a stack of such cutouts (4 axes: then row `row`), or one band (2 axes); the bands
//               its header names (BAND0.., BANDS, FILTER) are sent as band_names, so the server
//               picks the model's bands by name;
//   image.npy   a float32/float64 array bands x height x width (or n x bands x height x width).
// The image goes to the server as float32 (FITS and .npy) or as stored (HDF5). Planes that no
// name goes with are taken as the model's bands in its order.
#ifndef GALAXY_CLIENT_IMAGE_FILE_H_
#define GALAXY_CLIENT_IMAGE_FILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

// Band names as a user writes them (--bands; the Python client's `bands` reads them alike):
// "g,r,z" or "HSC-G, HSC-R, HSC-I" (comma-separated, spaces trimmed), "g r z" (separated by
// spaces), or "grz" (a letter a plane). INVALID_ARGUMENT for an empty name.
absl::StatusOr<std::vector<std::string>> ParseBandNames(absl::string_view text);

// ParseBandNames of a --bands that may be left out: no names for "".
absl::StatusOr<std::vector<std::string>> OptionalBandNames(absl::string_view text);

// Reads the image; `e_bv` overrides (or supplies) the reddening, `band_names` (when not empty)
// names its planes: for files that name none (.npy, HDF5 without "bands", FITS without BAND0..)
// or the same bands as the file. Errors name the file and what is wrong with it (missing, unknown
// extension, wrong rank, row out of range, non-float data, a name count that is not the plane
// count, names that contradict the file's own).
absl::StatusOr<v1::Image> ReadImageFile(const std::string& path, int64_t row, std::optional<float> e_bv,
                                        const std::vector<std::string>& band_names = {});

}  // namespace galaxy

#endif  // GALAXY_CLIENT_IMAGE_FILE_H_
