// libFuzzer target for the native HDF5 dataset reader (data/hdf5_dataset.h) and the ingest of
// HDF5 files in other layouts (data/ingest/ingest.h, IngestHdf5), structure-aware: the input
// bytes choose an HDF5 file's layout (which keys exist, as datasets, groups or dangling links;
// their rank, shape, element type (compound and array members too), storage and values; the
// attributes), the file is written with the HDF5 library, and DatasetReader must then answer
// with a status or with batches of exactly the declared size: never crash, read out of bounds or
// return inconsistent columns. The ingest must refuse with a reason and leave nothing, or write
// a file the reader opens with one galaxy per image. HDF5's own byte-level parser is not the target (it is a third-party library, not
// instrumented here); our validation of what a well-formed file may contain is.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "data/hdf5_dataset.h"
#include "data/ingest/ingest.h"

namespace {

constexpr const char* kKeys[] = {"images", "ObjID", "ra", "dec", "e_bv", "specz_redshift", "petro_r", "flag"};

hid_t PickType(FuzzedDataProvider& in, bool* owned) {
  *owned = false;
  switch (in.ConsumeIntegralInRange(0, 12)) {
    case 0: return H5T_NATIVE_FLOAT;
    case 1: return H5T_NATIVE_DOUBLE;
    case 2: return H5T_NATIVE_INT8;
    case 3: return H5T_NATIVE_UINT8;
    case 4: return H5T_NATIVE_INT16;
    case 5: return H5T_NATIVE_INT32;
    case 6: return H5T_NATIVE_UINT32;
    case 7: return H5T_NATIVE_INT64;
    case 8: return H5T_NATIVE_UINT64;
    case 9: return H5T_IEEE_F64BE;
    case 10: {  // fixed-length string
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 1 + in.ConsumeIntegralInRange(0, 15));
      *owned = true;
      return t;
    }
    case 11: {  // compound {int32 a; float b}
      hid_t t = H5Tcreate(H5T_COMPOUND, 8);
      H5Tinsert(t, "a", 0, H5T_NATIVE_INT32);
      H5Tinsert(t, "b", 4, H5T_NATIVE_FLOAT);
      *owned = true;
      return t;
    }
    default: {  // a table row: {int64 ObjID; double ra; float dec; float mags[3]; char name[4]}
      hid_t t = H5Tcreate(H5T_COMPOUND, 36);
      H5Tinsert(t, "ObjID", 0, H5T_NATIVE_INT64);
      H5Tinsert(t, "ra", 8, H5T_NATIVE_DOUBLE);
      H5Tinsert(t, "dec", 16, H5T_NATIVE_FLOAT);
      const hsize_t three = 3;
      hid_t mags = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &three);
      H5Tinsert(t, "mags", 20, mags);
      H5Tclose(mags);
      hid_t name = H5Tcopy(H5T_C_S1);
      H5Tset_size(name, 4);
      H5Tinsert(t, "name", 32, name);
      H5Tclose(name);
      *owned = true;
      return t;
    }
  }
}

void WriteKey(FuzzedDataProvider& in, hid_t file, const char* key, hsize_t count) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0: return;  // absent
    case 1: H5Gclose(H5Gcreate2(file, key, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)); return;
    case 2: H5Lcreate_soft("/nowhere", file, key, H5P_DEFAULT, H5P_DEFAULT); return;
    default: break;  // a dataset (most often)
  }
  const bool images = std::string(key) == "images";
  int rank = images ? 4 : 1;
  if (in.ConsumeIntegralInRange(0, 4) == 0) rank = in.ConsumeIntegralInRange(0, 5);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) {
    dims[d] = d == 0 ? count : static_cast<hsize_t>(in.ConsumeIntegralInRange(1, 5));
    if (in.ConsumeIntegralInRange(0, 6) == 0) dims[d] = static_cast<hsize_t>(in.ConsumeIntegralInRange(0, 9));
  }
  // Images with a band axis (5, or the ingest's 3 bands) first or last, as pipelines write them.
  if (images && rank == 4) {
    const int axis = in.ConsumeIntegralInRange(0, 2);
    if (axis < 2) dims[axis == 0 ? 1 : 3] = in.ConsumeBool() ? 5 : 3;
  }
  bool owned = false;
  const hid_t type = images && in.ConsumeBool() ? H5T_NATIVE_FLOAT : PickType(in, &owned);
  hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims.data(), nullptr);
  hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
  if (rank > 0 && in.ConsumeBool()) {
    std::vector<hsize_t> chunk(dims.size());
    for (size_t d = 0; d < dims.size(); ++d) chunk[d] = std::max<hsize_t>(1, std::min<hsize_t>(dims[d], 3));
    std::vector<hsize_t> max_dims(dims.size(), H5S_UNLIMITED);
    H5Sclose(space);
    space = H5Screate_simple(rank, dims.data(), max_dims.data());
    H5Pset_chunk(plist, rank, chunk.data());
    if (in.ConsumeBool()) H5Pset_deflate(plist, 1);
  }
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t dset = H5Dcreate2(file, key, type, space, lcpl, plist, H5P_DEFAULT);
  H5Pclose(lcpl);
  if (dset >= 0) {
    hsize_t points = 1;
    for (hsize_t d : dims) points *= d;
    // Images take at most 256 bytes of the input (the rest zeros), so that the keys after them
    // still get a say.
    const size_t bytes = points * H5Tget_size(type);
    std::vector<uint8_t> values = in.ConsumeBytes<uint8_t>(images ? std::min<size_t>(bytes, 256) : bytes);
    values.resize(points * H5Tget_size(type));
    if (!values.empty()) H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(dset);
  }
  H5Pclose(plist);
  H5Sclose(space);
  if (owned) H5Tclose(type);
}

void WriteAttribute(FuzzedDataProvider& in, hid_t file) {
  const std::string name = in.ConsumeBool() ? "bands" : in.ConsumeRandomLengthString(12);
  const std::string value = in.ConsumeRandomLengthString(40);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t type;
  if (in.ConsumeBool()) {
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    const char* text = value.c_str();
    hid_t attr = H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) H5Awrite(attr, type, &text), H5Aclose(attr);
  } else if (in.ConsumeBool()) {
    type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, std::max<size_t>(1, value.size()));
    hid_t attr = H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) H5Awrite(attr, type, value.data()), H5Aclose(attr);
  } else {
    type = H5Tcopy(H5T_NATIVE_INT32);
    const int32_t v = in.ConsumeIntegral<int32_t>();
    hid_t attr = H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr >= 0) H5Awrite(attr, type, &v), H5Aclose(attr);
  }
  H5Tclose(type);
  H5Sclose(space);
}

std::string TempPath(const std::string& what) {
  return (std::filesystem::temp_directory_path() / ("galaxy-hdf5-fuzz-" + std::to_string(::getpid()) + what)).string();
}

const std::string& FilePath() {
  static const std::string path = TempPath(".h5");
  return path;
}

hid_t PickNumeric(FuzzedDataProvider& in) {
  constexpr hid_t* kTypes[] = {&H5T_NATIVE_FLOAT_g, &H5T_NATIVE_DOUBLE_g, &H5T_NATIVE_UINT8_g, &H5T_NATIVE_INT16_g,
                               &H5T_NATIVE_LLONG_g, &H5T_NATIVE_ULLONG_g, &H5T_IEEE_F64BE_g, &H5T_STD_I32BE_g};
  H5open();
  return *kTypes[in.ConsumeIntegralInRange<size_t>(0, 7)];
}

// Writes `name` (groups made on the way) with `dims` of `type`, its values from the input (at
// most 256 bytes, the rest zeros); false when HDF5 refused it.
void WriteForeign(FuzzedDataProvider& in, hid_t file, const std::string& name, hid_t type,
                  const std::vector<hsize_t>& dims) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dset = H5Dcreate2(file, name.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (dset >= 0) {
    size_t bytes = H5Tget_size(type);
    for (hsize_t d : dims) bytes *= d;
    std::vector<uint8_t> values = in.ConsumeBytes<uint8_t>(std::min<size_t>(bytes, 256));
    values.resize(bytes);
    if (H5Tget_class(type) == H5T_COMPOUND) {
      // Strings in a table: printable.
      for (int m = 0; m < H5Tget_nmembers(type); ++m) {
        hid_t member = H5Tget_member_type(type, static_cast<unsigned>(m));
        if (H5Tget_class(member) == H5T_STRING) {
          const size_t offset = H5Tget_member_offset(type, static_cast<unsigned>(m));
          for (size_t row = 0; row * H5Tget_size(type) < bytes; ++row) {
            std::fill_n(values.begin() + row * H5Tget_size(type) + offset, H5Tget_size(member), 'x');
          }
        }
        H5Tclose(member);
      }
    }
    if (bytes > 0) H5Dwrite(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(dset);
  }
  H5Sclose(space);
  H5Pclose(lcpl);
}

// Another pipeline's file, for the ingest: images N x C x H x W or N x H x W x C (or one band's
// N x H x W) of any numeric type under one of several names, the catalog as 1-D datasets or as a table (a compound
// dataset with an array and a string member), in groups or not. An input that runs out makes
// the plain case: a valid file.
void WriteForeignFile(FuzzedDataProvider& in, const std::string& path) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file < 0) std::abort();
  const hsize_t count = in.ConsumeIntegralInRange<hsize_t>(1, 6);
  const hsize_t bands = in.ConsumeBool() ? 3 : 5;
  const hsize_t h = in.ConsumeIntegralInRange<hsize_t>(1, 4), w = in.ConsumeIntegralInRange<hsize_t>(1, 4);
  const bool last = in.ConsumeBool();
  std::vector<hsize_t> dims = last ? std::vector<hsize_t>{count, h, w, bands} : std::vector<hsize_t>{count, bands, h, w};
  if (in.ConsumeIntegralInRange(0, 7) == 1) dims[in.ConsumeIntegralInRange<size_t>(0, 3)] = in.ConsumeIntegralInRange<hsize_t>(0, 6);
  if (in.ConsumeIntegralInRange(0, 5) == 1) dims.erase(dims.begin() + (last ? 3 : 1));  // one band: N x H x W
  constexpr const char* kImageNames[] = {"images", "cube", "data/cutouts"};
  WriteForeign(in, file, kImageNames[in.ConsumeIntegralInRange<size_t>(0, 2)], PickNumeric(in), dims);
  if (in.ConsumeIntegralInRange(0, 7) == 1) WriteForeign(in, file, "data/masks", H5T_NATIVE_UINT8, dims);

  constexpr const char* kColumns[] = {"ObjID", "ra", "dec", "z", "ebv", "mag"};
  const bool table = in.ConsumeBool();
  const std::string group = in.ConsumeBool() ? "catalog/" : "";
  if (!table) {
    for (const char* column : kColumns) {
      if (in.ConsumeIntegralInRange(0, 7) == 1) continue;  // left out
      const hsize_t rows = in.ConsumeIntegralInRange(0, 7) == 1 ? count + 1 : count;
      WriteForeign(in, file, group + column, std::string(column) == "ObjID" ? H5T_NATIVE_LLONG : PickNumeric(in), {rows});
    }
  } else {
    // {ObjID int64, ra double, dec <numeric>, z float, mags float[3], name char[4]}
    hid_t dec = PickNumeric(in);
    const size_t dec_size = H5Tget_size(dec);
    hid_t row = H5Tcreate(H5T_COMPOUND, 16 + dec_size + 4 + 12 + 4);
    H5Tinsert(row, "ObjID", 0, H5T_NATIVE_LLONG);
    H5Tinsert(row, in.ConsumeBool() ? "ra" : "RA", 8, H5T_NATIVE_DOUBLE);
    H5Tinsert(row, "dec", 16, dec);
    H5Tinsert(row, "z", 16 + dec_size, H5T_NATIVE_FLOAT);
    const hsize_t three = 3;
    hid_t mags = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &three);
    H5Tinsert(row, "mags", 20 + dec_size, mags);
    hid_t name = H5Tcopy(H5T_C_S1);
    H5Tset_size(name, 4);
    H5Tinsert(row, "name", 32 + dec_size, name);
    WriteForeign(in, file, group + "table", row, {in.ConsumeIntegralInRange(0, 7) == 1 ? count + 1 : count});
    H5Tclose(name);
    H5Tclose(mags);
    H5Tclose(row);
  }
  H5Fclose(file);
}

// The ingest of another pipeline's file: a refusal says why and leaves nothing; a file written
// opens with one galaxy per image and reads whole.
void CheckIngest(FuzzedDataProvider& in) {
  static const std::string source = TempPath("-foreign.h5"), out = TempPath("-ingested.h5");
  WriteForeignFile(in, source);
  galaxy::IngestOptions options;
  options.out = out;
  if (in.ConsumeIntegralInRange(0, 3) == 1) options.id_base = 1;
  if (in.ConsumeIntegralInRange(0, 3) == 1) {
    constexpr const char* kKeysToTry[] = {"data/masks", "catalog/table", "cube", "nothing"};
    options.images_key = kKeysToTry[in.ConsumeIntegralInRange<size_t>(0, 3)];
  }
  if (in.ConsumeBool()) options.bands = in.ConsumeBool() ? std::vector<std::string>{"g", "r", "i"} : std::vector<std::string>{"r"};
  const absl::StatusOr<galaxy::IngestReport> report = galaxy::IngestHdf5(source, options);
  if (!report.ok()) {
    if (report.status().message().empty() || std::filesystem::exists(out)) __builtin_trap();
    return;
  }
  absl::StatusOr<std::unique_ptr<galaxy::DatasetReader>> written = galaxy::DatasetReader::Open(out);
  if (!written.ok() || (*written)->count() != report->written || report->written < 1) __builtin_trap();
  galaxy::GalaxyBatch batch;
  if (!(*written)->Read(0, (*written)->count(), &batch).ok() || batch.ids.size() != static_cast<size_t>(report->written)) {
    __builtin_trap();
  }
  std::filesystem::remove(out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  FuzzedDataProvider in(data, size);
  // One input in two serves the ingest of another layout, the other the native reader.
  if (in.ConsumeBool()) {
    CheckIngest(in);
    return 0;
  }
  const std::string& path = FilePath();
  {
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) std::abort();
    const hsize_t count = static_cast<hsize_t>(in.ConsumeIntegralInRange(0, 6));
    for (const char* key : kKeys) WriteKey(in, file, key, count);
    for (int a = in.ConsumeIntegralInRange(0, 3); a > 0; --a) WriteAttribute(in, file);
    H5Fclose(file);
  }
  absl::StatusOr<std::unique_ptr<galaxy::DatasetReader>> reader = galaxy::DatasetReader::Open(path);
  if (!reader.ok()) {
    if (reader.status().message().empty()) __builtin_trap();  // every refusal says why
    return 0;
  }
  galaxy::DatasetReader& r = **reader;
  const galaxy::DatasetLayout& layout = r.layout();
  if (r.count() < 0 || !layout.Validate().ok()) __builtin_trap();
  galaxy::GalaxyBatch batch;
  for (bool images : {true, false}) {
    // A file Open accepted must read: only non-finite pixels may still be refused.
    const absl::Status read = r.Read(0, r.count(), &batch, images);
    if (!read.ok()) {
      if (!images || read.code() != absl::StatusCode::kInvalidArgument) __builtin_trap();
      continue;
    }
    const size_t n = static_cast<size_t>(r.count());
    if (batch.count != r.count() || batch.ids.size() != n || batch.ra.size() != n || batch.dec.size() != n ||
        batch.e_bv.size() != n || batch.redshift.size() != n ||
        batch.images.size() != (images ? n * static_cast<size_t>(layout.pixels_per_image()) : 0) ||
        batch.extra.size() != layout.extra_columns.size()) {
      __builtin_trap();
    }
    for (const auto& [name, values] : batch.extra) {
      if (values.size() != n) __builtin_trap();
    }
  }
  if (r.Read(r.count(), 1, &batch).code() != absl::StatusCode::kOutOfRange) __builtin_trap();
  for (const char* key : kKeys) {
    absl::StatusOr<std::vector<double>> column = r.ReadColumn(key);
    if (column.ok() ? column->size() != static_cast<size_t>(r.count())
                    : column.status().code() != absl::StatusCode::kNotFound) {
      __builtin_trap();
    }
  }
  absl::StatusOr<std::vector<int64_t>> ids = r.ReadIds();
  if (!ids.ok() || ids->size() != static_cast<size_t>(r.count())) __builtin_trap();
  return 0;
}
