// Galaxies in memory, column by column, and the native dataset layout they are stored in.
//
// Native layout (HDF5, the layout of Hayat et al. 2021, so users' files work unconverted):
//   images          N x C x H x W float32, fluxes in nanomaggies, bands in `bands` order
//   ObjID           N int64 catalog IDs (required, unique)
//   ra, dec         N float64 degrees (required)
//   e_bv            N float32 Galactic E(B-V), magnitudes (optional: 0 when absent)
//   specz_redshift  N float32 spectroscopic redshift (optional; NaN or < 0 means unknown)
//   <any other>     N numeric values: extra columns (magnitudes, truth labels, ...)
// File attributes: "bands" (comma-separated band names), optional others.
#ifndef GALAXY_DATA_GALAXY_BATCH_H_
#define GALAXY_DATA_GALAXY_BATCH_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace galaxy {

inline constexpr char kImagesKey[] = "images";
inline constexpr char kIdKey[] = "ObjID";
inline constexpr char kRaKey[] = "ra";
inline constexpr char kDecKey[] = "dec";
inline constexpr char kEbvKey[] = "e_bv";
inline constexpr char kRedshiftKey[] = "specz_redshift";

// Storage type of an extra column. Values travel as double in memory; every type here except
// int64 beyond 2^53 converts exactly.
enum class ColumnType { kFloat32, kFloat64, kInt32, kInt64, kUInt8 };
const char* ColumnTypeName(ColumnType type);

struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kFloat32;
};

// Shape and schema of a dataset.
struct DatasetLayout {
  int bands = 5;
  int height = 64;
  int width = 64;
  // One name per band, e.g. u, g, r, i, z.
  std::vector<std::string> band_names = {"u", "g", "r", "i", "z"};
  // Columns beyond the standard ones, in file order.
  std::vector<ColumnSpec> extra_columns;
  // Free-form string attributes stored on the file (generator, pixel scale, ...).
  std::map<std::string, std::string> attributes;

  int64_t pixels_per_image() const { return static_cast<int64_t>(bands) * height * width; }
  // Images per block when a file is converted a block at a time: about 64 MiB of float32, at
  // least one.
  int64_t images_per_block() const { return std::max<int64_t>(1, (int64_t{64} << 20) / (pixels_per_image() * 4)); }
  // INVALID_ARGUMENT when dimensions are out of range (1..64 bands, 1..4096 px), the band names
  // do not match the band count, or an extra column reuses a standard name.
  absl::Status Validate() const;
};

// `count` galaxies, columnar. images has count * bands * height * width floats (C order).
struct GalaxyBatch {
  int64_t count = 0;
  std::vector<float> images;
  std::vector<int64_t> ids;
  std::vector<double> ra, dec;
  std::vector<float> e_bv;
  std::vector<float> redshift;  // NaN: unknown
  std::map<std::string, std::vector<double>> extra;

  // Sizes every column for n galaxies of `layout` (extra columns from the layout).
  // Without images, `images` is emptied and its memory released (a catalog of many rows would
  // otherwise hold their pixels' worth of zeros).
  void Resize(const DatasetLayout& layout, int64_t n, bool with_images = true);
  // INVALID_ARGUMENT naming the first column whose length does not match count, or an extra
  // column the layout does not declare.
  absl::Status CheckShape(const DatasetLayout& layout) const;
  // Appends rows [start, start + n) of `other` (same layout).
  void AppendRows(const GalaxyBatch& other, int64_t start, int64_t n, const DatasetLayout& layout);
};

// Index of the first non-finite pixel in images, or -1.
int64_t FirstNonFinite(const float* values, int64_t n);

}  // namespace galaxy

#endif  // GALAXY_DATA_GALAXY_BATCH_H_
