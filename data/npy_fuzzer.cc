// libFuzzer target: arbitrary bytes as an .npy stream (the reader behind `galaxy-data ingest`
// npz members and `galaxy-client --image x.npy`). The header parser must return a status for
// anything (never crash, hang or read out of bounds), and an accepted header must describe a
// consistent array.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "data/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t at = 0;
  galaxy::ByteSource source = [&](char* buffer, int64_t n) -> absl::StatusOr<int64_t> {
    const size_t take = std::min(size - at, static_cast<size_t>(n));
    std::memcpy(buffer, data + at, take);
    at += take;
    return static_cast<int64_t>(take);
  };
  absl::StatusOr<galaxy::NpyHeader> header = galaxy::ReadNpyHeader(source, "fuzz.npy");
  if (!header.ok()) return 0;
  if (header->item_size <= 0) __builtin_trap();
  int64_t count = 1;
  for (int64_t d : header->shape) {
    if (d < 0) __builtin_trap();
    count = d == 0 ? 0 : (count > (int64_t{1} << 40) / d ? (int64_t{1} << 40) : count * d);
  }
  // Read (a bounded part of) the data as a reader would.
  const int64_t bytes = std::min<int64_t>(count * header->item_size, 1 << 16);
  std::vector<char> buffer(static_cast<size_t>(bytes));
  if (galaxy::ReadExactly(source, buffer.data(), bytes, "fuzz.npy").ok() && header->fields.empty() && bytes > 0) {
    (void)header->scalar.Read(buffer.data());
  }
  return 0;
}
