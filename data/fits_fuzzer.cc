// libFuzzer target for the FITS readers behind `galaxy-data ingest` (data/ingest/ingest.h):
// arbitrary bytes as a .fits file (headers of 80-character cards in 2880-byte blocks, a 4-D image
// HDU, a binary table), ingested as a cutout stack (IngestFitsCube) and as one single-galaxy
// cutout (IngestFitsCutouts: ReadFitsCutout, which the client's uploads share, and the WCS). Each
// ingest must return a status for anything (never crash, read out of bounds or allocate what the
// file does not hold), and one that succeeds must leave a dataset that reads back with exactly
// the cutouts it reported.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include "data/hdf5_dataset.h"
#include "data/ingest/ingest.h"

namespace {

std::string TempPath(const char* suffix) {
  return (std::filesystem::temp_directory_path() /
          ("galaxy-fits-fuzz-" + std::to_string(::getpid()) + suffix))
      .string();
}

void Check(const absl::StatusOr<galaxy::IngestReport>& report, const std::string& out_path) {
  if (!report.ok()) {
    if (report.status().message().empty()) __builtin_trap();  // every refusal says why
    if (std::filesystem::exists(out_path)) __builtin_trap();  // nothing half-written
    return;
  }
  absl::StatusOr<std::unique_ptr<galaxy::DatasetReader>> reader = galaxy::DatasetReader::Open(out_path);
  if (!reader.ok() || (*reader)->count() != report->written) __builtin_trap();
  galaxy::GalaxyBatch batch;
  (*reader)->set_check_finite(false);  // blank (NaN) pixels are the user's business here
  if (!(*reader)->Read(0, (*reader)->count(), &batch).ok()) __builtin_trap();
  std::filesystem::remove(out_path);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string in_path = TempPath(".fits"), out_path = TempPath(".h5");
  {
    std::FILE* f = std::fopen(in_path.c_str(), "wb");
    if (f == nullptr || std::fwrite(data, 1, size, f) != size) __builtin_trap();
    std::fclose(f);
  }
  std::filesystem::remove(out_path);
  galaxy::IngestOptions options;
  options.out = out_path;
  options.id_base = 1000;  // tables without an ID column, and names without digits, still ingest
  Check(galaxy::IngestFitsCube(in_path, options), out_path);
  options.bands = {"r"};  // a 2-D image is one band's cutout
  Check(galaxy::IngestFitsCutouts({in_path}, "", options), out_path);
  options.bands = {"u", "g", "r", "i", "z"};
  Check(galaxy::IngestFitsCutouts({in_path}, "", options), out_path);
  return 0;
}
