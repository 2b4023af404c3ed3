// Galaxy and star spectra, and synthetic photometry through the SDSS u, g, r, i, z filters.
//
// The templates are physically motivated, not fitted to a library: a galaxy's spectrum is a mix
// of an old stellar population (a cool continuum with a 4000 Angstrom break and a UV drop) and a
// young one (a hot continuum with a weak Balmer break), plus nebular emission lines
// ([OII] 3727, H-beta, [OIII] 5007, H-alpha) whose strength follows the young fraction. Redshift
// moves the 4000 Angstrom break from the g band into r around z ~ 0.4, which is what makes
// photometric redshifts possible.
#ifndef GALAXY_DATA_SIM_SPECTRA_H_
#define GALAXY_DATA_SIM_SPECTRA_H_

#include <array>
#include <vector>

#include "data/bands.h"
#include "data/sim/cosmology.h"

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

// One galaxy component's stellar populations, from a continuous family (what makes colours
// degenerate with redshift, as on the real sky: at a fixed redshift, the spread of ages,
// metallicities, star formation, emission lines and dust spreads the colours). Each fraction is
// of the rest-frame 5500 A light.
struct SpectralParams {
  // Metallicity of the old population, 0 (metal-poor: a ~5200 K continuum) .. 1 (metal-rich: a
  // ~4000 K continuum); it also deepens the 4000 A break.
  double metallicity = 0.5;
  // Strength of the old population's 4000 A break (flux ratio above / below). Default 1.9.
  double d4000 = 1.9;
  // Fraction from an intermediate-age (A-star, ~1 Gyr, post-starburst) population.
  double intermediate = 0;
  // Fraction from young stars; `young_hotness` 0 (~9000 K) .. 1 (~20000 K) sets their UV slope.
  double young = 0;
  double young_hotness = 0.5;
  // Rest-frame H-alpha equivalent width, Angstrom; `excitation` 0 (HII-region line ratios) .. 1
  // (strong [OIII]) sets the other lines.
  double halpha_ew = 0;
  double excitation = 0;
  // Internal dust, E(B-V) of a Charlot & Fall (2000) A_lambda ~ lambda^-0.7 attenuation
  // (A_V = 4.05 E), applied at each band's rest-frame effective wavelength.
  double internal_ebv = 0;
};

// Relative f_nu of one component in the five bands at redshift z, in units of its own
// rest-frame r-band flux without dust (so m_b = M_r + DM(z) - 2.5 log10(1+z) - 2.5 log10(total_b)),
// and the part of it from young stars and emission lines (the light of spiral arms and clumps).
struct ComponentFluxes {
  std::array<double, kSdssBands> total{};
  std::array<double, kSdssBands> young{};
};

// The continuous spectral family as non-negative mixtures of nine fixed basis spectra (two old
// continua, each split at the 4000 A break so that the break's depth is a weight; an
// intermediate-age and two young continua; two emission-line sets), each tabulated through the
// five filters on a redshift grid: a galaxy's photometry is then a weighted sum, and every
// parameter is continuous. Thread-safe after construction (const).
class SpectralFamily {
 public:
  explicit SpectralFamily(double z_max = 0.6, int steps = 600);

  ComponentFluxes Fluxes(const SpectralParams& params, double z) const;
  // m_b - M_r at z, distance modulus and K-correction included (as MagnitudeTable::Offsets).
  std::array<double, kSdssBands> Offsets(const SpectralParams& params, double z,
                                         const FlatLcdm& cosmology) const;
  // The rest-frame spectrum of a parameter set, on 1000 .. 12000 A (for plots and tests).
  Spectrum Make(const SpectralParams& params) const;

  static constexpr int kBasis = 9;

 private:
  // Basis weights of a parameter set (flux of each unit-normalised basis spectrum).
  std::array<double, kBasis> Weights(const SpectralParams& params) const;

  double z_max_, dz_;
  std::vector<Spectrum> basis_;
  // basis_band_[i][k][b]: band-mean f_nu of basis k at z = i * dz_.
  std::vector<std::array<std::array<double, kSdssBands>, kBasis>> basis_band_;
  std::array<double, kBasis> rest_r_{}, at_halpha_{};
};

}  // namespace galaxy

#endif  // GALAXY_DATA_SIM_SPECTRA_H_
