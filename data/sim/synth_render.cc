#include "data/sim/synth_render.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <vector>

#include "core/random.h"

namespace galaxy {
namespace {

// Photo-electrons per nanomaggy in one SDSS exposure, per band: sets the source shot noise.
constexpr std::array<double, kSdssBands> kElectronsPerNanomaggy = {150, 700, 900, 650, 130};

// b_n of the Sersic profile (Ciotti & Bertin 1999 expansion).
double SersicB(double n) { return 2 * n - 1.0 / 3 + 4 / (405 * n) + 46 / (25515 * n * n); }

constexpr double kWholeStamp = 1e9;

class Stamp {
 public:
  explicit Stamp(int size) : size_(size) {}
  int size() const { return size_; }
  double center() const { return size_ / 2.0; }

  // The pixels [x0, x1) x [y0, y1) within `reach` pixels of (cx, cy), clipped to the stamp.
  struct Box {
    int x0, x1, y0, y1;
  };
  Box Around(double cx, double cy, double reach) const {
    auto clip = [&](double v) { return static_cast<int>(std::clamp(v, 0.0, static_cast<double>(size_))); };
    return {clip(std::floor(cx - reach)), clip(std::ceil(cx + reach)), clip(std::floor(cy - reach)),
            clip(std::ceil(cy + reach))};
  }

  // Adds a Sersic profile of total flux `flux` (analytic normalisation: flux falling outside the
  // stamp, or beyond `reach` pixels of the centre, is lost, as in a real cutout).
  void AddSersic(std::vector<float>& img, double cx, double cy, double re, double n, double q,
                 double pa, double flux, double reach = kWholeStamp) const {
    const double b = SersicB(n);
    const double norm =
        2 * M_PI * n * q * re * re * std::exp(b) * std::tgamma(2 * n) / std::pow(b, 2 * n);
    const double ie = flux / norm;
    const float c = static_cast<float>(std::cos(pa)), s = static_cast<float>(std::sin(pa));
    const float inv_re = static_cast<float>(1 / re), inv_q = static_cast<float>(1 / q);
    const float fb = static_cast<float>(b), fie = static_cast<float>(ie);
    const float fcx = static_cast<float>(cx), fcy = static_cast<float>(cy);
    // n is 1/2 (a bar), 1, 2, 3 or 4: r^(1/n) without pow.
    const int rounded_n = n < 0.75 ? 0 : static_cast<int>(std::lround(n));
    auto profile = [&](double x, double y) {
      const float dx = static_cast<float>(x) - fcx, dy = static_cast<float>(y) - fcy;
      const float u = (dx * c + dy * s) * inv_re, v = (-dx * s + dy * c) * inv_q * inv_re;
      const float r = std::sqrt(u * u + v * v);
      float t;
      switch (rounded_n) {
        case 0: t = r * r; break;
        case 1: t = r; break;
        case 2: t = std::sqrt(r); break;
        case 3: t = std::cbrt(r); break;
        default: t = std::sqrt(std::sqrt(r)); break;
      }
      return fie * std::exp(-fb * (t - 1.0f));
    };
    // Sub-sample the few pixels around the centre, where the profile is steep.
    const int sub = re < 1.0 ? 8 : 4;
    const double near = 2.5;
    const Box box = Around(cx, cy, reach);
    for (int y = box.y0; y < box.y1; ++y) {
      for (int x = box.x0; x < box.x1; ++x) {
        const double px = x + 0.5, py = y + 0.5;
        double value;
        if (std::abs(px - cx) < near && std::abs(py - cy) < near) {
          value = 0;
          for (int sy = 0; sy < sub; ++sy) {
            for (int sx = 0; sx < sub; ++sx) {
              value += profile(x + (sx + 0.5) / sub, y + (sy + 0.5) / sub);
            }
          }
          value /= sub * sub;
        } else {
          value = profile(px, py);
        }
        img[static_cast<size_t>(y * size_ + x)] += static_cast<float>(value);
      }
    }
  }

  // Adds a circular Gaussian blob of total flux `flux`.
  void AddGaussian(std::vector<float>& img, double cx, double cy, double sigma, double flux) const {
    const double inv = 1 / (2 * sigma * sigma), norm = flux / (2 * M_PI * sigma * sigma);
    const int r = static_cast<int>(std::ceil(4 * sigma)) + 1;
    for (int y = std::max(0, static_cast<int>(cy) - r); y < std::min(size_, static_cast<int>(cy) + r + 1); ++y) {
      for (int x = std::max(0, static_cast<int>(cx) - r); x < std::min(size_, static_cast<int>(cx) + r + 1); ++x) {
        const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        img[static_cast<size_t>(y * size_ + x)] += static_cast<float>(norm * std::exp(-(dx * dx + dy * dy) * inv));
      }
    }
  }

  // Adds an elliptical ring (Gaussian cross-section) of total flux `flux`, normalised on the
  // stamp.
  void AddRing(std::vector<float>& img, double cx, double cy, double radius, double width, double q,
               double pa, double flux) const {
    std::vector<float> ring(img.size(), 0.0f);
    const double c = std::cos(pa), s = std::sin(pa);
    double sum = 0;
    for (int y = 0; y < size_; ++y) {
      for (int x = 0; x < size_; ++x) {
        const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const double u = dx * c + dy * s, v = (-dx * s + dy * c) / q;
        const double d = (std::sqrt(u * u + v * v) - radius) / width;
        const double value = std::exp(-0.5 * d * d);
        ring[static_cast<size_t>(y * size_ + x)] = static_cast<float>(value);
        sum += value;
      }
    }
    if (sum <= 0) return;
    for (size_t i = 0; i < img.size(); ++i) img[i] += static_cast<float>(ring[i] * flux / sum);
  }

  // Adds a line through (x0, y0) at angle `theta` with a Gaussian cross-section, between
  // distances `from` and `to` along it, with peak surface brightness `peak` (per pixel).
  void AddLine(float* img, double x0, double y0, double theta, double sigma, double peak,
               double from, double to) const {
    const double c = std::cos(theta), s = std::sin(theta), inv = 1 / (2 * sigma * sigma);
    for (int y = 0; y < size_; ++y) {
      for (int x = 0; x < size_; ++x) {
        const double dx = x + 0.5 - x0, dy = y + 0.5 - y0;
        const double along = dx * c + dy * s, across = -dx * s + dy * c;
        if (along < from || along > to) continue;
        img[y * size_ + x] += static_cast<float>(peak * std::exp(-across * across * inv));
      }
    }
  }

  // Adds the spiral arms of a disk of scale `re` (half-light radius, pixels), axis ratio q and
  // position angle pa: the exponential disk modulated by an m-armed logarithmic spiral of pitch
  // angle `pitch` (radians), sharpened, faded towards the centre, normalised on the stamp (within
  // `reach` pixels of the centre).
  void AddSpiralArms(std::vector<float>& img, double cx, double cy, double re, double q, double pa,
                     int arms, double pitch, double phase, double flux, double reach = kWholeStamp) const {
    std::vector<float> pattern(img.size(), 0.0f);
    // Single precision, and wave^4 as two squares: this loop was a quarter of the simulator's
    // time in double-precision pow/cos/atan2.
    const float c = static_cast<float>(std::cos(pa)), s = static_cast<float>(std::sin(pa));
    const float h = static_cast<float>(re / 1.678), inv_h = 1 / h, inv_q = static_cast<float>(1 / q);
    const float winding = static_cast<float>(1 / std::tan(pitch)), fphase = static_cast<float>(phase);
    const float farms = static_cast<float>(arms), fcx = static_cast<float>(cx), fcy = static_cast<float>(cy);
    double sum = 0;
    const Box box = Around(cx, cy, reach);
    for (int y = box.y0; y < box.y1; ++y) {
      for (int x = box.x0; x < box.x1; ++x) {
        const float dx = static_cast<float>(x) + 0.5f - fcx, dy = static_cast<float>(y) + 0.5f - fcy;
        const float u = dx * c + dy * s, v = (-dx * s + dy * c) * inv_q;
        const float r = std::max(1e-3f, std::sqrt(u * u + v * v));
        const float angle = std::atan2(v, u);
        const float wave = 0.5f * (1 + std::cos(farms * (angle - winding * std::log(r * inv_h)) + fphase));
        const float wave2 = wave * wave;
        const float rh = r * inv_h;
        const float value = std::exp(-rh) * wave2 * wave2 * (1 - std::exp(-rh * rh));
        pattern[static_cast<size_t>(y * size_ + x)] = value;
        sum += value;
      }
    }
    if (sum <= 0) return;
    for (size_t i = 0; i < img.size(); ++i) img[i] += static_cast<float>(pattern[i] * flux / sum);
  }

  // In-place separable Gaussian blur with standard deviation `sigma` pixels; zero outside.
  // Rows are copied into a zero-padded buffer so that both passes run fixed-length, vectorisable
  // loops.
  void Blur(float* img, double sigma, std::vector<float>& tmp) const {
    const int radius = std::max(1, static_cast<int>(std::ceil(3.5 * sigma)));
    const int taps = 2 * radius + 1;
    float kernel[128];
    double total = 0;
    for (int k = 0; k < taps && k < 128; ++k) {
      const double d = k - radius;
      kernel[k] = static_cast<float>(std::exp(-0.5 * d * d / (sigma * sigma)));
      total += kernel[k];
    }
    for (int k = 0; k < taps; ++k) kernel[k] = static_cast<float>(kernel[k] / total);
    const int n = size_;
    tmp.assign(static_cast<size_t>(n * n + n + 2 * radius), 0.0f);
    float* out_rows = tmp.data();
    float* padded = tmp.data() + n * n;  // n + 2 * radius floats
    for (int y = 0; y < n; ++y) {
      std::copy(img + y * n, img + (y + 1) * n, padded + radius);
      float* out = out_rows + y * n;
      for (int x = 0; x < n; ++x) out[x] = 0;
      for (int k = 0; k < taps; ++k) {
        const float w = kernel[k];
        const float* src = padded + k;
        for (int x = 0; x < n; ++x) out[x] += w * src[x];
      }
    }
    for (int y = 0; y < n; ++y) {
      const int lo = std::max(-radius, -y), hi = std::min(radius, n - 1 - y);
      float* out = img + y * n;
      for (int x = 0; x < n; ++x) out[x] = 0;
      for (int k = lo; k <= hi; ++k) {
        const float w = kernel[k + radius];
        const float* src = out_rows + (y + k) * n;
        for (int x = 0; x < n; ++x) out[x] += w * src[x];
      }
    }
  }

 private:
  int size_;
};

// One light component: a unit-flux image and its flux per band (nanomaggies), non-zero only in
// `box` when that is set (a neighbour's components: summing whole stamps of zeros cost a fifth
// of the simulator's time).
struct Component {
  std::vector<float> image;
  std::array<double, kSdssBands> flux{};
  std::optional<Stamp::Box> box{};
};

// Flux per band of a component whose r-band flux is `flux_r`, with colours from magnitude offsets
// (m_b - m_r in `offsets`) and Galactic dust e_bv.
std::array<double, kSdssBands> FluxesFromColours(double flux_r,
                                                 const std::array<double, kSdssBands>& offsets,
                                                 double e_bv) {
  std::array<double, kSdssBands> f;
  for (int b = 0; b < kSdssBands; ++b) {
    const double colour = offsets[b] - offsets[kBandR] +
                          (kSdssExtinction[b] - kSdssExtinction[kBandR]) * e_bv;
    f[b] = flux_r * std::pow(10.0, -0.4 * colour);
  }
  return f;
}

// Adds a galaxy's bulge and disk (and clumps for irregulars) as components, drawn out to `reach`
// pixels from its centre.
void AddGalaxyComponents(const Stamp& stamp, const GalaxyTruth& g, double cx, double cy,
                         Random& rng, std::vector<Component>& components, bool ring,
                         double reach = kWholeStamp) {
  const size_t pixels = static_cast<size_t>(stamp.size() * stamp.size());
  const size_t first = components.size();
  if (g.bulge_flux[kBandR] > 0) {
    Component bulge{std::vector<float>(pixels, 0.0f), g.bulge_flux};
    stamp.AddSersic(bulge.image, cx, cy, g.bulge_re_px, g.bulge_sersic_n, g.bulge_q,
                    g.position_angle + 0.2 * rng.Normal(), 1.0, reach);
    components.push_back(std::move(bulge));
  }
  if (g.disk_flux[kBandR] > 0) {
    double disk_share = 1.0;
    if (g.type == GalaxyType::kIrregular) {
      // Star-forming knots carry part of an irregular's light.
      const double clump_share = rng.Uniform(0.15, 0.3);
      disk_share -= clump_share;
      Component clumps{std::vector<float>(pixels, 0.0f), g.disk_flux};
      const int n = 2 + static_cast<int>(rng.Below(4));
      for (int i = 0; i < n; ++i) {
        const double r = rng.Uniform(0, 1.5) * g.disk_re_px, a = rng.Uniform(0, 2 * M_PI);
        stamp.AddGaussian(clumps.image, cx + r * std::cos(a), cy + r * g.disk_q * std::sin(a),
                          rng.Uniform(0.5, 1.5), clump_share / n);
      }
      components.push_back(std::move(clumps));
    }
    if (ring) disk_share *= 0.3;  // the ring takes the rest
    std::array<double, kSdssBands> smooth = g.disk_flux;
    const bool spiral = g.type == GalaxyType::kEarlySpiral || g.type == GalaxyType::kLateSpiral;
    if (spiral && !ring && g.disk_young_flux[kBandR] > 0) {
      // The young stars and their emission lines trace the spiral arms: the arms carry the disk's
      // young light, the smooth disk the rest (a colour gradient that aperture colours average
      // away). Early spirals wind tighter.
      Component arms{std::vector<float>(pixels, 0.0f), g.disk_young_flux};
      const double pitch = (g.type == GalaxyType::kEarlySpiral ? rng.Uniform(10, 18) : rng.Uniform(18, 30)) * M_PI / 180;
      stamp.AddSpiralArms(arms.image, cx, cy, g.disk_re_px, g.disk_q, g.position_angle, 2, pitch,
                          rng.Uniform(0, 2 * M_PI), disk_share, reach);
      components.push_back(std::move(arms));
      for (int b = 0; b < kSdssBands; ++b) smooth[b] = std::max(0.0, g.disk_flux[b] - g.disk_young_flux[b]);
    }
    if (g.bar) {
      // A bar: a flat (Sersic n = 1/2) elongated component of the smooth disk's light, drawn in
      // the disk plane and seen at the disk's inclination.
      const double along = std::hypot(std::cos(g.bar_angle), g.disk_q * std::sin(g.bar_angle));
      const double across = std::hypot(std::sin(g.bar_angle), g.disk_q * std::cos(g.bar_angle));
      const double length = g.bar_length_px * along;
      const double q = std::clamp(g.bar_q * across / along, 0.1, 1.0);
      const double pa = g.position_angle + std::atan2(g.disk_q * std::sin(g.bar_angle), std::cos(g.bar_angle));
      Component bar{std::vector<float>(pixels, 0.0f), smooth};
      // Half-light radius ~0.55 of the half-length for a flat profile.
      stamp.AddSersic(bar.image, cx, cy, std::max(0.5, 0.55 * length), 0.5, q, pa, disk_share * g.bar_share, reach);
      components.push_back(std::move(bar));
      disk_share *= 1 - g.bar_share;
    }
    Component disk{std::vector<float>(pixels, 0.0f), smooth};
    stamp.AddSersic(disk.image, cx, cy, g.disk_re_px, 1.0, g.disk_q, g.position_angle, disk_share, reach);
    components.push_back(std::move(disk));
  }
  if (reach < kWholeStamp) {
    for (size_t k = first; k < components.size(); ++k) components[k].box = stamp.Around(cx, cy, reach);
  }
}

// Adds a star of apparent r magnitude `mag_r` (before Galactic dust) and colours m_b - m_r
// `colours` at (x, y) to the PSF-blurred bands `out`, seen through g's Galactic dust and PSF;
// with diffraction spikes (bright stars) when `spikes`.
void AddStar(const Stamp& stamp, const GalaxyTruth& g, const std::array<double, kSdssBands>& colours,
             double mag_r, double x, double y, bool spikes, float* out) {
  const size_t pixels = static_cast<size_t>(stamp.size()) * stamp.size();
  std::vector<float> point(pixels);
  for (int b = 0; b < kSdssBands; ++b) {
    const double flux = MagToNanomaggies(mag_r + colours[b] + kSdssExtinction[b] * g.e_bv);
    std::fill(point.begin(), point.end(), 0.0f);
    stamp.AddGaussian(point, x, y, g.psf_sigma_px[b], flux);
    float* band = out + static_cast<size_t>(b) * pixels;
    for (size_t i = 0; i < pixels; ++i) band[i] += point[i];
    if (!spikes) continue;
    const double spike_peak = 0.002 * flux / g.psf_sigma_px[b];
    for (int k = 0; k < 4; ++k) {
      stamp.AddLine(band, x, y, M_PI / 4 + k * M_PI / 2, 0.6, spike_peak, 2, 4 + 6 * (16.5 - mag_r));
    }
  }
}

}  // namespace

void RenderGalaxy(const SurveyModel& model, const GalaxyTruth& g, int64_t index, float* out) {
  const int size = model.options().image_size;
  const size_t pixels = static_cast<size_t>(size) * size;
  const Stamp stamp(size);
  // A stream separate from the one that drew the truth.
  Random rng(model.options().seed ^ synth_stream::kPixels, static_cast<uint64_t>(index));
  const double cx = stamp.center() + g.center_dx, cy = stamp.center() + g.center_dy;

  std::vector<Component> components;
  AddGalaxyComponents(stamp, g, cx, cy, rng, components, g.anomaly == AnomalyKind::kRing);

  switch (g.anomaly) {
    case AnomalyKind::kMerger: {
      GalaxyTruth companion = model.DrawCompanion(static_cast<uint64_t>(index), g.z);
      const double primary_r = g.bulge_flux[kBandR] + g.disk_flux[kBandR];
      const double companion_r = companion.bulge_flux[kBandR] + companion.disk_flux[kBandR];
      const double scale = rng.Uniform(0.3, 1.0) * primary_r / companion_r;
      for (int b = 0; b < kSdssBands; ++b) {
        companion.bulge_flux[b] *= scale;
        companion.disk_flux[b] *= scale;
      }
      const double sep = rng.Uniform(0.8, 2.0) * std::max({g.disk_re_px, g.bulge_re_px, 4.0});
      const double angle = rng.Uniform(0, 2 * M_PI);
      const double ccx = cx + sep * std::cos(angle), ccy = cy + sep * std::sin(angle);
      AddGalaxyComponents(stamp, companion, ccx, ccy, rng, components, false);
      // A tidal tail: a curved stream of blobs leaving the companion, with the primary's disk
      // colours (or its bulge colours for an elliptical).
      Component tail{std::vector<float>(pixels, 0.0f), {}};
      const auto& colour_source = g.disk_flux[kBandR] > 0 ? g.disk_flux : g.bulge_flux;
      const double tail_r = rng.Uniform(0.08, 0.15) * (primary_r + companion_r * scale);
      for (int b = 0; b < kSdssBands; ++b) {
        tail.flux[b] = tail_r * colour_source[b] / colour_source[kBandR];
      }
      const double curl = rng.Uniform(-0.08, 0.08), length = rng.Uniform(1.5, 3.0) * sep;
      const int blobs = 24;
      for (int i = 0; i < blobs; ++i) {
        const double t = (i + 0.5) / blobs * length;
        const double a = angle + curl * t;
        stamp.AddGaussian(tail.image, ccx + t * std::cos(a), ccy + t * std::sin(a),
                          rng.Uniform(1.0, 2.0), (1.0 - 0.6 * i / blobs) / (0.7 * blobs));
      }
      components.push_back(std::move(tail));
      break;
    }
    case AnomalyKind::kRing: {
      const double disk_r = g.disk_flux[kBandR] > 0 ? g.disk_flux[kBandR] : g.bulge_flux[kBandR];
      Component ring{std::vector<float>(pixels, 0.0f),
                     FluxesFromColours(0.7 * disk_r, model.StarFormingOffsets(g.z), g.e_bv)};
      const double radius = std::max(5.0, rng.Uniform(1.5, 2.5) * g.disk_re_px);
      stamp.AddRing(ring.image, cx, cy, radius, rng.Uniform(0.12, 0.22) * radius,
                    std::max(g.disk_q, 0.4), g.position_angle, 1.0);
      components.push_back(std::move(ring));
      break;
    }
    default:
      break;
  }

  // Other galaxies in the cutout, from their own stream (the galaxy's own draws stay as they are
  // without them).
  Random neighbour_rng(model.options().seed ^ synth_stream::kNeighbourPixels, static_cast<uint64_t>(index));
  for (const Neighbour& n : g.neighbours) {
    if (n.star) continue;
    // Drawn out to 8 half-light radii: what lies beyond is far below the sky noise of a galaxy
    // this faint, and the whole-stamp profiles would double the rendering time.
    const GalaxyTruth neighbour = model.DrawNeighbour(n, g);
    const double reach = std::max(6.0, 8 * std::max(neighbour.disk_re_px, neighbour.bulge_re_px));
    AddGalaxyComponents(stamp, neighbour, cx + n.dx, cy + n.dy, neighbour_rng, components, false, reach);
  }

  // Sum the components per band, blur with the band's PSF.
  std::vector<float> tmp;
  for (int b = 0; b < kSdssBands; ++b) {
    float* band = out + static_cast<size_t>(b) * pixels;
    std::fill(band, band + pixels, 0.0f);
    for (const Component& c : components) {
      const float w = static_cast<float>(c.flux[b]);
      if (w == 0) continue;
      if (!c.box) {
        for (size_t i = 0; i < pixels; ++i) band[i] += w * c.image[i];
        continue;
      }
      for (int y = c.box->y0; y < c.box->y1; ++y) {
        for (int x = c.box->x0; x < c.box->x1; ++x) band[y * size + x] += w * c.image[static_cast<size_t>(y * size + x)];
      }
    }
    stamp.Blur(band, g.psf_sigma_px[b], tmp);
  }

  if (g.anomaly == AnomalyKind::kStar) {
    // A bright foreground star (blackbody colours) off-centre, with diffraction spikes.
    const double kelvin = rng.Uniform(3500, 9000);
    const auto colours = model.StarColours(kelvin);
    const double mag_r = rng.Uniform(13.0, 16.0);
    const double r = rng.Uniform(8, 22), a = rng.Uniform(0, 2 * M_PI);
    AddStar(stamp, g, colours, mag_r, cx + r * std::cos(a), cy + r * std::sin(a), true, out);
  } else if (g.anomaly == AnomalyKind::kTrail) {
    // A satellite crossed the field while one band was exposed: a line in that band only.
    const int b = static_cast<int>(rng.Below(kSdssBands));
    const double x0 = cx + rng.Uniform(-12, 12), y0 = cy + rng.Uniform(-12, 12);
    stamp.AddLine(out + static_cast<size_t>(b) * pixels, x0, y0, rng.Uniform(0, M_PI),
                  g.psf_sigma_px[b], rng.Uniform(4, 25) * g.sky_sigma[b], -2.0 * size, 2.0 * size);
  }

  // Field stars.
  for (const Neighbour& n : g.neighbours) {
    if (n.star) AddStar(stamp, g, model.StarColours(n.kelvin), n.mag_r, cx + n.dx, cy + n.dy, false, out);
  }

  // Noise: sky plus the source's own shot noise.
  for (int b = 0; b < kSdssBands; ++b) {
    float* band = out + static_cast<size_t>(b) * pixels;
    const float sky_var = static_cast<float>(g.sky_sigma[b] * g.sky_sigma[b]);
    const float per_flux = static_cast<float>(1 / kElectronsPerNanomaggy[b]);
    for (size_t i = 0; i + 1 < pixels; i += 2) {
      float n0, n1;
      rng.FastNormalPair(&n0, &n1);
      band[i] += std::sqrt(sky_var + std::max(0.0f, band[i]) * per_flux) * n0;
      band[i + 1] += std::sqrt(sky_var + std::max(0.0f, band[i + 1]) * per_flux) * n1;
    }
    if (pixels % 2 == 1) {
      band[pixels - 1] += std::sqrt(sky_var + std::max(0.0f, band[pixels - 1]) * per_flux) * rng.FastNormal();
    }
  }
}

}  // namespace galaxy
