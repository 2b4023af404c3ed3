#include "client/image_file.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/status_macros.h"
#include "data/band_match.h"
#include "data/fits_file.h"
#include "data/galaxy_batch.h"
#include "data/hdf5_dataset.h"
#include "data/npy.h"

namespace galaxy {
namespace {

v1::Image MakeImage(int64_t bands, int64_t height, int64_t width, const float* data) {
  v1::Image image;
  image.set_bands(static_cast<uint32_t>(bands));
  image.set_height(static_cast<uint32_t>(height));
  image.set_width(static_cast<uint32_t>(width));
  image.set_dtype(v1::DTYPE_FLOAT32);
  image.set_data(std::string(reinterpret_cast<const char*>(data),
                             static_cast<size_t>(bands * height * width) * sizeof(float)));
  return image;
}

absl::StatusOr<v1::Image> FromHdf5(const std::string& path, int64_t row) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(path));
  if (row < 0 || row >= reader->count()) {
    return absl::InvalidArgumentError(absl::StrCat("--row: ", row, " is outside 0..", reader->count() - 1, " of ", path));
  }
  GalaxyBatch batch;
  GALAXY_RETURN_IF_ERROR(reader->Read(row, 1, &batch));
  const DatasetLayout& l = reader->layout();
  v1::Image image = MakeImage(l.bands, l.height, l.width, batch.images.data());
  image.set_e_bv(batch.e_bv[0]);
  // Only names the file gives: the reader's u, g, r, i, z for five unnamed planes are a guess.
  if (reader->bands_named()) {
    for (const std::string& name : l.band_names) image.add_band_names(name);
  }
  return image;
}

absl::StatusOr<v1::Image> FromNpy(const std::string& path, int64_t row) {
  GALAXY_ASSIGN_OR_RETURN(ByteSource source, FileByteSource(path));
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(source, path));
  if (!header.fields.empty() || header.fortran_order) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected a plain C-order float array"));
  }
  std::vector<int64_t> shape = header.shape;
  if (shape.size() != 3 && shape.size() != 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected bands x height x width (3 axes) or n x bands x "
                                                   "height x width (4 axes); it has ",
                                                   shape.size()));
  }
  const int64_t n = shape.size() == 4 ? shape[0] : 1;
  if (row < 0 || row >= n) return absl::InvalidArgumentError(absl::StrCat("--row: ", row, " is outside 0..", n - 1));
  const int64_t bands = shape[shape.size() - 3], height = shape[shape.size() - 2], width = shape[shape.size() - 1];
  const int64_t count = bands * height * width;
  const int64_t item = header.item_size;
  if (header.scalar.kind != 'f' || (item != 4 && item != 8)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected float32 or float64 values"));
  }
  std::vector<char> skip(static_cast<size_t>(count * item));
  for (int64_t i = 0; i < row; ++i) GALAXY_RETURN_IF_ERROR(ReadExactly(source, skip.data(), count * item, path));
  std::vector<char> raw(static_cast<size_t>(count * item));
  GALAXY_RETURN_IF_ERROR(ReadExactly(source, raw.data(), count * item, path));
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[static_cast<size_t>(i)] = static_cast<float>(header.scalar.Read(raw.data() + i * item));
  return MakeImage(bands, height, width, values.data());
}

absl::StatusOr<v1::Image> FromFits(const std::string& path, int64_t row) {
  GALAXY_ASSIGN_OR_RETURN(FitsCutout cutout, ReadFitsCutout(path, row));
  v1::Image image = MakeImage(cutout.bands, cutout.height, cutout.width, cutout.pixels.data());
  // Bands the header names (BAND0.., BANDS, FILTER) go with it: the server picks the model's by name.
  for (const std::string& name : FitsBandNames(*cutout.file, cutout.bands)) image.add_band_names(name);
  return image;
}

// `given` (--bands) for the planes of `image`, read from `path`: as many names as planes, and the
// same bands as any the file names itself.
absl::Status NameBands(const std::string& path, const std::vector<std::string>& given, v1::Image& image) {
  if (static_cast<int64_t>(given.size()) != image.bands()) {
    return absl::InvalidArgumentError(absl::StrCat("--bands names ", given.size(), " bands (", absl::StrJoin(given, ", "),
                                                   ") for an image of ", image.bands(), " in ", path));
  }
  const auto& own = image.band_names();
  for (int i = 0; i < own.size(); ++i) {
    const std::string& g = given[static_cast<size_t>(i)];
    if (BandNamed(g, {own[i]}) != 0 && BandNamed(own[i], {g}) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("--bands ", absl::StrJoin(given, ","), ": plane ", i, " of ", path,
                                                     " is ", own[i], " by the file's own names (",
                                                     absl::StrJoin(own, ", "), "); leave --bands out"));
    }
  }
  if (own.empty()) {
    for (const std::string& g : given) image.add_band_names(g);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseBandNames(absl::string_view text) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  std::vector<std::string> names;
  if (absl::StrContains(trimmed, ',')) {
    for (absl::string_view part : absl::StrSplit(trimmed, ',')) names.emplace_back(absl::StripAsciiWhitespace(part));
  } else if (std::any_of(trimmed.begin(), trimmed.end(), absl::ascii_isspace)) {
    names = absl::StrSplit(trimmed, absl::ByAnyChar(" \t\n\r\v\f"), absl::SkipEmpty());
  } else {
    for (char c : trimmed) names.emplace_back(1, c);
  }
  if (names.empty()) return absl::InvalidArgumentError("--bands is empty (write \"grz\" or \"g,r,z\")");
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--bands '", text, "': name ", i + 1, " is empty (write \"grz\" or \"g,r,z\")"));
    }
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> OptionalBandNames(absl::string_view text) {
  if (text.empty()) return std::vector<std::string>{};
  return ParseBandNames(text);
}

absl::StatusOr<v1::Image> ReadImageFile(const std::string& path, int64_t row, std::optional<float> e_bv,
                                        const std::vector<std::string>& band_names) {
  if (!std::filesystem::exists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  const std::string lower = absl::AsciiStrToLower(path);
  absl::StatusOr<v1::Image> image;
  if (absl::EndsWith(lower, ".h5") || absl::EndsWith(lower, ".hdf5")) {
    image = FromHdf5(path, row);
  } else if (absl::EndsWith(lower, ".npy")) {
    image = FromNpy(path, row);
  } else if (absl::EndsWith(lower, ".fits") || absl::EndsWith(lower, ".fit") || absl::EndsWith(lower, ".fits.gz")) {
    image = FromFits(path, row);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unknown image file type (expected .h5/.hdf5, .fits/.fit or .npy)"));
  }
  if (!image.ok()) return image;
  if (e_bv) image->set_e_bv(*e_bv);
  if (!band_names.empty()) GALAXY_RETURN_IF_ERROR(NameBands(path, band_names, *image));
  return image;
}

}  // namespace galaxy
