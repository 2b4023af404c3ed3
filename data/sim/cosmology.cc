#include "data/sim/cosmology.h"

#include <algorithm>
#include <cmath>

namespace galaxy {
namespace {
constexpr double kSpeedOfLightKmS = 299792.458;
constexpr double kArcsecPerRadian = 206264.80624709636;
}  // namespace

FlatLcdm::FlatLcdm(double h0, double omega_m, double z_max, int steps)
    : hubble_distance_(kSpeedOfLightKmS / h0),
      omega_m_(omega_m),
      z_max_(z_max),
      dz_(z_max / steps),
      comoving_(steps + 1, 0.0) {
  // Simpson's rule on each interval (midpoint included): exact to ~1e-10 relative here.
  for (int i = 1; i <= steps; ++i) {
    const double a = (i - 1) * dz_, b = i * dz_, m = 0.5 * (a + b);
    const double integral = dz_ / 6 * (1 / E(a) + 4 / E(m) + 1 / E(b));
    comoving_[i] = comoving_[i - 1] + hubble_distance_ * integral;
  }
}

double FlatLcdm::E(double z) const {
  const double zp1 = 1 + z;
  return std::sqrt(omega_m_ * zp1 * zp1 * zp1 + (1 - omega_m_));
}

double FlatLcdm::ComovingDistance(double z) const {
  z = std::clamp(z, 0.0, z_max_);
  const double x = z / dz_;
  const size_t i = std::min(static_cast<size_t>(x), comoving_.size() - 2);
  const double f = x - static_cast<double>(i);
  return comoving_[i] + f * (comoving_[i + 1] - comoving_[i]);
}

double FlatLcdm::AngularDiameterDistance(double z) const { return ComovingDistance(z) / (1 + z); }

double FlatLcdm::LuminosityDistance(double z) const { return ComovingDistance(z) * (1 + z); }

double FlatLcdm::DistanceModulus(double z) const {
  return 5 * std::log10(LuminosityDistance(z) * 1e5);  // Mpc / 10 pc = 1e5
}

double FlatLcdm::DifferentialComovingVolume(double z) const {
  const double dc = ComovingDistance(z);
  return hubble_distance_ * dc * dc / E(z);
}

double FlatLcdm::ArcsecPerKpc(double z) const {
  return kArcsecPerRadian / (AngularDiameterDistance(z) * 1000.0);
}

}  // namespace galaxy
