// What the ingest tests share (data/ingest/ingest_test.cc, ingest_hdf5_test.cc,
// ingest_cutouts_test.cc, ingest_frames_test.cc): the fixture, a cube of values that say where they came from, and the
// FITS writers more than one of them uses.
#ifndef GALAXY_DATA_INGEST_INGEST_TEST_UTIL_H_
#define GALAXY_DATA_INGEST_INGEST_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/hdf5_dataset.h"
#include "tests/temp_dir.h"

namespace galaxy::ingest_test {

constexpr int kN = 6, kSide = 16, kBands = 5;
constexpr int64_t kBaseId = 1237648720693755918LL;  // needs all 64 bits

// The value of pixel (y, x) of band `band` of galaxy `row`: every pixel says where it belongs.
inline float CubeValue(int row, int band, int y, int x) { return row * 1000.0f + band * 100.0f + y * 16 + x; }

class IngestTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.File(name); }

  std::unique_ptr<DatasetReader> Read(const std::string& path) {
    auto reader = DatasetReader::Open(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    return reader.ok() ? std::move(*reader) : nullptr;
  }

  testutil::ScopedTempDir dir_;
};

// A FITS stack of kN cutouts plus its catalog table; returns the pixels written (ingest_test.cc).
std::vector<float> WriteStack(const std::string& path);

// Overwrites the value field of the `occurrence`-th (0-based) header card `key` of the FITS file
// at `path` with `value`, right-justified; returns the card's offset (npos, with a test failure,
// when there is no such card) (ingest_test.cc).
size_t PatchCard(const std::string& path, const std::string& key, int occurrence, const std::string& value);

// One galaxy's cutout as a cutout service returns it: W x H x C with a TAN WCS centred on
// (ra, dec), the band axis described too (ingest_cutouts_test.cc).
void WriteCutout(const std::string& path, int row, double ra, double dec, int bands = kBands, int side = kSide,
                 bool wcs = true);

}  // namespace galaxy::ingest_test

#endif  // GALAXY_DATA_INGEST_INGEST_TEST_UTIL_H_
