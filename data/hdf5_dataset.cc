#include "data/hdf5_dataset.h"

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "data/hdf5_util.h"

namespace galaxy {
namespace {

// Creates an extendible chunked dataset with first dimension 0.
absl::StatusOr<Hid> CreateExtendible(hid_t file, const char* name, hid_t type,
                                     const std::vector<hsize_t>& inner, hsize_t chunk_rows) {
  std::vector<hsize_t> dims = {0}, max = {H5S_UNLIMITED}, chunk = {chunk_rows};
  for (hsize_t d : inner) {
    dims.push_back(d);
    max.push_back(d);
    chunk.push_back(d);
  }
  Hid space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max.data()), H5Sclose);
  Hid dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
  Hid dset(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
           H5Dclose);
  if (!dset.ok()) {
    return absl::InternalError(absl::StrCat("cannot create key '", name, "': ", Hdf5Reason()));
  }
  return dset;
}

// Appends `rows` rows of `mem_type` data to an extendible dataset whose size is `old_rows`.
herr_t AppendRows(hid_t dset, hid_t mem_type, hsize_t old_rows, hsize_t rows, const void* data) {
  if (rows == 0) return 0;
  Hid file_space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(file_space.get(), dims.data(), nullptr);
  dims[0] = old_rows + rows;
  if (H5Dset_extent(dset, dims.data()) < 0) return -1;
  Hid space(H5Dget_space(dset), H5Sclose);
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = old_rows;
  count[0] = rows;
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Hid mem(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  return H5Dwrite(dset, mem_type, mem.get(), space.get(), H5P_DEFAULT, data);
}

// Reads rows [start, start + rows) of a dataset into `data` as `mem_type`.
herr_t ReadRows(hid_t dset, hid_t mem_type, hsize_t start_row, hsize_t rows, void* data) {
  if (rows == 0) return 0;
  Hid space(H5Dget_space(dset), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1) return -1;  // not a dataset, or a scalar one
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = start_row;
  count[0] = rows;
  H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
  Hid mem(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  return H5Dread(dset, mem_type, mem.get(), space.get(), H5P_DEFAULT, data);
}

void WriteStringAttribute(hid_t object, const std::string& name, const std::string& value) {
  Hid type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), std::max<size_t>(1, value.size()));
  Hid space(H5Screate(H5S_SCALAR), H5Sclose);
  Hid attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose);
  H5Awrite(attr.get(), type.get(), value.c_str());
}

// Reads every scalar string attribute of `object`.
std::map<std::string, std::string> ReadStringAttributes(hid_t object) {
  std::map<std::string, std::string> out;
  H5O_info_t info;
  if (H5Oget_info2(object, &info, H5O_INFO_NUM_ATTRS) < 0) return out;
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    Hid attr(H5Aopen_by_idx(object, ".", H5_INDEX_CRT_ORDER, H5_ITER_NATIVE, i, H5P_DEFAULT,
                            H5P_DEFAULT),
             H5Aclose);
    if (!attr.ok()) {
      attr = Hid(H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_NATIVE, i, H5P_DEFAULT,
                                H5P_DEFAULT),
                 H5Aclose);
    }
    if (!attr.ok()) continue;
    char name[256] = {0};
    H5Aget_name(attr.get(), sizeof(name) - 1, name);
    Hid type(H5Aget_type(attr.get()), H5Tclose);
    if (H5Tget_class(type.get()) != H5T_STRING) continue;
    if (H5Tis_variable_str(type.get()) > 0) {
      char* value = nullptr;
      Hid mem(H5Tcopy(H5T_C_S1), H5Tclose);
      H5Tset_size(mem.get(), H5T_VARIABLE);
      if (H5Aread(attr.get(), mem.get(), &value) >= 0 && value != nullptr) {
        out[name] = value;
        H5free_memory(value);
      }
    } else {
      std::string value(H5Tget_size(type.get()), '\0');
      if (H5Aread(attr.get(), type.get(), value.data()) >= 0) {
        out[name] = value.substr(0, value.find('\0'));
      }
    }
  }
  H5Eclear2(H5E_DEFAULT);
  return out;
}

}  // namespace

// ----------------------------------------------------------------------------------------------

struct DatasetWriter::Handles {
  Hid file;
  Hid images, ids, ra, dec, e_bv, redshift;
  std::map<std::string, Hid> extra;
};

DatasetWriter::DatasetWriter(std::string path, std::string temp_path, const DatasetLayout& layout)
    : path_(std::move(path)), temp_path_(std::move(temp_path)), layout_(layout),
      h_(std::make_unique<Handles>()) {}

absl::StatusOr<std::unique_ptr<DatasetWriter>> DatasetWriter::Create(const std::string& path,
                                                                     const DatasetLayout& layout) {
  if (absl::Status s = layout.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  RemoveStaleTemps(path);
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  QuietHdf5();
  std::unique_ptr<DatasetWriter> w(new DatasetWriter(path, TempPathFor(path), layout));
  Handles& h = *w->h_;
  h.file = Hid(H5Fcreate(w->temp_path_.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!h.file.ok()) {
    return absl::InternalError(
        absl::StrCat(path, ": cannot create ", w->temp_path_, ": ", Hdf5Reason()));
  }
  const hsize_t image_bytes = static_cast<hsize_t>(layout.pixels_per_image()) * 4;
  const hsize_t image_chunk = std::max<hsize_t>(1, (1u << 20) / image_bytes);
  const std::vector<hsize_t> image_dims = {static_cast<hsize_t>(layout.bands),
                                           static_cast<hsize_t>(layout.height),
                                           static_cast<hsize_t>(layout.width)};
  struct Want {
    Hid* target;
    const char* name;
    hid_t type;
  };
  absl::StatusOr<Hid> images =
      CreateExtendible(h.file.get(), kImagesKey, H5T_IEEE_F32LE, image_dims, image_chunk);
  if (!images.ok()) return absl::InternalError(absl::StrCat(path, ": ", images.status().message()));
  h.images = std::move(*images);
  for (const Want& want : {Want{&h.ids, kIdKey, H5T_STD_I64LE}, Want{&h.ra, kRaKey, H5T_IEEE_F64LE},
                           Want{&h.dec, kDecKey, H5T_IEEE_F64LE},
                           Want{&h.e_bv, kEbvKey, H5T_IEEE_F32LE},
                           Want{&h.redshift, kRedshiftKey, H5T_IEEE_F32LE}}) {
    absl::StatusOr<Hid> d = CreateExtendible(h.file.get(), want.name, want.type, {}, 4096);
    if (!d.ok()) return absl::InternalError(absl::StrCat(path, ": ", d.status().message()));
    *want.target = std::move(*d);
  }
  for (const ColumnSpec& c : layout.extra_columns) {
    absl::StatusOr<Hid> d = CreateExtendible(h.file.get(), c.name.c_str(), Hdf5FileType(c.type), {}, 4096);
    if (!d.ok()) return absl::InternalError(absl::StrCat(path, ": ", d.status().message()));
    h.extra.emplace(c.name, std::move(*d));
  }
  WriteStringAttribute(h.file.get(), "bands", absl::StrJoin(layout.band_names, ","));
  for (const auto& [key, value] : layout.attributes) {
    if (key != "bands") WriteStringAttribute(h.file.get(), key, value);
  }
  return w;
}

DatasetWriter::~DatasetWriter() {
  if (committed_) return;
  {
    std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
    h_.reset();
  }
  ::unlink(temp_path_.c_str());
}

absl::Status DatasetWriter::Append(const GalaxyBatch& batch) {
  if (committed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": already committed"));
  if (absl::Status s = batch.CheckShape(layout_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path_, ": ", s.message()));
  }
  if (!allow_non_finite_) {
    const int64_t bad = FirstNonFinite(batch.images.data(), static_cast<int64_t>(batch.images.size()));
    if (bad >= 0) {
      const int64_t ppi = layout_.pixels_per_image();
      const int64_t row = bad / ppi, band = (bad % ppi) / (layout_.height * layout_.width);
      return absl::InvalidArgumentError(absl::StrCat(
          path_, ": key '", kImagesKey, "': row ", count_ + row, " (ObjID ", batch.ids[row],
          ") band ", layout_.band_names[band], " holds ", batch.images[bad], "; images must be finite"));
    }
  }
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  const hsize_t old = static_cast<hsize_t>(count_), n = static_cast<hsize_t>(batch.count);
  Handles& h = *h_;
  bool ok = AppendRows(h.images.get(), H5T_NATIVE_FLOAT, old, n, batch.images.data()) >= 0 &&
            AppendRows(h.ids.get(), H5T_NATIVE_INT64, old, n, batch.ids.data()) >= 0 &&
            AppendRows(h.ra.get(), H5T_NATIVE_DOUBLE, old, n, batch.ra.data()) >= 0 &&
            AppendRows(h.dec.get(), H5T_NATIVE_DOUBLE, old, n, batch.dec.data()) >= 0 &&
            AppendRows(h.e_bv.get(), H5T_NATIVE_FLOAT, old, n, batch.e_bv.data()) >= 0 &&
            AppendRows(h.redshift.get(), H5T_NATIVE_FLOAT, old, n, batch.redshift.data()) >= 0;
  for (auto& [name, dset] : h.extra) {
    ok = ok && AppendRows(dset.get(), H5T_NATIVE_DOUBLE, old, n, batch.extra.at(name).data()) >= 0;
  }
  if (!ok) {
    return absl::InternalError(
        absl::StrCat(path_, ": writing rows ", old, "..", old + n, " failed: ", Hdf5Reason()));
  }
  count_ += batch.count;
  return absl::OkStatus();
}

absl::Status DatasetWriter::Commit() {
  if (committed_) return absl::OkStatus();
  {
    std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
    if (H5Fflush(h_->file.get(), H5F_SCOPE_GLOBAL) < 0) {
      return absl::InternalError(absl::StrCat(path_, ": flushing failed: ", Hdf5Reason()));
    }
    h_.reset();  // closes every dataset and the file
  }
  if (absl::Status s = DurableRename(temp_path_, path_); !s.ok()) {
    return absl::InternalError(absl::StrCat(path_, ": ", s.message()));
  }
  committed_ = true;
  return absl::OkStatus();
}

// ----------------------------------------------------------------------------------------------

struct DatasetReader::Handles {
  Hid file;
  Hid images, ids, ra, dec, e_bv, redshift;
  std::map<std::string, Hid> extra;
};

DatasetReader::~DatasetReader() {
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  h_.reset();
}

namespace {

// The command that converts what `path` holds, for errors that find another layout.
std::string ConvertHint(const std::string& path) {
  return absl::StrCat("; galaxy-data ingest ", path, " --out NEW.h5 converts other layouts");
}

// What a path that HDF5 cannot open holds instead, from its first bytes ("" when unknown): the
// inputs of galaxy-data ingest, given straight to a command that wants a dataset.
std::string OtherInput(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return "a directory";
  std::ifstream in(path, std::ios::binary);
  char bytes[6] = {0};
  in.read(bytes, sizeof(bytes));
  const std::string head(bytes, static_cast<size_t>(in.gcount()));
  if (head == "SIMPLE") return "a FITS file";
  if (head.rfind("PK\x03\x04", 0) == 0) return "a zip archive (.npz?)";
  if (head.rfind("\x93NUMPY", 0) == 0) return "a .npy array";
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<DatasetReader>> DatasetReader::Open(const std::string& path) {
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  QuietHdf5();
  if (::access(path.c_str(), R_OK) != 0) {
    return absl::NotFoundError(absl::StrCat(path, ": no such readable file"));
  }
  std::unique_ptr<DatasetReader> r(new DatasetReader);
  r->path_ = path;
  r->h_ = std::make_unique<Handles>();
  Handles& h = *r->h_;
  h.file = Hid(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!h.file.ok()) {
    const std::string reason = Hdf5Reason();
    if (const std::string other = OtherInput(path); !other.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", other, ", not an HDF5 dataset",
                                                     ConvertHint(path)));
    }
    return absl::DataLossError(absl::StrCat(path, ": not a readable HDF5 file (truncated or corrupt?): ", reason));
  }
  auto key_error = [&](const std::string& key, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": key '", key, "': ", what));
  };
  auto exists = [&](const char* key) { return H5Lexists(h.file.get(), key, H5P_DEFAULT) > 0; };
  if (!exists(kImagesKey)) {
    return absl::NotFoundError(absl::StrCat(path, ": missing key '", kImagesKey, "' (N x C x H x W float32 images)",
                                            ConvertHint(path)));
  }
  h.images = Hid(H5Dopen2(h.file.get(), kImagesKey, H5P_DEFAULT), H5Dclose);
  if (!h.images.ok()) return key_error(kImagesKey, "not a dataset: " + Hdf5Reason());
  // The file's attributes; "bands" names one band per plane in files of ours.
  std::map<std::string, std::string> attrs = ReadStringAttributes(h.file.get());
  std::vector<std::string> named_bands;
  if (attrs.count("bands")) named_bands = absl::StrSplit(attrs["bands"], ',');
  attrs.erase("bands");
  {
    Hid space(H5Dget_space(h.images.get()), H5Sclose);
    Hid type(H5Dget_type(h.images.get()), H5Tclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank != 4) {
      return key_error(kImagesKey, absl::StrCat("rank ", rank, ", expected 4 (N x C x H x W)"));
    }
    if (H5Tget_class(type.get()) != H5T_FLOAT) {
      return key_error(kImagesKey, absl::StrCat("not floating point (expected float32 fluxes)", ConvertHint(path)));
    }
    hsize_t dims[4];
    H5Sget_simple_extent_dims(space.get(), dims, nullptr);
    // N x H x W x C with square images: another pipeline's layout, not a file of many bands. Our
    // writer names the bands (attribute "bands", one per plane): a file that does is ours, whatever
    // its shape (5 bands of 5 x 1 pixels looked channels-last; found by hdf5_fuzzer).
    if (named_bands.size() != dims[1] && dims[1] == dims[2] && dims[3] < dims[1]) {
      return key_error(kImagesKey, absl::StrCat("shape ", dims[0], " x ", dims[1], " x ", dims[2], " x ", dims[3],
                                                " is N x H x W x C; ours is N x C x H x W", ConvertHint(path)));
    }
    r->count_ = static_cast<int64_t>(dims[0]);
    r->layout_.bands = static_cast<int>(dims[1]);
    r->layout_.height = static_cast<int>(dims[2]);
    r->layout_.width = static_cast<int>(dims[3]);
    if (dims[1] < 1 || dims[1] > 64 || dims[2] < 1 || dims[3] < 1 || dims[2] > 4096 || dims[3] > 4096) {
      return key_error(kImagesKey, absl::StrCat("shape ", dims[0], " x ", dims[1], " x ", dims[2],
                                                " x ", dims[3], " is out of range"));
    }
  }
  // 1-D columns: standard ones by name, every other 1-D numeric dataset as an extra column.
  struct Found {
    std::string name;
    Hid dset;
    ColumnType type;
  };
  std::vector<Found> columns;
  std::vector<std::string> names;
  H5Literate(
      h.file.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->push_back(name);
        return 0;
      },
      &names);
  for (const std::string& name : names) {
    if (name == kImagesKey) continue;
    const bool standard = name == kIdKey || name == kRaKey || name == kDecKey || name == kEbvKey ||
                          name == kRedshiftKey;
    H5O_info_t info;
    if (H5Oget_info_by_name2(h.file.get(), name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_DATASET) {
      // A group, or a link to nothing: not a column. Under a standard name that is an error, not
      // a missing optional column.
      if (standard) return key_error(name, "not a dataset (a group, or a link to nothing); expected a 1-D numeric column");
      continue;
    }
    Hid dset(H5Dopen2(h.file.get(), name.c_str(), H5P_DEFAULT), H5Dclose);
    Hid space(H5Dget_space(dset.get()), H5Sclose);
    Hid type(H5Dget_type(dset.get()), H5Tclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    const H5T_class_t cls = H5Tget_class(type.get());
    const bool numeric = cls == H5T_INTEGER || cls == H5T_FLOAT;
    if (rank != 1 || !numeric) {
      if (standard) {
        return key_error(name, absl::StrCat("expected a 1-D numeric column, found rank ", rank,
                                            numeric ? "" : " non-numeric"));
      }
      continue;  // not a catalog column (strings, 2-D data): ignored
    }
    hsize_t rows = 0;
    H5Sget_simple_extent_dims(space.get(), &rows, nullptr);
    if (static_cast<int64_t>(rows) != r->count_) {
      return key_error(name, absl::StrCat(rows, " rows, but '", kImagesKey, "' has ", r->count_));
    }
    const size_t size = H5Tget_size(type.get());
    ColumnType ct = ColumnType::kFloat64;
    if (cls == H5T_FLOAT) {
      ct = size <= 4 ? ColumnType::kFloat32 : ColumnType::kFloat64;
    } else if (size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE) {
      ct = ColumnType::kUInt8;
    } else {
      ct = size <= 4 ? ColumnType::kInt32 : ColumnType::kInt64;
    }
    columns.push_back({name, std::move(dset), ct});
  }
  for (Found& c : columns) {
    if (c.name == kIdKey) {
      if (c.type != ColumnType::kInt64 && c.type != ColumnType::kInt32) {
        return key_error(kIdKey, "catalog IDs must be integers");
      }
      h.ids = std::move(c.dset);
    } else if (c.name == kRaKey) {
      h.ra = std::move(c.dset);
    } else if (c.name == kDecKey) {
      h.dec = std::move(c.dset);
    } else if (c.name == kEbvKey) {
      h.e_bv = std::move(c.dset);
    } else if (c.name == kRedshiftKey) {
      h.redshift = std::move(c.dset);
    } else {
      r->layout_.extra_columns.push_back({c.name, c.type});
      h.extra.emplace(c.name, std::move(c.dset));
    }
  }
  for (const auto& [required, dset] : {std::pair<const char*, const Hid*>{kIdKey, &h.ids}, {kRaKey, &h.ra}, {kDecKey, &h.dec}}) {
    if (!dset->ok()) {
      return absl::NotFoundError(absl::StrCat(path, ": missing key '", required, "'"));
    }
  }
  r->has_e_bv_ = h.e_bv.ok();
  r->has_redshift_ = h.redshift.ok();

  r->bands_named_ = static_cast<int>(named_bands.size()) == r->layout_.bands;
  if (r->bands_named_) r->layout_.band_names = named_bands;
  if (static_cast<int>(r->layout_.band_names.size()) != r->layout_.bands) {
    r->layout_.band_names.clear();
    for (int b = 0; b < r->layout_.bands; ++b) r->layout_.band_names.push_back(absl::StrCat("b", b));
  }
  r->layout_.attributes = attrs;
  return r;
}

absl::Status DatasetReader::Read(int64_t start, int64_t n, GalaxyBatch* batch, bool images) {
  if (start < 0 || n < 0 || start + n > count_) {
    return absl::OutOfRangeError(absl::StrCat(path_, ": rows ", start, "..", start + n,
                                              " are outside 0..", count_));
  }
  batch->extra.clear();
  batch->Resize(layout_, n, images);
  {
    std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
    const hsize_t s = static_cast<hsize_t>(start), c = static_cast<hsize_t>(n);
    Handles& h = *h_;
    std::string failed;
    if (images && ReadRows(h.images.get(), H5T_NATIVE_FLOAT, s, c, batch->images.data()) < 0) failed = kImagesKey;
    if (failed.empty() && ReadRows(h.ids.get(), H5T_NATIVE_INT64, s, c, batch->ids.data()) < 0) failed = kIdKey;
    if (failed.empty() && ReadRows(h.ra.get(), H5T_NATIVE_DOUBLE, s, c, batch->ra.data()) < 0) failed = kRaKey;
    if (failed.empty() && ReadRows(h.dec.get(), H5T_NATIVE_DOUBLE, s, c, batch->dec.data()) < 0) failed = kDecKey;
    if (failed.empty()) {
      if (h.e_bv.ok()) {
        if (ReadRows(h.e_bv.get(), H5T_NATIVE_FLOAT, s, c, batch->e_bv.data()) < 0) failed = kEbvKey;
      } else {
        std::fill(batch->e_bv.begin(), batch->e_bv.end(), 0.0f);
      }
    }
    if (failed.empty()) {
      if (h.redshift.ok()) {
        if (ReadRows(h.redshift.get(), H5T_NATIVE_FLOAT, s, c, batch->redshift.data()) < 0) failed = kRedshiftKey;
      } else {
        std::fill(batch->redshift.begin(), batch->redshift.end(), std::nanf(""));
      }
    }
    for (auto& [name, dset] : h.extra) {
      if (!failed.empty()) break;
      if (ReadRows(dset.get(), H5T_NATIVE_DOUBLE, s, c, batch->extra[name].data()) < 0) failed = name;
    }
    if (!failed.empty()) {
      return absl::DataLossError(absl::StrCat(path_, ": key '", failed, "': reading rows ", start,
                                              "..", start + n, " failed: ", Hdf5Reason()));
    }
  }
  if (images && check_finite_) {
    const int64_t bad = FirstNonFinite(batch->images.data(), static_cast<int64_t>(batch->images.size()));
    if (bad >= 0) {
      const int64_t ppi = layout_.pixels_per_image();
      const int64_t row = bad / ppi, band = (bad % ppi) / (static_cast<int64_t>(layout_.height) * layout_.width);
      return absl::InvalidArgumentError(absl::StrCat(
          path_, ": key '", kImagesKey, "': row ", start + row, " (ObjID ", batch->ids[row], ") band ",
          layout_.band_names[band], " holds ", batch->images[bad], "; images must be finite"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<double>> DatasetReader::ReadColumn(const std::string& name) {
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  Handles& h = *h_;
  const Hid* dset = nullptr;
  if (name == kIdKey) dset = &h.ids;
  if (name == kRaKey) dset = &h.ra;
  if (name == kDecKey) dset = &h.dec;
  if (name == kEbvKey && h.e_bv.ok()) dset = &h.e_bv;
  if (name == kRedshiftKey && h.redshift.ok()) dset = &h.redshift;
  if (auto it = h.extra.find(name); it != h.extra.end()) dset = &it->second;
  if (dset == nullptr) return absl::NotFoundError(absl::StrCat(path_, ": no column '", name, "'"));
  std::vector<double> values(static_cast<size_t>(count_));
  if (ReadRows(dset->get(), H5T_NATIVE_DOUBLE, 0, static_cast<hsize_t>(count_), values.data()) < 0) {
    return absl::DataLossError(absl::StrCat(path_, ": key '", name, "': read failed: ", Hdf5Reason()));
  }
  return values;
}

absl::StatusOr<std::vector<int64_t>> DatasetReader::ReadIds() {
  std::lock_guard<std::recursive_mutex> lock(Hdf5Mutex());
  std::vector<int64_t> ids(static_cast<size_t>(count_));
  if (ReadRows(h_->ids.get(), H5T_NATIVE_INT64, 0, static_cast<hsize_t>(count_), ids.data()) < 0) {
    return absl::DataLossError(absl::StrCat(path_, ": key '", kIdKey, "': read failed: ", Hdf5Reason()));
  }
  return ids;
}

}  // namespace galaxy
