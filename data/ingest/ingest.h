// Converting what users bring into the native HDF5 layout (data/galaxy_batch.h):
//   - HDF5 files in another layout: images from a 4-D numeric dataset (N x C x H x W or
//     N x H x W x C, integer or floating; N x H x W for one band), catalog columns from 1-D numeric datasets of length N
//     and the numeric members of 1-D compound datasets (astropy tables), in any group;
//   - Pasquet et al. (2019) style .npz: `cube` N x H x W x C float32 + `labels` record array;
//   - FITS cutout stacks: a 4-D image HDU N x C x H x W (FITS axes W, H, C, N) plus an optional
//     binary table with one row per cutout;
//   - single-galaxy FITS cutouts (what cutout services return): an image HDU of C x H x W with its
//     WCS per galaxy, or one H x W file per band named <name>[-_.]<band>; the ID from the file's
//     name, the catalog from a CSV joined by it, the position from the catalog or the WCS at the
//     image centre;
//   - full SDSS frames frame-{u,g,r,i,z}-RUN-CAMCOL-FIELD.fits[.bz2] (nanomaggies, TAN WCS),
//     cut at positions from a CSV (ra/dec through each band's WCS, or r-frame pixel x/y), the
//     five bands aligned on the sky with sub-pixel (bilinear) resampling.
// Catalog columns are recognised by name (case-insensitive aliases: objid/id -> ObjID,
// z/specz/redshift -> specz_redshift, ebv -> e_bv, ra, dec); `renames` overrides; every other
// numeric column becomes an extra column. Galaxies whose images hold NaN or Inf are handled as
// IngestOptions::non_finite says. Output goes through a temporary file: a failed ingest leaves
// nothing under the output name.
#ifndef GALAXY_DATA_INGEST_INGEST_H_
#define GALAXY_DATA_INGEST_INGEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

// What an ingest does with a galaxy whose image holds NaN or Inf pixels (masked or missing data,
// common at survey edges): leave it out and list it (the default), set those pixels to 0 and
// count them in the column `non_finite_pixels`, or stop with an error naming it.
enum class NonFinite { kSkip, kZero, kFail };

struct IngestOptions {
  // Output dataset path. Required.
  std::string out;
  // Input column name -> native name (ObjID, ra, dec, e_bv, specz_redshift, or a new name).
  std::map<std::string, std::string> renames;
  // Band names of the output, in order. Default u,g,r,i,z (must match the band count).
  std::vector<std::string> bands = {"u", "g", "r", "i", "z"};
  // When the input has no ID column: IDs are id_base + row. Unset (-1): an ID column is required.
  int64_t id_base = -1;
  // SDSS frames: cutout side in pixels. Default 64.
  int cutout_size = 64;
  // HDF5: the dataset of images (its path in the file). Empty (default): "images", else the
  // file's only numeric dataset of image shape (4-D; 3-D, N x H x W, for one band).
  std::string images_key;
  NonFinite non_finite = NonFinite::kSkip;
  // HDF5 files and FITS stacks: catalog rows held in memory at a time (every column written, 8
  // bytes a value; the ID column is also held whole, to check that no ID repeats). Default 65,536.
  int64_t catalog_window_rows = int64_t{1} << 16;
};

struct IngestReport {
  int64_t written = 0;
  // Positions skipped (cutout off a frame edge), with the reason per position.
  std::vector<std::string> skipped;
  // Things the user should know (defaults applied, columns ignored).
  std::vector<std::string> notes;
  // Galaxies with NaN or Inf pixels (left out, or kept with those pixels set to 0).
  int64_t non_finite_galaxies = 0;
};

// INVALID_ARGUMENT when no dataset (or more than one, without images_key) can be the images, or
// none of its axes has the band count; columns that are not of length N are left out with a note.
absl::StatusOr<IngestReport> IngestHdf5(const std::string& path, const IngestOptions& options);
absl::StatusOr<IngestReport> IngestNpz(const std::string& path, const IngestOptions& options);
absl::StatusOr<IngestReport> IngestFitsCube(const std::string& path, const IngestOptions& options);
// `inputs`: cutout files and directories of them (their .fits/.fit/.fts files, optionally .gz,
// .bz2 or .fz, in name order). When the first is a one-band image and options.bands has several,
// every file is one band of a galaxy, named <name>[-_.]<band> (case-insensitive), or <name> in a
// directory named by its band (<band>/<name>), or <name> with its band in its header (FILTER,
// BAND), and a galaxy missing a band is skipped and listed. Each galaxy's ID is the last run of digits in its (common)
// name, or options.id_base + its place among the galaxies. With `catalog_csv` (a header line, then numeric
// rows with an ObjID column and any others), a file whose ID has no row is skipped and listed;
// ra/dec come from the catalog when it has them, else from each file's WCS at the image centre.
// INVALID_ARGUMENT naming the file for a name without an ID, a cutout of another band count or
// size, a missing WCS where one is needed; duplicate IDs are refused.
absl::StatusOr<IngestReport> IngestFitsCutouts(const std::vector<std::string>& inputs, const std::string& catalog_csv,
                                               const IngestOptions& options);
// The files `inputs` name: each directory replaced by its FITS files in name order, or, for a
// directory that holds none, by those of its subdirectories (one level: g/, r/, ...).
std::vector<std::string> ExpandCutoutInputs(const std::vector<std::string>& inputs);

// `frames`: the five frame files (any order; the band is read from the name frame-<band>-...).
// `positions_csv`: a header line, then one row per galaxy, with ra,dec or x,y columns (x, y:
// 0-based pixel-centre coordinates in the r frame) and optional ObjID, specz_redshift, e_bv
// (aliases as above) and other numeric columns.
absl::StatusOr<IngestReport> IngestSdssFrames(const std::vector<std::string>& frames,
                                              const std::string& positions_csv,
                                              const IngestOptions& options);

// The native name an input column maps to, after `renames` and the aliases ("" if none).
std::string NativeColumnName(const std::string& name,
                             const std::map<std::string, std::string>& renames);

}  // namespace galaxy

#endif  // GALAXY_DATA_INGEST_INGEST_H_
