// The statistical model of the synthetic survey: which galaxies exist (type, redshift, luminosity,
// size, shape, colours, position, dust) and which are anomalous. The pixels are drawn by
// data/sim/synth_render.h.
//
// Physics (docs/SYNTHETIC_SURVEY.md):
// - Five galaxy types, each a de Vaucouleurs/Sersic bulge plus an exponential disk, with its own
//   r-band Schechter luminosity function.
// - Each component's spectrum comes from a continuous family (data/sim/spectra.h: age, metallicity,
//   star formation, emission lines, internal dust) whose draw depends on the type, the luminosity
//   (colour-magnitude relation), the size at fixed luminosity and the local density, so that
//   colours are degenerate with redshift as on the real sky, and the images (size, profile,
//   bulge fraction, neighbours) carry information that the colours do not.
// - Redshift and luminosity are drawn jointly from a magnitude-limited sample: the comoving volume
//   of a flat LCDM universe times the luminosity function, kept where the apparent r magnitude
//   (K-correction included) is 14.5 < r < r_limit (17.8, as the SDSS main sample), z in (0, 0.4].
// - Angular size from physical size (a size-luminosity relation with scatter) over the
//   angular-diameter distance; disks seen at random inclination (internal dust reddens edge-on
//   disks); per-band seeing and sky noise from SDSS depths; Galactic E(B-V) from a cosecant law
//   in Galactic latitude with scatter.
// - Bars in a share of disks, and other sources in the cutout (physical neighbours, more in dense
//   places; background galaxies; field stars), each from its own random stream.
#ifndef GALAXY_DATA_SIM_SYNTH_POPULATION_H_
#define GALAXY_DATA_SIM_SYNTH_POPULATION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "data/bands.h"
#include "data/sim/cosmology.h"
#include "data/sim/spectra.h"

namespace galaxy {

enum class GalaxyType : int {
  kElliptical = 0,
  kLenticular = 1,
  kEarlySpiral = 2,
  kLateSpiral = 3,
  kIrregular = 4,
};
inline constexpr int kGalaxyTypes = 5;
const char* GalaxyTypeName(GalaxyType type);

enum class AnomalyKind : int {
  kNone = 0,
  kMerger = 1,  // an interacting pair with a tidal tail
  kRing = 2,    // a collisional ring galaxy: a blue star-forming ring around a core
  kStar = 3,    // a bright foreground star with diffraction spikes in the cutout
  kTrail = 4,   // a satellite trail crossing the cutout in one band
};
inline constexpr int kAnomalyKinds = 5;
const char* AnomalyKindName(AnomalyKind kind);

// The simulator's random streams. Each draw of a survey comes from `Random(seed ^ salt, item)`
// with its own salt here (item: the galaxy's index, or a drawn stream), so that adding one kind
// of draw leaves every other draw of the survey as it was, and no two kinds share numbers.
// Changing a value changes the surveys of every seed.
namespace synth_stream {
inline constexpr uint64_t kGalaxy = 0;                          // a galaxy's truth (item: its stream)
inline constexpr uint64_t kAnomalyKind = 0x5EEDull;             // the kind of a chosen anomaly
inline constexpr uint64_t kBar = 0xBA7ull;                      // whether and how a disk is barred
inline constexpr uint64_t kNeighbourPlacement = 0x4E16B0ull;    // the other sources in a cutout
inline constexpr uint64_t kNeighbourPixels = 0x4E16B0D5ull;     // their rendering (clumps, arms)
inline constexpr uint64_t kPixels = 0x9E3779B97F4A7C15ull;      // the galaxy's own rendering
// The anomalies' choice: one stream of the seed itself, this item.
inline constexpr uint64_t kAnomalyChoiceItem = 0xA11011A1ull;
// Streams of galaxies drawn for another: a merger's companion, a neighbour (xor-ed into the
// companion's host index or the neighbour's drawn stream).
inline constexpr uint64_t kCompanionItem = 0xC0A7ull << 40;
inline constexpr uint64_t kNeighbourItem = 0x4E16B0ull << 32;
}  // namespace synth_stream

struct SynthOptions {
  // Number of galaxies. Default 1000.
  int64_t count = 1000;
  // Seed: the same seed and count give the same survey, whatever the thread count.
  uint64_t seed = 0;
  // Cutout side, pixels (0.396"/px). Default 64.
  int image_size = 64;
  // Fraction of labelled anomalies, exactly round(count * fraction) of them. Default 0.01.
  double anomaly_fraction = 0.01;
  // Faint limit of the sample, dust-corrected r magnitude. Default 17.8.
  double r_limit = 17.8;
  // Bright limit (saturation and deblending, as in the SDSS main sample). Default 14.5.
  double r_bright = 14.5;
  // Largest redshift. Default 0.4.
  double z_max = 0.4;
  // Median seeing FWHM in r, arcsec. Default 1.4.
  double seeing_arcsec = 1.4;
  // Spread of the continuous spectral family (ages, metallicities, star formation, emission
  // lines, internal dust) around each type's mean, as a multiple of the calibrated spread.
  // 1 (default): kNN on the noise-free catalog colours gives sigma_MAD ~0.01, as on the real
  // sky (docs/SYNTHETIC_SURVEY.md); 0: one fixed spectrum per type and component, which makes colour an
  // almost exact redshift.
  double spectral_scatter = 1.0;
  // Stellar bars: the share of barred lenticulars, early and late spirals, as a multiple of the
  // default shares (0.25, 0.45, 0.35; ~1/3 of disks are strongly barred in the optical,
  // Galaxy Zoo 2). 0: no bars.
  double bar_scale = 1.0;
  // Other sources in the cutout, as a multiple of the default densities: physical neighbours at
  // the galaxy's redshift (0.3 per 25" cutout at the average density, more in dense places),
  // background galaxies (2.5 per arcmin^2 down to r = 22.5) and field stars (0.6 per arcmin^2).
  // 0: every galaxy alone in its cutout.
  double neighbour_scale = 1.0;
};

// Another source in a galaxy's cutout, drawn with it (SurveyModel::Draw) and rendered beside it.
struct Neighbour {
  bool star = false;
  double dx = 0, dy = 0;  // offset from the galaxy's centre, pixels
  double mag_r = 0;       // apparent r magnitude, Galactic dust not included
  double z = 0;           // a galaxy's redshift (the same as the galaxy's for a physical neighbour)
  double kelvin = 0;      // a star's temperature
  uint64_t stream = 0;    // the random stream that draws a galaxy (SurveyModel::DrawNeighbour)
};

// One galaxy's ground truth: everything needed to draw it, and the truth columns of the dataset.
struct GalaxyTruth {
  int64_t id = 0;
  double ra = 0, dec = 0;  // degrees
  double e_bv = 0;         // Galactic E(B-V), magnitudes
  double z = 0;
  GalaxyType type = GalaxyType::kElliptical;
  AnomalyKind anomaly = AnomalyKind::kNone;
  double abs_mag_r = 0;  // rest-frame absolute r magnitude
  // Apparent AB magnitudes per band, total model, Galactic dust removed (what a dust-corrected
  // catalog would list); the images carry the Galactic dust.
  std::array<double, kSdssBands> mag{};
  // Per-component fluxes in nanomaggies, Galactic dust included (what the pixels add up to).
  std::array<double, kSdssBands> bulge_flux{}, disk_flux{};
  double bulge_fraction_r = 0;  // r-band B/T
  double bulge_sersic_n = 4;
  double bulge_re_px = 1, disk_re_px = 1;  // half-light radii, pixels
  double bulge_q = 1, disk_q = 1;          // axis ratios
  double position_angle = 0;               // radians
  // Stellar populations of the bulge and the disk (data/sim/spectra.h), and the part of the disk's
  // flux (nanomaggies, Galactic dust included) from young stars and emission lines: the light
  // of its spiral arms and star-forming clumps.
  SpectralParams bulge_spectrum, disk_spectrum;
  std::array<double, kSdssBands> disk_young_flux{};
  // Local galaxy density, log, standardised (0: the field average): denser places hold older,
  // redder galaxies and more close neighbours.
  double environment = 0;
  // Half-light radius relative to the size-luminosity relation, in units of its scatter
  // (0.15 dex): at a fixed luminosity, larger disks form more stars.
  double size_residual = 0;
  double center_dx = 0, center_dy = 0;     // offset from the cutout centre, pixels
  std::array<double, kSdssBands> psf_sigma_px{};  // Gaussian PSF sigma per band, pixels
  std::array<double, kSdssBands> sky_sigma{};     // sky noise per pixel, nanomaggies
  // A stellar bar (lenticulars and spirals only): half-length in the disk plane (pixels), axis
  // ratio, angle from the disk's major axis in the disk plane (radians), and the share of the
  // smooth disk's light it holds. The truth column `bar`.
  bool bar = false;
  double bar_length_px = 0, bar_q = 1, bar_angle = 0, bar_share = 0;
  // Other sources in the cutout (none for companions and neighbours themselves). Their number
  // is the truth column `neighbours`.
  std::vector<Neighbour> neighbours;
};

// The survey model. Tables are built on construction (tens of milliseconds); then Draw() is
// const and thread-safe.
class SurveyModel {
 public:
  explicit SurveyModel(const SynthOptions& options);
  SurveyModel(const SurveyModel&) = delete;
  SurveyModel& operator=(const SurveyModel&) = delete;
  ~SurveyModel();

  // The truth of galaxy `index` (0-based), drawn from its own random stream.
  GalaxyTruth Draw(int64_t index) const;

  // Whether galaxy `index` is one of the anomalies, and which kind (kNone otherwise).
  AnomalyKind AnomalyOf(int64_t index) const;

  // A normal galaxy at a given redshift drawn from stream `stream` (for merger companions).
  GalaxyTruth DrawCompanion(uint64_t stream, double z) const;

  // The galaxy that neighbour `n` of galaxy `host` is: drawn at n.z, scaled to n.mag_r (sizes
  // follow the size-luminosity relation), seen through the host's Galactic dust, at the host's
  // position angle origin (the render places it at n.dx, n.dy).
  GalaxyTruth DrawNeighbour(const Neighbour& n, const GalaxyTruth& host) const;

  // Apparent AB magnitude offsets m_b - M_r of the young star-forming template at z (rings and
  // clumps), and rest-frame colours m_b - m_r of a blackbody star.
  std::array<double, kSdssBands> StarFormingOffsets(double z) const;
  std::array<double, kSdssBands> StarColours(double kelvin) const;

  const SynthOptions& options() const { return options_; }
  const FlatLcdm& cosmology() const { return cosmology_; }

 private:
  struct TypeTables;
  GalaxyTruth DrawNormal(uint64_t stream, int64_t index, double fixed_z) const;
  void DrawNeighbours(int64_t index, GalaxyTruth* g) const;

  SynthOptions options_;
  FlatLcdm cosmology_;
  std::vector<std::unique_ptr<TypeTables>> types_;
  std::vector<double> type_cdf_;
  std::unique_ptr<SpectralFamily> family_;
  std::unique_ptr<MagnitudeTable> old_table_, star_forming_table_;
  std::vector<std::unique_ptr<MagnitudeTable>> disk_tables_;
  std::vector<AnomalyKind> anomaly_of_;  // per index; empty when there are none
};

}  // namespace galaxy

#endif  // GALAXY_DATA_SIM_SYNTH_POPULATION_H_
