// What every HDF5 file of data/ shares (the native dataset, data/hdf5_dataset.h, and exported
// tables, data/table_file.h): the process-wide lock, quiet errors with their reason, and owned
// handles. For the .cc files of data/ and data/ingest/.
#ifndef GALAXY_DATA_HDF5_UTIL_H_
#define GALAXY_DATA_HDF5_UTIL_H_

#include <hdf5.h>

#include <mutex>
#include <string>

#include "data/galaxy_batch.h"

namespace galaxy {

// Serial HDF5 is not thread-safe: every entry point that calls HDF5 holds this lock. Recursive,
// because a reader or writer destroyed on an error path inside a locked call closes its handles.
std::recursive_mutex& Hdf5Mutex();

// Silences HDF5's own error printing (once); our errors say what went wrong instead.
void QuietHdf5();

// The innermost message of HDF5's error stack, e.g. "truncated file: eof = 1024, ..."; clears it.
std::string Hdf5Reason();

// The little-endian file type of a column type.
hid_t Hdf5FileType(ColumnType type);

// Owns one hid_t and closes it with the matching function.
class Hid {
 public:
  Hid() = default;
  Hid(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Hid(const Hid&) = delete;
  Hid& operator=(const Hid&) = delete;
  Hid(Hid&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Hid& operator=(Hid&& o) noexcept {
    Reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  ~Hid() { Reset(); }
  void Reset() {
    if (id_ >= 0 && close_ != nullptr) close_(id_);
    id_ = -1;
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

}  // namespace galaxy

#endif  // GALAXY_DATA_HDF5_UTIL_H_
