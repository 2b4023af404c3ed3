#include "data/hdf5_dataset.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "data/sim/synth_survey.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;

class Hdf5DatasetTest : public ::testing::Test {
 protected:
  // A small synthetic batch.
  GalaxyBatch Synth(int64_t count, DatasetLayout* layout) {
    SynthOptions options;
    options.count = count;
    options.seed = 11;
    options.image_size = 32;
    options.anomaly_fraction = 0.1;
    *layout = SyntheticLayout(options);
    SurveyModel model(options);
    GalaxyBatch batch;
    SynthesizeBatch(model, 0, count, 2, &batch);
    return batch;
  }

  std::string Path(const std::string& name) const { return dir_.File(name); }
  testutil::ScopedTempDir dir_;
};

TEST_F(Hdf5DatasetTest, WriteThenReadGivesIdenticalArrays) {
  DatasetLayout layout;
  GalaxyBatch written = Synth(50, &layout);
  auto writer = DatasetWriter::Create(Path("a.h5"), layout);
  ASSERT_TRUE(writer.ok()) << writer.status();
  // Two appends: the reader must see one continuous table.
  GalaxyBatch first, second;
  first.Resize(layout, 0);
  second.Resize(layout, 0);
  first.AppendRows(written, 0, 20, layout);
  second.AppendRows(written, 20, 30, layout);
  ASSERT_TRUE((*writer)->Append(first).ok());
  ASSERT_TRUE((*writer)->Append(second).ok());
  ASSERT_TRUE((*writer)->Commit().ok());

  auto reader = DatasetReader::Open(Path("a.h5"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->count(), 50);
  EXPECT_EQ((*reader)->layout().bands, 5);
  EXPECT_EQ((*reader)->layout().height, 32);
  EXPECT_EQ((*reader)->layout().band_names, (std::vector<std::string>{"u", "g", "r", "i", "z"}));
  EXPECT_EQ((*reader)->layout().attributes.at("generator"), "galaxy-data synth");
  GalaxyBatch read;
  ASSERT_TRUE((*reader)->Read(0, 50, &read).ok());
  EXPECT_EQ(read.images, written.images);
  EXPECT_EQ(read.ids, written.ids);
  EXPECT_EQ(read.ra, written.ra);
  EXPECT_EQ(read.dec, written.dec);
  EXPECT_EQ(read.e_bv, written.e_bv);
  EXPECT_EQ(read.redshift, written.redshift);
  for (const ColumnSpec& c : layout.extra_columns) {
    ASSERT_TRUE(read.extra.count(c.name)) << c.name;
    for (size_t i = 0; i < 50; ++i) {
      // float32 columns round-trip through float; the rest exactly.
      EXPECT_EQ(static_cast<float>(read.extra[c.name][i]), static_cast<float>(written.extra[c.name][i]))
          << c.name << " row " << i;
    }
  }
  // A window in the middle reads the same rows.
  GalaxyBatch window;
  ASSERT_TRUE((*reader)->Read(17, 5, &window).ok());
  EXPECT_EQ(window.ids[0], written.ids[17]);
  EXPECT_EQ(window.images[0], written.images[17 * layout.pixels_per_image()]);
  // The catalog alone: every column, and no memory kept for pixels (the batch had images).
  ASSERT_TRUE((*reader)->Read(0, 50, &read, /*images=*/false).ok());
  EXPECT_EQ(read.count, 50);
  EXPECT_EQ(read.ids, written.ids);
  EXPECT_EQ(read.redshift, written.redshift);
  EXPECT_EQ(read.extra.size(), layout.extra_columns.size());
  EXPECT_TRUE(read.images.empty());
  EXPECT_EQ(read.images.capacity(), 0u);
}

TEST_F(Hdf5DatasetTest, UncommittedWriterLeavesNoFile) {
  DatasetLayout layout;
  GalaxyBatch batch = Synth(5, &layout);
  std::string temp;
  {
    auto writer = DatasetWriter::Create(Path("b.h5"), layout);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append(batch).ok());
    temp = (*writer)->temp_path();
    EXPECT_TRUE(fs::exists(temp));
    EXPECT_FALSE(fs::exists(Path("b.h5")));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(Path("b.h5")));
}

// The block-wise check finds the first NaN or Inf wherever it lies: at a block's first or last
// value, past the last whole block, and the first of two.
TEST(FirstNonFiniteTest, FindsTheFirstNanOrInfInAnyBlock) {
  std::vector<float> v(10000, 1.0f);
  EXPECT_EQ(FirstNonFinite(v.data(), static_cast<int64_t>(v.size())), -1);
  for (int64_t at : {0, 4095, 4096, 8191, 9999}) {
    std::vector<float> w = v;
    w[static_cast<size_t>(at)] = at % 2 ? std::numeric_limits<float>::infinity() : std::nanf("");
    EXPECT_EQ(FirstNonFinite(w.data(), static_cast<int64_t>(w.size())), at);
    EXPECT_EQ(FirstNonFinite(w.data(), at), -1);  // not within the first `at` values
  }
  v[7000] = -std::numeric_limits<float>::infinity();
  v[9000] = std::nanf("");
  EXPECT_EQ(FirstNonFinite(v.data(), static_cast<int64_t>(v.size())), 7000);
  v[7000] = std::numeric_limits<float>::max();  // large but finite
  EXPECT_EQ(FirstNonFinite(v.data(), static_cast<int64_t>(v.size())), 9000);
}

// A file of ours whose shape looks channels-last (5 bands of 5 x 1 pixels: N x 5 x 5 x 1) opens:
// its bands are named. Found by hdf5_fuzzer through the ingest of a foreign file.
TEST_F(Hdf5DatasetTest, ANativeFileWhoseShapeLooksChannelsLastOpens) {
  DatasetLayout layout;
  layout.height = 5;
  layout.width = 1;
  const std::string path = dir_.File("thin.h5");
  auto writer = DatasetWriter::Create(path, layout);
  ASSERT_TRUE(writer.ok()) << writer.status();
  GalaxyBatch batch;
  batch.Resize(layout, 2);
  batch.ids = {1, 2};
  ASSERT_TRUE((*writer)->Append(batch).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  auto reader = DatasetReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->layout().bands, 5);
  EXPECT_EQ((*reader)->layout().height, 5);
  EXPECT_EQ((*reader)->layout().width, 1);
}

TEST_F(Hdf5DatasetTest, WriterRefusesNanImagesNamingRowAndBand) {
  DatasetLayout layout;
  GalaxyBatch batch = Synth(4, &layout);
  const int64_t plane = 32 * 32;
  batch.images[2 * layout.pixels_per_image() + 3 * plane + 7] = std::nanf("");
  auto writer = DatasetWriter::Create(Path("c.h5"), layout);
  absl::Status status = (*writer)->Append(batch);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "row 2")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "band i")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "'images'")) << status;
}

TEST_F(Hdf5DatasetTest, ReaderReportsNanImagesNamingFileRowAndBand) {
  DatasetLayout layout;
  GalaxyBatch batch = Synth(3, &layout);
  batch.images[layout.pixels_per_image() + 5] = INFINITY;  // row 1, band u
  auto writer = DatasetWriter::Create(Path("d.h5"), layout);
  (*writer)->set_allow_non_finite(true);
  ASSERT_TRUE((*writer)->Append(batch).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  auto reader = DatasetReader::Open(Path("d.h5"));
  ASSERT_TRUE(reader.ok());
  GalaxyBatch read;
  absl::Status status = (*reader)->Read(0, 3, &read);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), Path("d.h5"))) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "row 1")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "band u")) << status;
}

TEST_F(Hdf5DatasetTest, TruncatedFileIsDataLossNamingTheFile) {
  DatasetLayout layout;
  GalaxyBatch batch = Synth(20, &layout);
  auto writer = DatasetWriter::Create(Path("e.h5"), layout);
  ASSERT_TRUE((*writer)->Append(batch).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  fs::resize_file(Path("e.h5"), fs::file_size(Path("e.h5")) / 2);
  auto reader = DatasetReader::Open(Path("e.h5"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss) << reader.status();
  EXPECT_TRUE(absl::StrContains(reader.status().message(), Path("e.h5")));
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "truncated or corrupt"));
}

TEST_F(Hdf5DatasetTest, NotHdf5AtAllIsDataLoss) {
  std::ofstream(Path("f.h5")) << "this is not HDF5\n";
  EXPECT_EQ(DatasetReader::Open(Path("f.h5")).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DatasetReader::Open(Path("missing.h5")).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(Hdf5DatasetTest, AnIngestInputGivenAsADatasetIsNamedWithTheCommandThatConvertsIt) {
  std::ofstream(Path("cutout.fits")) << std::string("SIMPLE  =                    T").append(2850, ' ');
  std::ofstream(Path("cube.npz")) << std::string("PK\x03\x04", 4) << "rest of a zip";
  fs::create_directories(Path("cutouts"));
  for (const char* name : {"cutout.fits", "cube.npz", "cutouts"}) {
    const absl::Status status = DatasetReader::Open(Path(name)).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), absl::StrCat("galaxy-data ingest ", Path(name), " --out"))) << status;
  }
  EXPECT_TRUE(absl::StrContains(DatasetReader::Open(Path("cutout.fits")).status().message(), "a FITS file"));
}

// Writes an HDF5 file by hand with the given datasets, to build malformed inputs.
void WriteRaw(const std::string& path, const std::vector<hsize_t>& image_dims, bool with_ids,
              hsize_t id_rows) {
  hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t total = 1;
  for (hsize_t d : image_dims) total *= d;
  std::vector<float> pixels(total, 1.0f);
  hid_t space = H5Screate_simple(static_cast<int>(image_dims.size()), image_dims.data(), nullptr);
  hid_t d = H5Dcreate2(file, "images", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels.data());
  H5Dclose(d);
  H5Sclose(space);
  auto column = [&](const char* name, hid_t type, hsize_t rows) {
    std::vector<double> v(rows, 0.5);
    hid_t s = H5Screate_simple(1, &rows, nullptr);
    hid_t c = H5Dcreate2(file, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(c, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
    H5Dclose(c);
    H5Sclose(s);
  };
  if (with_ids) column("ObjID", H5T_STD_I64LE, id_rows);
  column("ra", H5T_IEEE_F64LE, image_dims[0]);
  column("dec", H5T_IEEE_F64LE, image_dims[0]);
  H5Fclose(file);
}

TEST_F(Hdf5DatasetTest, MissingKeyIsNamed) {
  WriteRaw(Path("g.h5"), {4, 5, 8, 8}, /*with_ids=*/false, 0);
  auto reader = DatasetReader::Open(Path("g.h5"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "missing key 'ObjID'")) << reader.status();
}

TEST_F(Hdf5DatasetTest, WrongRankIsNamed) {
  WriteRaw(Path("h.h5"), {4, 8, 8}, true, 4);
  auto reader = DatasetReader::Open(Path("h.h5"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "key 'images': rank 3, expected 4"))
      << reader.status();
}

TEST_F(Hdf5DatasetTest, ColumnLengthMismatchIsNamed) {
  WriteRaw(Path("i.h5"), {4, 5, 8, 8}, true, 3);
  auto reader = DatasetReader::Open(Path("i.h5"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(reader.status().message(), "key 'ObjID': 3 rows")) << reader.status();
}

// Found by data/hdf5_fuzzer.cc: an ObjID that was a group (or a link to nothing) passed Open, and
// the first Read then aborted the process (a vector sized by the rank -1 of "no dataspace").
TEST_F(Hdf5DatasetTest, StandardKeyThatIsNotADatasetIsNamedAtOpen) {
  for (const char* key : {"ObjID", "e_bv"}) {
    for (bool group : {true, false}) {
      SCOPED_TRACE(absl::StrCat(key, group ? " as a group" : " as a dangling link"));
      const std::string path = Path(absl::StrCat("nd-", key, group, ".h5"));
      WriteRaw(path, {4, 5, 8, 8}, /*with_ids=*/std::string(key) != "ObjID", 4);
      hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      if (group) {
        H5Gclose(H5Gcreate2(file, key, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
      } else {
        H5Lcreate_soft("/nowhere", file, key, H5P_DEFAULT, H5P_DEFAULT);
      }
      H5Fclose(file);
      auto reader = DatasetReader::Open(path);
      EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(reader.status().message(), absl::StrCat("key '", key, "': not a dataset")))
          << reader.status();
    }
  }
}

TEST_F(Hdf5DatasetTest, MinimalForeignFileReadsWithDefaults) {
  // A user's file with only images, ObjID, ra, dec: no e_bv (0), no redshift (NaN), bands b0..
  WriteRaw(Path("j.h5"), {4, 3, 8, 8}, true, 4);
  auto reader = DatasetReader::Open(Path("j.h5"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_FALSE((*reader)->has_redshift());
  EXPECT_EQ((*reader)->layout().band_names, (std::vector<std::string>{"b0", "b1", "b2"}));
  GalaxyBatch batch;
  ASSERT_TRUE((*reader)->Read(0, 4, &batch).ok());
  EXPECT_TRUE(std::isnan(batch.redshift[0]));
  EXPECT_EQ(batch.e_bv[3], 0.0f);
  EXPECT_EQ((*reader)->Read(2, 5, &batch).code(), absl::StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace galaxy
