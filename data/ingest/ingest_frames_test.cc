// Ingest of SDSS frames (IngestSdssFrames): five frames written here with cfitsio, each band with
// its own TAN WCS reference pixel as in real frames, cut at sky or r-frame pixel positions; the
// tests check that every band's cutout is centred on the source.
#include "data/ingest/ingest.h"

#include <bzlib.h>
#include <fitsio.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest_test_util.h"

namespace galaxy::ingest_test {
namespace {

namespace fs = std::filesystem;

constexpr double kScale = 0.396 / 3600;  // degrees per pixel
constexpr double kRa0 = 180.0, kDec0 = 10.0;
constexpr long kFrameW = 240, kFrameH = 180;
// Each band's reference pixel differs: the bands are not pixel-aligned, as in real frames.
const double kCrpix[5][2] = {{121.3, 88.9}, {119.8, 91.2}, {120.5, 90.5}, {122.9, 89.4}, {118.1, 92.7}};

// Gnomonic (TAN) projection, written out independently of wcslib: 0-based pixel of (ra, dec).
void SkyToPixel(int band, double ra, double dec, double* x, double* y) {
  const double d2r = M_PI / 180;
  const double a = ra * d2r, d = dec * d2r, a0 = kRa0 * d2r, d0 = kDec0 * d2r;
  const double cos_c = std::sin(d0) * std::sin(d) + std::cos(d0) * std::cos(d) * std::cos(a - a0);
  const double xi = std::cos(d) * std::sin(a - a0) / cos_c / d2r;
  const double eta = (std::cos(d0) * std::sin(d) - std::sin(d0) * std::cos(d) * std::cos(a - a0)) / cos_c / d2r;
  *x = kCrpix[band][0] + xi / -kScale - 1;  // CD1_1 = -scale: RA grows to the left
  *y = kCrpix[band][1] + eta / kScale - 1;
}

struct Source {
  double ra, dec;
};
// About 79 px apart in x: no neighbour intrudes into a 64-px cutout.
const Source kSources[] = {{180.0088, 10.0011}, {180.0, 9.9990}, {179.9912, 10.0004}};
const Source kEdgeSource = {180.0125, 10.0};  // ~113 px left of centre: cutout off the frame

// As SDSS writes them, FILTER included (`filter`, when given, instead of the band's letter).
void WriteFrame(const std::string& path, int band, long width, long height, const char* filter = nullptr) {
  std::vector<float> img(static_cast<size_t>(width * height), 0.0f);
  for (const Source& s : kSources) {
    double sx, sy;
    SkyToPixel(band, s.ra, s.dec, &sx, &sy);
    for (long y = 0; y < height; ++y) {
      for (long x = 0; x < width; ++x) {
        const double dx = x - sx, dy = y - sy;
        img[static_cast<size_t>(y * width + x)] += static_cast<float>(100.0 * std::exp(-(dx * dx + dy * dy) / (2 * 1.5 * 1.5)));
      }
    }
  }
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, ("!" + path).c_str(), &status);
  long naxes[2] = {width, height};
  fits_create_img(f, FLOAT_IMG, 2, naxes, &status);
  auto key_str = [&](const char* k, const char* v) { fits_write_key(f, TSTRING, k, const_cast<char*>(v), nullptr, &status); };
  auto key_dbl = [&](const char* k, double v) { fits_write_key(f, TDOUBLE, k, &v, nullptr, &status); };
  key_str("CTYPE1", "RA---TAN");
  key_str("CTYPE2", "DEC--TAN");
  key_str("RADESYS", "ICRS");
  key_dbl("EQUINOX", 2000.0);
  key_dbl("CRVAL1", kRa0);
  key_dbl("CRVAL2", kDec0);
  key_dbl("CRPIX1", kCrpix[band][0]);
  key_dbl("CRPIX2", kCrpix[band][1]);
  key_dbl("CD1_1", -kScale);
  key_dbl("CD1_2", 0.0);
  key_dbl("CD2_1", 0.0);
  key_dbl("CD2_2", kScale);
  key_str("BUNIT", "nanomaggy");
  key_str("FILTER", filter != nullptr ? filter : std::string(1, "ugriz"[band]).c_str());
  fits_write_img(f, TFLOAT, 1, width * height, img.data(), &status);
  fits_close_file(f, &status);
  ASSERT_EQ(status, 0);
}

// Every band of cutout `row` (size x size pixels) centred on its source: each band's flux-weighted
// centroid within 0.1 px of the cutout's centre, which lies between pixels size/2 - 1 and size/2.
void ExpectEveryBandCentred(const GalaxyBatch& batch, int row, int size) {
  for (int band = 0; band < 5; ++band) {
    double sum = 0, sx = 0, sy = 0;
    const float* p = batch.images.data() + (static_cast<size_t>(row) * 5 + band) * size * size;
    for (int y = 0; y < size; ++y) {
      for (int x = 0; x < size; ++x) {
        const double v = std::max(0.0f, p[y * size + x]);
        sum += v;
        sx += v * x;
        sy += v * y;
      }
    }
    EXPECT_NEAR(sx / sum, (size - 1) / 2.0, 0.1) << "row " << row << " band " << band;
    EXPECT_NEAR(sy / sum, (size - 1) / 2.0, 0.1) << "row " << row << " band " << band;
  }
}

class SdssFramesTest : public IngestTest {
 protected:
  std::vector<std::string> WriteFrames(long r_width = kFrameW, bool bz2_g = false) {
    std::vector<std::string> paths;
    const char* bands = "ugriz";
    for (int b = 0; b < 5; ++b) {
      std::string path = Path(absl::StrCat("frame-", std::string(1, bands[b]), "-003918-3-0213.fits"));
      WriteFrame(path, b, b == 2 ? r_width : kFrameW, kFrameH);
      if (bz2_g && b == 1) path = Compress(path);
      paths.push_back(path);
    }
    return paths;
  }
  std::string Compress(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string packed(raw.size() + raw.size() / 50 + 1024, '\0');
    unsigned int size = static_cast<unsigned int>(packed.size());
    EXPECT_EQ(BZ2_bzBuffToBuffCompress(packed.data(), &size, raw.data(),
                                       static_cast<unsigned int>(raw.size()), 9, 0, 0), BZ_OK);
    packed.resize(size);
    std::ofstream(path + ".bz2", std::ios::binary) << packed;
    fs::remove(path);
    return path + ".bz2";
  }
};

TEST_F(SdssFramesTest, CutoutsAtSkyPositionsAreCentredInEveryBand) {
  std::vector<std::string> frames = WriteFrames(kFrameW, /*bz2_g=*/true);
  {
    std::ofstream csv(Path("positions.csv"));
    csv << "objid,ra,dec,z\n";
    for (int i = 0; i < 3; ++i) csv << 1000 + i << "," << absl::StrFormat("%.10f,%.10f", kSources[i].ra, kSources[i].dec) << ",0.1\n";
    csv << "2000," << absl::StrFormat("%.10f,%.10f", kEdgeSource.ra, kEdgeSource.dec) << ",0.2\n";
  }
  IngestOptions options;
  options.out = Path("out.h5");
  options.cutout_size = 64;
  absl::StatusOr<IngestReport> report = IngestSdssFrames(frames, Path("positions.csv"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->written, 3);
  ASSERT_EQ(report->skipped.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report->skipped[0], "ObjID 2000")) << report->skipped[0];
  auto reader = Read(options.out);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 3, &batch).ok());
  for (int row = 0; row < 3; ++row) {
    EXPECT_EQ(batch.ids[row], 1000 + row);
    ExpectEveryBandCentred(batch, row, 64);
  }
}

TEST_F(SdssFramesTest, PixelPositionsInTheRFrameAlignAllBands) {
  std::vector<std::string> frames = WriteFrames();
  {
    std::ofstream csv(Path("positions.csv"));
    csv << "ObjID,x,y\n";
    for (int i = 0; i < 3; ++i) {
      double x, y;
      SkyToPixel(2, kSources[i].ra, kSources[i].dec, &x, &y);
      csv << 7 + i << "," << absl::StrFormat("%.6f,%.6f", x, y) << "\n";
    }
  }
  IngestOptions options;
  options.out = Path("out.h5");
  options.cutout_size = 32;
  absl::StatusOr<IngestReport> report = IngestSdssFrames(frames, Path("positions.csv"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  auto reader = Read(options.out);
  GalaxyBatch batch;
  ASSERT_TRUE(reader->Read(0, 3, &batch).ok());
  for (int row = 0; row < 3; ++row) {
    EXPECT_NEAR(batch.ra[row], kSources[row].ra, 1e-6);
    EXPECT_NEAR(batch.dec[row], kSources[row].dec, 1e-6);
    ExpectEveryBandCentred(batch, row, 32);
  }
}

TEST_F(SdssFramesTest, AFrameOfTheWrongSizeIsNamedAndNothingIsWritten) {
  std::vector<std::string> frames = WriteFrames(/*r_width=*/200);
  std::ofstream(Path("positions.csv")) << "ObjID,ra,dec\n1,180,10\n";
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestSdssFrames(frames, Path("positions.csv"), options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "frame-r-003918-3-0213.fits")) << report.status();
  EXPECT_TRUE(absl::StrContains(report.status().message(), "NAXIS1")) << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

// The band is taken from the frame's name; a FILTER card that names another band is refused
// (a renamed or mislabelled download would otherwise put one band's pixels in another's plane).
TEST_F(SdssFramesTest, AFrameWhoseFilterIsAnotherBandIsNamedAndNothingIsWritten) {
  std::vector<std::string> frames = WriteFrames();
  WriteFrame(frames[1], 1, kFrameW, kFrameH, "i");
  std::ofstream(Path("positions.csv")) << "ObjID,ra,dec\n1,180,10\n";
  IngestOptions options;
  options.out = Path("out.h5");
  absl::StatusOr<IngestReport> report = IngestSdssFrames(frames, Path("positions.csv"), options);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(),
                                "frame-g-003918-3-0213.fits: its path makes it the g-band frame, but its header says 'i' (i)"))
      << report.status();
  EXPECT_FALSE(fs::exists(options.out));
}

}  // namespace
}  // namespace galaxy::ingest_test
