// FITS ingest: cutout stacks (4-D image HDU + optional binary table) and SDSS frames cut at
// catalog positions through each band's TAN WCS (wcslib).
#include <fitsio.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
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
#include "data/ingest/fits_wcs.h"
#include "data/ingest/ingest.h"
#include "data/ingest/ingest_catalog.h"

namespace galaxy {
namespace {

// A table's vector column (five magnitudes) becomes one column per element up to this length; a
// longer one (a spectrum) is left out, as the HDF5 ingest does.
constexpr long kMaxVectorColumns = 64;

// One numeric column of a binary table (of a vector column, one element).
struct TableColumn {
  std::string name;
  int number = 0;
  long repeat = 1, element = 0;
  bool exact = false;  // 64-bit integers, kept exactly too
};

// The numeric columns of the current binary-table HDU, without their values, and its row count.
absl::StatusOr<std::vector<TableColumn>> ListTable(const FitsFile& f, int64_t* rows_out,
                                                   std::vector<std::string>* notes) {
  int status = 0, cols = 0;
  long rows = 0;
  fits_get_num_rows(f.get(), &rows, &status);
  fits_get_num_cols(f.get(), &cols, &status);
  LONGLONG row_bytes = 0;
  fits_read_key(f.get(), TLONGLONG, "NAXIS1", &row_bytes, nullptr, &status);
  GALAXY_RETURN_IF_ERROR(f.Check(status, "reading the table's size"));
  GALAXY_RETURN_IF_ERROR(f.CheckDeclaredData(rows, std::max<LONGLONG>(1, row_bytes),
                                             absl::StrCat("table of ", rows, " rows")));
  std::vector<TableColumn> columns;
  std::vector<std::string> skipped;
  for (int c = 1; c <= cols; ++c) {
    char key[FLEN_KEYWORD], name[FLEN_VALUE] = {0};
    std::snprintf(key, sizeof(key), "TTYPE%d", c);
    fits_read_key(f.get(), TSTRING, key, name, nullptr, &status);
    int typecode = 0;
    long repeat = 0, width = 0;
    fits_get_coltype(f.get(), c, &typecode, &repeat, &width, &status);
    GALAXY_RETURN_IF_ERROR(f.Check(status, absl::StrCat("reading column ", c)));
    if (typecode == TSTRING || typecode == TLOGICAL || typecode == TBIT || typecode < 0) continue;
    if (repeat > kMaxVectorColumns) {
      skipped.push_back(absl::StrCat("'", name, "' (", repeat, " values per galaxy)"));
      continue;
    }
    for (long k = 0; k < repeat; ++k) {
      columns.push_back({repeat == 1 ? std::string(name) : absl::StrCat(name, "_", k), c, repeat, k, typecode == TLONGLONG});
    }
  }
  if (!skipped.empty()) notes->push_back(absl::StrCat("table columns left out: ", absl::StrJoin(skipped, ", ")));
  *rows_out = rows;
  return columns;
}

// Rows [start, start + n) of `columns` of the current binary-table HDU into `out`: values (null
// cells NaN), and exact integers of 64-bit integer columns. A vector column is read once for all
// of its elements.
absl::Status ReadTableRows(const FitsFile& f, const std::vector<const TableColumn*>& columns, int64_t start, int64_t n,
                           InputCatalog* out) {
  std::map<int, std::vector<double>> doubles;
  std::map<int, std::vector<LONGLONG>> longs;
  int status = 0;
  for (const TableColumn* c : columns) {
    const size_t cells = static_cast<size_t>(n) * static_cast<size_t>(c->repeat);
    auto [d, fresh] = doubles.try_emplace(c->number);
    if (fresh) {
      d->second.resize(cells);
      double nul = std::nan("");
      int anynul = 0;
      fits_read_col(f.get(), TDOUBLE, c->number, start + 1, 1, static_cast<LONGLONG>(cells), &nul, d->second.data(), &anynul,
                    &status);
    }
    if (c->exact && longs.count(c->number) == 0) {
      std::vector<LONGLONG>& l = longs[c->number];
      l.resize(cells);
      LONGLONG nul = 0;
      int anynul = 0;
      fits_read_col(f.get(), TLONGLONG, c->number, start + 1, 1, static_cast<LONGLONG>(cells), &nul, l.data(), &anynul,
                    &status);
    }
    GALAXY_RETURN_IF_ERROR(f.Check(status, absl::StrCat("reading column '", c->name, "' rows ", start, "..", start + n - 1)));
    std::vector<double>& values = out->values[c->name];
    values.resize(static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) values[static_cast<size_t>(r)] = d->second[static_cast<size_t>(r * c->repeat + c->element)];
    if (c->exact) {
      const std::vector<LONGLONG>& l = longs[c->number];
      std::vector<int64_t>& ints = out->integers[c->name];
      ints.resize(static_cast<size_t>(n));
      for (int64_t r = 0; r < n; ++r) ints[static_cast<size_t>(r)] = l[static_cast<size_t>(r * c->repeat + c->element)];
    }
  }
  return absl::OkStatus();
}

// One SDSS frame: its image (height x width, nanomaggies) and WCS.
struct Frame {
  std::string path;
  int band = -1;
  long width = 0, height = 0;
  std::vector<float> pixels;
  std::unique_ptr<Wcs> wcs;
};

// Frame `band` of `band_names` (from its name); a header whose FILTER names another is refused.
absl::StatusOr<Frame> ReadFrame(const std::string& path, int band, const std::vector<std::string>& band_names) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<FitsFile> f, FitsFile::Open(path));
  GALAXY_RETURN_IF_ERROR(HeaderNamesBand(*f, band, band_names, "frame").status());
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
  int status = 0, cube_hdu = 0, table_hdu = 0;
  long dims[4] = {0, 0, 0, 0};
  // The first 4-D image and the first binary table; the walk stops once both are found.
  GALAXY_RETURN_IF_ERROR(f->WalkHdus([&](int h, int type) -> absl::StatusOr<bool> {
    if (type == IMAGE_HDU && cube_hdu == 0) {
      int hdu_status = 0, naxis = 0;
      fits_get_img_dim(f->get(), &naxis, &hdu_status);
      if (naxis == 4) fits_get_img_size(f->get(), 4, dims, &hdu_status);
      GALAXY_RETURN_IF_ERROR(f->Check(hdu_status, absl::StrCat("reading HDU ", h)));
      if (naxis > 0 && naxis != 4) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ": HDU ", h, " key NAXIS: ", naxis, ", expected 4 (N x C x H x W cutouts)"));
      }
      if (naxis == 4) cube_hdu = h;
    } else if (type == BINARY_TBL && table_hdu == 0) {
      table_hdu = h;
    }
    return cube_hdu == 0 || table_hdu == 0;
  }));
  if (cube_hdu == 0) return absl::NotFoundError(absl::StrCat(path, ": no 4-D image HDU (cutout stack)"));
  const int bands = static_cast<int>(options.bands.size());
  GALAXY_RETURN_IF_ERROR(CheckCutoutAxes(path, dims[0], dims[1], dims[2]));
  const int64_t count = dims[3];
  {
    int type = 0, bitpix = 0;
    fits_movabs_hdu(f->get(), cube_hdu, &type, &status);
    fits_get_img_type(f->get(), &bitpix, &status);
    GALAXY_RETURN_IF_ERROR(f->Check(status, "reading the cutout HDU"));
    int64_t elements = 0;  // saturates instead of overflowing: CheckDeclaredData refuses it
    if (__builtin_mul_overflow(count, dims[2] * dims[0] * dims[1], &elements)) elements = INT64_MAX;
    GALAXY_RETURN_IF_ERROR(f->CheckDeclaredData(elements, std::abs(bitpix) / 8,
                                                absl::StrCat("HDU ", cube_hdu, ", ", count, " cutouts")));
  }
  IngestReport report;
  // The planes to keep: the bands the header names, in --bands' order; else every plane in file order.
  std::vector<int64_t> planes;
  const std::vector<std::string> names = FitsBandNames(*f, dims[2]);
  if (!names.empty()) {
    GALAXY_ASSIGN_OR_RETURN(planes, PlanesOfBands(path, names, options.bands));
    report.notes.push_back(absl::StrCat("bands ", absl::StrJoin(options.bands, ","), " as the header names them (",
                                        absl::StrJoin(names, ","), ")"));
  } else if (dims[2] != bands) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": key NAXIS3: ", dims[2], " bands, expected ", bands,
                                                   " (--bands; the header names none: BAND0.., BANDS)"));
  } else {
    report.notes.push_back(absl::StrCat("no bands named in the header (BAND0.., BANDS): the planes are taken in file "
                                        "order as ", absl::StrJoin(options.bands, ",")));
  }
  bool in_order = dims[2] == bands;
  for (size_t b = 0; b < planes.size(); ++b) in_order &= planes[b] == static_cast<int64_t>(b);
  // The table's column names; its values are read a window of rows at a time below, the IDs
  // whole first (to check that none repeats).
  InputCatalog catalog;
  catalog.rows = count;
  std::vector<TableColumn> columns;
  if (table_hdu != 0) {
    int type = 0;
    fits_movabs_hdu(f->get(), table_hdu, &type, &status);
    GALAXY_RETURN_IF_ERROR(f->Check(status, absl::StrCat("moving to the table (HDU ", table_hdu, ")")));
    int64_t rows = 0;
    GALAXY_ASSIGN_OR_RETURN(columns, ListTable(*f, &rows, &report.notes));
    if (rows != count) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": table has ", rows, " rows for ", count, " cutouts"));
    }
    for (const TableColumn& c : columns) catalog.order.push_back(c.name);
  }
  GALAXY_ASSIGN_OR_RETURN(CatalogPlan plan, PlanCatalog(catalog, options, &report.notes));
  // The table is read between blocks of cutouts, from its own HDU (the IDs before any).
  CatalogWindows windows(plan, count, options.catalog_window_rows,
                         [&](const std::vector<std::string>& names, int64_t first, int64_t n, InputCatalog* window) {
    if (names.empty()) return absl::OkStatus();
    std::vector<const TableColumn*> wanted;
    for (const std::string& name : names) {
      wanted.push_back(&*std::find_if(columns.begin(), columns.end(), [&](const TableColumn& c) { return c.name == name; }));
    }
    int hdu_type = 0, hdu_status = 0;
    fits_movabs_hdu(f->get(), table_hdu, &hdu_type, &hdu_status);
    GALAXY_RETURN_IF_ERROR(f->Check(hdu_status, "moving to the table"));
    absl::Status read = ReadTableRows(*f, wanted, first, n, window);
    fits_movabs_hdu(f->get(), cube_hdu, &hdu_type, &hdu_status);
    GALAXY_RETURN_IF_ERROR(read);
    return f->Check(hdu_status, "moving back to the cutouts");
  });
  GALAXY_RETURN_IF_ERROR(windows.CheckIds(options, path));
  DatasetLayout layout;
  layout.bands = bands;
  layout.band_names = options.bands;
  layout.width = static_cast<int>(dims[0]);
  layout.height = static_cast<int>(dims[1]);
  layout.extra_columns = PlanExtraColumns(plan, options);
  layout.attributes = {{"source", path}, {"flux_unit", "as in source"}};
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(options.out, layout));
  int type = 0;
  fits_movabs_hdu(f->get(), cube_hdu, &type, &status);
  // Blocks of 64 MiB of every plane read, when more are read than kept.
  const int64_t step = std::max<int64_t>(1, layout.images_per_block() * bands / std::max<int64_t>(bands, dims[2]));
  GalaxyBatch batch;
  std::vector<float> all_planes;  // every plane of a block, when only some are kept or they are reordered
  for (int64_t start = 0; start < count; start += step) {
    const int64_t n = std::min(step, count - start);
    batch.Resize(layout, n);
    if (!in_order) all_planes.resize(static_cast<size_t>(n * dims[2] * dims[0] * dims[1]));
    // Whole cutouts [start, start + n) are one contiguous run of the data: read as such (a subset
    // read goes row by row, 64 pixels at a time, and ran at 0.6x astropy's memmap).
    const LONGLONG per_cutout = static_cast<LONGLONG>(dims[0]) * dims[1] * dims[2];
    float nul = std::nanf("");
    int anynul = 0;
    fits_read_img(f->get(), TFLOAT, static_cast<LONGLONG>(start) * per_cutout + 1, static_cast<LONGLONG>(n) * per_cutout,
                  &nul, in_order ? batch.images.data() : all_planes.data(), &anynul, &status);
    GALAXY_RETURN_IF_ERROR(f->Check(status, absl::StrCat("reading cutouts ", start, "..", start + n)));
    if (!in_order) PickPlanes(all_planes.data(), n, dims[2], dims[0] * dims[1], planes, batch.images.data());
    GALAXY_RETURN_IF_ERROR(windows.Fill(options, start, n, &batch));
    GALAXY_RETURN_IF_ERROR(AppendGalaxies(writer.get(), &batch, options, &report));
  }
  GALAXY_RETURN_IF_ERROR(FinishIngest(writer.get(), options, &report));
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
    GALAXY_ASSIGN_OR_RETURN(frames[band], ReadFrame(path, band, options.bands));
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
  layout.extra_columns = PlanExtraColumns(plan, options);
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
  GALAXY_RETURN_IF_ERROR(AppendGalaxies(writer.get(), &all, options, &report));
  GALAXY_RETURN_IF_ERROR(FinishIngest(writer.get(), options, &report));
  return report;
}

}  // namespace galaxy
