#include "data/photoz/photometry.h"

#include <cmath>

#include "data/bands.h"

namespace galaxy {

std::vector<double> ApertureFluxes(const float* image, int bands, int height, int width,
                                   double radius) {
  std::vector<double> flux(static_cast<size_t>(bands), 0.0);
  const double cx = width / 2.0, cy = height / 2.0, r2 = radius * radius;
  const size_t plane = static_cast<size_t>(height) * width;
  for (int y = 0; y < height; ++y) {
    const double dy = y + 0.5 - cy;
    for (int x = 0; x < width; ++x) {
      const double dx = x + 0.5 - cx;
      if (dx * dx + dy * dy > r2) continue;
      const size_t p = static_cast<size_t>(y) * width + x;
      for (int b = 0; b < bands; ++b) flux[b] += image[b * plane + p];
    }
  }
  return flux;
}

std::vector<double> ColourFeatures(const std::vector<double>& fluxes, double e_bv) {
  const int bands = static_cast<int>(fluxes.size());
  std::vector<double> mags(fluxes.size());
  for (int b = 0; b < bands; ++b) {
    if (bands == kSdssBands) {
      mags[b] = AsinhMag(fluxes[b] * DereddenFactor(b, e_bv), b);
    } else {
      const double soft = 1e-10, maggies = fluxes[b] * 1e-9;
      mags[b] = -2.5 / std::log(10.0) * (std::asinh(maggies / (2 * soft)) + std::log(soft));
    }
  }
  if (bands != kSdssBands) return mags;
  return {mags[kBandR], mags[0] - mags[1], mags[1] - mags[2], mags[2] - mags[3], mags[3] - mags[4]};
}

}  // namespace galaxy
