// Galaxy and star spectra, and synthetic photometry through the SDSS u, g, r, i, z filters.
//
// The templates are physically motivated, not fitted to a library: a galaxy's spectrum is a mix
// of an old stellar population (a cool continuum with a 4000 Angstrom break and a UV drop) and a
// young one (a hot continuum with a weak Balmer break), plus nebular emission lines
// ([OII] 3727, H-beta, [OIII] 5007, H-alpha) whose strength follows the young fraction. Redshift
// moves the 4000 Angstrom break from the g band into r around z ~ 0.4, which is what makes
// photometric redshifts possible.
#ifndef GALAXY_CORE_SPECTRA_H_
#define GALAXY_CORE_SPECTRA_H_

#include <array>
#include <vector>

#include "core/bands.h"
#include "core/cosmology.h"

namespace galaxy {

// Rest-frame f_lambda (arbitrary units) on a uniform wavelength grid.
struct Spectrum {
  double lambda_min = 1000;  // Angstrom
  double lambda_step = 5;    // Angstrom
  std::vector<double> flux;  // f_lambda at lambda_min + i * lambda_step

  // Linear interpolation; 0 outside the grid.
  double At(double lambda) const;
};

// What a stellar-population template is made of.
struct SpectrumRecipe {
  // Fraction of the 5500 A flux from the young population, 0 (old) .. 1 (starburst).
  double young_fraction = 0;
  // Strength of the old population's 4000 A break (ratio of flux above to below).
  double d4000 = 1.9;
  // Rest-frame equivalent width of H-alpha emission, Angstrom (0: no emission lines).
  double halpha_ew = 0;
};

// The template of a recipe, on 1000 .. 12000 A.
Spectrum MakeGalaxySpectrum(const SpectrumRecipe& recipe);

// A blackbody of temperature `kelvin` (for stars), on 1000 .. 12000 A.
Spectrum MakeBlackbodySpectrum(double kelvin);

// Transmission of SDSS band `band` at `lambda` (Angstrom): a flat-topped profile with the band's
// effective wavelength and FWHM, 0.5 at the half-width points.
double FilterTransmission(int band, double lambda);

// Band-averaged f_nu (photon-counting, arbitrary units) of `spectrum` redshifted to `z`, in band
// `band`, without the distance dimming: <f_nu(lambda / (1+z))>_band.
double BandMeanFnu(const Spectrum& spectrum, int band, double z);

// For one spectrum, the apparent magnitude in each band of a galaxy of absolute r magnitude 0 at
// redshift z (distance modulus and K-correction included): m_b(z) = M_r + Offsets(z)[b].
// Tabulated on construction over [0, z_max]; thread-safe after construction.
class MagnitudeTable {
 public:
  MagnitudeTable(const Spectrum& spectrum, const FlatLcdm& cosmology, double z_max = 0.6,
                 int steps = 600);
  std::array<double, kSdssBands> Offsets(double z) const;

 private:
  double z_max_;
  double dz_;
  std::vector<std::array<double, kSdssBands>> table_;
};

// Rest-frame colours m_b - m_r of a spectrum (z = 0), e.g. for stars.
std::array<double, kSdssBands> RestFrameColoursMinusR(const Spectrum& spectrum);

}  // namespace galaxy

#endif  // GALAXY_CORE_SPECTRA_H_
