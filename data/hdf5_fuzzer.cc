// libFuzzer target for the native HDF5 dataset reader (data/hdf5_dataset.h), structure-aware:
// the input bytes choose an HDF5 file's layout (which keys exist, as datasets, groups or
// dangling links; their rank, shape, element type, storage and values; the attributes), the file
// is written with the HDF5 library, and DatasetReader must then answer with a status or with
// batches of exactly the declared size: never crash, read out of bounds or return inconsistent
// columns. HDF5's own byte-level parser is not the target (it is a third-party library, not
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

namespace {

constexpr const char* kKeys[] = {"images", "ObjID", "ra", "dec", "e_bv", "specz_redshift", "petro_r", "flag"};

hid_t PickType(FuzzedDataProvider& in, bool* owned) {
  *owned = false;
  switch (in.ConsumeIntegralInRange(0, 11)) {
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
    default: {  // compound {int32 a; float b}
      hid_t t = H5Tcreate(H5T_COMPOUND, 8);
      H5Tinsert(t, "a", 0, H5T_NATIVE_INT32);
      H5Tinsert(t, "b", 4, H5T_NATIVE_FLOAT);
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
  hid_t dset = H5Dcreate2(file, key, type, space, H5P_DEFAULT, plist, H5P_DEFAULT);
  if (dset >= 0) {
    hsize_t points = 1;
    for (hsize_t d : dims) points *= d;
    std::vector<uint8_t> values = in.ConsumeBytes<uint8_t>(points * H5Tget_size(type));
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

const std::string& FilePath() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("galaxy-hdf5-fuzz-" + std::to_string(::getpid()) + ".h5")).string();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  FuzzedDataProvider in(data, size);
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
