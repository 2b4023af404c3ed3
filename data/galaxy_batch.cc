#include "data/galaxy_batch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"

namespace galaxy {

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kFloat32: return "float32";
    case ColumnType::kFloat64: return "float64";
    case ColumnType::kInt32: return "int32";
    case ColumnType::kInt64: return "int64";
    case ColumnType::kUInt8: return "uint8";
  }
  return "unknown";
}

absl::Status DatasetLayout::Validate() const {
  if (bands < 1 || bands > 64) {
    return absl::InvalidArgumentError(absl::StrCat("bands: ", bands, " is outside 1..64"));
  }
  if (height < 1 || height > 4096 || width < 1 || width > 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("image size ", height, " x ", width, " is outside 1..4096 pixels"));
  }
  if (static_cast<int>(band_names.size()) != bands) {
    return absl::InvalidArgumentError(absl::StrCat(band_names.size(), " band names for ", bands,
                                                   " bands"));
  }
  std::set<std::string> seen = {kImagesKey, kIdKey, kRaKey, kDecKey, kEbvKey, kRedshiftKey};
  for (const ColumnSpec& c : extra_columns) {
    if (c.name.empty() || c.name.find('/') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("bad column name '", c.name, "'"));
    }
    if (!seen.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat("column '", c.name, "' appears twice"));
    }
  }
  return absl::OkStatus();
}

void GalaxyBatch::Resize(const DatasetLayout& layout, int64_t n, bool with_images) {
  count = n;
  const size_t rows = static_cast<size_t>(n);
  if (with_images) {
    images.resize(rows * static_cast<size_t>(layout.pixels_per_image()));
  } else {
    std::vector<float>().swap(images);
  }
  ids.resize(rows);
  ra.resize(rows);
  dec.resize(rows);
  e_bv.resize(rows);
  redshift.resize(rows);
  for (const ColumnSpec& c : layout.extra_columns) extra[c.name].resize(rows);
}

absl::Status GalaxyBatch::CheckShape(const DatasetLayout& layout) const {
  const size_t rows = static_cast<size_t>(count);
  auto check = [&](const char* name, size_t size, size_t want) -> absl::Status {
    if (size == want) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("column ", name, " has ", size, " values for ", count, " galaxies (want ",
                     want, ")"));
  };
  if (auto s = check(kImagesKey, images.size(), rows * layout.pixels_per_image()); !s.ok()) return s;
  if (auto s = check(kIdKey, ids.size(), rows); !s.ok()) return s;
  if (auto s = check(kRaKey, ra.size(), rows); !s.ok()) return s;
  if (auto s = check(kDecKey, dec.size(), rows); !s.ok()) return s;
  if (auto s = check(kEbvKey, e_bv.size(), rows); !s.ok()) return s;
  if (auto s = check(kRedshiftKey, redshift.size(), rows); !s.ok()) return s;
  for (const ColumnSpec& c : layout.extra_columns) {
    auto it = extra.find(c.name);
    if (it == extra.end()) {
      return absl::InvalidArgumentError(absl::StrCat("column ", c.name, " is missing"));
    }
    if (auto s = check(c.name.c_str(), it->second.size(), rows); !s.ok()) return s;
  }
  for (const auto& [name, values] : extra) {
    bool declared = false;
    for (const ColumnSpec& c : layout.extra_columns) declared |= c.name == name;
    if (!declared) {
      return absl::InvalidArgumentError(absl::StrCat("column ", name, " is not in the layout"));
    }
  }
  return absl::OkStatus();
}

void GalaxyBatch::AppendRows(const GalaxyBatch& other, int64_t start, int64_t n,
                             const DatasetLayout& layout) {
  const int64_t ppi = layout.pixels_per_image();
  images.insert(images.end(), other.images.begin() + start * ppi,
                other.images.begin() + (start + n) * ppi);
  auto append = [&](auto& dst, const auto& src) {
    dst.insert(dst.end(), src.begin() + start, src.begin() + start + n);
  };
  append(ids, other.ids);
  append(ra, other.ra);
  append(dec, other.dec);
  append(e_bv, other.e_bv);
  append(redshift, other.redshift);
  for (const ColumnSpec& c : layout.extra_columns) append(extra[c.name], other.extra.at(c.name));
  count += n;
}

int64_t FirstNonFinite(const float* values, int64_t n) {
  // Blocks without an early exit, so that the compiler vectorises the test (an all-ones exponent
  // is NaN or Inf); only a block that has one is searched. A scalar loop with std::isfinite was
  // a tenth of a FITS stack's ingest, which checks every pixel twice.
  constexpr int64_t kBlock = 4096;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    uint32_t any = 0;
    for (int64_t i = start; i < end; ++i) {
      uint32_t bits;
      std::memcpy(&bits, values + i, sizeof(bits));
      any |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (any == 0) continue;
    for (int64_t i = start; i < end; ++i) {
      if (!std::isfinite(values[i])) return i;
    }
  }
  return -1;
}

}  // namespace galaxy
