#include "core/spectra.h"

#include <algorithm>
#include <cmath>

namespace galaxy {
namespace {

constexpr double kLambdaMin = 1000, kLambdaMax = 12000, kStep = 5;
// Integration grid for the filters (observed frame), Angstrom.
constexpr double kObsMin = 2800, kObsMax = 11500, kObsStep = 5;

// Planck f_lambda shape, arbitrary units.
double Planck(double lambda_angstrom, double kelvin) {
  const double hc_over_k = 1.438777e8;  // Angstrom * K
  const double x = hc_over_k / (lambda_angstrom * kelvin);
  return 1.0 / (std::pow(lambda_angstrom, 5) * std::expm1(std::min(x, 700.0)));
}

// A smooth step from 0 (well below `at`) to 1 (well above), width ~`width`.
double SmoothStep(double lambda, double at, double width) {
  return 0.5 * (1 + std::tanh((lambda - at) / width));
}

double Gaussian(double x, double mean, double sigma) {
  const double u = (x - mean) / sigma;
  return std::exp(-0.5 * u * u) / (sigma * std::sqrt(2 * M_PI));
}


// Old population: a ~4500 K continuum, dimmed below the 4000 A break by d4000 and falling
// steeply in the UV below 3000 A.
double OldPopulation(double lambda, double d4000) {
  double f = Planck(lambda, 4500);
  const double above = SmoothStep(lambda, 3975, 40);
  f *= above + (1 - above) / d4000;
  if (lambda < 3000) f *= std::pow(lambda / 3000, 2.5);
  return f;
}

// Young population: a hot (~9000 K) continuum with a Balmer break at 3646 A.
double YoungPopulation(double lambda) {
  double f = Planck(lambda, 9000);
  const double above = SmoothStep(lambda, 3646, 30);
  f *= above + (1 - above) / 1.3;
  return f;
}

}  // namespace

double Spectrum::At(double lambda) const {
  const double x = (lambda - lambda_min) / lambda_step;
  if (x < 0 || x >= static_cast<double>(flux.size() - 1)) return 0;
  const size_t i = static_cast<size_t>(x);
  const double f = x - static_cast<double>(i);
  return flux[i] + f * (flux[i + 1] - flux[i]);
}

Spectrum MakeGalaxySpectrum(const SpectrumRecipe& recipe) {
  Spectrum s;
  s.lambda_min = kLambdaMin;
  s.lambda_step = kStep;
  const double old_norm = OldPopulation(5500, recipe.d4000);
  const double young_norm = YoungPopulation(5500);
  // Continuum at H-alpha, to turn equivalent widths into line fluxes.
  const double continuum_halpha = (1 - recipe.young_fraction) * OldPopulation(6563, recipe.d4000) /
                                      old_norm +
                                  recipe.young_fraction * YoungPopulation(6563) / young_norm;
  const double line_flux = recipe.halpha_ew * continuum_halpha;
  // Line ratios typical of star-forming galaxies (relative to H-alpha), sigma 4 A.
  struct Line {
    double lambda, ratio;
  };
  const Line lines[] = {{3727, 0.9}, {4861, 0.35}, {4959, 0.12}, {5007, 0.36}, {6563, 1.0},
                        {6583, 0.3}};
  for (double l = kLambdaMin; l <= kLambdaMax + 1e-9; l += kStep) {
    double f = (1 - recipe.young_fraction) * OldPopulation(l, recipe.d4000) / old_norm +
               recipe.young_fraction * YoungPopulation(l) / young_norm;
    for (const Line& line : lines) f += line_flux * line.ratio * Gaussian(l, line.lambda, 4.0);
    s.flux.push_back(f);
  }
  return s;
}

Spectrum MakeBlackbodySpectrum(double kelvin) {
  Spectrum s;
  s.lambda_min = kLambdaMin;
  s.lambda_step = kStep;
  for (double l = kLambdaMin; l <= kLambdaMax + 1e-9; l += kStep) s.flux.push_back(Planck(l, kelvin));
  return s;
}

double FilterTransmission(int band, double lambda) {
  const double half_width = kSdssFwhm[band] / 2;
  const double u = (lambda - kSdssWavelength[band]) / half_width;
  const double u2 = u * u;
  return std::exp(-std::log(2.0) * u2 * u2 * u2);
}

double BandMeanFnu(const Spectrum& spectrum, int band, double z) {
  // <f_nu> = int f_nu T dlambda/lambda / int T dlambda/lambda, f_nu ~ f_lambda lambda^2.
  // The filter curves are sampled once on the observed-frame grid.
  struct Filters {
    std::vector<double> lambda;
    std::vector<std::array<double, kSdssBands>> weight;  // T / lambda
  };
  static const Filters* filters = [] {
    auto* f = new Filters;
    for (double l = kObsMin; l <= kObsMax; l += kObsStep) {
      f->lambda.push_back(l);
      std::array<double, kSdssBands> w;
      for (int b = 0; b < kSdssBands; ++b) w[b] = FilterTransmission(b, l) / l;
      f->weight.push_back(w);
    }
    return f;
  }();
  double num = 0, den = 0;
  for (size_t i = 0; i < filters->lambda.size(); ++i) {
    const double w = filters->weight[i][band];
    if (w < 1e-12) continue;
    const double rest = filters->lambda[i] / (1 + z);
    num += spectrum.At(rest) * rest * rest * w;
    den += w;
  }
  return num / den;
}

MagnitudeTable::MagnitudeTable(const Spectrum& spectrum, const FlatLcdm& cosmology, double z_max,
                               int steps)
    : z_max_(z_max), dz_(z_max / steps), table_(steps + 1) {
  const double rest_r = BandMeanFnu(spectrum, kBandR, 0);
  for (int i = 0; i <= steps; ++i) {
    // Avoid z = 0 exactly (infinite distance modulus): the first entry uses a tiny redshift.
    const double z = std::max(i * dz_, 1e-5);
    for (int b = 0; b < kSdssBands; ++b) {
      // m_b - M_r = DM - 2.5 log10(1+z) - 2.5 log10(<f_nu(lambda/(1+z))>_b / <f_nu>_r,rest)
      table_[i][b] = cosmology.DistanceModulus(z) - 2.5 * std::log10(1 + z) -
                     2.5 * std::log10(BandMeanFnu(spectrum, b, z) / rest_r);
    }
  }
}

std::array<double, kSdssBands> MagnitudeTable::Offsets(double z) const {
  const double x = std::clamp(z, 0.0, z_max_) / dz_;
  const size_t i = std::min(static_cast<size_t>(x), table_.size() - 2);
  const double f = x - static_cast<double>(i);
  std::array<double, kSdssBands> out;
  for (int b = 0; b < kSdssBands; ++b) out[b] = table_[i][b] + f * (table_[i + 1][b] - table_[i][b]);
  return out;
}

std::array<double, kSdssBands> RestFrameColoursMinusR(const Spectrum& spectrum) {
  std::array<double, kSdssBands> out;
  const double r = BandMeanFnu(spectrum, kBandR, 0);
  for (int b = 0; b < kSdssBands; ++b) out[b] = -2.5 * std::log10(BandMeanFnu(spectrum, b, 0) / r);
  return out;
}

}  // namespace galaxy
