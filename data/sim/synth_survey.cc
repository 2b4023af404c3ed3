#include "data/sim/synth_survey.h"

#include <cmath>
#include <future>

#include "absl/strings/str_cat.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/bands.h"
#include "data/hdf5_dataset.h"
#include "data/sim/synth_render.h"

namespace galaxy {
namespace {

constexpr const char* kMagColumns[kSdssBands] = {"mag_u", "mag_g", "mag_r", "mag_i", "mag_z"};

}  // namespace

absl::Status ValidateSynthOptions(const SynthOptions& o) {
  if (o.count < 1) return absl::InvalidArgumentError(absl::StrCat("--count: ", o.count, " < 1"));
  if (o.image_size < 16 || o.image_size > 512) {
    return absl::InvalidArgumentError(absl::StrCat("--size: ", o.image_size, " is outside 16..512"));
  }
  if (!(o.anomaly_fraction >= 0 && o.anomaly_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--anomaly-fraction: ", o.anomaly_fraction, " is outside [0, 1]"));
  }
  if (!(o.z_max > 0.01 && o.z_max <= 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("--z-max: ", o.z_max, " is outside (0.01, 1]"));
  }
  if (!(o.r_limit > o.r_bright && o.r_limit < 25)) {
    return absl::InvalidArgumentError(absl::StrCat("--r-limit: ", o.r_limit,
                                                   " must be brighter than 25 and fainter than ",
                                                   o.r_bright));
  }
  if (!(o.seeing_arcsec > 0.3 && o.seeing_arcsec < 5)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seeing: ", o.seeing_arcsec, " arcsec is outside (0.3, 5)"));
  }
  if (!(o.spectral_scatter >= 0 && o.spectral_scatter <= 3)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--spectral-scatter: ", o.spectral_scatter, " is outside [0, 3]"));
  }
  if (!(o.bar_scale >= 0 && o.bar_scale <= 3)) {
    return absl::InvalidArgumentError(absl::StrCat("--bars: ", o.bar_scale, " is outside [0, 3]"));
  }
  if (!(o.neighbour_scale >= 0 && o.neighbour_scale <= 10)) {
    return absl::InvalidArgumentError(absl::StrCat("--neighbours: ", o.neighbour_scale, " is outside [0, 10]"));
  }
  return absl::OkStatus();
}

DatasetLayout SyntheticLayout(const SynthOptions& options) {
  DatasetLayout layout;
  layout.bands = kSdssBands;
  layout.height = layout.width = options.image_size;
  layout.band_names.clear();
  for (const char* b : kSdssBandNames) layout.band_names.push_back(b);
  layout.extra_columns = {{"type", ColumnType::kUInt8},
                          {"is_anomaly", ColumnType::kUInt8},
                          {"anomaly_kind", ColumnType::kUInt8},
                          {"bar", ColumnType::kUInt8},
                          {"neighbours", ColumnType::kUInt8}};
  for (const char* m : kMagColumns) layout.extra_columns.push_back({m, ColumnType::kFloat32});
  layout.extra_columns.push_back({"abs_mag_r", ColumnType::kFloat32});
  layout.extra_columns.push_back({"bulge_fraction", ColumnType::kFloat32});
  layout.extra_columns.push_back({"half_light_radius", ColumnType::kFloat32});
  layout.attributes = {
      {"generator", "galaxy-data synth"},
      {"seed", absl::StrCat(options.seed)},
      {"flux_unit", "nanomaggies"},
      {"pixel_scale_arcsec", absl::StrCat(kSdssPixelScale)},
      {"type_names", "0 elliptical, 1 lenticular, 2 early-spiral, 3 late-spiral, 4 irregular"},
      {"anomaly_kind_names", "0 none, 1 merger, 2 ring, 3 star, 4 trail"},
      {"r_limit", absl::StrCat(options.r_limit)},
  };
  return layout;
}

void SynthesizeBatch(const SurveyModel& model, int64_t start, int64_t n, int threads,
                     GalaxyBatch* batch) {
  const DatasetLayout layout = SyntheticLayout(model.options());
  batch->Resize(layout, n);
  const int64_t ppi = layout.pixels_per_image();
  ParallelFor(n, threads, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t index = start + i;
      const GalaxyTruth g = model.Draw(index);
      RenderGalaxy(model, g, index, batch->images.data() + i * ppi);
      const size_t r = static_cast<size_t>(i);
      batch->ids[r] = g.id;
      batch->ra[r] = g.ra;
      batch->dec[r] = g.dec;
      batch->e_bv[r] = static_cast<float>(g.e_bv);
      batch->redshift[r] = static_cast<float>(g.z);
      batch->extra["type"][r] = static_cast<double>(g.type);
      batch->extra["is_anomaly"][r] = g.anomaly != AnomalyKind::kNone ? 1 : 0;
      batch->extra["anomaly_kind"][r] = static_cast<double>(g.anomaly);
      batch->extra["bar"][r] = g.bar ? 1 : 0;
      batch->extra["neighbours"][r] = static_cast<double>(std::min<size_t>(g.neighbours.size(), 255));
      for (int b = 0; b < kSdssBands; ++b) {
        batch->extra[kMagColumns[b]][r] = static_cast<float>(g.mag[b]);
      }
      batch->extra["abs_mag_r"][r] = static_cast<float>(g.abs_mag_r);
      batch->extra["bulge_fraction"][r] = static_cast<float>(g.bulge_fraction_r);
      const double re_px = g.bulge_fraction_r * g.bulge_re_px + (1 - g.bulge_fraction_r) * g.disk_re_px;
      batch->extra["half_light_radius"][r] = static_cast<float>(re_px * kSdssPixelScale);
    }
  });
}

absl::Status WriteSyntheticSurvey(const SynthOptions& options, const std::string& path,
                                  int threads) {
  GALAXY_RETURN_IF_ERROR(ValidateSynthOptions(options));
  SurveyModel model(options);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetWriter> writer,
                          DatasetWriter::Create(path, SyntheticLayout(options)));
  // ~64 MiB of images per chunk; the next chunk is generated while the previous one is written.
  const int64_t per_image = SyntheticLayout(options).pixels_per_image() * 4;
  const int64_t chunk = std::max<int64_t>(64, (64ll << 20) / per_image);
  Progress progress("synth", "galaxies", options.count);
  GalaxyBatch batches[2];
  std::future<absl::Status> pending;
  int64_t done = 0;
  for (int64_t start = 0, k = 0; start < options.count; start += chunk, ++k) {
    const int64_t n = std::min(chunk, options.count - start);
    GalaxyBatch& batch = batches[k % 2];
    SynthesizeBatch(model, start, n, threads, &batch);
    if (pending.valid()) {
      GALAXY_RETURN_IF_ERROR(pending.get());
      progress.Update(done);
    }
    pending = std::async(std::launch::async, [&writer, &batch] { return writer->Append(batch); });
    done = start + n;
  }
  if (pending.valid()) GALAXY_RETURN_IF_ERROR(pending.get());
  GALAXY_RETURN_IF_ERROR(writer->Commit());
  progress.Finish(options.count);
  return absl::OkStatus();
}

}  // namespace galaxy
