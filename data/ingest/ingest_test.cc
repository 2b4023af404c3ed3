// Ingest of the formats users bring: inputs are built here with the same libraries a survey
// uses (libzip + .npy for the npz, cfitsio with a real TAN WCS header for FITS), and the tests
// check that every value lands where asked. HDF5 in other layouts: ingest_hdf5_test.cc;
// single-galaxy cutouts: ingest_cutouts_test.cc; SDSS frames: ingest_frames_test.cc.
#include "data/ingest/ingest.h"

#include <fitsio.h>
#include <gtest/gtest.h>
#include <zip.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest_catalog.h"
#include "data/ingest/ingest_test_util.h"
#include "data/npy.h"

namespace galaxy::ingest_test {
namespace {

namespace fs = std::filesystem;

// ---- npz --------------------------------------------------------------------------------------

// Writes cube.npy (N x H x W x C) and labels.npy (record array) and zips them.
void WriteNpz(const std::string& path, bool with_nan, bool with_labels, bool duplicate_id) {
  std::vector<float> cube(static_cast<size_t>(kN) * kSide * kSide * kBands);
  for (int n = 0; n < kN; ++n)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x)
        for (int b = 0; b < kBands; ++b)
          cube[((static_cast<size_t>(n) * kSide + y) * kSide + x) * kBands + b] = CubeValue(n, b, y, x);
  if (with_nan) cube[3 * kSide * kSide * kBands + 7] = std::nanf("");
  const std::string dir = fs::path(path).parent_path().string();
  ASSERT_TRUE(WriteNpy(dir + "/cube.npy", "<f4", {kN, kSide, kSide, kBands}, cube.data(),
                       static_cast<int64_t>(cube.size() * 4)).ok());
  // Record: objID <i8, ra <f8, dec <f8, z <f4, ebv <f4, mags <f4 (5,)
  const int record = 8 + 8 + 8 + 4 + 4 + 20;
  std::string labels(static_cast<size_t>(kN * record), '\0');
  for (int n = 0; n < kN; ++n) {
    char* p = labels.data() + n * record;
    int64_t id = kBaseId + (duplicate_id && n == 4 ? 1 : n);
    double ra = 150.0 + n, dec = 2.0 - n;
    float z = 0.05f * (n + 1), ebv = 0.01f * n;
    std::memcpy(p, &id, 8);
    std::memcpy(p + 8, &ra, 8);
    std::memcpy(p + 16, &dec, 8);
    std::memcpy(p + 24, &z, 4);
    std::memcpy(p + 28, &ebv, 4);
    for (int b = 0; b < 5; ++b) {
      float mag = 17.0f + b + n * 0.1f;
      std::memcpy(p + 32 + 4 * b, &mag, 4);
    }
  }
  // WriteNpy takes a plain descr; write the structured header by hand.
  std::string dict = "{'descr': [('objID', '<i8'), ('ra', '<f8'), ('dec', '<f8'), ('z', '<f4'), "
                     "('ebv', '<f4'), ('mags', '<f4', (5,))], 'fortran_order': False, 'shape': (" +
                     std::to_string(kN) + ",), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict.push_back(' ');
  dict.push_back('\n');
  std::string npy = std::string("\x93NUMPY\x01\x00", 8);
  npy.push_back(static_cast<char>(dict.size() & 0xFF));
  npy.push_back(static_cast<char>(dict.size() >> 8));
  npy += dict + labels;
  std::ofstream(dir + "/labels.npy", std::ios::binary) << npy;

  int error = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  ASSERT_NE(z, nullptr);
  zip_file_add(z, "cube.npy", zip_source_file(z, (dir + "/cube.npy").c_str(), 0, -1), 0);
  if (with_labels) {
    zip_file_add(z, "labels.npy", zip_source_file(z, (dir + "/labels.npy").c_str(), 0, -1), 0);
  }
  ASSERT_EQ(zip_close(z), 0);
}

TEST_F(IngestTest, NpzCubeIsTransposedAndLabelsMapToTheNativeColumns) {
  WriteNpz(Path("sdss.npz"), false, true, false);
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestNpz(Path("sdss.npz"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN);
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->layout().height, kSide);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  for (int n = 0; n < kN; ++n) {
    EXPECT_EQ(batch.ids[n], kBaseId + n);  // exact 64-bit IDs
    EXPECT_DOUBLE_EQ(batch.ra[n], 150.0 + n);
    EXPECT_FLOAT_EQ(batch.redshift[n], 0.05f * (n + 1));
    EXPECT_FLOAT_EQ(batch.e_bv[n], 0.01f * n);
    EXPECT_FLOAT_EQ(static_cast<float>(batch.extra["mags_2"][n]), 19.0f + n * 0.1f);
    for (int b : {0, 4}) {
      const size_t at = ((static_cast<size_t>(n) * kBands + b) * kSide + 5) * kSide + 9;
      EXPECT_EQ(batch.images[at], CubeValue(n, b, 5, 9)) << "row " << n << " band " << b;
    }
  }
}

// Galaxy 3 has a NaN pixel (band r, row 0, column 1): by default it is left out and listed; with
// zero it is kept with that pixel at 0 and counted; with fail the ingest stops naming it. A run
// that stops, or leaves every galaxy out, writes nothing.
TEST_F(IngestTest, GalaxiesWithNanPixelsAreLeftOutZeroedOrRefused) {
  WriteNpz(Path("sdss.npz"), true, true, false);
  IngestOptions options;
  options.out = Path("skip.h5");
  absl::StatusOr<IngestReport> report = IngestNpz(Path("sdss.npz"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN - 1);
  const std::string listed = absl::StrCat("ObjID ", kBaseId + 3, ": 1 NaN/Inf pixel(s), the first in band r at row 0, column 1");
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_EQ(report->skipped[0], listed);
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "1 galaxies with NaN/Inf pixels left out"))
      << absl::StrJoin(report->notes, "\n");
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN - 1, &batch).ok());
  EXPECT_EQ(batch.ids, (std::vector<int64_t>{kBaseId, kBaseId + 1, kBaseId + 2, kBaseId + 4, kBaseId + 5}));
  const size_t image = static_cast<size_t>(kBands) * kSide * kSide;
  EXPECT_EQ(batch.images[3 * image + 9], CubeValue(4, 0, 0, 9));  // the rows after it move up whole
  EXPECT_FLOAT_EQ(batch.e_bv[3], 0.04f);

  options.out = Path("zero.h5");
  options.non_finite = NonFinite::kZero;
  report = IngestNpz(Path("sdss.npz"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN);
  EXPECT_TRUE(report->skipped.empty());
  reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  EXPECT_EQ(batch.images[3 * image + (2 * kSide + 0) * kSide + 1], 0.0f);
  EXPECT_EQ(batch.images[3 * image + (2 * kSide + 0) * kSide + 2], CubeValue(3, 2, 0, 2));
  EXPECT_EQ(batch.extra.at("non_finite_pixels"), (std::vector<double>{0, 0, 0, 1, 0, 0}));

  options.out = Path("fail.h5");
  options.non_finite = NonFinite::kFail;
  report = IngestNpz(Path("sdss.npz"), options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(), listed)) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(), "--non-finite skip")) << report.status();
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(absl::StrContains(entry.path().filename().string(), "fail.h5")) << entry.path();
  }

  // One cutout, its every pixel NaN-free but one: nothing is left to write.
  WriteCutout(Path("5.fits"), 0, 10, 0);
  int status = 0;
  fitsfile* f = nullptr;
  fits_open_file(&f, Path("5.fits").c_str(), READWRITE, &status);
  float nan = std::nanf("");
  fits_write_img(f, TFLOAT, 100, 1, &nan, &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
  options.out = Path("none.h5");
  options.non_finite = NonFinite::kSkip;
  report = IngestFitsCutouts({Path("5.fits")}, "", options);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "no galaxy left to write: every one of 1 has NaN/Inf pixels"))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

TEST_F(IngestTest, NpzMissingLabelsNamesTheKey) {
  WriteNpz(Path("sdss.npz"), false, false, false);
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestNpz(Path("sdss.npz"), options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "missing key 'labels'")) << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

TEST_F(IngestTest, NpzDuplicateIdsAreRefused) {
  WriteNpz(Path("sdss.npz"), false, true, true);
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestNpz(Path("sdss.npz"), options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "appears more than once")) << report.status();
}

// The duplicate named is the first row whose ID an earlier row has, whatever the IDs' order;
// IDs at the ends of int64's range sort as any others.
TEST(CheckUniqueIdsTest, NamesTheFirstRowThatRepeatsAnEarlierId) {
  struct Case {
    std::vector<int64_t> ids;
    std::string expected;  // "" when every ID is unique
  };
  const Case cases[] = {
      {{5, 3, 7, 3, 5, 3}, "ID 3 appears more than once (row 3)"},
      {{9, 1, 2, 9, 1, 1}, "ID 9 appears more than once (row 3)"},
      {{INT64_MAX, 0, INT64_MIN, INT64_MAX}, "ID 9223372036854775807 appears more than once (row 3)"},
      {{INT64_MIN, INT64_MAX, -1, 0, 1}, ""},
      {{42}, ""},
  };
  for (const Case& c : cases) {
    InputCatalog catalog;
    catalog.rows = static_cast<int64_t>(c.ids.size());
    catalog.integers["objid"] = c.ids;
    for (int64_t id : c.ids) catalog.values["objid"].push_back(static_cast<double>(id));
    CatalogPlan plan;
    plan.id = "objid";
    const absl::Status s = CheckUniqueIds(catalog, plan, IngestOptions(), "ids.h5");
    if (c.expected.empty()) {
      EXPECT_TRUE(s.ok()) << s;
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(s.message(), c.expected)) << s;
    }
  }
}

TEST_F(IngestTest, NotAnArchiveIsAClearError) {
  std::ofstream(Path("bad.npz")) << "nope";
  IngestOptions options;
  options.out = Path("out.h5");
  EXPECT_TRUE(absl::StrContains(IngestNpz(Path("bad.npz"), options).status().message(),
                                "not a readable .npz archive"));
}

// ---- FITS cutout stack ------------------------------------------------------------------------

}  // namespace

// A stack of kN cutouts plus its catalog table; returns the pixels written.
std::vector<float> WriteStack(const std::string& path) {
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, path.c_str(), &status);
  long naxes[4] = {kSide, kSide, kBands, kN};  // W, H, C, N
  fits_create_img(f, FLOAT_IMG, 4, naxes, &status);
  std::vector<float> pixels(static_cast<size_t>(kN) * kBands * kSide * kSide);
  for (int n = 0; n < kN; ++n)
    for (int b = 0; b < kBands; ++b)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x)
          pixels[((static_cast<size_t>(n) * kBands + b) * kSide + y) * kSide + x] = CubeValue(n, b, y, x);
  fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(pixels.size()), pixels.data(), &status);
  const char* names[] = {"ObjID", "RA", "DEC", "Z"};
  const char* forms[] = {"K", "D", "D", "E"};
  fits_create_tbl(f, BINARY_TBL, kN, 4, const_cast<char**>(names), const_cast<char**>(forms), nullptr,
                  "CATALOG", &status);
  for (int n = 0; n < kN; ++n) {
    LONGLONG id = kBaseId + n;
    double ra = 10.0 + n, dec = -5.0;
    float z = 0.1f + 0.01f * n;
    fits_write_col(f, TLONGLONG, 1, n + 1, 1, 1, &id, &status);
    fits_write_col(f, TDOUBLE, 2, n + 1, 1, 1, &ra, &status);
    fits_write_col(f, TDOUBLE, 3, n + 1, 1, 1, &dec, &status);
    fits_write_col(f, TFLOAT, 4, n + 1, 1, 1, &z, &status);
  }
  fits_close_file(f, &status);
  EXPECT_EQ(status, 0);
  return pixels;
}

size_t PatchCard(const std::string& path, const std::string& key, int occurrence, const std::string& value) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::string card = key;
  card.resize(8, ' ');
  card += "= ";
  size_t at = 0;
  for (int i = 0; i <= occurrence; ++i) {
    at = bytes.find(card, i == 0 ? 0 : at + 80);
    if (at == std::string::npos) {
      ADD_FAILURE() << path << ": no card " << key << " #" << occurrence;
      return at;
    }
    if (at % 80 != 0) {
      ADD_FAILURE() << path << ": " << key << " #" << occurrence << " at offset " << at << " does not start a card";
      return std::string::npos;
    }
  }
  std::string field(20, ' ');
  field.replace(20 - value.size(), value.size(), value);
  file.seekp(static_cast<std::streamoff>(at + 10));
  file.write(field.data(), 20);
  return at;
}

namespace {

// The bytes of a good stack, written to `path`.
std::string StackBytes(const std::string& path) {
  WriteStack(path);
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Writes `bytes` to `path` and ingests it as a stack into `out`: nothing may be written there
// unless it ingests; returns the ingest's status.
absl::Status IngestBytes(const std::string& path, const std::string& bytes, const std::string& out) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  IngestOptions options;
  options.out = out;
  const absl::Status status = IngestFitsCube(path, options).status();
  if (!status.ok()) {
    EXPECT_FALSE(fs::exists(out)) << status;
  }
  return status;
}

TEST_F(IngestTest, FitsCutoutStackWithTableRoundTrips) {
  const std::string path = Path("stack.fits");
  const std::vector<float> pixels = WriteStack(path);
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCube(path, options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto reader = Read(options.out);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  EXPECT_EQ(batch.images, pixels);
  EXPECT_EQ(batch.ids[5], kBaseId + 5);
  EXPECT_DOUBLE_EQ(batch.ra[2], 12.0);
  EXPECT_FLOAT_EQ(batch.redshift[3], 0.13f);
}

// The stack's table is read a window of rows at a time: 64-bit IDs, a vector column's elements
// and the cutouts come out the same for every window, and a vector column longer than 64 values
// (a spectrum) is left out with a note.
TEST_F(IngestTest, FitsStackTableIsReadAWindowOfRowsAtATime) {
  constexpr int kRows = 20, kPixels = 4;
  const std::string path = Path("windows.fits");
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, path.c_str(), &status);
  long naxes[4] = {kPixels, kPixels, kBands, kRows};
  fits_create_img(f, FLOAT_IMG, 4, naxes, &status);
  std::vector<float> pixels(static_cast<size_t>(kRows) * kBands * kPixels * kPixels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(i);
  fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(pixels.size()), pixels.data(), &status);
  const char* names[] = {"ObjID", "RA", "DEC", "MAG", "SPEC"};
  const char* forms[] = {"K", "D", "D", "5E", "65E"};
  fits_create_tbl(f, BINARY_TBL, kRows, 5, const_cast<char**>(names), const_cast<char**>(forms), nullptr, "CATALOG",
                  &status);
  for (int n = 0; n < kRows; ++n) {
    LONGLONG id = kBaseId + n;
    double ra = 30.0 + n, dec = -n;
    float mags[5] = {18.0f + n, 17.0f + n, 16.5f + n, 16.0f + n, 15.5f + n}, spec[65] = {0};
    fits_write_col(f, TLONGLONG, 1, n + 1, 1, 1, &id, &status);
    fits_write_col(f, TDOUBLE, 2, n + 1, 1, 1, &ra, &status);
    fits_write_col(f, TDOUBLE, 3, n + 1, 1, 1, &dec, &status);
    fits_write_col(f, TFLOAT, 4, n + 1, 1, 5, mags, &status);
    fits_write_col(f, TFLOAT, 5, n + 1, 1, 65, spec, &status);
  }
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);

  for (int64_t window : {int64_t{1}, int64_t{7}, int64_t{kRows}, int64_t{1} << 16}) {
    SCOPED_TRACE(window);
    IngestOptions options;
    options.out = Path(absl::StrCat("windows-", window, ".h5"));
    options.catalog_window_rows = window;
    absl::StatusOr<IngestReport> report = IngestFitsCube(path, options);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "'SPEC' (65 values per galaxy)"))
        << absl::StrJoin(report->notes, "\n");
    auto reader = Read(options.out);
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->layout().extra_columns.size(), 5u) << "MAG_0..MAG_4";
    GalaxyBatch batch;
    ASSERT_TRUE(reader->Read(0, kRows, &batch).ok());
    EXPECT_EQ(batch.images, pixels);
    for (int n = 0; n < kRows; ++n) {
      EXPECT_EQ(batch.ids[n], kBaseId + n);
      EXPECT_DOUBLE_EQ(batch.ra[n], 30.0 + n);
      EXPECT_DOUBLE_EQ(batch.dec[n], -n);
      EXPECT_DOUBLE_EQ(batch.extra["MAG_0"][n], 18.0 + n);
      EXPECT_DOUBLE_EQ(batch.extra["MAG_4"][n], 15.5 + n);
    }
  }
}

// The ingest reads HDUs only up to the stack and its table: bytes after them that are no HDU
// (a file cut from a larger one, a later extension gone bad) are never parsed.
TEST_F(IngestTest, FitsStackFollowedByBytesThatAreNoHduIngests) {
  const std::string path = Path("trailing.fits");
  const std::vector<float> pixels = WriteStack(path);
  std::ofstream(path, std::ios::binary | std::ios::app) << std::string(2880, 'X');
  IngestOptions options;
  options.out = Path("trailing.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCube(path, options);
  ASSERT_TRUE(report.ok()) << report.status();
  GalaxyBatch batch;
  ASSERT_TRUE(Read(options.out)->Read(0, kN, &batch).ok());
  EXPECT_EQ(batch.images, pixels);
  EXPECT_EQ(batch.ids[kN - 1], kBaseId + kN - 1);
}

// Headers that declare more than the file holds must be refused before anything is sized from
// them (a table claiming 10^15 rows aborted the ingest with std::bad_alloc; found with
// data/fits_fuzzer.cc), and nothing may be written.
TEST_F(IngestTest, FitsHeadersDeclaringMoreThanTheFileHoldsAreRefused) {
  struct Case {
    std::string name, key;
    int occurrence;  // 0: the cutout HDU's card, 1: the table's
    std::string value, expected;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"rows", "NAXIS2", 1, "1000000000000000", "table of 1000000000000000 rows", absl::StatusCode::kInvalidArgument},
      {"rows-truncated", "NAXIS2", 1, "100000", "truncated?", absl::StatusCode::kDataLoss},
      {"cutouts", "NAXIS4", 0, "1000000000000", "1000000000000 cutouts", absl::StatusCode::kInvalidArgument},
      {"cutouts-truncated", "NAXIS4", 0, "11", "truncated?", absl::StatusCode::kDataLoss},
      {"cutouts-overflow", "NAXIS4", 0, "4611686018427387904", "out of range", absl::StatusCode::kInvalidArgument},
      {"width", "NAXIS1", 0, "4294967300", "declares an image of 4294967300 x",
       absl::StatusCode::kInvalidArgument},
      // cfitsio fills a 160-byte descriptor per declared column while parsing the header (17.6 GB
      // for 110,000,000, from an 8 KiB file; data/fits_fuzzer.cc): refused before it parses.
      {"columns", "TFIELDS", 0, "1000", "HDU 2 header: TFIELDS = 1000 at offset", absl::StatusCode::kInvalidArgument},
      // A table's NAXIS2 that is no integer made cfitsio allocate descriptors for a column count it
      // had not read (9 x 10^13; data/fits_fuzzer.cc).
      {"rows-not-integer", "NAXIS2", 1, "mem://    2", "HDU 2 header: NAXIS2 at offset",
       absl::StatusCode::kInvalidArgument},
      // So did a table's NAXIS1 of -32, or a card out of the standard's order (below).
      {"row-width-negative", "NAXIS1", 1, "-32", "HDU 2 header: NAXIS1 = -32 at offset",
       absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Path(c.name + ".fits");
    WriteStack(path);
    PatchCard(path, c.key, c.occurrence, c.value);
    IngestOptions options;
    options.out = Path(c.name + ".h5");
    absl::StatusOr<IngestReport> report = IngestFitsCube(path, options);
    EXPECT_EQ(report.status().code(), c.code) << report.status();
    EXPECT_TRUE(absl::StrContains(report.status().message(), c.expected)) << report.status();
    EXPECT_FALSE(fs::exists(options.out));
  }
  // A file cut short inside the table's data.
  const std::string path = Path("short.fits");
  WriteStack(path);
  fs::resize_file(path, fs::file_size(path) - 2880);
  IngestOptions options;
  options.out = Path("short.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCube(path, options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(), "truncated?")) << report.status();
  EXPECT_FALSE(fs::exists(options.out));
  // The table's NAXIS2 without its value indicator: cfitsio read some later value as NAXIS2
  // and went the same way as a value that is no integer (data/fits_fuzzer.cc).
  std::string bytes = StackBytes(Path("bare.fits"));
  const size_t card = bytes.find("NAXIS2  = ", bytes.find("XTENSION"));
  ASSERT_NE(card, std::string::npos);
  bytes[card + 8] = ' ';
  absl::Status refused = IngestBytes(Path("bare.fits"), bytes, Path("bare.h5"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), absl::StrCat("HDU 2 header: NAXIS2 at offset ", card, " has no value")))
      << refused;
  // The table's GCOUNT card renamed: the seventh card is then not the one a table must have.
  bytes[card + 8] = '=';
  const size_t gcount = bytes.find("GCOUNT  = ", bytes.find("XTENSION"));
  ASSERT_NE(gcount, std::string::npos);
  bytes.replace(gcount, 8, "EXTVER  ");
  refused = IngestBytes(Path("order.fits"), bytes, Path("order.h5"));
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_TRUE(absl::StrContains(refused.message(), absl::StrCat("HDU 2 header: card 7 at offset ", gcount,
                                                                " is 'EXTVER' where a table has GCOUNT")))
      << refused;
}

// Writes a good stack to `path`, fills the value field (columns 11-80) of its TTYPE2 card with
// `fill`, and ingests it into `out`: nothing may be written there; returns the error and the
// card's offset.
absl::Status IngestWithTtype2ValueFilled(const std::string& path, const std::string& out, char fill, size_t* card) {
  std::string bytes = StackBytes(path);
  *card = bytes.find("TTYPE2  = ");
  EXPECT_NE(*card, std::string::npos);
  if (*card == std::string::npos) return absl::InternalError("no TTYPE2 card");
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(*card + 10), bytes.begin() + static_cast<std::ptrdiff_t>(*card + 80),
            fill);
  return IngestBytes(path, bytes, out);
}

// A header byte outside printable ASCII made cfitsio overflow a fixed-size field and abort the
// process (data/fits_fuzzer.cc, in CI): such headers are refused before cfitsio parses them.
TEST_F(IngestTest, FitsHeaderBytesThatAreNotPrintableAsciiAreRefused) {
  size_t card = 0;
  const absl::Status status = IngestWithTtype2ValueFilled(Path("bytes.fits"), Path("bytes.h5"), '\xde', &card);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), absl::StrCat("header holds byte 0xde at offset ", card + 10)))
      << status;
}

// An unquoted 70-character column name (TTYPE2 = [[[...) made cfitsio overflow the column's
// 70-byte name field and abort (data/fits_fuzzer.cc, in CI): refused before cfitsio reads it.
TEST_F(IngestTest, FitsColumnNameThatIsNotQuotedIsRefused) {
  size_t card = 0;
  const absl::Status status = IngestWithTtype2ValueFilled(Path("unquoted.fits"), Path("unquoted.h5"), '[', &card);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(),
                                absl::StrCat("TTYPE2 at offset ", card, " has a value that is not a quoted string")))
      << status;
}

TEST(NpyTest, HeaderParsing) {
  auto h = ParseNpyHeaderDict("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(h->item_size, 4);
  EXPECT_EQ(h->count(), 12);
  EXPECT_FALSE(ParseNpyHeaderDict("{'descr': '>f8', 'fortran_order': False, 'shape': (3,), }").ok());
  EXPECT_FALSE(ParseNpyHeaderDict("{'descr': '|O', 'fortran_order': False, 'shape': (3,), }").ok());
  // Found by data/npy_fuzzer.cc: a record of 0 bytes, and sizes that would overflow.
  EXPECT_FALSE(ParseNpyHeaderDict("{'descr': [('oljid', '<f4', (0,))], 'fortran_order': False, 'shape': (0,), }")
                   .ok());
  EXPECT_FALSE(ParseNpyHeaderDict("{'descr': [], 'fortran_order': False, 'shape': (3,), }").ok());
  EXPECT_FALSE(
      ParseNpyHeaderDict("{'descr': [('a', '<f8', (1048576, 1048576))], 'fortran_order': False, 'shape': (1,), }")
          .ok());
  EXPECT_FALSE(
      ParseNpyHeaderDict("{'descr': '<f4', 'fortran_order': False, 'shape': (16777216, 16777216, 16777216), }").ok());
  auto s = ParseNpyHeaderDict("{'descr': [('a', '<i8'), ('b', '<f4', (3,))], 'fortran_order': False, 'shape': (2,), }");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->fields.size(), 2u);
  EXPECT_EQ(s->fields[1].offset, 8);
  EXPECT_EQ(s->fields[1].count, 3);
  EXPECT_EQ(s->item_size, 20);
}

}  // namespace
}  // namespace galaxy::ingest_test
