#include "data/bands.h"

#include <cmath>

namespace galaxy {

double NanomaggiesToMag(double flux) { return 22.5 - 2.5 * std::log10(flux); }

double MagToNanomaggies(double mag) { return std::pow(10.0, -0.4 * (mag - 22.5)); }

double AsinhMag(double flux_nanomaggies, int band) {
  const double b = kSdssAsinhSoftening[band];
  const double maggies = flux_nanomaggies * 1e-9;
  return -2.5 / std::log(10.0) * (std::asinh(maggies / (2 * b)) + std::log(b));
}

double DereddenFactor(int band, double e_bv) {
  return std::pow(10.0, 0.4 * kSdssExtinction[band] * e_bv);
}

}  // namespace galaxy
