// Draws the pixels of one synthetic galaxy (and its anomaly, if any) from its truth: bulge and
// disk profiles (plus spiral arms in young light, clumps, rings, companions, tidal tails) with
// their own spectra, Galactic dust, per-band Gaussian PSF, stars and satellite trails, and sky
// plus source noise.
#ifndef GALAXY_DATA_SIM_SYNTH_RENDER_H_
#define GALAXY_DATA_SIM_SYNTH_RENDER_H_

#include <cstdint>

#include "data/sim/synth_population.h"

namespace galaxy {

// Renders galaxy `index` with truth `truth` into `out`: kSdssBands x size x size float32,
// nanomaggies per pixel, C order (band, row, column), size = model.options().image_size.
// Deterministic in (model seed, index). Thread-safe (model is const).
void RenderGalaxy(const SurveyModel& model, const GalaxyTruth& truth, int64_t index, float* out);

}  // namespace galaxy

#endif  // GALAXY_DATA_SIM_SYNTH_RENDER_H_
