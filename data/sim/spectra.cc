#include "data/sim/spectra.h"

#include <algorithm>
#include <array>
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


// An old continuum of temperature `kelvin`, the part above (or below) the 4000 A break, with the
// steep UV drop of old stars below 3000 A.
double OldPart(double lambda, double kelvin, bool above) {
  double f = Planck(lambda, kelvin) / Planck(5500, kelvin);
  const double step = SmoothStep(lambda, 3975, 40);
  f *= above ? step : 1 - step;
  if (lambda < 3000) f *= std::pow(lambda / 3000, 2.5);
  return f;
}

// A hot continuum with a Balmer break of depth `balmer` at 3646 A.
double HotContinuum(double lambda, double kelvin, double balmer) {
  const double above = SmoothStep(lambda, 3646, 30);
  return Planck(lambda, kelvin) / Planck(5500, kelvin) * (above + (1 - above) / balmer);
}

// Emission lines relative to H-alpha (flux 1), sigma 4 A: HII-region ratios, or a high-excitation
// set with strong [OIII].
double Lines(double lambda, bool excited) {
  struct Line {
    double lambda, hii, excited;
  };
  static constexpr Line kLines[] = {{3727, 0.9, 0.6},   {4861, 0.35, 0.35}, {4959, 0.12, 0.45},
                                    {5007, 0.36, 1.3},  {6563, 1.0, 1.0},   {6583, 0.3, 0.6}};
  double f = 0;
  for (const Line& line : kLines) f += (excited ? line.excited : line.hii) * Gaussian(lambda, line.lambda, 4.0);
  return f;
}

// Internal dust: attenuation in magnitudes at rest-frame `lambda` of a Charlot & Fall (2000)
// lambda^-0.7 law with A_V = 4.05 E(B-V).
double InternalAttenuation(double ebv, double lambda) {
  return 4.05 * std::max(0.0, ebv) * std::pow(lambda / 5500, -0.7);
}

// The fixed templates of MakeGalaxySpectrum, from the same parts as SpectralFamily's basis (each
// is used only divided by its own value at 5500 A). Old population: a ~4500 K continuum, dimmed
// below the 4000 A break by d4000 and falling steeply in the UV below 3000 A.
double OldPopulation(double lambda, double d4000) {
  return OldPart(lambda, 4500, true) + OldPart(lambda, 4500, false) / d4000;
}

// Young population: a hot (~9000 K) continuum with a Balmer break at 3646 A.
double YoungPopulation(double lambda) { return HotContinuum(lambda, 9000, 1.3); }

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
  for (double l = kLambdaMin; l <= kLambdaMax + 1e-9; l += kStep) {
    const double f = (1 - recipe.young_fraction) * OldPopulation(l, recipe.d4000) / old_norm +
                     recipe.young_fraction * YoungPopulation(l) / young_norm;
    s.flux.push_back(f + line_flux * Lines(l, /*excited=*/false));  // HII-region line ratios
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

namespace {

// The unit-normalised basis of SpectralFamily (f_lambda = 1 at 5500 A for the continua; unit
// H-alpha flux for the line sets).
enum Basis {
  kMetalRichAbove, kMetalRichBelow, kMetalPoorAbove, kMetalPoorBelow,  // old, split at 4000 A
  kIntermediate, kYoungWarm, kYoungHot, kLinesHii, kLinesExcited,
};

double BasisAt(int k, double lambda) {
  switch (k) {
    case kMetalRichAbove: return OldPart(lambda, 4000, true);
    case kMetalRichBelow: return OldPart(lambda, 4000, false);
    case kMetalPoorAbove: return OldPart(lambda, 5200, true);
    case kMetalPoorBelow: return OldPart(lambda, 5200, false);
    case kIntermediate: return HotContinuum(lambda, 8000, 2.2);
    case kYoungWarm: return HotContinuum(lambda, 9000, 1.3);
    case kYoungHot: return HotContinuum(lambda, 20000, 1.2);
    case kLinesHii: return Lines(lambda, false);
    case kLinesExcited: return Lines(lambda, true);
  }
  return 0;
}

}  // namespace

SpectralFamily::SpectralFamily(double z_max, int steps)
    : z_max_(z_max), dz_(z_max / steps), basis_band_(static_cast<size_t>(steps) + 1) {
  for (int k = 0; k < kBasis; ++k) {
    Spectrum s;
    s.lambda_min = kLambdaMin;
    s.lambda_step = kStep;
    for (double l = kLambdaMin; l <= kLambdaMax + 1e-9; l += kStep) s.flux.push_back(BasisAt(k, l));
    rest_r_[k] = BandMeanFnu(s, kBandR, 0);
    at_halpha_[k] = BasisAt(k, 6563);
    basis_.push_back(std::move(s));
  }
  for (int i = 0; i <= steps; ++i) {
    for (int k = 0; k < kBasis; ++k) {
      for (int b = 0; b < kSdssBands; ++b) basis_band_[i][k][b] = BandMeanFnu(basis_[k], b, i * dz_);
    }
  }
}

std::array<double, SpectralFamily::kBasis> SpectralFamily::Weights(const SpectralParams& p) const {
  std::array<double, kBasis> w{};
  const double young = std::clamp(p.young, 0.0, 1.0);
  const double intermediate = std::clamp(p.intermediate, 0.0, 1.0 - young);
  const double old = 1 - young - intermediate;
  const double metal = std::clamp(p.metallicity, 0.0, 1.0);
  const double below = 1 / std::max(1.0, p.d4000);
  w[kMetalRichAbove] = old * metal;
  w[kMetalRichBelow] = old * metal * below;
  w[kMetalPoorAbove] = old * (1 - metal);
  w[kMetalPoorBelow] = old * (1 - metal) * below;
  w[kIntermediate] = intermediate;
  const double hot = std::clamp(p.young_hotness, 0.0, 1.0);
  w[kYoungWarm] = young * (1 - hot);
  w[kYoungHot] = young * hot;
  // Line fluxes from the equivalent width and the continuum under H-alpha.
  double continuum = 0;
  for (int k = 0; k < kLinesHii; ++k) continuum += w[k] * at_halpha_[k];
  const double line_flux = std::max(0.0, p.halpha_ew) * continuum;
  const double excitation = std::clamp(p.excitation, 0.0, 1.0);
  w[kLinesHii] = line_flux * (1 - excitation);
  w[kLinesExcited] = line_flux * excitation;
  return w;
}

ComponentFluxes SpectralFamily::Fluxes(const SpectralParams& params, double z) const {
  const std::array<double, kBasis> w = Weights(params);
  double rest_r = 0;
  for (int k = 0; k < kBasis; ++k) rest_r += w[k] * rest_r_[k];
  const double x = std::clamp(z, 0.0, z_max_) / dz_;
  const size_t i = std::min(static_cast<size_t>(x), basis_band_.size() - 2);
  const double f = x - static_cast<double>(i);
  ComponentFluxes out;
  for (int b = 0; b < kSdssBands; ++b) {
    // Attenuation at the band's rest-frame wavelength.
    const double rest_lambda = kSdssWavelength[b] / (1 + z);
    const double dim = std::pow(10.0, -0.4 * InternalAttenuation(params.internal_ebv, rest_lambda)) / rest_r;
    for (int k = 0; k < kBasis; ++k) {
      const double band = basis_band_[i][k][b] + f * (basis_band_[i + 1][k][b] - basis_band_[i][k][b]);
      const double part = w[k] * band * dim;
      out.total[b] += part;
      if (k >= kYoungWarm) out.young[b] += part;
    }
  }
  return out;
}

std::array<double, kSdssBands> SpectralFamily::Offsets(const SpectralParams& params, double z,
                                                       const FlatLcdm& cosmology) const {
  const double zz = std::max(z, 1e-5);
  const ComponentFluxes fluxes = Fluxes(params, zz);
  std::array<double, kSdssBands> out;
  for (int b = 0; b < kSdssBands; ++b) {
    out[b] = cosmology.DistanceModulus(zz) - 2.5 * std::log10(1 + zz) - 2.5 * std::log10(fluxes.total[b]);
  }
  return out;
}

Spectrum SpectralFamily::Make(const SpectralParams& params) const {
  const std::array<double, kBasis> w = Weights(params);
  Spectrum s;
  s.lambda_min = kLambdaMin;
  s.lambda_step = kStep;
  s.flux.assign(basis_[0].flux.size(), 0.0);
  for (int k = 0; k < kBasis; ++k) {
    for (size_t j = 0; j < s.flux.size(); ++j) s.flux[j] += w[k] * basis_[k].flux[j];
  }
  for (size_t j = 0; j < s.flux.size(); ++j) {
    const double lambda = kLambdaMin + static_cast<double>(j) * kStep;
    s.flux[j] *= std::pow(10.0, -0.4 * InternalAttenuation(params.internal_ebv, lambda));
  }
  return s;
}

}  // namespace galaxy
