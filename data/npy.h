// NumPy .npy files: reading (streamed, so that arrays larger than memory pass through) and
// writing. Supports little-endian numeric dtypes (<f4, <f8, <i1..<i8, <u1..<u8, |b1) and
// structured dtypes (record arrays) of them, C order.
#ifndef GALAXY_DATA_NPY_H_
#define GALAXY_DATA_NPY_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace galaxy {

// One scalar field type: kind 'f' (float), 'i' (signed), 'u' (unsigned), 'b' (bool); size in
// bytes.
struct NpyScalar {
  char kind = 'f';
  int size = 4;
  // Reads one value at `p` as double.
  double Read(const char* p) const;
};

// A field of a structured dtype, at `offset` within a record; `count` > 1 for sub-arrays such as
// ('mag', '<f4', (5,)).
struct NpyField {
  std::string name;
  NpyScalar type;
  int64_t offset = 0;
  int64_t count = 1;
};

struct NpyHeader {
  // For plain arrays: the element type; fields is empty.
  NpyScalar scalar;
  // For structured arrays: the fields, in order.
  std::vector<NpyField> fields;
  int64_t item_size = 0;  // bytes per element (per record for structured arrays)
  bool fortran_order = false;
  std::vector<int64_t> shape;

  int64_t count() const;  // product of shape (1 for a scalar)
};

// Parses the header dictionary text, e.g. "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".
// INVALID_ARGUMENT naming what is unsupported (big-endian, object or string dtypes, ...).
absl::StatusOr<NpyHeader> ParseNpyHeaderDict(const std::string& dict);

// A sequential byte source (a file, a zip entry): reads up to n bytes, returns how many (0 at
// the end), or an error.
using ByteSource = std::function<absl::StatusOr<int64_t>(char* buffer, int64_t n)>;

// Reads the magic, version and header of an .npy stream; afterwards the source is positioned at
// the data. `name` is used in errors.
absl::StatusOr<NpyHeader> ReadNpyHeader(const ByteSource& source, const std::string& name);

// Reads exactly n bytes (DATA_LOSS "truncated" otherwise).
absl::Status ReadExactly(const ByteSource& source, char* buffer, int64_t n, const std::string& name);

// A ByteSource over a file. The file stays open while the function object lives.
absl::StatusOr<ByteSource> FileByteSource(const std::string& path);

// Writes an .npy file (through a temporary file). descr such as "<f4", "<i8"; data holds
// product(shape) * item size bytes in C order.
absl::Status WriteNpy(const std::string& path, const std::string& descr,
                      const std::vector<int64_t>& shape, const void* data, int64_t bytes);

// Writes a large .npy file in pieces: the shape is known up front, the data is appended, and
// Commit renames the temporary file into place (an uncommitted writer removes it).
class NpyWriter {
 public:
  static absl::StatusOr<std::unique_ptr<NpyWriter>> Create(const std::string& path, const std::string& descr,
                                                           const std::vector<int64_t>& shape, int64_t item_size);
  ~NpyWriter();
  NpyWriter(const NpyWriter&) = delete;
  NpyWriter& operator=(const NpyWriter&) = delete;
  absl::Status Append(const void* data, int64_t bytes);
  // FAILED_PRECONDITION when fewer or more bytes than the shape needs were appended.
  absl::Status Commit();

 private:
  NpyWriter() = default;
  std::string path_, tmp_;
  FILE* file_ = nullptr;
  int64_t expected_ = 0, written_ = 0;
  bool committed_ = false;
};

}  // namespace galaxy

#endif  // GALAXY_DATA_NPY_H_
