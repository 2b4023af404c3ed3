#include "core/random.h"

#include <array>
#include <cmath>

namespace galaxy {
namespace {

constexpr int kTableBits = 12;
constexpr int kTableSize = 1 << kTableBits;

// Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9).
double InverseNormalCdf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  if (p < low) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -InverseNormalCdf(1 - p);
  double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

Random::Random(uint64_t seed, uint64_t item) {
  uint64_t state = Mix64(seed) ^ Mix64(item + 0x632BE59BD9B4E019ull);
  for (uint64_t& word : s_) {
    state += 0x9E3779B97F4A7C15ull;
    word = Mix64(state);
  }
}

double Random::Normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = 0;
  while (u1 <= 0) u1 = Uniform();
  const double u2 = Uniform();
  const double radius = std::sqrt(-2 * std::log(u1));
  spare_ = radius * std::sin(2 * M_PI * u2);
  has_spare_ = true;
  return radius * std::cos(2 * M_PI * u2);
}

const float* Random::NormalTable() {
  static const std::array<float, kTableSize + 1>* table = [] {
    auto* t = new std::array<float, kTableSize + 1>();
    for (int i = 0; i < kTableSize; ++i) {
      (*t)[i] = static_cast<float>(InverseNormalCdf((i + 0.5) / kTableSize));
    }
    (*t)[kTableSize] = (*t)[kTableSize - 1];
    return t;
  }();
  return table->data();
}

}  // namespace galaxy
