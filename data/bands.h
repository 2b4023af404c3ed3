// Facts about the SDSS u, g, r, i, z photometric system used throughout: band names, effective
// wavelengths and widths, Galactic extinction coefficients, asinh-magnitude softening, pixel
// scale. Other surveys can be added as other band sets; everything else takes a band count.
#ifndef GALAXY_DATA_BANDS_H_
#define GALAXY_DATA_BANDS_H_

#include <array>

namespace galaxy {

inline constexpr int kSdssBands = 5;
inline constexpr std::array<const char*, kSdssBands> kSdssBandNames = {"u", "g", "r", "i", "z"};

// Effective wavelengths and FWHM of the SDSS filters, Angstrom (Fukugita et al. 1996).
inline constexpr std::array<double, kSdssBands> kSdssWavelength = {3551, 4686, 6166, 7480, 8932};
inline constexpr std::array<double, kSdssBands> kSdssFwhm = {599, 1379, 1382, 1535, 1370};

// A_b / E(B-V) for u, g, r, i, z (Schlafly & Finkbeiner 2011, SDSS).
inline constexpr std::array<double, kSdssBands> kSdssExtinction = {4.239, 3.303, 2.285, 1.698,
                                                                   1.263};

// Softening b of SDSS asinh magnitudes, in maggies (Lupton, Gunn & Szalay 1999; SDSS DR docs).
inline constexpr std::array<double, kSdssBands> kSdssAsinhSoftening = {1.4e-10, 0.9e-10, 1.2e-10,
                                                                       1.8e-10, 7.4e-10};

// 95%-complete point-source depths, AB magnitudes (York et al. 2000): the synthetic survey's sky
// noise is set from these.
inline constexpr std::array<double, kSdssBands> kSdssDepth = {22.0, 22.2, 22.2, 21.3, 20.5};

// SDSS imaging pixel scale, arcsec per pixel.
inline constexpr double kSdssPixelScale = 0.396;

// Index of the r band (the selection and normalisation band).
inline constexpr int kBandR = 2;

// AB magnitude <-> flux in nanomaggies (1 nanomaggy is magnitude 22.5).
double NanomaggiesToMag(double flux);
double MagToNanomaggies(double mag);

// SDSS asinh magnitude ("luptitude") of a flux in nanomaggies in band `band`: finite for zero and
// negative fluxes, equal to the AB magnitude for bright sources.
double AsinhMag(double flux_nanomaggies, int band);

// Factor that removes Galactic extinction from band `band`'s flux: 10^(0.4 * R_b * E(B-V)).
double DereddenFactor(int band, double e_bv);

}  // namespace galaxy

#endif  // GALAXY_DATA_BANDS_H_
