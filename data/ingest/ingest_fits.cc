// FITS ingest: cutout stacks (4-D image HDU + optional binary table) and SDSS frames cut at
// catalog positions through each band's TAN WCS (wcslib).
#include <fitsio.h>
#include <wcslib/wcs.h>
#include <wcslib/wcshdr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <regex>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/fits_file.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/ingest.h"
#include "data/ingest/ingest_catalog.h"

namespace galaxy {
namespace {

// Reads every numeric column of the current binary-table HDU into a catalog.
absl::StatusOr<InputCatalog> ReadTable(const FitsFile& f) {
  int status = 0, cols = 0;
  long rows = 0;
  fits_get_num_rows(f.get(), &rows, &status);
  fits_get_num_cols(f.get(), &cols, &status);
  LONGLONG row_bytes = 0;
  fits_read_key(f.get(), TLONGLONG, "NAXIS1", &row_bytes, nullptr, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the table's size"));
  GALAXY_RETURN_IF_ERROR(f.CheckDeclaredData(rows, std::max<LONGLONG>(1, row_bytes),
                                             absl::StrCat("table of ", rows, " rows")));
  InputCatalog catalog;
  catalog.rows = rows;
  for (int c = 1; c <= cols; ++c) {
    char key[FLEN_KEYWORD], name[FLEN_VALUE] = {0};
    std::snprintf(key, sizeof(key), "TTYPE%d", c);
    fits_read_key(f.get(), TSTRING, key, name, nullptr, &status);
    int typecode = 0;
    long repeat = 0, width = 0;
    fits_get_coltype(f.get(), c, &typecode, &repeat, &width, &status);
    GALAXY_RETURN_IF_ERROR(f.Check(status, absl::StrCat("reading column ", c)));
    if (typecode == TSTRING || typecode == TLOGICAL || typecode == TBIT || typecode < 0) continue;
    for (long k = 0; k < repeat; ++k) {
      const std::string col = repeat == 1 ? std::string(name) : absl::StrCat(name, "_", k);
      catalog.order.push_back(col);
      std::vector<double>& values = catalog.values[col];
      values.resize(static_cast<size_t>(rows));
      for (long r = 0; r < rows; ++r) {
        double nul = std::nan("");
        int anynul = 0;
        fits_read_col(f.get(), TDOUBLE, c, r + 1, k + 1, 1, &nul, &values[static_cast<size_t>(r)], &anynul, &status);
      }
      if (typecode == TLONGLONG) {
        std::vector<int64_t>& ints = catalog.integers[col];
        ints.resize(static_cast<size_t>(rows));
        for (long r = 0; r < rows; ++r) {
          LONGLONG v = 0, nul = 0;
          int anynul = 0;
          fits_read_col(f.get(), TLONGLONG, c, r + 1, k + 1, 1, &nul, &v, &anynul, &status);
          ints[static_cast<size_t>(r)] = v;
        }
      }
      GALAXY_RETURN_IF_ERROR(f.Check(status, absl::StrCat("reading column '", col, "'")));
    }
  }
  return catalog;
}

// A celestial WCS read from the current HDU's header.
class Wcs {
 public:
  static absl::StatusOr<std::unique_ptr<Wcs>> FromHeader(const FitsFile& f) {
    int status = 0, nkeys = 0;
    char* header = nullptr;
    fits_hdr2str(f.get(), 1, nullptr, 0, &header, &nkeys, &status);
    GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the header"));
    std::unique_ptr<Wcs> w(new Wcs);
    int nreject = 0;
    const int rc = wcspih(header, nkeys, WCSHDR_all, 0, &nreject, &w->nwcs_, &w->wcs_);
    fits_free_memory(header, &status);
    const auto unusable = [&] {
      return absl::InvalidArgumentError(absl::StrCat(f.path(), ": no usable celestial WCS in the header (CTYPE/CRVAL/CRPIX/CD)"));
    };
    if (rc != 0 || w->nwcs_ < 1 || w->wcs_ == nullptr) return unusable();
    if (w->wcs_->naxis > 2) {
      // A cutout of several bands: its header describes the band axis too; keep the sky's two.
      int nsub = 2, axes[2] = {WCSSUB_LONGITUDE, WCSSUB_LATITUDE};
      w->celestial_ = std::make_unique<wcsprm>();
      w->celestial_->flag = -1;
      if (wcssub(1, w->wcs_, &nsub, axes, w->celestial_.get()) != 0 || nsub != 2) {
        wcsfree(w->celestial_.get());
        w->celestial_.reset();
        return unusable();
      }
    }
    if (wcsset(w->prm()) != 0 || w->prm()->naxis != 2) return unusable();
    return w;
  }
  ~Wcs() {
    if (celestial_) wcsfree(celestial_.get());
    if (wcs_ != nullptr) wcsvfree(&nwcs_, &wcs_);
  }
  // Sky (degrees) to 0-based pixel-centre coordinates.
  bool SkyToPixel(double ra, double dec, double* x, double* y) const {
    double world[2] = {ra, dec}, phi, theta, img[2], pix[2];
    int stat = 0;
    if (wcss2p(prm(), 1, 2, world, &phi, &theta, img, pix, &stat) != 0) return false;
    *x = pix[0] - 1;
    *y = pix[1] - 1;
    return true;
  }
  bool PixelToSky(double x, double y, double* ra, double* dec) const {
    double pix[2] = {x + 1, y + 1}, img[2], phi, theta, world[2];
    int stat = 0;
    if (wcsp2s(prm(), 1, 2, pix, img, &phi, &theta, world, &stat) != 0) return false;
    *ra = world[0];
    *dec = world[1];
    return true;
  }

 private:
  Wcs() = default;
  wcsprm* prm() const { return celestial_ ? celestial_.get() : wcs_; }
  int nwcs_ = 0;
  struct wcsprm* wcs_ = nullptr;
  std::unique_ptr<wcsprm> celestial_;  // the sky axes of a header with more
};

// One SDSS frame: its image (height x width, nanomaggies) and WCS.
struct Frame {
  std::string path;
  int band = -1;
  long width = 0, height = 0;
  std::vector<float> pixels;
  std::unique_ptr<Wcs> wcs;
};

absl::StatusOr<Frame> ReadFrame(const std::string& path, int band) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<FitsFile> f, FitsFile::Open(path));
  int status = 0, naxis = 0;
  fits_get_img_dim(f->get(), &naxis, &status);
  GALAXY_RETURN_IF_ERROR(f->Check(status, "reading NAXIS"));
  if (naxis != 2) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": key NAXIS: ", naxis, ", expected a 2-D frame image"));
  }
  long dims[2] = {0, 0};
  int bitpix = 0;
  fits_get_img_size(f->get(), 2, dims, &status);
  fits_get_img_type(f->get(), &bitpix, &status);
  GALAXY_RETURN_IF_ERROR(f->Check(status, "reading the image size"));
  if (dims[0] < 1 || dims[1] < 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": keys NAXIS1/NAXIS2: ", dims[0], " x ", dims[1], " is empty"));
  }
  GALAXY_RETURN_IF_ERROR(f->CheckDeclaredData(static_cast<int64_t>(dims[0]) * dims[1], std::abs(bitpix) / 8, "frame image"));
  Frame frame;
  frame.path = path;
  frame.band = band;
  frame.width = dims[0];
  frame.height = dims[1];
  frame.pixels.resize(static_cast<size_t>(dims[0] * dims[1]));
  float nul = 0;
  int anynul = 0;
  fits_read_img(f->get(), TFLOAT, 1, dims[0] * dims[1], &nul, frame.pixels.data(), &anynul, &status);
  GALAXY_RETURN_IF_ERROR(f->Check(status, "reading the image"));
  GALAXY_ASSIGN_OR_RETURN(frame.wcs, Wcs::FromHeader(*f));
  return frame;
}

// Bilinear sample of a frame at 0-based pixel-centre coordinates (inside the frame).
float Bilinear(const Frame& f, double x, double y) {
  const long x0 = static_cast<long>(std::floor(x)), y0 = static_cast<long>(std::floor(y));
  const double fx = x - x0, fy = y - y0;
  auto at = [&](long xx, long yy) { return f.pixels[static_cast<size_t>(yy * f.width + xx)]; };
  return static_cast<float>((1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x0 + 1, y0) +
                            (1 - fx) * fy * at(x0, y0 + 1) + fx * fy * at(x0 + 1, y0 + 1));
}

}  // namespace

absl::StatusOr<IngestReport> IngestFitsCube(const std::string& path, const IngestOptions& options) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<FitsFile> f, FitsFile::Open(path));
  int status = 0, hdus = 0;
  fits_get_num_hdus(f->get(), &hdus, &status);
  int cube_hdu = 0, table_hdu = 0;
  long dims[4] = {0, 0, 0, 0};
  for (int h = 1; h <= hdus; ++h) {
    int type = 0, naxis = 0;
    fits_movabs_hdu(f->get(), h, &type, &status);
    if (type == IMAGE_HDU && cube_hdu == 0) {
      fits_get_img_dim(f->get(), &naxis, &status);
      if (naxis == 4) {
        fits_get_img_size(f->get(), 4, dims, &status);
        cube_hdu = h;
      } else if (naxis > 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": HDU ", h, " key NAXIS: ", naxis, ", expected 4 (N x C x H x W cutouts)"));
      }
    } else if (type == BINARY_TBL && table_hdu == 0) {
      table_hdu = h;
    }
  }
  GALAXY_RETURN_IF_ERROR(f->Check(status, "reading HDUs"));
  if (cube_hdu == 0) return absl::NotFoundError(absl::StrCat(path, ": no 4-D image HDU (cutout stack)"));
  const int bands = static_cast<int>(options.bands.size());
  if (dims[2] != bands) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": key NAXIS3: ", dims[2], " bands, expected ", bands));
  }
  GALAXY_RETURN_IF_ERROR(CheckCutoutAxes(path, dims[0], dims[1], dims[2]));
  const int64_t count = dims[3];
  {
    int type = 0, bitpix = 0;
    fits_movabs_hdu(f->get(), cube_hdu, &type, &status);
    fits_get_img_type(f->get(), &bitpix, &status);
    GALAXY_RETURN_IF_ERROR(f->Check(status, "reading the cutout HDU"));
    int64_t elements = 0;  // saturates instead of overflowing: CheckDeclaredData refuses it
    if (__builtin_mul_overflow(count, static_cast<int64_t>(bands) * dims[0] * dims[1], &elements)) elements = INT64_MAX;
    GALAXY_RETURN_IF_ERROR(f->CheckDeclaredData(elements, std::abs(bitpix) / 8,
                                                absl::StrCat("HDU ", cube_hdu, ", ", count, " cutouts")));
  }
  IngestReport report;
  InputCatalog catalog;
  if (table_hdu != 0) {
    int type = 0;
    fits_movabs_hdu(f->get(), table_hdu, &type, &status);
    GALAXY_ASSIGN_OR_RETURN(catalog, ReadTable(*f));
    if (catalog.rows != count) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": table has ", catalog.rows, " rows for ", count, " cutouts"));
    }
  } else {
    catalog.rows = count;
  }
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, options, &report.notes));
  GALAXY_RETURN_IF_ERROR(CheckUniqueIds(catalog, plan, options, path));
  DatasetLayout layout;
  layout.bands = bands;
  layout.band_names = options.bands;
  layout.width = static_cast<int>(dims[0]);
  layout.height = static_cast<int>(dims[1]);
  layout.extra_columns = PlanExtraColumns(plan);
  layout.attributes = {{"source", path}, {"flux_unit", "as in source"}};
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(options.out, layout));
  int type = 0;
  fits_movabs_hdu(f->get(), cube_hdu, &type, &status);
  const int64_t step = layout.images_per_block();
  GalaxyBatch batch;
  for (int64_t start = 0; start < count; start += step) {
    const int64_t n = std::min(step, count - start);
    batch.Resize(layout, n);
    long first[4] = {1, 1, 1, static_cast<long>(start + 1)};
    long last[4] = {dims[0], dims[1], dims[2], static_cast<long>(start + n)};
    long inc[4] = {1, 1, 1, 1};
    float nul = std::nanf("");
    int anynul = 0;
    fits_read_subset(f->get(), TFLOAT, first, last, inc, &nul, batch.images.data(), &anynul, &status);
    GALAXY_RETURN_IF_ERROR(f->Check(status, absl::StrCat("reading cutouts ", start, "..", start + n)));
    FillCatalogRows(catalog, plan, options, start, n, &batch);
    GALAXY_RETURN_IF_ERROR(writer->Append(batch));
  }
  GALAXY_RETURN_IF_ERROR(writer->Commit());
  report.written = count;
  return report;
}

absl::StatusOr<IngestReport> IngestSdssFrames(const std::vector<std::string>& frame_paths,
                                              const std::string& positions_csv,
                                              const IngestOptions& options) {
  const int bands = static_cast<int>(options.bands.size());
  if (static_cast<int>(frame_paths.size()) != bands) {
    return absl::InvalidArgumentError(absl::StrCat("need one frame per band (", bands, "), got ",
                                                   frame_paths.size()));
  }
  const int size = options.cutout_size;
  if (size < 8 || size > 1024) {
    return absl::InvalidArgumentError(absl::StrCat("--size: ", size, " is outside 8..1024"));
  }
  std::vector<Frame> frames(static_cast<size_t>(bands));
  const std::regex name_pattern("frame-([a-z])-[0-9]+-[0-9]+-[0-9]+\\.fits(\\.bz2)?$");
  for (const std::string& path : frame_paths) {
    std::smatch m;
    const std::string base = path.substr(path.find_last_of('/') + 1);
    if (!std::regex_search(base, m, name_pattern)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not named frame-<band>-RUN-CAMCOL-FIELD.fits[.bz2]"));
    }
    const auto it = std::find(options.bands.begin(), options.bands.end(), m[1].str());
    if (it == options.bands.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": band '", m[1].str(), "' is not one of ",
                                                     absl::StrJoin(options.bands, ",")));
    }
    const int band = static_cast<int>(it - options.bands.begin());
    if (frames[band].band >= 0) {
      return absl::InvalidArgumentError(absl::StrCat("two frames for band ", m[1].str(), ": ",
                                                     frames[band].path, " and ", path));
    }
    GALAXY_ASSIGN_OR_RETURN(frames[band], ReadFrame(path, band));
  }
  for (const Frame& f : frames) {
    if (f.width != frames[0].width || f.height != frames[0].height) {
      return absl::InvalidArgumentError(absl::StrCat(f.path, ": key NAXIS1/NAXIS2: ", f.width, " x ", f.height,
                                                     ", but ", frames[0].path, " is ", frames[0].width,
                                                     " x ", frames[0].height));
    }
  }
  const int reference = options.bands.size() == 5 ? 2 : 0;  // r for ugriz
  GALAXY_ASSIGN_OR_RETURN(InputCatalog catalog, ReadNumericCsv(positions_csv));
  IngestReport report;
  // Pixel positions (r frame) become sky positions through the r frame's WCS.
  auto find = [&](const char* want) -> std::string {
    for (const std::string& c : catalog.order) {
      if (absl::AsciiStrToLower(c) == want) return c;
    }
    return "";
  };
  const std::string xcol = find("x"), ycol = find("y");
  bool has_sky = false;
  for (const std::string& c : catalog.order) has_sky |= NativeColumnName(c, options.renames) == kRaKey;
  if (!has_sky && !xcol.empty() && !ycol.empty()) {
    std::vector<double>& ra = catalog.values["ra"];
    std::vector<double>& dec = catalog.values["dec"];
    for (int64_t r = 0; r < catalog.rows; ++r) {
      double a = 0, d = 0;
      frames[reference].wcs->PixelToSky(catalog.values[xcol][r], catalog.values[ycol][r], &a, &d);
      ra.push_back(a);
      dec.push_back(d);
    }
    catalog.order.push_back("ra");
    catalog.order.push_back("dec");
    report.notes.push_back(absl::StrCat("positions given as pixels of ", frames[reference].path));
  }
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, options, &report.notes));
  GALAXY_RETURN_IF_ERROR(CheckUniqueIds(catalog, plan, options, positions_csv));

  DatasetLayout layout;
  layout.bands = bands;
  layout.band_names = options.bands;
  layout.height = layout.width = size;
  layout.extra_columns = PlanExtraColumns(plan);
  layout.attributes = {{"source", absl::StrJoin(frame_paths, ",")}, {"flux_unit", "nanomaggies"},
                       {"pixel_scale_arcsec", "0.396"}};
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(options.out, layout));
  GalaxyBatch all, one;
  all.Resize(layout, 0);
  one.Resize(layout, 1);
  const double half = size / 2.0 - 0.5;  // cutout centre in 0-based pixel-centre coordinates
  const int64_t plane = static_cast<int64_t>(size) * size;
  for (int64_t r = 0; r < catalog.rows; ++r) {
    FillCatalogRows(catalog, plan, options, r, 1, &one);
    std::string problem;
    for (int b = 0; b < bands && problem.empty(); ++b) {
      const Frame& f = frames[b];
      double x = 0, y = 0;
      if (!f.wcs->SkyToPixel(one.ra[0], one.dec[0], &x, &y)) {
        problem = absl::StrCat("no pixel for ra ", one.ra[0], ", dec ", one.dec[0], " in ", f.path);
        break;
      }
      if (x - half < 0 || y - half < 0 || x + half > f.width - 1 || y + half > f.height - 1) {
        problem = absl::StrCat("cutout at pixel (", x, ", ", y, ") falls off ", f.path);
        break;
      }
      for (int j = 0; j < size; ++j) {
        for (int i = 0; i < size; ++i) {
          one.images[static_cast<size_t>(b * plane + j * size + i)] = Bilinear(f, x - half + i, y - half + j);
        }
      }
    }
    if (!problem.empty()) {
      report.skipped.push_back(absl::StrCat("row ", r, " (ObjID ", one.ids[0], "): ", problem));
      continue;
    }
    all.AppendRows(one, 0, 1, layout);
  }
  if (all.count == 0) {
    return absl::InvalidArgumentError(absl::StrCat("no position of ", positions_csv,
                                                   " yields a cutout inside every frame"));
  }
  GALAXY_RETURN_IF_ERROR(writer->Append(all));
  GALAXY_RETURN_IF_ERROR(writer->Commit());
  report.written = all.count;
  return report;
}

namespace {

// A FITS file's name: .fits, .fit or .fts, optionally compressed (.gz, .bz2, .fz). Returns it
// without those extensions; `is_fits` says whether it had a FITS one.
std::string Stem(const std::string& path, bool* is_fits = nullptr) {
  std::string stem = path;
  for (const char* ext : {".bz2", ".gz", ".fz"}) {
    if (absl::EndsWithIgnoreCase(stem, ext)) {
      stem.resize(stem.size() - std::strlen(ext));
      break;
    }
  }
  bool fits = false;
  for (const char* ext : {".fits", ".fit", ".fts"}) {
    if (absl::EndsWithIgnoreCase(stem, ext)) {
      stem.resize(stem.size() - std::strlen(ext));
      fits = true;
      break;
    }
  }
  if (is_fits != nullptr) *is_fits = fits;
  return stem;
}

// The ID in a cutout's file name: its last run of digits ("1237648720693755918.fits",
// "cutout_42.fits.gz"); nullopt when it has none (or too many digits for an int64).
std::optional<int64_t> IdInName(const std::string& path) {
  const std::string stem = Stem(std::filesystem::path(path).filename().string());
  size_t end = stem.find_last_of("0123456789");
  if (end == std::string::npos) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && absl::ascii_isdigit(static_cast<unsigned char>(stem[begin - 1]))) --begin;
  int64_t id = 0;
  if (!absl::SimpleAtoi(stem.substr(begin, end + 1 - begin), &id)) return std::nullopt;
  return id;
}

// One galaxy's files: one cutout of every band, or one one-band cutout per band (in band order).
struct CutoutGalaxy {
  std::string name;  // the file, or the files' common name
  std::vector<std::string> paths;
  int64_t id = 0;
};

// The galaxies `files` hold. When the first is a one-band image and several bands are asked for,
// each file is one band of a galaxy, named <name>[-_.]<band>; a galaxy missing a band is skipped
// and listed.
absl::StatusOr<std::vector<CutoutGalaxy>> GroupCutouts(const std::vector<std::string>& files,
                                                       const IngestOptions& options, IngestReport* report) {
  const size_t bands = options.bands.size();
  GALAXY_ASSIGN_OR_RETURN(FitsCutout first, ReadFitsCutout(files[0]));
  std::vector<CutoutGalaxy> galaxies;
  if (first.bands != 1 || bands == 1) {
    for (const std::string& f : files) galaxies.push_back({f, {f}, 0});
  } else {
    std::map<std::string, std::vector<std::string>> by_name;
    for (const std::string& f : files) {
      const std::string stem = Stem(f);
      const size_t cut = stem.find_last_of("-_.");
      const std::string band = absl::AsciiStrToLower(cut == std::string::npos ? "" : stem.substr(cut + 1));
      size_t b = 0;
      while (b < bands && absl::AsciiStrToLower(options.bands[b]) != band) ++b;
      if (b == bands) {
        return absl::InvalidArgumentError(absl::StrCat(
            f, ": a one-band cutout whose name does not end in its band (", absl::StrJoin(options.bands, ", "),
            "), as in 1237648720693755918-g.fits"));
      }
      std::vector<std::string>& paths = by_name[stem.substr(0, cut)];
      paths.resize(bands);
      if (!paths[b].empty()) {
        return absl::InvalidArgumentError(absl::StrCat("two ", options.bands[b], "-band cutouts: ", paths[b], " and ", f));
      }
      paths[b] = f;
    }
    for (auto& [name, paths] : by_name) {
      std::vector<std::string> missing;
      for (size_t b = 0; b < bands; ++b) {
        if (paths[b].empty()) missing.push_back(options.bands[b]);
      }
      if (missing.empty()) {
        galaxies.push_back({name, paths, 0});
      } else {
        report->skipped.push_back(absl::StrCat(name, ": no ", absl::StrJoin(missing, ", "), "-band cutout"));
      }
    }
    report->notes.push_back(absl::StrCat("one file per band: ", galaxies.size(), " galaxies of ", files.size(), " files"));
    if (galaxies.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no galaxy has a cutout of every band (", absl::StrJoin(options.bands, ", "),
                                                     "); the first: ", report->skipped.front()));
    }
  }
  // IDs: the names', or id_base + their place.
  for (size_t i = 0; i < galaxies.size(); ++i) {
    if (options.id_base >= 0) {
      galaxies[i].id = options.id_base + static_cast<int64_t>(i);
      continue;
    }
    const std::optional<int64_t> id = IdInName(galaxies[i].name);
    if (!id) {
      return absl::InvalidArgumentError(absl::StrCat(
          galaxies[i].name, ": no ID in the file name (name cutouts by ObjID, e.g. 1237648720693755918.fits, or number "
                            "them in order with --id-base)"));
    }
    galaxies[i].id = *id;
  }
  return galaxies;
}

// A galaxy's cutout of every band: its one file's, or its one-band files' stacked (the WCS then
// the first band's).
absl::StatusOr<FitsCutout> ReadGalaxy(const CutoutGalaxy& galaxy, const std::vector<std::string>& band_names) {
  const int64_t bands = static_cast<int64_t>(band_names.size());
  const auto wrong = [&](const std::string& path, const FitsCutout& c, int64_t want) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", c.rows > 1 ? absl::StrCat(c.rows, " cutouts of ") : "",
                                                   c.bands, " band(s), expected one cutout of ", want, " (",
                                                   want == bands ? absl::StrJoin(band_names, ",") : "one file per band",
                                                   "; --bands names them)"));
  };
  if (galaxy.paths.size() == 1) {
    GALAXY_ASSIGN_OR_RETURN(FitsCutout cutout, ReadFitsCutout(galaxy.paths[0]));
    if (cutout.bands != bands || cutout.rows != 1) return wrong(galaxy.paths[0], cutout, bands);
    return cutout;
  }
  FitsCutout all;
  for (int64_t b = 0; b < bands; ++b) {
    const std::string& path = galaxy.paths[static_cast<size_t>(b)];
    GALAXY_ASSIGN_OR_RETURN(FitsCutout one, ReadFitsCutout(path));
    if (one.bands != 1 || one.rows != 1) return wrong(path, one, 1);
    if (b == 0) {
      all.width = one.width;
      all.height = one.height;
      all.bands = bands;
      all.pixels.reserve(static_cast<size_t>(bands * one.width * one.height));
      all.file = std::move(one.file);
    } else if (one.width != all.width || one.height != all.height) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", one.width, " x ", one.height, " pixels, but ",
                                                     galaxy.paths[0], " is ", all.width, " x ", all.height));
    }
    all.pixels.insert(all.pixels.end(), one.pixels.begin(), one.pixels.end());
  }
  return all;
}

}  // namespace

std::vector<std::string> ExpandCutoutInputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(input, ec)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> found;
    for (const auto& entry : std::filesystem::directory_iterator(input, ec)) {
      bool fits = false;
      Stem(entry.path().filename().string(), &fits);
      if (fits && entry.is_regular_file(ec)) found.push_back(entry.path().string());
    }
    std::sort(found.begin(), found.end());
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

absl::StatusOr<IngestReport> IngestFitsCutouts(const std::vector<std::string>& inputs, const std::string& catalog_csv,
                                               const IngestOptions& options) {
  for (const std::string& input : inputs) {
    std::error_code ec;
    if (!std::filesystem::exists(input, ec)) return absl::NotFoundError(absl::StrCat(input, ": no such file or directory"));
  }
  const std::vector<std::string> files = ExpandCutoutInputs(inputs);
  if (files.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no FITS cutouts (.fits, .fit, .fts, optionally .gz/.bz2/.fz) in ",
                                                   absl::StrJoin(inputs, ", ")));
  }
  IngestReport report;
  GALAXY_ASSIGN_OR_RETURN(const std::vector<CutoutGalaxy> galaxies, GroupCutouts(files, options, &report));
  // The catalog of the galaxies kept, in their order: the CSV's row of each one's ID, or the IDs alone.
  InputCatalog catalog;
  std::vector<size_t> kept;
  if (!catalog_csv.empty()) {
    GALAXY_ASSIGN_OR_RETURN(InputCatalog csv, ReadNumericCsv(catalog_csv));
    std::string id_column;
    for (const std::string& c : csv.order) {
      if (NativeColumnName(c, options.renames) == kIdKey) id_column = c;
    }
    if (id_column.empty() || csv.integers.count(id_column) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(catalog_csv, ": no integer ID column (ObjID/objid/id; --rename "
                                                     "NAME=ObjID) to match the cutouts' names; columns: ",
                                                     absl::StrJoin(csv.order, ", ")));
    }
    std::unordered_map<int64_t, int64_t> row_of;
    for (int64_t r = 0; r < csv.rows; ++r) row_of.emplace(csv.integers[id_column][static_cast<size_t>(r)], r);
    catalog.order = csv.order;
    for (size_t i = 0; i < galaxies.size(); ++i) {
      const auto it = row_of.find(galaxies[i].id);
      if (it == row_of.end()) {
        report.skipped.push_back(absl::StrCat(galaxies[i].name, ": ID ", galaxies[i].id, " is not in ", catalog_csv));
        continue;
      }
      kept.push_back(i);
      for (const std::string& c : csv.order) {
        catalog.values[c].push_back(csv.values[c][static_cast<size_t>(it->second)]);
        if (csv.integers.count(c)) catalog.integers[c].push_back(csv.integers[c][static_cast<size_t>(it->second)]);
      }
    }
    if (kept.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("no cutout's ID is in ", catalog_csv, " (the first: ",
                                                     galaxies[0].name, ", ID ", galaxies[0].id, ")"));
    }
  } else {
    catalog.order = {"ObjID"};
    for (size_t i = 0; i < galaxies.size(); ++i) {
      kept.push_back(i);
      catalog.values["ObjID"].push_back(static_cast<double>(galaxies[i].id));
      catalog.integers["ObjID"].push_back(galaxies[i].id);
    }
  }
  catalog.rows = static_cast<int64_t>(kept.size());
  // Sky positions from the catalog, else from each cutout's WCS at its centre.
  bool has_sky = false;
  for (const std::string& c : catalog.order) has_sky |= NativeColumnName(c, options.renames) == kRaKey;
  if (!has_sky) {
    for (const char* c : {"ra", "dec"}) {
      catalog.order.push_back(c);
      catalog.values[c].assign(kept.size(), 0.0);
    }
    report.notes.push_back("positions from each cutout's WCS at its centre");
  }
  IngestOptions plan_options = options;
  plan_options.id_base = -1;  // the IDs are in the catalog now
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, plan_options, &report.notes));
  GALAXY_RETURN_IF_ERROR(CheckUniqueIds(catalog, plan, plan_options, catalog_csv.empty() ? "the file names" : catalog_csv));

  const int bands = static_cast<int>(options.bands.size());
  std::unique_ptr<DatasetWriter> writer;
  DatasetLayout layout;
  GalaxyBatch batch;
  int64_t step = 1, start = 0;
  Progress progress("ingest", "cutouts", catalog.rows);
  for (int64_t row = 0; row < catalog.rows; ++row) {
    const CutoutGalaxy& galaxy = galaxies[kept[static_cast<size_t>(row)]];
    const std::string& path = galaxy.paths[0];
    GALAXY_ASSIGN_OR_RETURN(FitsCutout cutout, ReadGalaxy(galaxy, options.bands));
    if (!writer) {
      layout.bands = bands;
      layout.band_names = options.bands;
      layout.width = static_cast<int>(cutout.width);
      layout.height = static_cast<int>(cutout.height);
      layout.extra_columns = PlanExtraColumns(plan);
      layout.attributes = {{"source", absl::StrJoin(inputs, ",")}, {"flux_unit", "as in source"}};
      GALAXY_ASSIGN_OR_RETURN(writer, DatasetWriter::Create(options.out, layout));
      step = layout.images_per_block();
    } else if (cutout.width != layout.width || cutout.height != layout.height) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", cutout.width, " x ", cutout.height, " pixels, but ",
                                                     galaxies[kept[0]].paths[0], " is ", layout.width, " x ", layout.height,
                                                     " (every cutout must have one size)"));
    }
    if (!has_sky) {
      GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Wcs> wcs, Wcs::FromHeader(*cutout.file));
      double ra = 0, dec = 0;
      if (!wcs->PixelToSky((cutout.width - 1) / 2.0, (cutout.height - 1) / 2.0, &ra, &dec)) {
        return absl::InvalidArgumentError(absl::StrCat(path, ": its WCS gives no sky position for the image centre"));
      }
      catalog.values["ra"][static_cast<size_t>(row)] = ra;
      catalog.values["dec"][static_cast<size_t>(row)] = dec;
    }
    if (row == start) batch.Resize(layout, std::min(step, catalog.rows - start));
    std::copy(cutout.pixels.begin(), cutout.pixels.end(),
              batch.images.begin() + (row - start) * layout.pixels_per_image());
    if (row + 1 == start + batch.count) {
      FillCatalogRows(catalog, plan, plan_options, start, batch.count, &batch);
      GALAXY_RETURN_IF_ERROR(writer->Append(batch));
      start = row + 1;
      progress.Update(start);
    }
  }
  GALAXY_RETURN_IF_ERROR(writer->Commit());
  report.written = catalog.rows;
  return report;
}

}  // namespace galaxy
