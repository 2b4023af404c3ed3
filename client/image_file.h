// Images for upload from the files astronomers have:
//   survey.h5   the native HDF5 layout: row `row` (default 0), with its E(B-V);
//   cube.fits   a FITS image HDU of bands x height x width (FITS axes width, height, bands), or
//               a stack of such cutouts (4 axes: then row `row`), or one band (2 axes); the bands
//               its header names (BAND0.., BANDS, FILTER) are sent as band_names, so the server
//               picks the model's bands by name;
//   image.npy   a float32/float64 array bands x height x width (or n x bands x height x width).
// The image goes to the server as float32 (FITS and .npy) or as stored (HDF5).
#ifndef GALAXY_CLIENT_IMAGE_FILE_H_
#define GALAXY_CLIENT_IMAGE_FILE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

// Reads the image; `e_bv` overrides (or supplies) the reddening. Errors name the file and what
// is wrong with it (missing, unknown extension, wrong rank, row out of range, non-float data).
absl::StatusOr<v1::Image> ReadImageFile(const std::string& path, int64_t row, std::optional<float> e_bv);

}  // namespace galaxy

#endif  // GALAXY_CLIENT_IMAGE_FILE_H_
