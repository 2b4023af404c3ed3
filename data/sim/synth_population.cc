#include "data/sim/synth_population.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <unordered_set>

#include "core/random.h"

namespace galaxy {
namespace {

constexpr double kDegree = M_PI / 180;
constexpr double kMagBright = -24.0, kMagFaint = -15.0, kMagStep = 0.01;
constexpr double kZMin = 0.002, kZStep = 0.0005;

// Per-type physics. Luminosity functions: r-band Schechter, H0 = 70 (after Nakamura et al. 2003).
// The spectral means are those of the type's disk (the whole galaxy for E); the spreads around
// them are scaled by SynthOptions::spectral_scatter.
struct TypeParams {
  double m_star, alpha, phi_star;  // phi_star: relative space density
  double young;                    // disk: mean fraction of 5500 A light from young stars
  double halpha_ew;                // disk: mean H-alpha equivalent width at that fraction, A
  double bt_mean, bt_sigma, bt_min, bt_max;
  double bulge_n;
  double disk_q0;      // intrinsic disk thickness
  double environment;  // mean local density (morphology-density relation), standardised
};

const TypeParams kTypes[kGalaxyTypes] = {
    // E: bulge only.
    {-21.6, -0.7, 0.25, 0.0, 0, 1.0, 0.0, 1.0, 1.0, 4, 0.15, 0.6},
    // S0
    {-21.4, -0.8, 0.20, 0.08, 2, 0.6, 0.1, 0.35, 0.85, 4, 0.15, 0.4},
    // Sab
    {-21.3, -1.0, 0.25, 0.25, 12, 0.35, 0.1, 0.1, 0.6, 3, 0.15, 0.0},
    // Scd
    {-20.9, -1.2, 0.20, 0.45, 30, 0.1, 0.05, 0.0, 0.25, 2, 0.15, -0.2},
    // Irr: disk only, thick.
    {-20.3, -1.4, 0.10, 0.75, 70, 0.0, 0.0, 0.0, 0.0, 1, 0.35, -0.4},
};

// Share of each type with a stellar bar (SynthOptions::bar_scale multiplies it).
constexpr double kBarShare[kGalaxyTypes] = {0, 0.25, 0.45, 0.35, 0};

// Sources around a galaxy (SynthOptions::neighbour_scale multiplies the densities): physical
// neighbours per 64 x 64 cutout at the average local density, background galaxies and stars per
// arcmin^2 down to kNeighbourFaintLimit (r), after SDSS number counts at high latitude.
constexpr double kPhysicalNeighbours = 0.3;
constexpr double kBackgroundGalaxiesPerArcmin2 = 2.5;
constexpr double kStarsPerArcmin2 = 0.6;
constexpr double kNeighbourFaintLimit = 22.5;
// Each kind of draw has its own stream (synth_population.h); two kinds with one salt would draw
// the same numbers (a neighbour's clumps once followed its placement that way).
constexpr bool SaltsDistinct() {
  constexpr uint64_t salts[] = {synth_stream::kGalaxy, synth_stream::kAnomalyKind, synth_stream::kBar,
                                synth_stream::kNeighbourPlacement, synth_stream::kNeighbourPixels,
                                synth_stream::kPixels};
  for (size_t i = 0; i < std::size(salts); ++i) {
    for (size_t j = i + 1; j < std::size(salts); ++j) {
      if (salts[i] == salts[j]) return false;
    }
  }
  return true;
}
static_assert(SaltsDistinct(), "two kinds of simulator draws share a random stream");
constexpr double kMinNeighbourDistancePx = 3.0 / kSdssPixelScale;

// A Poisson draw by multiplication of uniforms (the means here are a few at most).
int Poisson(Random& rng, double mean) {
  const double limit = std::exp(-mean);
  int k = 0;
  for (double p = rng.Uniform(); p > limit && k < 1000; p *= rng.Uniform()) ++k;
  return k;
}

// The mean spectrum of a type's disk (and of any bulge: an old, half-solar-metallicity
// population): what the selection tables use.
SpectralParams MeanDisk(const TypeParams& p) {
  SpectralParams s;
  s.young = p.young;
  s.halpha_ew = p.halpha_ew;
  s.young_hotness = 0.5;
  s.metallicity = 0.4;
  s.d4000 = 1.7;
  return s;
}
SpectralParams MeanBulge() {
  SpectralParams s;
  s.metallicity = 0.6;
  s.d4000 = 1.9;
  return s;
}

double Schechter(double m, double m_star, double alpha) {
  const double x = std::pow(10.0, 0.4 * (m_star - m));
  return std::pow(x, alpha + 1) * std::exp(-x);
}

// Inverse of a tabulated CDF (ascending) by binary search + linear interpolation.
double InvertCdf(const std::vector<double>& cdf, double x0, double step, double u) {
  auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
  size_t i = static_cast<size_t>(std::max<std::ptrdiff_t>(1, it - cdf.begin()));
  i = std::min(i, cdf.size() - 1);
  const double lo = cdf[i - 1], hi = cdf[i];
  const double f = hi > lo ? (u - lo) / (hi - lo) : 0.5;
  return x0 + (static_cast<double>(i - 1) + f) * step;
}

// Linear interpolation in a table sampled at x0 + i * step, clamped at the ends.
double Interpolate(const std::vector<double>& table, double x0, double step, double x) {
  const double pos = (x - x0) / step;
  const size_t j = std::min(static_cast<size_t>(std::max(0.0, pos)), table.size() - 2);
  const double f = std::clamp(pos - static_cast<double>(j), 0.0, 1.0);
  return table[j] + f * (table[j + 1] - table[j]);
}

double GalacticLatitude(double ra_deg, double dec_deg) {
  const double ra_ngp = 192.85948 * kDegree, dec_ngp = 27.12825 * kDegree;
  const double ra = ra_deg * kDegree, dec = dec_deg * kDegree;
  const double sin_b =
      std::sin(dec) * std::sin(dec_ngp) + std::cos(dec) * std::cos(dec_ngp) * std::cos(ra - ra_ngp);
  return std::asin(std::clamp(sin_b, -1.0, 1.0)) / kDegree;
}

// Flux in nanomaggies of an AB magnitude.
double Flux(double mag) { return MagToNanomaggies(mag); }

// The random part of a galaxy's stellar populations, drawn once per galaxy (before its
// luminosity, on which the colour-magnitude relation depends).
struct SpectralNoise {
  double bulge_metal, bulge_break, frosting, disk_metal, disk_break, activity, lines, hotness,
      excitation, intermediate, burst, burst_strength, dust;
  static SpectralNoise Draw(Random& rng) {
    SpectralNoise n;
    for (double* v : {&n.bulge_metal, &n.bulge_break, &n.frosting, &n.disk_metal, &n.disk_break,
                      &n.activity, &n.lines, &n.hotness, &n.excitation, &n.dust}) {
      *v = rng.Normal();
    }
    n.intermediate = rng.Uniform();
    n.burst = rng.Uniform();
    n.burst_strength = rng.Uniform();
    return n;
  }
};

// The stellar populations of a galaxy of type `p`, luminosity g->abs_mag_r, environment and size
// residual g->environment and g->size_residual, with its disk axis ratio g->disk_q. `scatter`
// scales every spread (SynthOptions::spectral_scatter); at 1 they are calibrated so that kNN
// (k = 20) on the noise-free catalog colours of 20,000 galaxies gives sigma_MAD 0.010, as on
// the real sky (docs/SYNTHETIC_SURVEY.md). The relations are those seen among SDSS galaxies:
// brighter galaxies are more metal-rich (the colour-magnitude relation); at a fixed type, star
// formation rises with disk size and falls with local density; emission lines follow star
// formation; internal dust follows star formation and inclination; a few percent are
// post-starburst (an A-star population).
void DrawSpectra(const TypeParams& p, const SpectralNoise& n, double scatter, GalaxyTruth* g) {
  const double bright = -(g->abs_mag_r + 21);  // magnitudes brighter than M_r = -21
  SpectralParams& bulge = g->bulge_spectrum;
  bulge = MeanBulge();
  bulge.metallicity = std::clamp(0.6 + scatter * (0.06 * bright + 0.075 * n.bulge_metal), 0.0, 1.0);
  bulge.d4000 = 1.6 + 0.5 * bulge.metallicity + scatter * 0.03 * n.bulge_break;
  if (p.bt_mean >= 1) {  // ellipticals: a little recent star formation, and E+A galaxies
    bulge.young = scatter * 0.0075 * std::exp(0.8 * n.frosting);
    bulge.halpha_ew = 20 * bulge.young;
    if (n.burst < 0.025 * scatter) bulge.intermediate = 0.1 + 0.3 * n.burst_strength;
  }
  SpectralParams& disk = g->disk_spectrum;
  disk = MeanDisk(p);
  if (p.young > 0) {
    const double activity =
        scatter * (0.225 * n.activity + 0.125 * g->size_residual - 0.1 * (g->environment - p.environment));
    disk.young = std::clamp(p.young * std::exp(activity), 0.0, 0.95);
    disk.halpha_ew = p.halpha_ew * std::pow(disk.young / p.young, 1.3) * std::exp(scatter * 0.15 * n.lines);
  }
  disk.young_hotness = std::clamp(0.5 + scatter * 0.1 * n.hotness, 0.0, 1.0);
  disk.excitation = std::clamp(scatter * 0.15 * std::abs(n.excitation), 0.0, 1.0);
  disk.metallicity = std::clamp(0.4 + scatter * (0.05 * bright + 0.075 * n.disk_metal), 0.0, 1.0);
  disk.d4000 = 1.5 + 0.4 * disk.metallicity + scatter * 0.03 * n.disk_break;
  disk.intermediate = scatter * 0.03 * n.intermediate;
  if (n.burst < 0.02 * scatter && p.bt_mean < 1) disk.intermediate += 0.1 + 0.3 * n.burst_strength;
  // Internal dust of the disk: edge-on and star-forming disks are redder and fainter.
  disk.internal_ebv = (0.02 + 0.08 * disk.young) * (1 + 1.2 * std::log(1 / g->disk_q)) *
                      std::exp(scatter * 0.15 * n.dust);
}

}  // namespace

const char* GalaxyTypeName(GalaxyType type) {
  switch (type) {
    case GalaxyType::kElliptical: return "elliptical";
    case GalaxyType::kLenticular: return "lenticular";
    case GalaxyType::kEarlySpiral: return "early-spiral";
    case GalaxyType::kLateSpiral: return "late-spiral";
    case GalaxyType::kIrregular: return "irregular";
  }
  return "unknown";
}

const char* AnomalyKindName(AnomalyKind kind) {
  switch (kind) {
    case AnomalyKind::kNone: return "none";
    case AnomalyKind::kMerger: return "merger";
    case AnomalyKind::kRing: return "ring";
    case AnomalyKind::kStar: return "star";
    case AnomalyKind::kTrail: return "trail";
  }
  return "unknown";
}

// Selection tables of one type: the CDF of z in the magnitude-limited sample, and of M.
struct SurveyModel::TypeTables {
  std::vector<double> z_cdf;    // on kZMin + i * kZStep
  std::vector<double> mag_cdf;  // Schechter CDF on kMagBright + i * kMagStep
  double expected_count = 0;    // relative number in the sample (before phi_star)
  std::vector<double> selection_r_offset;  // m_r - M_r of the mean composition, per z grid point
};

SurveyModel::SurveyModel(const SynthOptions& options)
    : options_(options), cosmology_(70.0, 0.3, std::max(1.0, options.z_max + 0.2)) {
  family_ = std::make_unique<SpectralFamily>();
  old_table_ = std::make_unique<MagnitudeTable>(family_->Make(MeanBulge()), cosmology_);
  star_forming_table_ =
      std::make_unique<MagnitudeTable>(MakeGalaxySpectrum({0.9, 1.2, 90}), cosmology_);
  const int z_points = static_cast<int>((options_.z_max - kZMin) / kZStep) + 1;
  const int mag_points = static_cast<int>((kMagFaint - kMagBright) / kMagStep) + 1;
  std::vector<double> weights;
  for (int t = 0; t < kGalaxyTypes; ++t) {
    const TypeParams& p = kTypes[t];
    disk_tables_.push_back(std::make_unique<MagnitudeTable>(family_->Make(MeanDisk(p)), cosmology_));
    auto tables = std::make_unique<TypeTables>();
    tables->mag_cdf.resize(mag_points);
    double acc = 0;
    for (int i = 0; i < mag_points; ++i) {
      if (i > 0) {
        const double m = kMagBright + (i - 0.5) * kMagStep;
        acc += Schechter(m, p.m_star, p.alpha) * kMagStep;
      }
      tables->mag_cdf[i] = acc;
    }
    // Magnitude-limited n(z): dV/dz times the fraction of the luminosity function inside the
    // apparent-magnitude window at that redshift (mean B/T composition).
    tables->z_cdf.resize(z_points);
    tables->selection_r_offset.resize(z_points);
    double z_acc = 0;
    for (int i = 0; i < z_points; ++i) {
      const double z = kZMin + i * kZStep;
      const double bt = p.bt_mean;
      const double r_old = old_table_->Offsets(z)[kBandR];
      const double r_disk = disk_tables_[t]->Offsets(z)[kBandR];
      const double offset =
          -2.5 * std::log10(bt * std::pow(10.0, -0.4 * r_old) + (1 - bt) * std::pow(10.0, -0.4 * r_disk));
      tables->selection_r_offset[i] = offset;
      const double m_lo = std::max(kMagBright, options_.r_bright - offset);
      const double m_hi = std::min(kMagFaint, options_.r_limit - offset);
      double fraction = 0;
      if (m_hi > m_lo) {
        fraction = Interpolate(tables->mag_cdf, kMagBright, kMagStep, m_hi) -
                   Interpolate(tables->mag_cdf, kMagBright, kMagStep, m_lo);
      }
      if (i > 0) z_acc += cosmology_.DifferentialComovingVolume(z) * fraction * kZStep;
      tables->z_cdf[i] = z_acc;
    }
    tables->expected_count = z_acc;
    weights.push_back(p.phi_star * z_acc);
    types_.push_back(std::move(tables));
  }
  double total = 0;
  for (double w : weights) type_cdf_.push_back(total += w);
  for (double& c : type_cdf_) c /= total;

  // Exactly round(count * fraction) anomalies, chosen by Floyd's sampling from the seed's own
  // stream, each with a random kind.
  const int64_t anomalies = std::llround(static_cast<double>(options_.count) *
                                         std::clamp(options_.anomaly_fraction, 0.0, 1.0));
  if (anomalies > 0) {
    anomaly_of_.assign(static_cast<size_t>(options_.count), AnomalyKind::kNone);
    Random rng(options_.seed, synth_stream::kAnomalyChoiceItem);
    std::unordered_set<int64_t> chosen;
    for (int64_t j = options_.count - anomalies; j < options_.count; ++j) {
      int64_t pick = static_cast<int64_t>(rng.Below(static_cast<uint64_t>(j) + 1));
      if (!chosen.insert(pick).second) {
        pick = j;
        chosen.insert(j);
      }
    }
    std::vector<int64_t> sorted(chosen.begin(), chosen.end());
    std::sort(sorted.begin(), sorted.end());
    for (int64_t index : sorted) {
      Random kind_rng(options_.seed ^ synth_stream::kAnomalyKind, static_cast<uint64_t>(index));
      anomaly_of_[static_cast<size_t>(index)] = static_cast<AnomalyKind>(1 + kind_rng.Below(4));
    }
  }
}

SurveyModel::~SurveyModel() = default;

AnomalyKind SurveyModel::AnomalyOf(int64_t index) const {
  if (anomaly_of_.empty() || index < 0 || index >= static_cast<int64_t>(anomaly_of_.size())) {
    return AnomalyKind::kNone;
  }
  return anomaly_of_[static_cast<size_t>(index)];
}

std::array<double, kSdssBands> SurveyModel::StarFormingOffsets(double z) const {
  return star_forming_table_->Offsets(z);
}

std::array<double, kSdssBands> SurveyModel::StarColours(double kelvin) const {
  return RestFrameColoursMinusR(MakeBlackbodySpectrum(kelvin));
}

GalaxyTruth SurveyModel::Draw(int64_t index) const {
  GalaxyTruth truth = DrawNormal(static_cast<uint64_t>(index), index, -1);
  truth.anomaly = AnomalyOf(index);
  DrawNeighbours(index, &truth);
  return truth;
}

GalaxyTruth SurveyModel::DrawCompanion(uint64_t stream, double z) const {
  return DrawNormal(stream ^ synth_stream::kCompanionItem, -1, z);
}

GalaxyTruth SurveyModel::DrawNormal(uint64_t stream, int64_t index, double fixed_z) const {
  Random rng(options_.seed ^ synth_stream::kGalaxy, stream);
  GalaxyTruth g;
  g.id = 1237600000000000000LL + static_cast<int64_t>(options_.seed % 1000000) * 10000000000LL +
         std::max<int64_t>(index, 0);

  // Type, then (z, M) from the type's magnitude-limited distribution.
  const double u_type = rng.Uniform();
  int t = 0;
  while (t < kGalaxyTypes - 1 && u_type > type_cdf_[t]) ++t;
  g.type = static_cast<GalaxyType>(t);
  const TypeParams& p = kTypes[t];
  const TypeTables& tables = *types_[t];

  g.bulge_fraction_r = std::clamp(p.bt_mean + p.bt_sigma * rng.Normal(), p.bt_min, p.bt_max);
  const double bt = g.bulge_fraction_r;
  const double cos_i = rng.Uniform();
  g.disk_q = std::sqrt(cos_i * cos_i + p.disk_q0 * p.disk_q0 * (1 - cos_i * cos_i));
  g.environment = p.environment + rng.Normal();
  g.size_residual = rng.Normal();
  const SpectralNoise noise = SpectralNoise::Draw(rng);

  std::array<double, kSdssBands> bulge_off{}, disk_off{};
  ComponentFluxes disk_parts;
  for (int attempt = 0; attempt < 64; ++attempt) {
    if (fixed_z > 0) {
      g.z = fixed_z;
    } else {
      g.z = InvertCdf(tables.z_cdf, kZMin, kZStep, rng.Uniform() * tables.z_cdf.back());
    }
    const double offset = Interpolate(tables.selection_r_offset, kZMin, kZStep, g.z);
    const double m_lo = std::max(kMagBright, options_.r_bright - offset);
    const double m_hi = std::min(kMagFaint, options_.r_limit - offset);
    const double c_lo = Interpolate(tables.mag_cdf, kMagBright, kMagStep, m_lo);
    const double c_hi = Interpolate(tables.mag_cdf, kMagBright, kMagStep, std::max(m_lo, m_hi));
    g.abs_mag_r = InvertCdf(tables.mag_cdf, kMagBright, kMagStep, c_lo + rng.Uniform() * (c_hi - c_lo));

    DrawSpectra(p, noise, options_.spectral_scatter, &g);
    bulge_off = family_->Offsets(g.bulge_spectrum, g.z, cosmology_);
    disk_off = family_->Offsets(g.disk_spectrum, g.z, cosmology_);
    disk_parts = family_->Fluxes(g.disk_spectrum, std::max(g.z, 1e-5));
    double total_r = 0;
    for (int b = 0; b < kSdssBands; ++b) {
      const double bulge = bt > 0 ? Flux(g.abs_mag_r - 2.5 * std::log10(bt) + bulge_off[b]) : 0;
      const double disk = bt < 1 ? Flux(g.abs_mag_r - 2.5 * std::log10(1 - bt) + disk_off[b]) : 0;
      g.bulge_flux[b] = bulge;
      g.disk_flux[b] = disk;
      g.disk_young_flux[b] = disk_parts.total[b] > 0 ? disk * disk_parts.young[b] / disk_parts.total[b] : 0;
      g.mag[b] = NanomaggiesToMag(bulge + disk);
      if (b == kBandR) total_r = bulge + disk;
    }
    const double m_r = NanomaggiesToMag(total_r);
    if (fixed_z > 0 || (m_r < options_.r_limit && m_r > options_.r_bright)) break;
  }

  // Sky position in an SDSS-like footprint; Galactic dust from a cosecant law with scatter.
  g.ra = rng.Uniform(110, 260);
  g.dec = std::asin(rng.Uniform(std::sin(-5 * kDegree), std::sin(70 * kDegree))) / kDegree;
  const double b_gal = std::max(std::abs(GalacticLatitude(g.ra, g.dec)), 5.0);
  g.e_bv = std::clamp(0.016 / std::sin(b_gal * kDegree) * std::exp(0.35 * rng.Normal()), 0.002, 0.5);
  for (int b = 0; b < kSdssBands; ++b) {
    const double dim = std::pow(10.0, -0.4 * kSdssExtinction[b] * g.e_bv);
    g.bulge_flux[b] *= dim;
    g.disk_flux[b] *= dim;
    g.disk_young_flux[b] *= dim;
  }

  // Sizes: size-luminosity relations R ~ L^0.25 (disks) and L^0.3 (ellipticals), after
  // Shen et al. (2003), with 0.15 dex scatter.
  const double arcsec_per_kpc = cosmology_.ArcsecPerKpc(g.z);
  const double px_per_kpc = arcsec_per_kpc / kSdssPixelScale;
  const double disk_re_kpc =
      5.0 * std::pow(10.0, -0.4 * 0.25 * (g.abs_mag_r + 21) + 0.15 * g.size_residual);
  double bulge_re_kpc = disk_re_kpc * rng.Uniform(0.15, 0.35);
  if (g.type == GalaxyType::kElliptical) {
    bulge_re_kpc = 4.0 * std::pow(10.0, -0.4 * 0.3 * (g.abs_mag_r + 21) + 0.15 * g.size_residual);
  }
  g.disk_re_px = std::max(0.3, disk_re_kpc * px_per_kpc);
  g.bulge_re_px = std::max(0.3, bulge_re_kpc * px_per_kpc);
  g.bulge_sersic_n = p.bulge_n;
  g.bulge_q = g.type == GalaxyType::kElliptical ? rng.Uniform(0.5, 1.0) : rng.Uniform(0.7, 1.0);
  g.position_angle = rng.Uniform(0, M_PI);
  g.center_dx = rng.Uniform(-0.5, 0.5);
  g.center_dy = rng.Uniform(-0.5, 0.5);

  // Seeing: log-normal around the median, worse in the blue (FWHM ~ lambda^-0.2).
  const double seeing = options_.seeing_arcsec * std::exp(0.12 * rng.Normal());
  for (int b = 0; b < kSdssBands; ++b) {
    const double fwhm = seeing * std::pow(kSdssWavelength[b] / kSdssWavelength[kBandR], -0.2);
    g.psf_sigma_px[b] = fwhm / 2.3548 / kSdssPixelScale;
    // Sky noise per pixel such that a point source at the band's depth has S/N 5 at the
    // nominal seeing: sigma_pix = F_depth / (5 * sqrt(4 pi sigma_psf^2)).
    const double nominal_sigma =
        options_.seeing_arcsec * std::pow(kSdssWavelength[b] / kSdssWavelength[kBandR], -0.2) /
        2.3548 / kSdssPixelScale;
    g.sky_sigma[b] = Flux(kSdssDepth[b]) / (5 * std::sqrt(4 * M_PI) * nominal_sigma);
  }

  // A stellar bar, from its own stream so that the draws above are those of an unbarred survey.
  Random bar_rng(options_.seed ^ synth_stream::kBar, stream);
  if (g.disk_flux[kBandR] > 0 && bar_rng.Uniform() < std::min(1.0, kBarShare[t] * options_.bar_scale)) {
    g.bar = true;
    g.bar_length_px = bar_rng.Uniform(0.6, 1.2) * g.disk_re_px;
    g.bar_q = bar_rng.Uniform(0.2, 0.35);
    g.bar_angle = bar_rng.Uniform(0, M_PI);
    g.bar_share = bar_rng.Uniform(0.1, 0.25);
  }
  return g;
}

void SurveyModel::DrawNeighbours(int64_t index, GalaxyTruth* g) const {
  if (options_.neighbour_scale <= 0) return;
  Random rng(options_.seed ^ synth_stream::kNeighbourPlacement, static_cast<uint64_t>(index));
  const double side_arcmin = options_.image_size * kSdssPixelScale / 60;
  const double area = side_arcmin * side_arcmin;
  const double area_64 = std::pow(64 * kSdssPixelScale / 60, 2);
  const double half = options_.image_size / 2.0;
  // Uniform in the cutout, but not within 3" of the galaxy's centre: a source that close is
  // blended into it by a survey's deblender and is part of "the galaxy".
  auto place = [&](Neighbour* n) {
    for (int attempt = 0; attempt < 32; ++attempt) {
      n->dx = rng.Uniform(-half, half);
      n->dy = rng.Uniform(-half, half);
      if (std::hypot(n->dx, n->dy) >= kMinNeighbourDistancePx) return;
    }
  };
  // Magnitudes from number counts N(<m) ~ 10^(slope m) between m_lo and m_hi.
  auto counts_magnitude = [&](double slope, double m_lo, double m_hi) {
    const double lo = std::pow(10.0, slope * m_lo), hi = std::pow(10.0, slope * m_hi);
    return std::log10(lo + rng.Uniform() * (hi - lo)) / slope;
  };
  const double scale = options_.neighbour_scale;
  // Physical neighbours: at the galaxy's redshift, fainter than it, more of them where the local
  // density is higher (the morphology-density relation's other half).
  const int physical = Poisson(rng, scale * kPhysicalNeighbours * std::exp(0.6 * g->environment) * area / area_64);
  for (int i = 0; i < physical; ++i) {
    Neighbour n;
    place(&n);
    n.z = g->z;
    n.mag_r = g->mag[kBandR] + rng.Uniform(0.5, 4.0);
    n.stream = rng.Next();
    g->neighbours.push_back(n);
  }
  const int background = Poisson(rng, scale * kBackgroundGalaxiesPerArcmin2 * area);
  for (int i = 0; i < background; ++i) {
    Neighbour n;
    place(&n);
    n.z = rng.Uniform(0.02, options_.z_max);
    n.mag_r = counts_magnitude(0.45, 16.0, kNeighbourFaintLimit);
    n.stream = rng.Next();
    g->neighbours.push_back(n);
  }
  const int stars = Poisson(rng, scale * kStarsPerArcmin2 * area);
  for (int i = 0; i < stars; ++i) {
    Neighbour n;
    n.star = true;
    place(&n);
    n.mag_r = counts_magnitude(0.2, 17.0, kNeighbourFaintLimit);  // brighter ones: the star anomaly
    n.kelvin = rng.Uniform(3300, 7500);
    g->neighbours.push_back(n);
  }
}

GalaxyTruth SurveyModel::DrawNeighbour(const Neighbour& n, const GalaxyTruth& host) const {
  GalaxyTruth g = DrawNormal(n.stream ^ synth_stream::kNeighbourItem, -1, n.z);
  // Scaled to n.mag_r and seen through the host's Galactic dust rather than that of the position
  // it was drawn at.
  const double drawn_r = g.bulge_flux[kBandR] + g.disk_flux[kBandR];
  const double target_r = MagToNanomaggies(n.mag_r + kSdssExtinction[kBandR] * host.e_bv);
  const double ratio = target_r / drawn_r;
  for (int b = 0; b < kSdssBands; ++b) {
    const double f = ratio * std::pow(10.0, -0.4 * (kSdssExtinction[b] - kSdssExtinction[kBandR]) * (host.e_bv - g.e_bv));
    g.bulge_flux[b] *= f;
    g.disk_flux[b] *= f;
    g.disk_young_flux[b] *= f;
    g.mag[b] += -2.5 * std::log10(ratio);
  }
  // Fainter at the same redshift means smaller (R ~ L^0.25), and brighter larger.
  const double size = std::pow(ratio, 0.25);
  g.bulge_re_px = std::max(0.3, g.bulge_re_px * size);
  g.disk_re_px = std::max(0.3, g.disk_re_px * size);
  g.bar_length_px *= size;
  g.e_bv = host.e_bv;
  return g;
}

}  // namespace galaxy
