// HDF5 files in another layout than ours: the images are the file's 4-D numeric dataset
// (N x C x H x W or N x H x W x C, any integer or floating type; N x H x W for one band), the catalog its 1-D numeric
// datasets of length N and the numeric members of its 1-D compound datasets (tables, as astropy's
// Table.write and h5py record arrays store them), wherever they sit in the file's groups.
#include <hdf5.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "data/hdf5_util.h"
#include "data/ingest/ingest.h"
#include "data/ingest/ingest_catalog.h"

namespace galaxy {
namespace {

// A dataset the file holds, by its path from the root ("images", "catalog/z").
struct Found {
  std::string path;
  std::vector<hsize_t> dims;
  H5T_class_t type_class = H5T_NO_CLASS;
};

// More rows than any survey has: a shape declared without data behind it.
constexpr hsize_t kMaxRows = hsize_t{1} << 36;
// A table's vector column (five magnitudes) becomes one column per element up to this length; a
// longer one (a spectrum) is left out.
constexpr hsize_t kMaxArrayColumns = 64;

bool Numeric(H5T_class_t c) { return c == H5T_INTEGER || c == H5T_FLOAT; }

std::string Shape(const std::vector<hsize_t>& dims) {
  return absl::StrJoin(dims, " x ");
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<std::vector<Found>> ListDatasets(hid_t file, const std::string& path) {
  struct Visit {
    std::vector<Found> found;
    std::string error;
  } visit;
  const herr_t rc = H5Ovisit2(
      file, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t root, const char* name, const H5O_info_t* info, void* data) -> herr_t {
        auto* v = static_cast<Visit*>(data);
        if (info->type != H5O_TYPE_DATASET) return 0;
        Hid dset(H5Dopen2(root, name, H5P_DEFAULT), H5Dclose);
        if (!dset.ok()) {
          v->error = absl::StrCat("dataset '", name, "' does not open: ", Hdf5Reason());
          return -1;
        }
        Hid space(H5Dget_space(dset.get()), H5Sclose);
        Hid type(H5Dget_type(dset.get()), H5Tclose);
        const int rank = H5Sget_simple_extent_ndims(space.get());
        if (rank < 0) return 0;
        Found f;
        f.path = name;
        f.dims.resize(static_cast<size_t>(rank));
        H5Sget_simple_extent_dims(space.get(), f.dims.data(), nullptr);
        f.type_class = H5Tget_class(type.get());
        v->found.push_back(std::move(f));
        return 0;
      },
      &visit, H5O_INFO_BASIC);
  if (rc < 0) {
    return absl::DataLossError(absl::StrCat(path, ": ", visit.error.empty() ? Hdf5Reason() : visit.error));
  }
  return visit.found;
}

// Whether `f` can hold images of `bands` bands: 4-D numeric, or 3-D (N x H x W) for one band.
bool ImageShaped(const Found& f, int bands) {
  return Numeric(f.type_class) && (f.dims.size() == 4 || (f.dims.size() == 3 && bands == 1));
}

// The dataset of images: `key` when given, else "images", else the only dataset of image shape.
absl::StatusOr<Found> ChooseImages(const std::vector<Found>& found, const std::string& key, int bands,
                                   const std::string& path) {
  std::vector<const Found*> candidates;
  for (const Found& f : found) {
    if (ImageShaped(f, bands)) candidates.push_back(&f);
  }
  const std::string shapes = bands == 1 ? "N x H x W, N x C x H x W or N x H x W x C" : "N x C x H x W or N x H x W x C";
  auto named = [&](const std::string& name) -> const Found* {
    for (const Found& f : found) {
      if (f.path == name) return &f;
    }
    return nullptr;
  };
  if (!key.empty()) {
    const Found* f = named(key);
    if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, ": --images-key '", key, "': no such dataset"));
    if (!ImageShaped(*f, bands)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": --images-key '", key, "': shape ", Shape(f->dims),
                                                     f->type_class == H5T_COMPOUND ? " (a table)" : "",
                                                     "; expected numeric images ", shapes));
    }
    return *f;
  }
  if (const Found* f = named("images"); f != nullptr && ImageShaped(*f, bands)) return *f;
  if (candidates.size() == 1) return *candidates[0];
  std::vector<std::string> names;
  for (const Found* f : candidates) names.push_back(absl::StrCat("'", f->path, "' (", Shape(f->dims), ")"));
  if (names.empty()) {
    return absl::NotFoundError(absl::StrCat(path, ": no numeric dataset to read images from (", shapes, ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat(path, ": several datasets could be the images: ",
                                                 absl::StrJoin(names, ", "), "; choose one with --images-key"));
}

// One catalog column of the file: a numeric 1-D dataset (`member` empty), or one numeric member
// of a 1-D compound dataset (an array member of `length` values when length > 0, of which element
// `element` is the column).
struct ColumnRef {
  std::string name, where, member;
  hsize_t length = 0, element = 0;
  // 64-bit integers are kept exactly too (IDs above 2^53 do not survive a double).
  bool exact = false, is_unsigned = false;
};

// Every numeric column of length `rows`, without its values: 1-D datasets by their name (the path
// where two share it), members of 1-D compound datasets by the member's name (array members as
// name_k).
std::vector<ColumnRef> ListColumns(hid_t file, const std::vector<Found>& found, const std::string& images,
                                   int64_t rows, std::vector<std::string>* notes) {
  std::vector<ColumnRef> columns;
  std::set<std::string> names;
  std::multiset<std::string> basenames;
  for (const Found& f : found) basenames.insert(Basename(f.path));
  std::vector<std::string> skipped;
  const auto add = [&](std::string name, const std::string& where, const std::string& member, hsize_t length,
                       hsize_t element, hid_t type) {
    if (names.count(name) > 0) name = absl::StrCat(absl::StrReplaceAll(where, {{"/", "_"}}), "_", name);
    names.insert(name);
    ColumnRef c{name, where, member, length, element};
    c.exact = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 8;
    c.is_unsigned = c.exact && H5Tget_sign(type) == H5T_SGN_NONE;
    columns.push_back(std::move(c));
  };
  for (const Found& f : found) {
    if (f.path == images) continue;
    if (f.dims.size() != 1 || static_cast<int64_t>(f.dims[0]) != rows ||
        (!Numeric(f.type_class) && f.type_class != H5T_COMPOUND)) {
      if (f.dims.size() == 1 && static_cast<int64_t>(f.dims[0]) != rows) {
        skipped.push_back(absl::StrCat("'", f.path, "' (", f.dims[0], " rows)"));
      } else if (!f.dims.empty()) {
        skipped.push_back(absl::StrCat("'", f.path, "' (", Shape(f.dims), ")"));
      }
      continue;
    }
    Hid dset(H5Dopen2(file, f.path.c_str(), H5P_DEFAULT), H5Dclose);
    Hid type(H5Dget_type(dset.get()), H5Tclose);
    if (Numeric(f.type_class)) {
      const std::string base = Basename(f.path);
      add(basenames.count(base) > 1 ? absl::StrReplaceAll(f.path, {{"/", "_"}}) : base, f.path, "", 0, 0, type.get());
      continue;
    }
    const int members = H5Tget_nmembers(type.get());
    for (int m = 0; m < members; ++m) {
      std::unique_ptr<char, decltype(&H5free_memory)> member_name(H5Tget_member_name(type.get(), static_cast<unsigned>(m)),
                                                                  &H5free_memory);
      const std::string member = member_name ? member_name.get() : "";
      Hid member_type(H5Tget_member_type(type.get(), static_cast<unsigned>(m)), H5Tclose);
      const H5T_class_t c = H5Tget_class(member_type.get());
      if (Numeric(c)) {
        add(member, f.path, member, 0, 0, member_type.get());
        continue;
      }
      if (c == H5T_ARRAY && H5Tget_array_ndims(member_type.get()) == 1) {
        Hid super(H5Tget_super(member_type.get()), H5Tclose);
        hsize_t n = 0;
        H5Tget_array_dims2(member_type.get(), &n);
        if (Numeric(H5Tget_class(super.get())) && n > kMaxArrayColumns) {
          skipped.push_back(absl::StrCat("'", f.path, "/", member, "' (", n, " values per galaxy)"));
          continue;
        }
        if (Numeric(H5Tget_class(super.get()))) {
          for (hsize_t k = 0; k < n; ++k) add(absl::StrCat(member, "_", k), f.path, member, n, k, -1);
          continue;
        }
      }
      skipped.push_back(absl::StrCat("'", f.path, "/", member, "' (not numeric)"));
    }
  }
  if (!skipped.empty()) {
    notes->push_back(absl::StrCat("not columns of the ", rows, " galaxies, left out: ", absl::StrJoin(skipped, ", ")));
  }
  return columns;
}

// Reads rows of the file's catalog columns, a window at a time: a catalog of 10^7 galaxies and
// tens of columns is gigabytes, and the images are streamed anyway. Each dataset is opened once,
// with a chunk cache that holds a compressed column's chunks across windows.
class ColumnReader {
 public:
  ColumnReader(hid_t file, std::string path) : file_(file), path_(std::move(path)) {}

  // Rows [start, start + n) of `column` into the catalog's values (and integers, for an exact
  // column; of an unsigned one holding a value above 2^63 - 1, its row goes to beyond_int64
  // instead). DATA_LOSS naming the column and rows when they do not read.
  absl::Status Read(const ColumnRef& column, int64_t start, int64_t n, InputCatalog* out) {
    absl::Status s = ReadRows(column, start, n, out);
    if (s.ok()) return s;
    return absl::DataLossError(absl::StrCat(path_, ": column '", column.name, "' (", column.where, ") rows ", start,
                                            "..", start + n - 1, ": ", s.message()));
  }

 private:
  absl::StatusOr<hid_t> Open(const std::string& where) {
    auto it = open_.find(where);
    if (it != open_.end()) return it->second.get();
    Hid access(H5Pcreate(H5P_DATASET_ACCESS), H5Pclose);
    constexpr size_t kCacheBytes = size_t{8} << 20;
    if (!access.ok() || H5Pset_chunk_cache(access.get(), 521, kCacheBytes, 0.75) < 0) return absl::DataLossError(Hdf5Reason());
    Hid dset(H5Dopen2(file_, where.c_str(), access.get()), H5Dclose);
    if (!dset.ok()) return absl::DataLossError(Hdf5Reason());
    return open_.emplace(where, std::move(dset)).first->second.get();
  }

  absl::Status ReadRows(const ColumnRef& column, int64_t start, int64_t n, InputCatalog* out) {
    GALAXY_ASSIGN_OR_RETURN(hid_t dset, Open(column.where));
    Hid file_space(H5Dget_space(dset), H5Sclose);
    const hsize_t offset = static_cast<hsize_t>(start), count = static_cast<hsize_t>(n);
    Hid memory(H5Screate_simple(1, &count, nullptr), H5Sclose);
    if (!file_space.ok() || !memory.ok() ||
        H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, &offset, nullptr, &count, nullptr) < 0) {
      return absl::DataLossError(Hdf5Reason());
    }
    const auto read = [&](hid_t scalar, void* to) -> herr_t {
      if (column.member.empty()) return H5Dread(dset, scalar, memory.get(), file_space.get(), H5P_DEFAULT, to);
      // A compound memory type of one member reads just that member.
      const size_t size = H5Tget_size(scalar);
      const hsize_t length = column.length;
      Hid field(length > 0 ? H5Tarray_create2(scalar, 1, &length) : H5Tcopy(scalar), H5Tclose);
      Hid compound(H5Tcreate(H5T_COMPOUND, size * std::max<hsize_t>(length, 1)), H5Tclose);
      if (!field.ok() || !compound.ok() || H5Tinsert(compound.get(), column.member.c_str(), 0, field.get()) < 0) return -1;
      if (length == 0) return H5Dread(dset, compound.get(), memory.get(), file_space.get(), H5P_DEFAULT, to);
      std::vector<char> whole(static_cast<size_t>(n) * size * length);
      const herr_t rc = H5Dread(dset, compound.get(), memory.get(), file_space.get(), H5P_DEFAULT, whole.data());
      for (int64_t r = 0; rc >= 0 && r < n; ++r) {
        std::memcpy(static_cast<char*>(to) + static_cast<size_t>(r) * size,
                    whole.data() + (static_cast<size_t>(r) * length + column.element) * size, size);
      }
      return rc;
    };
    std::vector<double>& values = out->values[column.name];
    values.resize(static_cast<size_t>(n));
    if (read(H5T_NATIVE_DOUBLE, values.data()) < 0) return absl::DataLossError(Hdf5Reason());
    if (!column.exact) return absl::OkStatus();
    std::vector<int64_t>& integers = out->integers[column.name];
    integers.resize(static_cast<size_t>(n));
    // HDF5 converts an unsigned value above 2^63 - 1 to int64's largest, silently: read the bits.
    if (read(column.is_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, integers.data()) < 0) {
      return absl::DataLossError(Hdf5Reason());
    }
    for (int64_t r = 0; column.is_unsigned && r < n; ++r) {
      if (integers[static_cast<size_t>(r)] >= 0) continue;
      out->beyond_int64[column.name] = start + r;
      out->integers.erase(column.name);
      break;
    }
    return absl::OkStatus();
  }

  hid_t file_;
  std::string path_;
  std::map<std::string, Hid> open_;
};

}  // namespace

absl::StatusOr<IngestReport> IngestHdf5(const std::string& path, const IngestOptions& options) {
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  QuietHdf5();
  Hid file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a readable HDF5 file: ", Hdf5Reason()));
  }
  GALAXY_ASSIGN_OR_RETURN(std::vector<Found> found, ListDatasets(file.get(), path));
  const int bands = static_cast<int>(options.bands.size());
  GALAXY_ASSIGN_OR_RETURN(Found images, ChooseImages(found, options.images_key, bands, path));
  const std::string label = absl::StrCat(path, ": key '", images.path, "'");
  // As N x C x H x W or N x H x W x C; a one-band N x H x W gains its band axis.
  std::vector<hsize_t> d = images.dims;
  const bool one_band_cube = d.size() == 3;
  if (one_band_cube) d.insert(d.begin() + 1, 1);
  // Ours is N x C x H x W; many pipelines write N x H x W x C. The band axis is the one that
  // has the band count (the first of the two when both do).
  const bool channels_last = d[1] != static_cast<hsize_t>(bands) && d[3] == static_cast<hsize_t>(bands);
  if (!channels_last && d[1] != static_cast<hsize_t>(bands)) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": shape ", Shape(d), " has no axis of ", bands,
                                                   " bands (N x C x H x W or N x H x W x C; --bands names them)"));
  }
  if (d[0] == 0) return absl::InvalidArgumentError(absl::StrCat(label, ": no images"));
  if (d[0] > kMaxRows) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", d[0], " images is more than ", kMaxRows,
                                                   " (a declared shape, not data?)"));
  }
  const int64_t rows = static_cast<int64_t>(d[0]);
  DatasetLayout layout;
  layout.bands = bands;
  layout.band_names = options.bands;
  layout.height = static_cast<int>(channels_last ? d[1] : d[2]);
  layout.width = static_cast<int>(channels_last ? d[2] : d[3]);
  if (layout.height < 1 || layout.width < 1 || layout.height > 4096 || layout.width > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": images of ", layout.height, " x ", layout.width,
                                                   " pixels are out of range (1..4096)"));
  }

  IngestReport report;
  if (channels_last) report.notes.push_back(absl::StrCat("'", images.path, "' read as N x H x W x C"));
  const std::vector<ColumnRef> columns = ListColumns(file.get(), found, images.path, rows, &report.notes);
  InputCatalog catalog;  // the columns' names; the values are read a window at a time below
  catalog.rows = rows;
  for (const ColumnRef& c : columns) catalog.order.push_back(c.name);
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, options, &report.notes));
  ColumnReader reader(file.get(), path);
  CatalogWindows windows(plan, rows, options.catalog_window_rows,
                         [&](const std::vector<std::string>& names, int64_t first, int64_t n, InputCatalog* window) {
                           for (const std::string& name : names) {
                             const ColumnRef& c = *std::find_if(columns.begin(), columns.end(),
                                                                [&](const ColumnRef& c) { return c.name == name; });
                             GALAXY_RETURN_IF_ERROR(reader.Read(c, first, n, window));
                           }
                           return absl::OkStatus();
                         });
  // Every ID is held once, to check that none repeats.
  absl::Status ids;
  try {
    ids = windows.CheckIds(options, path);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": the ID column '", plan.id, "' of ", rows, " galaxies does not fit in memory"));
  }
  GALAXY_RETURN_IF_ERROR(ids);
  layout.extra_columns = PlanExtraColumns(plan, options);
  layout.attributes = {{"source", path}, {"flux_unit", "as in source"}};
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(options.out, layout));

  Hid dset(H5Dopen2(file.get(), images.path.c_str(), H5P_DEFAULT), H5Dclose);
  Hid space(H5Dget_space(dset.get()), H5Sclose);
  const int64_t ppi = layout.pixels_per_image();
  const int64_t plane = static_cast<int64_t>(layout.height) * layout.width;
  const int64_t step = layout.images_per_block();
  std::vector<float> raw;
  GalaxyBatch batch;
  Progress progress("ingest", "galaxies", rows);
  for (int64_t start = 0; start < rows; start += step) {
    const int64_t n = std::min(step, rows - start);
    raw.resize(static_cast<size_t>(n * ppi));
    const hsize_t offset[4] = {static_cast<hsize_t>(start), 0, 0, 0};
    std::vector<hsize_t> count = {static_cast<hsize_t>(n), d[1], d[2], d[3]};
    if (one_band_cube) count.erase(count.begin() + 1);
    Hid memory(H5Screate_simple(static_cast<int>(count.size()), count.data(), nullptr), H5Sclose);
    // HDF5 converts any integer or floating type to float on the way.
    if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, offset, nullptr, count.data(), nullptr) < 0 ||
        H5Dread(dset.get(), H5T_NATIVE_FLOAT, memory.get(), space.get(), H5P_DEFAULT, raw.data()) < 0) {
      return absl::DataLossError(absl::StrCat(label, ": rows ", start, "..", start + n - 1, " do not read (truncated?): ",
                                              Hdf5Reason()));
    }
    batch.Resize(layout, n);
    if (channels_last) {
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t p = 0; p < plane; ++p) {
          for (int b = 0; b < bands; ++b) {
            batch.images[static_cast<size_t>((i * bands + b) * plane + p)] = raw[static_cast<size_t>((i * plane + p) * bands + b)];
          }
        }
      }
    } else {
      std::copy(raw.begin(), raw.end(), batch.images.begin());
    }
    GALAXY_RETURN_IF_ERROR(windows.Fill(options, start, n, &batch));
    GALAXY_RETURN_IF_ERROR(AppendGalaxies(writer.get(), &batch, options, &report));
    progress.Update(start + n);
  }
  GALAXY_RETURN_IF_ERROR(FinishIngest(writer.get(), options, &report));
  return report;
}

}  // namespace galaxy
