// Ingest of single-galaxy FITS cutouts (IngestFitsCutouts), written here with cfitsio and a real
// TAN WCS header: IDs from names, catalogs joined by them, positions from the WCS, bands per file.
#include "data/ingest/ingest.h"

#include <fitsio.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "data/fits_file.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest_test_util.h"
#include "tests/subprocess.h"

namespace galaxy::ingest_test {
namespace {

namespace fs = std::filesystem;

// ---- single-galaxy FITS cutouts ---------------------------------------------------------------

// A cutout file with a TAN WCS centred on (ra, dec): bands first_band .. first_band + bands - 1 of
// galaxy `row`, as W x H x C (FITS axes), or as W x H when `axes` is 2 (one band).
// `compression` (a cfitsio code such as RICE_1), when not 0, writes it tile-compressed as fpack
// does (in a BINTABLE extension after an empty primary HDU), lossless for GZIP_*.
void WriteCutoutFile(const std::string& path, int row, int first_band, int bands, int axes, double ra, double dec,
                     int side, bool wcs, int compression = 0) {
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, path.c_str(), &status);
  if (compression != 0) {
    fits_set_compression_type(f, compression, &status);
    if (compression != RICE_1) fits_set_quantize_level(f, 0.0f, &status);  // floats stored exactly
  }
  long naxes[3] = {side, side, bands};
  fits_create_img(f, FLOAT_IMG, axes, naxes, &status);
  std::vector<float> pixels(static_cast<size_t>(bands) * side * side);
  for (int b = 0; b < bands; ++b)
    for (int y = 0; y < side; ++y)
      for (int x = 0; x < side; ++x)
        pixels[(static_cast<size_t>(b) * side + y) * side + x] = CubeValue(row, first_band + b, y, x);
  fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(pixels.size()), pixels.data(), &status);
  if (wcs) {
    auto key_str = [&](const char* k, const char* v) { fits_write_key(f, TSTRING, k, const_cast<char*>(v), nullptr, &status); };
    auto key_dbl = [&](const char* k, double v) { fits_write_key(f, TDOUBLE, k, &v, nullptr, &status); };
    key_str("CTYPE1", "RA---TAN");
    key_str("CTYPE2", "DEC--TAN");
    key_dbl("CRVAL1", ra);
    key_dbl("CRVAL2", dec);
    key_dbl("CRPIX1", (side + 1) / 2.0);  // 1-based: the image centre
    key_dbl("CRPIX2", (side + 1) / 2.0);
    key_dbl("CD1_1", -0.262 / 3600);  // 0.262 arcsec per pixel
    key_dbl("CD1_2", 0);
    key_dbl("CD2_1", 0);
    key_dbl("CD2_2", 0.262 / 3600);
  }
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0) << path;
}

}  // namespace

// One galaxy's cutout as a cutout service returns it: W x H x C, the band axis described too.
void WriteCutout(const std::string& path, int row, double ra, double dec, int bands, int side, bool wcs) {
  WriteCutoutFile(path, row, 0, bands, 3, ra, dec, side, wcs);
}

namespace {

TEST_F(IngestTest, FitsCutoutsNamedByIdTakeTheirPositionFromTheWcsOrTheCatalog) {
  fs::create_directories(Path("cutouts"));
  for (int n = 0; n < kN; ++n) {
    WriteCutout(Path(absl::StrCat("cutouts/", kBaseId + n, ".fits")), n, 150.0 + 0.01 * n, 2.0 - 0.01 * n);
  }
  std::ofstream(Path("cutouts/README.txt")) << "not a cutout";
  IngestOptions options;
  options.out = Path("wcs.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCutouts({Path("cutouts")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN);
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
  for (int n = 0; n < kN; ++n) {
    EXPECT_EQ(batch.ids[n], kBaseId + n);  // name order is ID order here
    EXPECT_NEAR(batch.ra[n], 150.0 + 0.01 * n, 1e-9);
    EXPECT_NEAR(batch.dec[n], 2.0 - 0.01 * n, 1e-9);
    for (int b : {0, 4}) {
      const size_t at = ((static_cast<size_t>(n) * kBands + b) * kSide + 5) * kSide + 9;
      EXPECT_EQ(batch.images[at], CubeValue(n, b, 5, 9)) << "row " << n << " band " << b;
    }
  }

  // A catalog joined by the names' IDs: its columns and positions; a galaxy it lacks is skipped.
  std::ofstream csv(Path("targets.csv"));
  csv << "objid,ra,dec,zspec,petro_r\n";
  for (int n = 1; n < kN; ++n) csv << (kBaseId + n) << "," << 10.0 + n << "," << -5.0 << "," << 0.1 * n << "," << 17 + n << "\n";
  csv.close();
  options.out = Path("joined.h5");
  report = IngestFitsCutouts({Path("cutouts")}, Path("targets.csv"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, kN - 1);
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report->skipped[0], absl::StrCat(kBaseId, ".fits"))) << report->skipped[0];
  reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Read(0, kN - 1, &batch).ok());
  for (int n = 1; n < kN; ++n) {
    EXPECT_EQ(batch.ids[n - 1], kBaseId + n);
    EXPECT_DOUBLE_EQ(batch.ra[n - 1], 10.0 + n);
    EXPECT_FLOAT_EQ(batch.redshift[n - 1], 0.1f * n);
    EXPECT_EQ(batch.extra["petro_r"][n - 1], 17 + n);
    EXPECT_EQ(batch.images[static_cast<size_t>(n - 1) * kBands * kSide * kSide + 3], CubeValue(n, 0, 0, 3));
  }
}

// Survey images often come tile-compressed (.fits.fz, as fpack writes them): the image is then
// the second HDU, a compressed table that cfitsio reads as an image, with the WCS in its header.
TEST_F(IngestTest, FitsCutoutsTileCompressedAsFpackWritesThemIngest) {
  fs::create_directories(Path("fz"));
  WriteCutoutFile(Path(absl::StrCat("fz/", kBaseId, ".fits.fz")), 0, 0, kBands, 3, 150.0, 2.0, kSide, true, GZIP_2);
  WriteCutoutFile(Path(absl::StrCat("fz/", kBaseId + 1, ".fits.fz")), 1, 0, kBands, 3, 150.01, 1.99, kSide, true,
                  RICE_1);
  for (int n = 0; n < 2; ++n) {  // written compressed, not as plain images
    absl::StatusOr<std::unique_ptr<FitsFile>> file = FitsFile::Open(Path(absl::StrCat("fz/", kBaseId + n, ".fits.fz")));
    ASSERT_TRUE(file.ok()) << file.status();
    ASSERT_TRUE((*file)->MoveToFirstImage().ok());
    int status = 0;
    EXPECT_TRUE(fits_is_compressed_image((*file)->get(), &status));
  }
  IngestOptions options;
  options.out = Path("fz.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCutouts({Path("fz")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->written, 2);
  GalaxyBatch batch;
  ASSERT_TRUE(Read(options.out)->Read(0, 2, &batch).ok());
  const size_t per_image = static_cast<size_t>(kBands) * kSide * kSide;
  for (int n = 0; n < 2; ++n) {
    EXPECT_EQ(batch.ids[n], kBaseId + n);
    EXPECT_NEAR(batch.ra[n], 150.0 + 0.01 * n, 1e-9);
    EXPECT_NEAR(batch.dec[n], 2.0 - 0.01 * n, 1e-9);
    float worst = 0;
    for (int b = 0; b < kBands; ++b)
      for (int y = 0; y < kSide; ++y)
        for (int x = 0; x < kSide; ++x) {
          const float got = batch.images[n * per_image + (static_cast<size_t>(b) * kSide + y) * kSide + x];
          worst = std::max(worst, std::abs(got - CubeValue(n, b, y, x)));
        }
    // GZIP_2 without quantisation is lossless; RICE_1 quantises floats to a fraction of each
    // tile's noise (a smooth ramp here: well under one unit).
    if (n == 0) {
      EXPECT_EQ(worst, 0.0f);
    } else {
      EXPECT_LT(worst, 1.0f);
    }
  }
  // ZBITPIX -64 over float32 tiles: cfitsio unpacked each row's 64 bytes (16 pixels) into a
  // 128-byte tile and returned the 64 it never wrote as pixels (valgrind; found by
  // data/fits_fuzzer.cc). The first tile's gzip size gives it away, and nothing is written.
  const std::string path = Path(absl::StrCat("fz/", kBaseId, ".fits.fz"));
  fs::create_directories(Path("lie"));
  const std::string lie = Path("lie/1.fits.fz");
  fs::copy_file(path, lie);
  ASSERT_NE(PatchCard(lie, "ZBITPIX", 0, "-64"), std::string::npos);
  options.out = Path("fz-lie.h5");
  report = IngestFitsCutouts({lie}, "", options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kDataLoss) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(),
                                absl::StrCat("1.fits.fz: images up to row 0: tile 1 of the compressed image holds ",
                                             kSide * 4, " bytes where its ", kSide, " pixels of ZBITPIX -64 make ",
                                             kSide * 8, " (corrupt header or data)")))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
  // A tile 0 pixels wide: cfitsio divided by it as it opened the HDU (SIGFPE, found by
  // data/fits_fuzzer.cc); refused first, naming the card.
  const size_t card = PatchCard(path, "ZTILE1", 0, "0");
  ASSERT_NE(card, std::string::npos);
  options.out = Path("fz-tile0.h5");
  report = IngestFitsCutouts({path}, "", options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(),
                                absl::StrCat("ZTILE1 = 0 at offset ", card, "; in a tile-compressed image")))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

TEST_F(IngestTest, FitsCutoutsThatDoNotFitAreNamedAndNothingIsWritten) {
  IngestOptions options;
  options.out = Path("out.h5");
  const auto refused = [&](const std::vector<std::string>& inputs, const std::string& catalog, const std::string& what) {
    absl::StatusOr<IngestReport> report = IngestFitsCutouts(inputs, catalog, options);
    EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << report.status();
    EXPECT_TRUE(absl::StrContains(report.status().message(), what)) << report.status();
    EXPECT_FALSE(fs::exists(options.out));
  };
  WriteCutout(Path("11.fits"), 0, 10, 0);
  WriteCutout(Path("12.fits"), 1, 10, 0, 3);
  WriteCutout(Path("13.fits"), 2, 10, 0, kBands, kSide + 2);
  WriteCutout(Path("14.fits"), 3, 10, 0, kBands, kSide, false);
  WriteCutout(Path("galaxy.fits"), 4, 10, 0);
  refused({Path("11.fits"), Path("12.fits")}, "", "12.fits: 3 band(s), expected one cutout of 5");
  refused({Path("11.fits"), Path("13.fits")}, "", "13.fits: 18 x 18 pixels, but");
  refused({Path("11.fits"), Path("14.fits")}, "", "14.fits: no usable celestial WCS");
  refused({Path("11.fits"), Path("galaxy.fits")}, "", "galaxy.fits: no ID in the file name");
  refused({Path("11.fits"), Path("11.fits")}, "", "more than once");
  fs::create_directories(Path("empty"));
  refused({Path("empty")}, "", "no FITS cutouts");
  EXPECT_EQ(IngestFitsCutouts({Path("missing")}, "", options).status().code(), absl::StatusCode::kNotFound);
  std::ofstream(Path("other.csv")) << "objid,ra,dec\n99,1,2\n";
  refused({Path("11.fits")}, Path("other.csv"), "no cutout's ID is in");
  std::ofstream(Path("no_ids.csv")) << "ra,dec\n1,2\n";
  refused({Path("11.fits")}, Path("no_ids.csv"), "no integer ID column");

  // A WCS string value without its closing quote (WCSLIB's parser overflowed a buffer on one;
  // found by fits_fuzzer) is refused before WCSLIB reads it.
  WriteCutout(Path("15.fits"), 4, 10, 0);
  {
    std::fstream file(Path("15.fits"), std::ios::in | std::ios::out | std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const size_t at = bytes.find("'DEC--TAN'");
    ASSERT_NE(at, std::string::npos);
    file.seekp(static_cast<std::streamoff>(at + 9));
    file << "://";
  }
  refused({Path("15.fits")}, "", "15.fits: header card");
  refused({Path("15.fits")}, "", "(CTYPE2) has a string value without its closing quote");

  // Numbered in order, names need no ID.
  options.id_base = 500;
  absl::StatusOr<IngestReport> numbered = IngestFitsCutouts({Path("galaxy.fits"), Path("11.fits")}, "", options);
  ASSERT_TRUE(numbered.ok()) << numbered.status();
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::vector<int64_t>> ids = reader->ReadIds();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{500, 501}));
}

// One band of a galaxy's cutout, as services that cut band by band return it (W x H).
void WriteBandCutout(const std::string& path, int row, int band, double ra, double dec) {
  WriteCutoutFile(path, row, band, 1, 2, ra, dec, kSide, true);
}

TEST_F(IngestTest, FitsCutoutsOfOneBandEachAreStackedByNameAndBand) {
  fs::create_directories(Path("bands"));
  const char* names[] = {"u", "g", "r", "i", "z"};
  for (int n = 0; n < 3; ++n) {
    for (int b = 0; b < kBands; ++b) {
      if (n == 2 && b == 3) continue;  // galaxy 2 lacks its i band
      const std::string sep = b % 2 ? "_" : "-";
      WriteBandCutout(Path(absl::StrCat("bands/obj", 70 + n, sep, b == 4 ? "Z" : names[b], ".fits")), n, b, 30.0 + n, 5.0);
    }
  }
  IngestOptions options;
  options.out = Path("bands.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCutouts({Path("bands")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, 2);
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report->skipped[0], "obj72: no i-band cutout")) << report->skipped[0];
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 2, &batch).ok());
  EXPECT_EQ(batch.ids, (std::vector<int64_t>{70, 71}));
  EXPECT_NEAR(batch.ra[1], 31.0, 1e-9);
  for (int n = 0; n < 2; ++n) {
    for (int b = 0; b < kBands; ++b) {
      const size_t at = ((static_cast<size_t>(n) * kBands + b) * kSide + 4) * kSide + 6;
      EXPECT_EQ(batch.images[at], CubeValue(n, b, 4, 6)) << "galaxy " << n << " band " << b;
    }
  }

  // A one-band file whose name says no band, and two files of one band.
  WriteBandCutout(Path("bands/obj99.fits"), 0, 0, 1, 1);
  absl::StatusOr<IngestReport> unnamed = IngestFitsCutouts({Path("bands")}, "", options);
  EXPECT_TRUE(absl::StrContains(unnamed.status().message(),
                                "obj99.fits: a one-band cutout whose band (one of u, g, r, i, z) neither its name"))
      << unnamed.status();
  fs::remove(Path("bands/obj99.fits"));
  WriteBandCutout(Path("bands/obj70.g.fits"), 0, 1, 1, 1);
  absl::StatusOr<IngestReport> twice = IngestFitsCutouts({Path("bands")}, "", options);
  EXPECT_TRUE(absl::StrContains(twice.status().message(), "two g-band cutouts")) << twice.status();
}

// Writes string keywords into HDU `hdu` (1: the primary) of an existing FITS file.
void AddKeys(const std::string& path, int hdu, const std::vector<std::pair<std::string, std::string>>& keys) {
  int status = 0, type = 0;
  fitsfile* f = nullptr;
  fits_open_file(&f, path.c_str(), READWRITE, &status);
  fits_movabs_hdu(f, hdu, &type, &status);
  for (const auto& [key, value] : keys) {
    fits_update_key(f, TSTRING, key.c_str(), const_cast<char*>(value.c_str()), nullptr, &status);
  }
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0) << path;
}

// The value at (y, x) = (3, 7) of band `b` of galaxy `n` in a batch of `bands`-band images.
float PixelOf(const GalaxyBatch& batch, int n, int b, int bands) {
  return batch.images[((static_cast<size_t>(n) * bands + b) * kSide + 3) * kSide + 7];
}

TEST_F(IngestTest, BandNamesInHeadersAreReadAsSurveysWriteThem) {
  const std::vector<std::string> ugriz = {"u", "g", "r", "i", "z"};
  EXPECT_EQ(BandNamed("g", ugriz), 1);
  EXPECT_EQ(BandNamed("Z", ugriz), 4);
  EXPECT_EQ(BandNamed("HSC-G", ugriz), 1);
  EXPECT_EQ(BandNamed("HSC-R2", ugriz), 2);
  EXPECT_EQ(BandNamed("g DECam SDSS c0001 4720.0 1520.0", ugriz), 1);
  EXPECT_EQ(BandNamed("i.00000", ugriz), 3);
  EXPECT_EQ(BandNamed("SDSS r", ugriz), 2);
  EXPECT_EQ(BandNamed("F606W", ugriz), -1);
  EXPECT_EQ(BandNamed("g-r", ugriz), -1);  // two bands: none
  EXPECT_EQ(BandNamed("F606W", {"F475W", "F606W"}), 1);

  // A one-band image in an extension whose filter is in the primary header (HSC's cutouts).
  const std::string path = Path("hsc.fits");
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, path.c_str(), &status);
  fits_create_img(f, FLOAT_IMG, 0, nullptr, &status);
  char filter[] = "HSC-I2";
  fits_write_key(f, TSTRING, "FILTER", filter, nullptr, &status);
  long naxes[2] = {kSide, kSide};
  fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
  std::vector<float> pixels(kSide * kSide, 1.0f);
  fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(pixels.size()), pixels.data(), &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
  absl::StatusOr<FitsCutout> cutout = ReadFitsCutout(path);
  ASSERT_TRUE(cutout.ok()) << cutout.status();
  EXPECT_EQ(FitsBandNames(*cutout->file, 1), (std::vector<std::string>{"HSC-I2"}));
  int hdu = 0;
  fits_get_hdu_num(cutout->file->get(), &hdu);
  EXPECT_EQ(hdu, 2);  // left at the image
  EXPECT_TRUE(FitsBandNames(*cutout->file, 3).empty());
}

TEST_F(IngestTest, CutoutsAndStacksKeepTheBandsTheirHeadersNameInTheOrderAsked) {
  // Planes hold bands u..z in file order, but the headers call them z..u: the header wins.
  WriteCutout(Path("61.fits"), 0, 10, 0);
  AddKeys(Path("61.fits"), 1, {{"BAND0", "z"}, {"BAND1", "i"}, {"BAND2", "r"}, {"BAND3", "g"}, {"BAND4", "u"}});
  WriteCutout(Path("62.fits"), 1, 10, 0);
  AddKeys(Path("62.fits"), 1, {{"BANDS", "zirgu"}});
  IngestOptions options;
  options.out = Path("named.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCutouts({Path("61.fits"), Path("62.fits")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "bands u,g,r,i,z as the cutouts' headers name them"))
      << absl::StrJoin(report->notes, "\n");
  auto reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 2, &batch).ok());
  for (int n = 0; n < 2; ++n) {
    for (int b = 0; b < kBands; ++b) EXPECT_EQ(PixelOf(batch, n, b, kBands), CubeValue(n, 4 - b, 3, 7)) << n << " " << b;
  }

  // A three-band cutout (g, r, z): two of its bands picked in the order asked; a band it lacks is named.
  WriteCutout(Path("63.fits"), 2, 10, 0, 3);
  AddKeys(Path("63.fits"), 1, {{"BANDS", "g,r,z"}});
  options.out = Path("zg.h5");
  options.bands = {"z", "g"};
  report = IngestFitsCutouts({Path("63.fits")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  reader = Read(options.out);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(reader->Read(0, 1, &batch).ok());
  EXPECT_EQ(PixelOf(batch, 0, 0, 2), CubeValue(2, 2, 3, 7));
  EXPECT_EQ(PixelOf(batch, 0, 1, 2), CubeValue(2, 0, 3, 7));
  options.bands = {"u", "g", "r", "i", "z"};
  options.out = Path("ugriz.h5");
  report = IngestFitsCutouts({Path("63.fits")}, "", options);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "63.fits: its header names bands g, r, z; no u, i among them"))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));

  // Without band keywords the planes are taken in file order, and the report says so.
  options.out = Path("plain.h5");
  WriteCutout(Path("64.fits"), 3, 10, 0);
  report = IngestFitsCutouts({Path("64.fits")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "the planes are taken in file order as u,g,r,i,z"))
      << absl::StrJoin(report->notes, "\n");

  // A stack whose header names its planes z..u (1-based): reordered, or one band picked.
  WriteStack(Path("stack.fits"));
  AddKeys(Path("stack.fits"), 1, {{"BAND1", "z"}, {"BAND2", "i"}, {"BAND3", "r"}, {"BAND4", "g"}, {"BAND5", "u"}});
  for (const std::vector<std::string>& bands : {std::vector<std::string>{"u", "g", "r", "i", "z"}, {"i"}}) {
    options.bands = bands;
    options.out = Path(absl::StrCat("stack_", bands.size(), ".h5"));
    report = IngestFitsCube(Path("stack.fits"), options);
    ASSERT_TRUE(report.ok()) << report.status();
    reader = Read(options.out);
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->Read(0, kN, &batch).ok());
    const int count = static_cast<int>(bands.size());
    for (int n = 0; n < kN; ++n) {
      for (int b = 0; b < count; ++b) {
        const int stored = count == 1 ? 3 : b;  // the band's place in u..z
        EXPECT_EQ(PixelOf(batch, n, b, count), CubeValue(n, 4 - stored, 3, 7)) << n << " " << b;
      }
    }
  }
}

// One galaxy written, with ID `id`, from row 0 of the test cube: every band holds its pixels.
void ExpectCubeRowAsGalaxy(DatasetReader* reader, int64_t id) {
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 1, &batch).ok());
  EXPECT_EQ(batch.ids[0], id);
  for (int b = 0; b < kBands; ++b) EXPECT_EQ(PixelOf(batch, 0, b, kBands), CubeValue(0, b, 3, 7)) << b;
}

// Two galaxies written, in either order, with IDs `first` and `second` from rows 0 and 1 of the
// test cube: every band of each holds its row's pixels.
void ExpectCubeRowsAsGalaxies(DatasetReader* reader, int64_t first, int64_t second) {
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 2, &batch).ok());
  std::map<int64_t, int> row_of = {{batch.ids[0], 0}, {batch.ids[1], 1}};
  ASSERT_EQ(row_of.count(first), 1u);
  ASSERT_EQ(row_of.count(second), 1u);
  for (int b = 0; b < kBands; ++b) {
    EXPECT_EQ(PixelOf(batch, row_of[first], b, kBands), CubeValue(0, b, 3, 7)) << b;
    EXPECT_EQ(PixelOf(batch, row_of[second], b, kBands), CubeValue(1, b, 3, 7)) << b;
  }
}

TEST_F(IngestTest, OneBandCutoutsTakeTheirBandFromAnyWordOfTheNameAndTheHeaderMustAgree) {
  const char* names[] = {"u", "g", "r", "i", "z"};
  for (int b = 0; b < kBands; ++b) {
    WriteBandCutout(Path(absl::StrCat(names[b], "_80.fits")), 0, b, 40.0, 1.0);  // band first
    AddKeys(Path(absl::StrCat(names[b], "_80.fits")), 1, {{"FILTER", absl::StrCat("SDSS-", names[b])}});
    WriteBandCutout(Path(absl::StrCat("cutout_", names[b], "_81.fits")), 1, b, 41.0, 1.0);  // in the middle, no keyword
  }
  IngestOptions options;
  options.out = Path("words.h5");
  std::vector<std::string> files;
  for (int b = 0; b < kBands; ++b) {
    files.push_back(Path(absl::StrCat(names[b], "_80.fits")));
    files.push_back(Path(absl::StrCat("cutout_", names[b], "_81.fits")));
  }
  absl::StatusOr<IngestReport> report = IngestFitsCutouts(files, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, 2);
  EXPECT_TRUE(absl::StrContains(absl::StrJoin(report->notes, "\n"), "1 of 2 galaxies: no band named in the headers"))
      << absl::StrJoin(report->notes, "\n");
  ExpectCubeRowsAsGalaxies(Read(options.out).get(), 80, 81);

  // A file whose header names another band than its name is refused, naming both.
  AddKeys(Path("r_80.fits"), 1, {{"FILTER", "HSC-I"}});
  options.out = Path("mislabelled.h5");
  report = IngestFitsCutouts(files, "", options);
  EXPECT_TRUE(absl::StrContains(report.status().message(),
                                "r_80.fits: its path makes it the r-band cutout, but its header says 'HSC-I' (i)"))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

// Cutouts downloaded one band at a time often land in a directory per band, named by the galaxy
// alone: the band is then the directory's name or, failing that, the header's.
TEST_F(IngestTest, OneBandCutoutsTakeTheirBandFromTheirDirectoryOrTheirHeader) {
  const char* names[] = {"u", "g", "r", "i", "z"};
  std::vector<std::string> inputs;
  for (int b = 0; b < kBands; ++b) {
    const std::string by_dir = Path(absl::StrCat("dirs/", b == 1 ? "HSC-G" : names[b]));
    const std::string by_header = Path(absl::StrCat("run", b));  // not a band: the header names it
    fs::create_directories(by_dir);
    fs::create_directories(by_header);
    WriteBandCutout(by_dir + "/90.fits", 0, b, 50.0, 1.0);
    WriteBandCutout(by_header + "/91.fits", 1, b, 51.0, 1.0);
    AddKeys(by_header + "/91.fits", 1, {{"FILTER", absl::StrCat("SDSS ", names[b])}});
    inputs.push_back(by_dir);
    inputs.push_back(by_header);
  }
  IngestOptions options;
  options.out = Path("by-dir.h5");
  absl::StatusOr<IngestReport> report = IngestFitsCutouts(inputs, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, 2);
  EXPECT_TRUE(report->skipped.empty()) << absl::StrJoin(report->skipped, "\n");
  ExpectCubeRowsAsGalaxies(Read(options.out).get(), 90, 91);
  // The directory above the band directories does as well as the band directories themselves.
  options.out = Path("by-dir-above.h5");
  report = IngestFitsCutouts({Path("dirs")}, "", options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, 1);
  ExpectCubeRowAsGalaxy(Read(options.out).get(), 90);
  // A header that names another band than the directory is refused, naming both.
  AddKeys(Path("dirs/r/90.fits"), 1, {{"FILTER", "SDSS i"}});
  options.out = Path("by-dir-mislabelled.h5");
  report = IngestFitsCutouts(inputs, "", options);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "r/90.fits: its path makes it the r-band cutout, but its "
                                                           "header says 'SDSS i' (i)"))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

TEST_F(IngestTest, EveryIngestRecordsItsSourceAndThatPixelsKeepTheirUnits) {
  WriteStack(Path("stack.fits"));
  WriteCutout(Path("77.fits"), 0, 10, 0);
  IngestOptions options;
  options.out = Path("stack.h5");
  ASSERT_TRUE(IngestFitsCube(Path("stack.fits"), options).ok());
  options.out = Path("cutouts.h5");
  ASSERT_TRUE(IngestFitsCutouts({Path("77.fits")}, "", options).ok());
  for (const char* out : {"stack.h5", "cutouts.h5"}) {
    auto reader = Read(Path(out));
    ASSERT_NE(reader, nullptr);
    EXPECT_EQ(reader->layout().attributes.at("flux_unit"), "as in source") << out;
    EXPECT_FALSE(reader->layout().attributes.at("source").empty()) << out;
  }
}

TEST_F(IngestTest, TheCommandTakesADirectoryOfCutoutsAndItsCatalog) {
  fs::create_directories(Path("dir"));
  for (int n = 0; n < 3; ++n) WriteCutout(Path(absl::StrCat("dir/cutout_", 40 + n, ".fits")), n, 20.0, 1.0 + 0.01 * n);
  std::ofstream(Path("dir.csv")) << "id,z\n40,0.1\n41,0.2\n42,0.3\n";
  const std::string data = testutil::BinDir() + "/galaxy-data";
  absl::StatusOr<testutil::CommandResult> r =
      testutil::RunCommand({data, "ingest", Path("dir"), "--catalog", Path("dir.csv"), "--out", Path("dir.h5")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(absl::StrContains(r->out, "3 galaxies (fits-cutouts)")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "positions from each cutout's WCS")) << r->out;
  auto reader = Read(Path("dir.h5"));
  ASSERT_NE(reader, nullptr);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 3, &batch).ok());
  EXPECT_EQ(batch.ids, (std::vector<int64_t>{40, 41, 42}));
  EXPECT_FLOAT_EQ(batch.redshift[2], 0.3f);
  EXPECT_NEAR(batch.dec[2], 1.02, 1e-9);

  // One file of one galaxy is a cutout, not a stack, without --format.
  r = testutil::RunCommand({data, "ingest", Path("dir/cutout_41.fits"), "--out", Path("one.h5")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
  EXPECT_TRUE(absl::StrContains(r->out, "1 galaxy (fits-cutouts)")) << r->out;

  r = testutil::RunCommand({data, "ingest", Path("dir.csv"), "--format", "npz", "--catalog", Path("dir.csv"), "--out",
                            Path("bad.h5")});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r->err, "--catalog: only for FITS cutouts")) << r->err;
}

}  // namespace
}  // namespace galaxy::ingest_test
