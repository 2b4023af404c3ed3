// The synthetic survey end to end: galaxies drawn by data/sim/synth_population.h, pixels by
// data/sim/synth_render.h, written in the native HDF5 layout with truth columns:
//   specz_redshift (the true z), type, is_anomaly, anomaly_kind, bar (1: a barred disk),
//   neighbours (other sources in the cutout), mag_u..mag_z (dust-corrected total model
//   magnitudes of the galaxy alone), abs_mag_r, bulge_fraction, half_light_radius (arcsec).
// Deterministic for a given seed and count, whatever the thread count.
#ifndef GALAXY_DATA_SIM_SYNTH_SURVEY_H_
#define GALAXY_DATA_SIM_SYNTH_SURVEY_H_

#include <string>

#include "absl/status/status.h"
#include "data/galaxy_batch.h"
#include "data/sim/synth_population.h"

namespace galaxy {

// The layout of a synthetic survey file (5 bands, image_size square, truth columns).
DatasetLayout SyntheticLayout(const SynthOptions& options);

// Generates galaxies [start, start + n) into `batch` with `threads` threads (<= 0: all CPUs).
void SynthesizeBatch(const SurveyModel& model, int64_t start, int64_t n, int threads,
                     GalaxyBatch* batch);

// Generates the whole survey into `path` (temporary file + rename), logging progress.
// INVALID_ARGUMENT for bad options (count < 1, size < 16, fraction outside [0, 1], ...).
absl::Status WriteSyntheticSurvey(const SynthOptions& options, const std::string& path,
                                  int threads);

// INVALID_ARGUMENT naming the first bad option.
absl::Status ValidateSynthOptions(const SynthOptions& options);

}  // namespace galaxy

#endif  // GALAXY_DATA_SIM_SYNTH_SURVEY_H_
