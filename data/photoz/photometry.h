// Simple photometry on cutouts: total flux in a circular aperture around the centre, and the
// de-reddened asinh magnitudes and colours the classical photo-z baseline uses.
#ifndef GALAXY_DATA_PHOTOZ_PHOTOMETRY_H_
#define GALAXY_DATA_PHOTOZ_PHOTOMETRY_H_

#include <vector>

namespace galaxy {

// Sum of each band's pixels within `radius` pixels of the cutout centre (pixel centres inside).
// image: bands x height x width. Returns `bands` fluxes in the image's units.
std::vector<double> ApertureFluxes(const float* image, int bands, int height, int width,
                                   double radius);

// Default aperture: 3 arcsec radius at 0.396"/px.
inline constexpr double kDefaultApertureRadiusPx = 3.0 / 0.396;

// Photometric features of one galaxy from aperture fluxes (nanomaggies) and E(B-V): for the five
// SDSS bands, the de-reddened asinh r magnitude and the four colours u-g, g-r, r-i, i-z. For
// other band counts, the de-reddened asinh-like magnitudes of every band (softening 1e-10).
std::vector<double> ColourFeatures(const std::vector<double>& fluxes, double e_bv);

}  // namespace galaxy

#endif  // GALAXY_DATA_PHOTOZ_PHOTOMETRY_H_
