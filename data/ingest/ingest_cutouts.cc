// Single-galaxy FITS cutouts, as cutout services return them (IngestFitsCutouts,
// data/ingest/ingest.h): one file of every band per galaxy, or one file per band named by it;
// IDs from the names, the catalog joined by them, positions from the catalog or the WCS.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/band_match.h"
#include "data/fits_file.h"
#include "data/hdf5_dataset.h"
#include "data/ingest/fits_wcs.h"
#include "data/ingest/ingest.h"
#include "data/ingest/ingest_catalog.h"

namespace galaxy {

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

// The band a one-band cutout's file name gives: the last of the file name's words (split at - _ .)
// that is one of `bands` (ignoring case), and the path without it and its separator:
// "dir/1237648720693755918-g" -> g, "dir/1237648720693755918"; "g_42" -> g, "42"; "cutout_r_42" -> r,
// "cutout_42". -1 when no word is a band.
int BandInName(const std::string& stem, const std::vector<std::string>& bands, std::string* rest) {
  const size_t slash = stem.find_last_of('/');
  const size_t name_begin = slash == std::string::npos ? 0 : slash + 1;
  size_t end = stem.size();
  while (end > name_begin) {
    const size_t cut = stem.find_last_of("-_.", end - 1);
    const size_t begin = cut == std::string::npos || cut < name_begin ? name_begin : cut + 1;
    const std::string word = absl::AsciiStrToLower(stem.substr(begin, end - begin));
    for (size_t b = 0; b < bands.size(); ++b) {
      if (word != absl::AsciiStrToLower(bands[b])) continue;
      // Drop the word with the separator before it, or after it when it is the name's first.
      if (begin > name_begin) {
        *rest = stem.substr(0, begin - 1) + stem.substr(end);
      } else {
        *rest = stem.substr(0, begin) + stem.substr(std::min(stem.size(), end + 1));
      }
      return static_cast<int>(b);
    }
    if (begin == name_begin) break;
    end = begin - 1;
  }
  return -1;
}

// The band of a one-band cutout whose file name gives none, and the name its galaxy's files share
// (`*rest`): a directory named by a band ("cutouts/g/42.fits" -> g, "cutouts/42"), else the band
// its header names (FILTER, BAND, BANDS, BAND0; "g/42.fits" -> "42": the files of one galaxy are
// then named alike in different directories). -1 when neither gives one of `bands`.
absl::StatusOr<int> BandOutsideName(const std::string& path, const std::vector<std::string>& bands, std::string* rest) {
  const std::filesystem::path file(path);
  const std::string stem = Stem(file.filename().string());
  const std::string directory = file.parent_path().filename().string();
  std::string unused;
  if (!directory.empty()) {
    const int b = BandInName(directory, bands, &unused);
    if (b >= 0) {
      *rest = (file.parent_path().parent_path() / stem).string();
      return b;
    }
  }
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<FitsFile> fits, FitsFile::Open(path));
  GALAXY_RETURN_IF_ERROR(fits->MoveToFirstImage());
  const std::vector<std::string> named = FitsBandNames(*fits, 1);
  *rest = stem;
  return named.empty() ? -1 : BandNamed(named[0], bands);
}

// One galaxy's files: one cutout of every band, or one one-band cutout per band (in band order).
struct CutoutGalaxy {
  std::string name;  // the file, or the files' common name
  std::vector<std::string> paths;
  int64_t id = 0;
};

// The galaxies `files` hold. When the first is a one-band image and several bands are asked for,
// each file is one band of a galaxy, named <name>[-_.]<band>, or <band>/<name> in a directory per
// band, or <name> with the band in its header (BandOutsideName); a galaxy missing a band is
// skipped and listed.
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
      std::string name;
      int found = BandInName(Stem(f), options.bands, &name);
      if (found < 0) {
        GALAXY_ASSIGN_OR_RETURN(found, BandOutsideName(f, options.bands, &name));
      }
      if (found < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            f, ": a one-band cutout whose band (one of ", absl::StrJoin(options.bands, ", "),
            ") neither its name (between - _ or ., as in 1237648720693755918-g.fits or cutout_g_42.fits), its "
            "directory's (g/42.fits) nor its header (FILTER, BAND) gives"));
      }
      const size_t b = static_cast<size_t>(found);
      std::vector<std::string>& paths = by_name[name];
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

// A galaxy's cutout of every band: its one file's (the bands its header names picked in
// `band_names`' order; in file order when it names none), or its one-band files' stacked (each
// file's band, when its header names one, must be the one its name gives; the WCS then the first
// band's). `*by_header` says whether the header named the bands.
absl::StatusOr<FitsCutout> ReadGalaxy(const CutoutGalaxy& galaxy, const std::vector<std::string>& band_names,
                                      bool* by_header) {
  const int64_t bands = static_cast<int64_t>(band_names.size());
  const auto wrong = [&](const std::string& path, const FitsCutout& c, int64_t want) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", c.rows > 1 ? absl::StrCat(c.rows, " cutouts of ") : "",
                                                   c.bands, " band(s), expected one cutout of ", want, " (",
                                                   want == bands ? absl::StrJoin(band_names, ",") : "one file per band",
                                                   "; --bands names them)"));
  };
  if (galaxy.paths.size() == 1) {
    GALAXY_ASSIGN_OR_RETURN(FitsCutout cutout, ReadFitsCutout(galaxy.paths[0]));
    if (cutout.rows == 1) GALAXY_RETURN_IF_ERROR(PickNamedBands(&cutout, band_names, by_header));
    if (cutout.bands != bands || cutout.rows != 1) return wrong(galaxy.paths[0], cutout, bands);
    return cutout;
  }
  FitsCutout all;
  *by_header = false;
  for (int64_t b = 0; b < bands; ++b) {
    const std::string& path = galaxy.paths[static_cast<size_t>(b)];
    GALAXY_ASSIGN_OR_RETURN(FitsCutout one, ReadFitsCutout(path));
    if (one.bands != 1 || one.rows != 1) return wrong(path, one, 1);
    GALAXY_ASSIGN_OR_RETURN(const bool named, HeaderNamesBand(*one.file, static_cast<int>(b), band_names, "cutout"));
    *by_header |= named;
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

// The FITS files directly in `directory`, in name order; its subdirectories in `*subdirectories`
// when given.
std::vector<std::string> FitsFilesIn(const std::string& directory, std::vector<std::string>* subdirectories) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    bool fits = false;
    Stem(entry.path().filename().string(), &fits);
    if (fits && entry.is_regular_file(ec)) found.push_back(entry.path().string());
    if (subdirectories != nullptr && entry.is_directory(ec)) subdirectories->push_back(entry.path().string());
  }
  std::sort(found.begin(), found.end());
  if (subdirectories != nullptr) std::sort(subdirectories->begin(), subdirectories->end());
  return found;
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
    std::vector<std::string> subdirectories;
    std::vector<std::string> found = FitsFilesIn(input, &subdirectories);
    // A directory of directories (one a band, as cutouts downloaded a band at a time often are):
    // the FITS files one level down.
    if (found.empty()) {
      for (const std::string& sub : subdirectories) {
        const std::vector<std::string> in_sub = FitsFilesIn(sub, nullptr);
        found.insert(found.end(), in_sub.begin(), in_sub.end());
      }
    }
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
  int64_t named_by_header = 0;
  Progress progress("ingest", "cutouts", catalog.rows);
  for (int64_t row = 0; row < catalog.rows; ++row) {
    const CutoutGalaxy& galaxy = galaxies[kept[static_cast<size_t>(row)]];
    const std::string& path = galaxy.paths[0];
    bool by_header = false;
    GALAXY_ASSIGN_OR_RETURN(FitsCutout cutout, ReadGalaxy(galaxy, options.bands, &by_header));
    named_by_header += by_header ? 1 : 0;
    if (!writer) {
      layout.bands = bands;
      layout.band_names = options.bands;
      layout.width = static_cast<int>(cutout.width);
      layout.height = static_cast<int>(cutout.height);
      layout.extra_columns = PlanExtraColumns(plan, options);
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
      GALAXY_RETURN_IF_ERROR(AppendGalaxies(writer.get(), &batch, options, &report));
      start = row + 1;
      progress.Update(start);
    }
  }
  GALAXY_RETURN_IF_ERROR(FinishIngest(writer.get(), options, &report));
  const std::string unnamed = absl::StrCat(catalog.rows - named_by_header, " of ", catalog.rows, " galaxies");
  if (named_by_header == catalog.rows) {
    report.notes.push_back(absl::StrCat("bands ", absl::StrJoin(options.bands, ","), " as the cutouts' headers name them"));
  } else if (galaxies[0].paths.size() > 1) {
    report.notes.push_back(absl::StrCat(unnamed, ": no band named in the headers (FILTER, BAND); each file is the band "
                                        "its name gives"));
  } else {
    report.notes.push_back(absl::StrCat(unnamed, ": no bands named in the header (BAND0.., BANDS); the planes are taken "
                                        "in file order as ", absl::StrJoin(options.bands, ",")));
  }
  return report;
}

}  // namespace galaxy
