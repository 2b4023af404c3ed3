#include "bench/ingest_bench.h"

#include <fitsio.h>
#include <hdf5.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "data/fits_file.h"
#include "data/hdf5_dataset.h"
#include "data/hdf5_util.h"
#include "data/ingest/ingest.h"
#include "data/sim/synth_survey.h"

namespace galaxy {
namespace {

absl::Status FitsStatus(int status, const std::string& what) {
  return status == 0 ? absl::OkStatus() : absl::InternalError(absl::StrCat(what, ": ", FitsError(status)));
}

// One galaxy's cutout as a cutout service writes it: W x H x C float32 with a TAN WCS.
absl::Status WriteCutout(const std::string& path, const float* pixels, int bands, int side, double ra, double dec) {
  int status = 0;
  fitsfile* f = nullptr;
  fits_create_file(&f, ("!" + path).c_str(), &status);
  long axes[3] = {side, side, bands};
  fits_create_img(f, FLOAT_IMG, 3, axes, &status);
  fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(bands) * side * side, const_cast<float*>(pixels), &status);
  const auto key_str = [&](const char* k, const char* v) { fits_write_key(f, TSTRING, k, const_cast<char*>(v), nullptr, &status); };
  const auto key_dbl = [&](const char* k, double v) { fits_write_key(f, TDOUBLE, k, &v, nullptr, &status); };
  key_str("CTYPE1", "RA---TAN");
  key_str("CTYPE2", "DEC--TAN");
  key_dbl("CRVAL1", ra);
  key_dbl("CRVAL2", dec);
  key_dbl("CRPIX1", (side + 1) / 2.0);
  key_dbl("CRPIX2", (side + 1) / 2.0);
  key_dbl("CD1_1", -0.396 / 3600);
  key_dbl("CD2_2", 0.396 / 3600);
  key_str("BANDS", "ugriz");
  fits_close_file(f, &status);
  return FitsStatus(status, path);
}

// The catalog every form carries.
struct Catalog {
  std::vector<int64_t> ids;
  std::vector<double> ra, dec;
  std::vector<float> z, e_bv;
};

template <typename T>
absl::Status WriteColumn(hid_t file, const char* name, hid_t type, const std::vector<T>& values) {
  const hsize_t n = values.size();
  Hid space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Hid set(H5Dcreate2(file, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!set.ok() || H5Dwrite(set.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0) {
    return absl::InternalError(absl::StrCat("writing column ", name));
  }
  return absl::OkStatus();
}

// Writes every form of the survey at `survey` under `dir`.
absl::Status WriteInputs(const std::string& survey, const std::string& dir, IngestBenchResult* r) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(survey));
  const DatasetLayout& layout = reader->layout();
  const int bands = layout.bands, side = layout.width;
  const int64_t n = reader->count(), per_image = layout.pixels_per_image();
  r->bands = bands;
  r->side = side;
  r->input_mb = static_cast<double>(n) * per_image * 4 / 1e6;
  std::filesystem::create_directories(dir + "/cutouts");

  int status = 0;
  fitsfile* stack = nullptr;
  fits_create_file(&stack, ("!" + dir + "/stack.fits").c_str(), &status);
  long axes[4] = {side, side, bands, static_cast<long>(n)};
  fits_create_img(stack, FLOAT_IMG, 4, axes, &status);
  GALAXY_RETURN_IF_ERROR(FitsStatus(status, "stack.fits"));

  const std::string foreign_path = dir + "/foreign.h5";
  Hid foreign(H5Fcreate(foreign_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  const hsize_t cube_dims[4] = {static_cast<hsize_t>(n), static_cast<hsize_t>(side), static_cast<hsize_t>(side),
                                static_cast<hsize_t>(bands)};
  Hid cube_space(H5Screate_simple(4, cube_dims, nullptr), H5Sclose);
  Hid cube(H5Dcreate2(foreign.get(), "cube", H5T_NATIVE_FLOAT, cube_space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                H5Dclose);
  if (!cube.ok()) return absl::InternalError(absl::StrCat("creating ", foreign_path));

  Catalog catalog;
  GalaxyBatch batch;
  std::vector<float> channels_last;
  const int64_t step = layout.images_per_block();
  for (int64_t start = 0; start < n; start += step) {
    const int64_t count = std::min(step, n - start);
    GALAXY_RETURN_IF_ERROR(reader->Read(start, count, &batch));
    for (int64_t i = 0; i < count; ++i) {
      catalog.ids.push_back(batch.ids[i]);
      catalog.ra.push_back(batch.ra[i]);
      catalog.dec.push_back(batch.dec[i]);
      catalog.z.push_back(batch.redshift[i]);
      catalog.e_bv.push_back(batch.e_bv[i]);
      GALAXY_RETURN_IF_ERROR(WriteCutout(absl::StrCat(dir, "/cutouts/", batch.ids[i], ".fits"),
                                         batch.images.data() + i * per_image, bands, side, batch.ra[i], batch.dec[i]));
    }
    fits_write_img(stack, TFLOAT, static_cast<LONGLONG>(start) * per_image + 1, static_cast<LONGLONG>(count) * per_image,
                   batch.images.data(), &status);
    GALAXY_RETURN_IF_ERROR(FitsStatus(status, "stack.fits images"));
    // N x C x H x W -> N x H x W x C
    channels_last.resize(static_cast<size_t>(count * per_image));
    const int64_t plane = static_cast<int64_t>(side) * side;
    for (int64_t i = 0; i < count; ++i) {
      for (int b = 0; b < bands; ++b) {
        for (int64_t p = 0; p < plane; ++p) {
          channels_last[static_cast<size_t>((i * plane + p) * bands + b)] = batch.images[static_cast<size_t>((i * bands + b) * plane + p)];
        }
      }
    }
    const hsize_t offset[4] = {static_cast<hsize_t>(start), 0, 0, 0};
    const hsize_t block[4] = {static_cast<hsize_t>(count), cube_dims[1], cube_dims[2], cube_dims[3]};
    Hid memory(H5Screate_simple(4, block, nullptr), H5Sclose);
    if (H5Sselect_hyperslab(cube_space.get(), H5S_SELECT_SET, offset, nullptr, block, nullptr) < 0 ||
        H5Dwrite(cube.get(), H5T_NATIVE_FLOAT, memory.get(), cube_space.get(), H5P_DEFAULT, channels_last.data()) < 0) {
      return absl::InternalError(absl::StrCat("writing ", foreign_path));
    }
  }
  GALAXY_RETURN_IF_ERROR(WriteColumn(foreign.get(), "objid", H5T_NATIVE_INT64, catalog.ids));
  GALAXY_RETURN_IF_ERROR(WriteColumn(foreign.get(), "ra", H5T_NATIVE_DOUBLE, catalog.ra));
  GALAXY_RETURN_IF_ERROR(WriteColumn(foreign.get(), "dec", H5T_NATIVE_DOUBLE, catalog.dec));
  GALAXY_RETURN_IF_ERROR(WriteColumn(foreign.get(), "z", H5T_NATIVE_FLOAT, catalog.z));
  GALAXY_RETURN_IF_ERROR(WriteColumn(foreign.get(), "ebv", H5T_NATIVE_FLOAT, catalog.e_bv));

  const char* names[] = {"ObjID", "RA", "DEC", "Z", "EBV"};
  const char* forms[] = {"K", "D", "D", "E", "E"};
  fits_create_tbl(stack, BINARY_TBL, n, 5, const_cast<char**>(names), const_cast<char**>(forms), nullptr, "CATALOG",
                  &status);
  fits_write_col(stack, TLONGLONG, 1, 1, 1, n, reinterpret_cast<LONGLONG*>(catalog.ids.data()), &status);
  fits_write_col(stack, TDOUBLE, 2, 1, 1, n, catalog.ra.data(), &status);
  fits_write_col(stack, TDOUBLE, 3, 1, 1, n, catalog.dec.data(), &status);
  fits_write_col(stack, TFLOAT, 4, 1, 1, n, catalog.z.data(), &status);
  fits_write_col(stack, TFLOAT, 5, 1, 1, n, catalog.e_bv.data(), &status);
  fits_close_file(stack, &status);
  GALAXY_RETURN_IF_ERROR(FitsStatus(status, "stack.fits table"));

  std::ofstream csv(dir + "/catalog.csv");
  csv << "objid,ra,dec,z,ebv\n";
  csv.precision(17);
  for (size_t i = 0; i < catalog.ids.size(); ++i) {
    csv << catalog.ids[i] << "," << catalog.ra[i] << "," << catalog.dec[i] << "," << catalog.z[i] << ","
        << catalog.e_bv[i] << "\n";
  }
  csv.close();
  if (!csv) return absl::InternalError(absl::StrCat("writing ", dir, "/catalog.csv"));
  return absl::OkStatus();
}

// The native file read and written again.
absl::Status CopyNative(const std::string& from, const std::string& to) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(from));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer, DatasetWriter::Create(to, reader->layout()));
  GalaxyBatch batch;
  const int64_t step = reader->layout().images_per_block();
  for (int64_t start = 0; start < reader->count(); start += step) {
    GALAXY_RETURN_IF_ERROR(reader->Read(start, std::min(step, reader->count() - start), &batch));
    GALAXY_RETURN_IF_ERROR(writer->Append(batch));
  }
  return writer->Commit();
}

// Galaxies per second of `run` (which writes `out`), the median of three runs; checks the count written.
absl::StatusOr<double> MedianRate(int64_t count, const std::string& out, const std::function<absl::Status()>& run) {
  std::vector<double> rates;
  for (int rep = 0; rep < 3; ++rep) {
    std::filesystem::remove(out);
    const absl::Time start = absl::Now();
    GALAXY_RETURN_IF_ERROR(run());
    rates.push_back(static_cast<double>(count) / absl::ToDoubleSeconds(absl::Now() - start));
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> written, DatasetReader::Open(out));
    if (written->count() != count) {
      return absl::InternalError(absl::StrCat(out, ": ", written->count(), " galaxies written, expected ", count));
    }
  }
  std::filesystem::remove(out);
  std::sort(rates.begin(), rates.end());
  return rates[1];
}

}  // namespace

absl::StatusOr<IngestBenchResult> RunIngestBench(int64_t count, int side, const std::string& dir) {
  if (count < 1) return absl::InvalidArgumentError(absl::StrCat("--count: ", count, " is below 1"));
  IngestBenchResult r;
  r.count = count;
  std::filesystem::create_directories(dir);
  SynthOptions options;
  options.count = count;
  options.image_size = side;
  options.seed = 2026;
  GALAXY_RETURN_IF_ERROR(ValidateSynthOptions(options));
  const std::string survey = dir + "/survey.h5";
  GALAXY_RETURN_IF_ERROR(WriteSyntheticSurvey(options, survey, 0));
  GALAXY_RETURN_IF_ERROR(WriteInputs(survey, dir, &r));

  const std::string out = dir + "/out.h5";
  IngestOptions ingest;
  ingest.out = out;
  GALAXY_ASSIGN_OR_RETURN(r.copy_per_s, MedianRate(count, out, [&] { return CopyNative(survey, out); }));
  GALAXY_ASSIGN_OR_RETURN(r.cutouts_per_s, MedianRate(count, out, [&] {
                            return IngestFitsCutouts({dir + "/cutouts"}, dir + "/catalog.csv", ingest).status();
                          }));
  GALAXY_ASSIGN_OR_RETURN(r.stack_per_s,
                          MedianRate(count, out, [&] { return IngestFitsCube(dir + "/stack.fits", ingest).status(); }));
  GALAXY_ASSIGN_OR_RETURN(r.hdf5_per_s,
                          MedianRate(count, out, [&] { return IngestHdf5(dir + "/foreign.h5", ingest).status(); }));
  return r;
}

std::string IngestBenchJson(const IngestBenchResult& r) {
  return absl::StrFormat(
      "{\"benchmark\":\"ingest\",\"count\":%d,\"bands\":%d,\"side\":%d,\"input_mb\":%.1f,"
      "\"copy_per_s\":%.1f,\"cutouts_per_s\":%.1f,\"stack_per_s\":%.1f,\"hdf5_per_s\":%.1f}",
      r.count, r.bands, r.side, r.input_mb, r.copy_per_s, r.cutouts_per_s, r.stack_per_s, r.hdf5_per_s);
}

}  // namespace galaxy
