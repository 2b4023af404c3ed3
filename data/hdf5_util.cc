#include "data/hdf5_util.h"

namespace galaxy {

std::recursive_mutex& Hdf5Mutex() {
  static std::recursive_mutex* mutex = new std::recursive_mutex;
  return *mutex;
}

void QuietHdf5() {
  static const bool done = [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)done;
}

std::string Hdf5Reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        if (n == 0 && err->desc != nullptr) *static_cast<std::string*>(data) = err->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason;
}

hid_t Hdf5FileType(ColumnType type) {
  switch (type) {
    case ColumnType::kFloat32: return H5T_IEEE_F32LE;
    case ColumnType::kFloat64: return H5T_IEEE_F64LE;
    case ColumnType::kInt32: return H5T_STD_I32LE;
    case ColumnType::kInt64: return H5T_STD_I64LE;
    case ColumnType::kUInt8: return H5T_STD_U8LE;
  }
  return H5T_IEEE_F32LE;
}

}  // namespace galaxy
