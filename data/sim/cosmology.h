// Distances in a flat Lambda-CDM universe (default H0 = 70 km/s/Mpc, Omega_m = 0.3), tabulated
// on construction for fast lookups on 0 <= z <= z_max.
#ifndef GALAXY_DATA_SIM_COSMOLOGY_H_
#define GALAXY_DATA_SIM_COSMOLOGY_H_

#include <vector>

namespace galaxy {

class FlatLcdm {
 public:
  // Tabulates on [0, z_max] with `steps` intervals (Simpson-integrated). Thread-safe after
  // construction (const).
  explicit FlatLcdm(double h0 = 70.0, double omega_m = 0.3, double z_max = 1.0, int steps = 2000);

  // Hubble distance c / H0, Mpc.
  double HubbleDistance() const { return hubble_distance_; }
  // E(z) = H(z) / H0.
  double E(double z) const;
  // Comoving (= transverse comoving, flat) distance, Mpc.
  double ComovingDistance(double z) const;
  // Angular-diameter distance D_M / (1 + z), Mpc.
  double AngularDiameterDistance(double z) const;
  // Luminosity distance D_M (1 + z), Mpc.
  double LuminosityDistance(double z) const;
  // Distance modulus 5 log10(D_L / 10 pc).
  double DistanceModulus(double z) const;
  // Comoving volume per unit redshift per steradian, Mpc^3.
  double DifferentialComovingVolume(double z) const;
  // Angle subtended by a physical length, arcsec: length_kpc / D_A.
  double ArcsecPerKpc(double z) const;

 private:
  double hubble_distance_;
  double omega_m_;
  double z_max_;
  double dz_;
  std::vector<double> comoving_;  // D_C at i * dz_
};

}  // namespace galaxy

#endif  // GALAXY_DATA_SIM_COSMOLOGY_H_
