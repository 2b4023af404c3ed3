#include "data/data_commands.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/composite.h"
#include "data/fits_file.h"
#include "data/hdf5_dataset.h"
#include "data/photoz/photoz_baseline.h"
#include "data/sim/synth_survey.h"
#include "nlohmann/json.hpp"

namespace galaxy {
namespace {

// Running statistics of one band's pixels, with a strided sample for percentiles.
struct BandStats {
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double sum = 0, sum2 = 0;
  int64_t finite = 0, non_finite = 0;
  std::vector<float> sample;

  void Add(const float* v, int64_t n, int64_t stride) {
    for (int64_t i = 0; i < n; ++i) {
      const float x = v[i];
      if (!std::isfinite(x)) {
        ++non_finite;
        continue;
      }
      ++finite;
      min = std::min<double>(min, x);
      max = std::max<double>(max, x);
      sum += x;
      sum2 += static_cast<double>(x) * x;
      if (i % stride == 0) sample.push_back(x);
    }
  }
  double Percentile(double p) {
    if (sample.empty()) return std::nan("");
    const size_t k = std::min(sample.size() - 1, static_cast<size_t>(p / 100 * sample.size()));
    std::nth_element(sample.begin(), sample.begin() + static_cast<std::ptrdiff_t>(k), sample.end());
    return sample[k];
  }
  double Mean() const { return finite ? sum / finite : std::nan(""); }
  double Std() const {
    if (!finite) return std::nan("");
    const double m = Mean();
    return std::sqrt(std::max(0.0, sum2 / finite - m * m));
  }
};

std::string ColumnList(const DatasetReader& reader) {
  std::vector<std::string> standard = {kIdKey, kRaKey, kDecKey};
  if (reader.has_e_bv()) standard.push_back(kEbvKey);
  if (reader.has_redshift()) standard.push_back(kRedshiftKey);
  std::vector<std::string> extra;
  for (const ColumnSpec& c : reader.layout().extra_columns) {
    extra.push_back(absl::StrCat(c.name, "(", ColumnTypeName(c.type), ")"));
  }
  std::string out = absl::StrJoin(standard, " ");
  if (!extra.empty()) absl::StrAppend(&out, " | extra: ", absl::StrJoin(extra, " "));
  return out;
}

absl::Status WriteSamplePngs(DatasetReader& reader, const InspectOptions& options,
                             std::vector<std::string>* written) {
  const DatasetLayout& layout = reader.layout();
  std::filesystem::create_directories(options.png_dir);
  CompositeOptions composite;
  if (layout.bands != 5) {
    // Not ugriz: show the last three bands (reddest to bluest as red, green, blue).
    composite.red = layout.bands - 1;
    composite.green = std::max(0, layout.bands - 2);
    composite.blue = std::max(0, layout.bands - 3);
  }
  const int samples = static_cast<int>(std::min<int64_t>(options.samples, reader.count()));
  const int cols = std::min(8, std::max(1, samples));
  const int rows = (samples + cols - 1) / cols;
  const int tile_h = layout.height * composite.zoom, tile_w = layout.width * composite.zoom;
  std::vector<uint8_t> sheet(static_cast<size_t>(rows * tile_h) * cols * tile_w * 3, 0);
  GalaxyBatch batch;
  reader.set_check_finite(false);
  for (int k = 0; k < samples; ++k) {
    const int64_t row = samples == 1 ? 0 : k * (reader.count() - 1) / (samples - 1);
    GALAXY_RETURN_IF_ERROR(reader.Read(row, 1, &batch));
    GALAXY_ASSIGN_OR_RETURN(std::vector<uint8_t> rgb,
                            RenderComposite(batch.images.data(), layout.bands, layout.height,
                                            layout.width, composite));
    GALAXY_ASSIGN_OR_RETURN(std::string png, EncodePng(rgb, tile_h, tile_w));
    const std::string path =
        absl::StrCat(options.png_dir, "/row", row, "_id", batch.ids[0], ".png");
    GALAXY_RETURN_IF_ERROR(WriteFileAtomically(path, png));
    written->push_back(path);
    const int gx = (k % cols) * tile_w, gy = (k / cols) * tile_h;
    for (int y = 0; y < tile_h; ++y) {
      std::copy(rgb.begin() + static_cast<std::ptrdiff_t>(y) * tile_w * 3,
                rgb.begin() + static_cast<std::ptrdiff_t>(y + 1) * tile_w * 3,
                sheet.begin() + (static_cast<std::ptrdiff_t>(gy + y) * cols * tile_w + gx) * 3);
    }
  }
  GALAXY_ASSIGN_OR_RETURN(std::string png, EncodePng(sheet, rows * tile_h, cols * tile_w));
  const std::string sheet_path = options.png_dir + "/sheet.png";
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(sheet_path, png));
  written->push_back(sheet_path);
  return absl::OkStatus();
}

}  // namespace

absl::Status RunSynth(const SynthOptions& options, const std::string& out, int threads) {
  if (out.empty()) return absl::InvalidArgumentError("--out: required");
  GALAXY_RETURN_IF_ERROR(WriteSyntheticSurvey(options, out, threads));
  std::cout << absl::StrFormat("wrote %s: %d galaxies, 5 x %d x %d, seed %d, %.1f%% anomalies\n",
                               out, options.count, options.image_size, options.image_size,
                               options.seed, 100 * options.anomaly_fraction);
  return absl::OkStatus();
}

absl::Status RunInspect(const InspectOptions& options) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(options.path));
  reader->set_check_finite(false);  // count non-finite pixels instead of failing
  const DatasetLayout& layout = reader->layout();
  std::vector<BandStats> stats(static_cast<size_t>(layout.bands));
  const int64_t plane = static_cast<int64_t>(layout.height) * layout.width;
  // Sample about 2 million pixels per band for percentiles.
  const int64_t total_pixels = std::max<int64_t>(1, reader->count() * plane);
  const int64_t stride = std::max<int64_t>(1, total_pixels / 2000000);
  std::vector<double> redshifts;
  int64_t unknown_z = 0;
  GalaxyBatch batch;
  Progress progress("inspect", "galaxies", reader->count());
  const int64_t step = std::max<int64_t>(1, (32ll << 20) / (layout.pixels_per_image() * 4));
  for (int64_t start = 0; start < reader->count(); start += step) {
    const int64_t n = std::min(step, reader->count() - start);
    GALAXY_RETURN_IF_ERROR(reader->Read(start, n, &batch));
    for (int64_t i = 0; i < n; ++i) {
      for (int b = 0; b < layout.bands; ++b) {
        stats[b].Add(batch.images.data() + (i * layout.bands + b) * plane, plane, stride);
      }
      const float z = batch.redshift[static_cast<size_t>(i)];
      if (std::isfinite(z) && z >= 0) {
        redshifts.push_back(z);
      } else {
        ++unknown_z;
      }
    }
    progress.Update(start + n);
  }
  int64_t non_finite = 0;
  for (const BandStats& s : stats) non_finite += s.non_finite;

  double z_max = 0;
  for (double z : redshifts) z_max = std::max(z_max, z);
  const int bins = std::max(1, options.bins);
  const double width = z_max > 0 ? z_max / bins : 1;
  std::vector<int64_t> histogram(static_cast<size_t>(bins), 0);
  for (double z : redshifts) {
    histogram[std::min<size_t>(static_cast<size_t>(bins - 1), static_cast<size_t>(z / width))]++;
  }

  std::vector<std::string> pngs;
  if (!options.png_dir.empty()) GALAXY_RETURN_IF_ERROR(WriteSamplePngs(*reader, options, &pngs));

  if (options.json) {
    nlohmann::json j;
    j["file"] = options.path;
    j["count"] = reader->count();
    j["shape"] = {reader->count(), layout.bands, layout.height, layout.width};
    j["bands"] = layout.band_names;
    j["non_finite_pixels"] = non_finite;
    j["redshift_known"] = redshifts.size();
    j["redshift_unknown"] = unknown_z;
    j["columns"] = ColumnList(*reader);
    for (int b = 0; b < layout.bands; ++b) {
      BandStats& s = stats[b];
      j["band_stats"][layout.band_names[b]] = {
          {"min", s.min}, {"p1", s.Percentile(1)}, {"median", s.Percentile(50)},
          {"p99", s.Percentile(99)}, {"max", s.max}, {"mean", s.Mean()}, {"std", s.Std()},
          {"non_finite", s.non_finite}};
    }
    j["redshift_histogram"] = {{"bin_width", width}, {"counts", histogram}};
    j["png"] = pngs;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("file        %s\n", options.path)
            << absl::StrFormat("galaxies    %d\n", reader->count())
            << absl::StrFormat("images      %d x %d x %d x %d float32\n", reader->count(),
                               layout.bands, layout.height, layout.width)
            << "bands       " << absl::StrJoin(layout.band_names, " ") << "\n"
            << "columns     " << ColumnList(*reader) << "\n"
            << absl::StrFormat("non-finite  %d pixels\n", non_finite)
            << absl::StrFormat("%-6s %10s %10s %10s %10s %10s %10s %10s\n", "band", "min", "p1",
                               "median", "p99", "max", "mean", "std");
  for (int b = 0; b < layout.bands; ++b) {
    BandStats& s = stats[b];
    std::cout << absl::StrFormat("%-6s %10.4g %10.4g %10.4g %10.4g %10.4g %10.4g %10.4g\n",
                                 layout.band_names[b], s.min, s.Percentile(1), s.Percentile(50),
                                 s.Percentile(99), s.max, s.Mean(), s.Std());
  }
  std::cout << absl::StrFormat("redshift    %d known, %d unknown\n", redshifts.size(), unknown_z);
  const int64_t peak = histogram.empty() ? 0 : *std::max_element(histogram.begin(), histogram.end());
  for (int i = 0; i < bins && !redshifts.empty(); ++i) {
    const int bar = peak > 0 ? static_cast<int>(50 * histogram[i] / peak) : 0;
    std::cout << absl::StrFormat("  %.3f-%.3f %-50s %d\n", i * width, (i + 1) * width,
                                 std::string(static_cast<size_t>(bar), '#'), histogram[i]);
  }
  if (!pngs.empty()) {
    std::cout << "png         " << pngs.size() - 1 << " composites (asinh i,r,g) and "
              << pngs.back() << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunSplit(const SplitOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("--out-dir: required");
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(options.path));
  std::filesystem::create_directories(options.out_dir);
  DatasetLayout layout = reader->layout();
  layout.attributes["split_seed"] = absl::StrCat(options.seed);
  layout.attributes["split_source"] = options.path;
  std::unique_ptr<DatasetWriter> writers[3];
  for (SplitPart part : {SplitPart::kTrain, SplitPart::kValidation, SplitPart::kTest}) {
    GALAXY_ASSIGN_OR_RETURN(
        writers[static_cast<int>(part)],
        DatasetWriter::Create(absl::StrCat(options.out_dir, "/", SplitPartName(part), ".h5"), layout));
  }
  GalaxyBatch batch, parts[3];
  Progress progress("split", "galaxies", reader->count());
  const int64_t step = layout.images_per_block();
  for (int64_t start = 0; start < reader->count(); start += step) {
    const int64_t n = std::min(step, reader->count() - start);
    GALAXY_RETURN_IF_ERROR(reader->Read(start, n, &batch));
    for (GalaxyBatch& p : parts) {
      p = GalaxyBatch();
      p.Resize(layout, 0);
    }
    for (int64_t i = 0; i < n; ++i) {
      const int part = static_cast<int>(SplitOf(batch.ids[static_cast<size_t>(i)], options.seed,
                                                options.fractions));
      parts[part].AppendRows(batch, i, 1, layout);
    }
    for (int p = 0; p < 3; ++p) GALAXY_RETURN_IF_ERROR(writers[p]->Append(parts[p]));
    progress.Update(start + n);
  }
  for (int p = 0; p < 3; ++p) GALAXY_RETURN_IF_ERROR(writers[p]->Commit());
  std::cout << absl::StrFormat("%s -> %s/{train,val,test}.h5: %d / %d / %d galaxies\n",
                               options.path, options.out_dir, writers[0]->count(),
                               writers[1]->count(), writers[2]->count());
  return absl::OkStatus();
}

absl::Status RunPhotozBaseline(const BaselineOptions& options) {
  if (options.colours != "aperture" && options.colours != "catalog") {
    return absl::InvalidArgumentError(absl::StrCat("--colours: '", options.colours, "' is not aperture or catalog"));
  }
  GALAXY_ASSIGN_OR_RETURN(ColourTable table, options.colours == "catalog" ? CatalogColourTable(options.path)
                                                                          : MeasureColourTable(options.path));
  GALAXY_ASSIGN_OR_RETURN(PhotozBaselineReport report,
                          RunColourKnnBaseline(table, options.k, options.fractions, options.seed));
  const std::string json = PhotozBaselineJson(report);
  if (!options.json_path.empty()) GALAXY_RETURN_IF_ERROR(WriteFileAtomically(options.json_path, json + "\n"));
  if (options.json) {
    std::cout << json << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat(
      "kNN on de-reddened %s colours (k=%d): train %d, test %d galaxies\n"
      "  sigma_MAD %.4f   bias %+.4f   outlier rate %.3f\n"
      "reference: predicting the mean z gives sigma_MAD %.4f; spread of z itself %.4f\n",
      options.colours == "catalog" ? "catalog" : "aperture", report.k, report.train_count, report.test_count,
      report.test.sigma_mad, report.test.bias,
      report.test.outlier_rate, report.predict_mean.sigma_mad, report.z_spread);
  std::cout << "per z_spec bin:\n";
  for (const PhotozMetrics& m : report.per_bin) {
    if (m.count == 0) continue;
    std::cout << absl::StrFormat("  %.2f-%.2f  n=%-6d sigma_MAD %.4f  bias %+.4f  eta %.3f\n",
                                 m.z_lo, m.z_hi, m.count, m.sigma_mad, m.bias, m.outlier_rate);
  }
  return absl::OkStatus();
}

absl::Status RunIngest(IngestCommand command) {
  IngestOptions& options = command.options;
  options.non_finite = command.non_finite == "zero"   ? NonFinite::kZero
                       : command.non_finite == "fail" ? NonFinite::kFail
                                                      : NonFinite::kSkip;
  options.bands = absl::StrSplit(command.bands, ',');
  for (const std::string& r : command.renames) {
    const size_t eq = r.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == r.size()) {
      return absl::InvalidArgumentError(absl::StrCat("--rename: '", r, "' is not FROM=TO"));
    }
    options.renames[r.substr(0, eq)] = r.substr(eq + 1);
  }
  std::string format = command.format;
  if (format == "auto") {
    const std::string& first = command.inputs.front();
    const bool frames = std::all_of(command.inputs.begin(), command.inputs.end(), [](const std::string& path) {
      return absl::StartsWith(std::filesystem::path(path).filename().string(), "frame-");
    });
    std::error_code ec;
    if (command.inputs.size() == 1 && absl::EndsWith(first, ".npz")) {
      format = "npz";
    } else if (command.inputs.size() == 1 &&
               (absl::EndsWith(first, ".h5") || absl::EndsWith(first, ".hdf5") || absl::EndsWith(first, ".hdf"))) {
      format = "hdf5";
    } else if (!command.positions.empty() || (command.inputs.size() > 1 && frames)) {
      format = "sdss-frames";
    } else if (command.inputs.size() > 1 || std::filesystem::is_directory(first, ec) || !command.catalog.empty()) {
      format = "fits-cutouts";
    } else {
      // One FITS file: a stack of cutouts (4 axes), or one galaxy's cutout (2 or 3).
      const absl::StatusOr<int> axes = FirstImageAxes(first);
      format = axes.ok() && (*axes == 2 || *axes == 3) ? "fits-cutouts" : "fits";
    }
  }
  if (!command.catalog.empty() && format != "fits-cutouts") {
    return absl::InvalidArgumentError(absl::StrCat("--catalog: only for FITS cutouts (fits-cutouts), not ", format));
  }
  absl::StatusOr<IngestReport> report;
  if (!options.images_key.empty() && format != "hdf5") {
    return absl::InvalidArgumentError(absl::StrCat("--images-key: only for HDF5 input, not ", format));
  }
  if (format == "npz" || format == "fits" || format == "hdf5") {
    if (command.inputs.size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("--format ", format, " takes one input file"));
    }
    report = format == "npz"    ? IngestNpz(command.inputs[0], options)
             : format == "hdf5" ? IngestHdf5(command.inputs[0], options)
                                : IngestFitsCube(command.inputs[0], options);
  } else if (format == "fits-cutouts") {
    report = IngestFitsCutouts(command.inputs, command.catalog, options);
  } else if (format == "sdss-frames") {
    if (command.positions.empty()) {
      return absl::InvalidArgumentError("--positions: required with SDSS frames");
    }
    report = IngestSdssFrames(command.inputs, command.positions, options);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--format: unknown '", format, "' (auto, hdf5, npz, fits, fits-cutouts or sdss-frames)"));
  }
  if (!report.ok()) return report.status();
  std::cout << absl::StrFormat("wrote %s: %d %s (%s)\n", options.out, report->written,
                               report->written == 1 ? "galaxy" : "galaxies", format);
  for (const std::string& note : report->notes) std::cout << "note: " << note << "\n";
  if (!report->skipped.empty()) {
    std::cout << absl::StrFormat("skipped %d:\n", report->skipped.size());
    for (size_t i = 0; i < report->skipped.size() && i < 20; ++i) {
      std::cout << "  " << report->skipped[i] << "\n";
    }
    if (report->skipped.size() > 20) std::cout << "  ...\n";
  }
  return absl::OkStatus();
}

}  // namespace galaxy
