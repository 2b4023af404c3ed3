// Ingest of other pipelines' HDF5 files (IngestHdf5), written here with HDF5's C API, and the
// native reader's refusal of them.
#include "data/ingest/ingest.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest_test_util.h"

namespace galaxy::ingest_test {
namespace {

namespace fs = std::filesystem;

// ---- HDF5 in another layout ------------------------------------------------------------------

// Writes a dataset of `type` (memory type `mem`) with `dims` under `name` (groups made on the way).
void WriteH5(hid_t file, const std::string& name, hid_t type, hid_t mem, const std::vector<hsize_t>& dims,
             const void* data) {
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  hid_t dset = H5Dcreate2(file, name.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(dset, 0) << name;
  ASSERT_GE(H5Dwrite(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0) << name;
  H5Dclose(dset);
  H5Sclose(space);
  H5Pclose(lcpl);
}

// A pipeline's file: uint16 counts N x H x W x C at the root, columns under names of its own,
// one of them 64-bit IDs, and a dataset that is not a column (the bands' wavelengths).
void WriteChannelsLastH5(const std::string& path, bool with_ids = true) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<uint16_t> cube(static_cast<size_t>(kN) * kSide * kSide * kBands);
  for (int n = 0; n < kN; ++n)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x)
        for (int b = 0; b < kBands; ++b)
          cube[((static_cast<size_t>(n) * kSide + y) * kSide + x) * kBands + b] = static_cast<uint16_t>(CubeValue(n, b, y, x));
  WriteH5(file, "cutouts", H5T_STD_U16LE, H5T_NATIVE_UINT16, {kN, kSide, kSide, kBands}, cube.data());
  std::vector<int64_t> ids;
  std::vector<double> ra, dec;
  std::vector<float> z;
  for (int n = 0; n < kN; ++n) {
    ids.push_back(kBaseId + n);
    ra.push_back(150.0 + n);
    dec.push_back(2.0 - n);
    z.push_back(0.05f * (n + 1));
  }
  if (with_ids) WriteH5(file, "objid", H5T_STD_I64LE, H5T_NATIVE_INT64, {kN}, ids.data());
  WriteH5(file, "RA", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kN}, ra.data());
  WriteH5(file, "Dec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kN}, dec.data());
  WriteH5(file, "z_spec", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kN}, z.data());
  const double wavelengths[kBands] = {3551, 4686, 6165, 7481, 8931};
  WriteH5(file, "meta/wavelengths", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kBands}, wavelengths);
  H5Fclose(file);
}

TEST_F(IngestTest, Hdf5ChannelsLastIntegerImagesAndNamedColumnsBecomeTheNativeLayout) {
  WriteChannelsLastH5(Path("pipeline.h5"));
  IngestOptions options;
  options.out = Path("out.h5");
  options.renames = {{"z_spec", "specz_redshift"}};
  absl::StatusOr<IngestReport> report = IngestHdf5(Path("pipeline.h5"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN);
  const std::string notes = absl::StrJoin(report->notes, "\n");
  EXPECT_TRUE(absl::StrContains(notes, "'cutouts' read as N x H x W x C")) << notes;
  EXPECT_TRUE(absl::StrContains(notes, "'meta/wavelengths' (5 rows)")) << notes;
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->layout().bands, kBands);
  EXPECT_EQ(reader->layout().height, kSide);
  EXPECT_TRUE(reader->layout().extra_columns.empty()) << "every column maps to a native one";
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  for (int n = 0; n < kN; ++n) {
    EXPECT_EQ(batch.ids[n], kBaseId + n);  // exact 64-bit IDs
    EXPECT_DOUBLE_EQ(batch.ra[n], 150.0 + n);
    EXPECT_DOUBLE_EQ(batch.dec[n], 2.0 - n);
    EXPECT_FLOAT_EQ(batch.redshift[n], 0.05f * (n + 1));
    for (int b : {0, 3}) {
      const size_t at = ((static_cast<size_t>(n) * kBands + b) * kSide + 5) * kSide + 9;
      EXPECT_EQ(batch.images[at], static_cast<float>(static_cast<uint16_t>(CubeValue(n, b, 5, 9))))
          << "row " << n << " band " << b;
    }
  }
}

TEST_F(IngestTest, Hdf5NativeReaderNamesAChannelsLastFileAndTheCommandThatConvertsIt) {
  // The same layout under our own key names: the reader must not take 64 "bands" of 64 x 5.
  const std::string path = Path("nhwc.h5");
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> cube(static_cast<size_t>(kN) * kSide * kSide * kBands, 1.0f);
  WriteH5(file, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kN, kSide, kSide, kBands}, cube.data());
  H5Fclose(file);
  auto reader = DatasetReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "N x H x W x C")) << reader.status();
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "galaxy-data ingest")) << reader.status();

  IngestOptions options;
  options.out = Path("out.h5");
  options.id_base = 100;
  options.renames = {};
  absl::StatusOr<IngestReport> report = IngestHdf5(path, options);
  // No ra/dec: the plan says which columns it found.
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

// An astropy table (a compound dataset, an array column and a string column) beside two 4-D
// datasets: float64 cutouts N x C x H x W and their masks.
void WriteTableH5(const std::string& path, bool with_nan) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<double> cube(static_cast<size_t>(kN) * kBands * kSide * kSide);
  for (int n = 0; n < kN; ++n)
    for (int b = 0; b < kBands; ++b)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x)
          cube[((static_cast<size_t>(n) * kBands + b) * kSide + y) * kSide + x] = CubeValue(n, b, y, x) / 7.0;
  if (with_nan) cube[static_cast<size_t>(4) * kBands * kSide * kSide + 11] = std::nan("");
  WriteH5(file, "data/cube", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kN, kBands, kSide, kSide}, cube.data());
  std::vector<uint8_t> masks(cube.size(), 0);
  WriteH5(file, "data/masks", H5T_STD_U8LE, H5T_NATIVE_UINT8, {kN, kBands, kSide, kSide}, masks.data());
  struct Row {
    int64_t id;
    double ra, dec;
    float z, mags[kBands];
    char name[8];
  };
  std::vector<Row> rows(kN);
  for (int n = 0; n < kN; ++n) {
    rows[n].id = kBaseId + n;
    rows[n].ra = 10.0 + n;
    rows[n].dec = -5.0 + n;
    rows[n].z = 0.1f * (n + 1);
    for (int b = 0; b < kBands; ++b) rows[n].mags[b] = 17.0f + b + n * 0.1f;
    std::snprintf(rows[n].name, sizeof(rows[n].name), "g%d", n);
  }
  hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  H5Tinsert(type, "objID", HOFFSET(Row, id), H5T_NATIVE_INT64);
  H5Tinsert(type, "ra", HOFFSET(Row, ra), H5T_NATIVE_DOUBLE);
  H5Tinsert(type, "dec", HOFFSET(Row, dec), H5T_NATIVE_DOUBLE);
  H5Tinsert(type, "z", HOFFSET(Row, z), H5T_NATIVE_FLOAT);
  const hsize_t five = kBands;
  hid_t mags = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &five);
  H5Tinsert(type, "mags", HOFFSET(Row, mags), mags);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 8);
  H5Tinsert(type, "name", HOFFSET(Row, name), str);
  WriteH5(file, "catalog/table", type, type, {kN}, rows.data());
  H5Tclose(str);
  H5Tclose(mags);
  H5Tclose(type);
  H5Fclose(file);
}

TEST_F(IngestTest, Hdf5AstropyTableColumnsAndAChosenImageDataset) {
  WriteTableH5(Path("table.h5"), false);
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> ambiguous = IngestHdf5(Path("table.h5"), options);
  EXPECT_EQ(ambiguous.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(ambiguous.status().message(), "'data/cube' (6 x 5 x 16 x 16)")) << ambiguous.status();
  EXPECT_TRUE(absl::StrContains(ambiguous.status().message(), "--images-key")) << ambiguous.status();
  EXPECT_FALSE(fs::exists(options.out));

  options.images_key = "data/cube";
  absl::StatusOr<IngestReport> report = IngestHdf5(Path("table.h5"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "'catalog/table/name' (not numeric)"))
      << absl::StrJoin(report->notes, "\n");
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  for (int n = 0; n < kN; ++n) {
    EXPECT_EQ(batch.ids[n], kBaseId + n);
    EXPECT_DOUBLE_EQ(batch.ra[n], 10.0 + n);
    EXPECT_DOUBLE_EQ(batch.dec[n], -5.0 + n);
    EXPECT_FLOAT_EQ(batch.redshift[n], 0.1f * (n + 1));
    EXPECT_FLOAT_EQ(static_cast<float>(batch.extra["mags_3"][n]), 20.0f + n * 0.1f);
    const size_t at = ((static_cast<size_t>(n) * kBands + 2) * kSide + 7) * kSide + 3;
    EXPECT_FLOAT_EQ(batch.images[at], static_cast<float>(CubeValue(n, 2, 7, 3) / 7.0)) << "row " << n;
  }

  options.images_key = "catalog/table";
  EXPECT_EQ(IngestHdf5(Path("table.h5"), options).status().code(), absl::StatusCode::kInvalidArgument);
  options.images_key = "data/nothing";
  EXPECT_EQ(IngestHdf5(Path("table.h5"), options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(IngestTest, Hdf5TableVectorColumnsBecomeColumnsUpToALengthAndSpectraAreLeftOut) {
  const std::string path = Path("spectra.h5");
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> cube(static_cast<size_t>(kN) * kBands * kSide * kSide, 2.0f);
  WriteH5(file, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kN, kBands, kSide, kSide}, cube.data());
  struct Row {
    double ra, dec;
    float flux[64], spectrum[65];
  };
  std::vector<Row> rows(kN);
  for (int n = 0; n < kN; ++n) {
    rows[n].ra = n;
    rows[n].dec = -n;
    for (int k = 0; k < 64; ++k) rows[n].flux[k] = static_cast<float>(n * 100 + k);
  }
  hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  H5Tinsert(type, "ra", HOFFSET(Row, ra), H5T_NATIVE_DOUBLE);
  H5Tinsert(type, "dec", HOFFSET(Row, dec), H5T_NATIVE_DOUBLE);
  const hsize_t n64 = 64, n65 = 65;
  hid_t flux = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &n64), spectrum = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &n65);
  H5Tinsert(type, "flux", HOFFSET(Row, flux), flux);
  H5Tinsert(type, "spectrum", HOFFSET(Row, spectrum), spectrum);
  WriteH5(file, "table", type, type, {kN}, rows.data());
  H5Tclose(flux);
  H5Tclose(spectrum);
  H5Tclose(type);
  H5Fclose(file);

  IngestOptions options;
  options.out = Path("out.h5");
  options.id_base = 7;
  absl::StatusOr<IngestReport> report = IngestHdf5(path, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "'table/spectrum' (65 values per galaxy)"))
      << absl::StrJoin(report->notes, "\n");
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->layout().extra_columns.size(), 64u);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  EXPECT_EQ(batch.ids[kN - 1], 7 + kN - 1);
  EXPECT_EQ(batch.extra["flux_63"][2], 263.0);
}

TEST_F(IngestTest, Hdf5OneBandImagesMayBeNByHByW) {
  const std::string path = Path("one_band.h5");
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> cube(static_cast<size_t>(kN) * kSide * kSide);
  for (int n = 0; n < kN; ++n)
    for (int y = 0; y < kSide; ++y)
      for (int x = 0; x < kSide; ++x) cube[(static_cast<size_t>(n) * kSide + y) * kSide + x] = CubeValue(n, 0, y, x);
  WriteH5(file, "vis", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kN, kSide, kSide}, cube.data());
  const double ra[kN] = {1, 2, 3, 4, 5, 6}, dec[kN] = {0, 0, 0, 0, 0, 0};
  WriteH5(file, "ra", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kN}, ra);
  WriteH5(file, "dec", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {kN}, dec);
  H5Fclose(file);
  IngestOptions options;
  options.out = Path("out.h5");
  options.id_base = 1;
  EXPECT_EQ(IngestHdf5(path, options).status().code(), absl::StatusCode::kNotFound) << "five bands need 4 axes";
  options.bands = {"VIS"};
  absl::StatusOr<IngestReport> report = IngestHdf5(path, options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  EXPECT_EQ(reader->layout().bands, 1);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  EXPECT_EQ(batch.images[(static_cast<size_t>(4) * kSide + 3) * kSide + 2], CubeValue(4, 0, 3, 2));
  EXPECT_DOUBLE_EQ(batch.ra[5], 6);
}

// The catalog is read a window of rows at a time, not held whole: a chunked, compressed column,
// a table's members (an array member among them) and IDs numbered by row come out the same for
// every window, windows that end inside a block of images and windows of one row included.
TEST_F(IngestTest, Hdf5CatalogIsReadAWindowOfRowsAtATime) {
  constexpr int kRows = 50, kPixels = 4;
  const std::string path = Path("windows.h5");
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<float> cube(static_cast<size_t>(kRows) * kPixels * kPixels);
  for (size_t i = 0; i < cube.size(); ++i) cube[i] = static_cast<float>(i);
  WriteH5(file, "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {kRows, kPixels, kPixels}, cube.data());
  std::vector<double> z(kRows);
  for (int n = 0; n < kRows; ++n) z[n] = 0.001 * n;
  {
    const hsize_t dims = kRows, chunk = 8;
    hid_t space = H5Screate_simple(1, &dims, nullptr), create = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_chunk(create, 1, &chunk), 0);
    ASSERT_GE(H5Pset_deflate(create, 6), 0);
    hid_t dset = H5Dcreate2(file, "photo/z", H5T_IEEE_F64LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    if (dset < 0) {  // the group first
      H5Gclose(H5Gcreate2(file, "photo", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      dset = H5Dcreate2(file, "photo/z", H5T_IEEE_F64LE, space, H5P_DEFAULT, create, H5P_DEFAULT);
    }
    ASSERT_GE(dset, 0);
    ASSERT_GE(H5Dwrite(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, z.data()), 0);
    H5Dclose(dset);
    H5Pclose(create);
    H5Sclose(space);
  }
  struct Row {
    double ra, dec;
    float mags[3];
  };
  std::vector<Row> rows(kRows);
  for (int n = 0; n < kRows; ++n) rows[n] = {100.0 + n, -n / 2.0, {20.0f + n, 21.0f + n, 22.0f + n}};
  hid_t type = H5Tcreate(H5T_COMPOUND, sizeof(Row));
  H5Tinsert(type, "ra", HOFFSET(Row, ra), H5T_NATIVE_DOUBLE);
  H5Tinsert(type, "dec", HOFFSET(Row, dec), H5T_NATIVE_DOUBLE);
  const hsize_t three = 3;
  hid_t mags = H5Tarray_create2(H5T_NATIVE_FLOAT, 1, &three);
  H5Tinsert(type, "mags", HOFFSET(Row, mags), mags);
  WriteH5(file, "table", type, type, {kRows}, rows.data());
  H5Tclose(mags);
  H5Tclose(type);
  H5Fclose(file);

  for (int64_t window : {int64_t{1}, int64_t{7}, int64_t{kRows}, int64_t{1} << 16}) {
    SCOPED_TRACE(window);
    IngestOptions options;
    options.out = Path(absl::StrCat("windows-", window, ".h5"));
    options.bands = {"r"};
    options.id_base = 1000;
    options.catalog_window_rows = window;
    absl::StatusOr<IngestReport> report = IngestHdf5(path, options);
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_EQ(report->written, kRows);
    auto reader = Read(options.out);
    ASSERT_NE(reader, nullptr);
    GalaxyBatch batch;
    ASSERT_TRUE(reader->Read(0, kRows, &batch).ok());
    for (int n = 0; n < kRows; ++n) {
      EXPECT_EQ(batch.ids[n], 1000 + n);
      EXPECT_DOUBLE_EQ(batch.ra[n], 100.0 + n);
      EXPECT_DOUBLE_EQ(batch.dec[n], -n / 2.0);
      EXPECT_FLOAT_EQ(batch.redshift[n], static_cast<float>(0.001 * n));
      EXPECT_DOUBLE_EQ(batch.extra["mags_0"][n], 20.0 + n);
      EXPECT_DOUBLE_EQ(batch.extra["mags_2"][n], 22.0 + n);
      EXPECT_EQ(batch.images[static_cast<size_t>(n) * kPixels * kPixels + 5], static_cast<float>(n * kPixels * kPixels + 5));
    }
  }
}

// IDs are kept exactly or refused: HDF5 turned an unsigned ID above 2^63 - 1 into int64's largest,
// and a float64 column had lost an SDSS ObjID's last digits before the file was written; both
// went through silently before.
TEST_F(IngestTest, Hdf5IdsAreExactOrRefusedNamingTheRow) {
  struct Case {
    std::string name;
    hid_t file_type, mem_type;
    bool large;               // SDSS-sized IDs (kBaseId + n), else 1..kN
    bool beyond = false;      // the third ID is 2^64 - 1
    std::string expected;     // the refusal, or "" when the IDs read back exactly
  };
  const Case cases[] = {
      {"uint64", H5T_STD_U64LE, H5T_NATIVE_UINT64, true, false, ""},
      {"uint64-beyond", H5T_STD_U64LE, H5T_NATIVE_UINT64, true, true,
       "column 'objid' row 2: unsigned IDs above 2^63 - 1 do not fit"},
      {"float64-small", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, false, false, ""},
      {"float64-objid", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, true, false,
       "column 'objid' row 0: 1237648720693755904 is not an ID: the column is floating-point"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string path = Path(c.name + ".h5");
    WriteChannelsLastH5(path, /*with_ids=*/false);
    std::vector<uint64_t> u;
    std::vector<double> d;
    for (int n = 0; n < kN; ++n) {
      const int64_t id = c.large ? kBaseId + n : n + 1;
      u.push_back(c.beyond && n == 2 ? ~uint64_t{0} : static_cast<uint64_t>(id));
      d.push_back(static_cast<double>(id));
    }
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    WriteH5(file, "objid", c.file_type, c.mem_type, {kN}, c.mem_type == H5T_NATIVE_UINT64 ? static_cast<const void*>(u.data())
                                                                                           : static_cast<const void*>(d.data()));
    H5Fclose(file);
    IngestOptions options;
    options.out = Path(c.name + "-out.h5");
    absl::StatusOr<IngestReport> report = IngestHdf5(path, options);
    if (!c.expected.empty()) {
      EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
      EXPECT_TRUE(absl::StrContains(report.status().message(), c.expected)) << report.status();
      EXPECT_FALSE(fs::exists(options.out));
      continue;
    }
    ASSERT_TRUE(report.ok()) << report.status();
    GalaxyBatch batch;
    ASSERT_TRUE(Read(options.out)->Read(0, kN, &batch).ok());
    for (int n = 0; n < kN; ++n) EXPECT_EQ(batch.ids[n], c.large ? kBaseId + n : n + 1);
  }
}

TEST_F(IngestTest, Hdf5BadInputIsNamedAndLeavesNoOutput) {
  IngestOptions options;
  options.out = Path("out.h5");
  options.images_key = "data/cube";
  WriteTableH5(Path("nan.h5"), true);
  options.non_finite = NonFinite::kFail;  // the default leaves the galaxy out (ingest_test.cc)
  absl::StatusOr<IngestReport> nan = IngestHdf5(Path("nan.h5"), options);
  EXPECT_EQ(nan.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(nan.status().message(), "NaN/Inf pixel(s)")) << nan.status();
  options.non_finite = NonFinite::kSkip;
  nan = IngestHdf5(Path("nan.h5"), options);
  ASSERT_TRUE(nan.ok()) << nan.status();
  EXPECT_EQ(nan->written, kN - 1);
  fs::remove(options.out);

  options.bands = {"g", "r", "i"};
  WriteTableH5(Path("table.h5"), false);
  absl::StatusOr<IngestReport> bands = IngestHdf5(Path("table.h5"), options);
  EXPECT_EQ(bands.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bands.status().message(), "no axis of 3 bands")) << bands.status();

  options.bands = {"u", "g", "r", "i", "z"};
  options.images_key.clear();
  WriteChannelsLastH5(Path("no_ids.h5"), false);
  absl::StatusOr<IngestReport> ids = IngestHdf5(Path("no_ids.h5"), options);
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kInvalidArgument) << "no ID column and no --id-base";

  std::ofstream(Path("truncated.h5"), std::ios::binary) << "\x89HDF\r\n\x1a\n and then nothing";
  EXPECT_EQ(IngestHdf5(Path("truncated.h5"), options).status().code(), absl::StatusCode::kInvalidArgument);

  hid_t file = H5Fcreate(Path("columns.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const double ra[3] = {1, 2, 3};
  WriteH5(file, "ra", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {3}, ra);
  H5Fclose(file);
  absl::StatusOr<IngestReport> none = IngestHdf5(Path("columns.h5"), options);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(none.status().message(), "no numeric dataset to read images from")) << none.status();

  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    EXPECT_FALSE(absl::StrContains(entry.path().filename().string(), "out.h5")) << entry.path();
  }
}

}  // namespace
}  // namespace galaxy::ingest_test
