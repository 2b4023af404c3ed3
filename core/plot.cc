#include "core/plot.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "core/composite.h"
#include "core/file_util.h"

namespace galaxy {
namespace {

// 5x7 glyphs, one string of 7 rows x 5 columns per character ('#' = ink).
const std::map<char, const char*>& Font() {
  static const auto* font = new std::map<char, const char*>{
      {'0', " ### #   ##  ### # ###  ##   # ### "}, {'1', "  #   ##    #    #    #    #   ### "},
      {'2', " ### #   #    #   #   #   #   #####"}, {'3', "#####   #   #     #     ##   # ### "},
      {'4', "   #   ##  # # #  # #####   #    # "}, {'5', "######    ####     #    ##   # ### "},
      {'6', "  ##  #   #    #### #   ##   # ### "}, {'7', "#####    #   #   #   #    #    #   "},
      {'8', " ### #   ##   # ### #   ##   # ### "}, {'9', " ### #   ##   # ####    #   #  ##  "},
      {'A', " ### #   ##   #######   ##   ##   #"}, {'B', "#### #   ##   ##### #   ##   ##### "},
      {'C', " ### #   ##    #    #    #   # ### "}, {'D', "#### #   ##   ##   ##   ##   ##### "},
      {'E', "######    #    #### #    #    #####"}, {'F', "######    #    #### #    #    #    "},
      {'G', " ### #   ##    # ####   ##   # ####"}, {'H', "#   ##   ##   #######   ##   ##   #"},
      {'I', " ###   #    #    #    #    #   ### "}, {'J', "  ###   #    #    #    # #  #  ##  "},
      {'K', "#   ##  # # #  ##   # #  #  # #   #"}, {'L', "#    #    #    #    #    #    #####"},
      {'M', "#   ### ### # ##   ##   ##   ##   #"}, {'N', "#   ###  ## # ##  ###   ##   ##   #"},
      {'O', " ### #   ##   ##   ##   ##   # ### "}, {'P', "#### #   ##   ##### #    #    #    "},
      {'Q', " ### #   ##   ##   ## # ##  #  ## #"}, {'R', "#### #   ##   ##### # #  #  # #   #"},
      {'S', " ####    #     ###     #    #####  "}, {'T', "#####  #    #    #    #    #    #  "},
      {'U', "#   ##   ##   ##   ##   ##   # ### "}, {'V', "#   ##   ##   ##   ##   # # #   #  "},
      {'W', "#   ##   ##   ## # ## # ## # # # # "}, {'X', "#   ##   # # #   #   # # #   ##   #"},
      {'Y', "#   ##   # # #   #    #    #    #  "}, {'Z', "#####    #   #   #   #   #    #####"},
      {'.', "                          ##   ##  "}, {'-', "               #####               "},
      {'_', "                              #####"}, {'=', "          #####     #####          "},
      {':', "      ##   ##         ##   ##      "}, {'/', "    #    #   #   #   #    #        "},
      {'(', "   #   #   #    #    #     #     # "}, {')', " #     #     #    #    #   #   #   "},
      {'%', "##   ##  #   #   #   #   #  ##   ##"}, {'+', "       #    #  #####  #    #       "},
      {' ', "                                   "},
  };
  return *font;
}

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), rgb_(static_cast<size_t>(w) * h * 3, 255) {}
  void Set(int x, int y, unsigned char r, unsigned char g, unsigned char b) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    const size_t i = (static_cast<size_t>(y) * w_ + x) * 3;
    rgb_[i] = r;
    rgb_[i + 1] = g;
    rgb_[i + 2] = b;
  }
  void Line(double x0, double y0, double x1, double y1, unsigned char r, unsigned char g, unsigned char b) {
    const int steps = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = static_cast<double>(i) / steps;
      Set(static_cast<int>(std::lround(x0 + t * (x1 - x0))), static_cast<int>(std::lround(y0 + t * (y1 - y0))), r, g, b);
    }
  }
  void Dot(double x, double y, int radius, unsigned char r, unsigned char g, unsigned char b) {
    for (int dy = -radius; dy <= radius; ++dy)
      for (int dx = -radius; dx <= radius; ++dx)
        if (dx * dx + dy * dy <= radius * radius) Set(static_cast<int>(x) + dx, static_cast<int>(y) + dy, r, g, b);
  }
  // Text with its top-left corner at (x, y); `vertical` writes bottom-to-top.
  void Text(int x, int y, const std::string& text, bool vertical = false) {
    int pos = 0;
    for (char raw : text) {
      const char c = absl::ascii_toupper(static_cast<unsigned char>(raw));
      auto it = Font().find(c);
      const char* glyph = it == Font().end() ? Font().at(' ') : it->second;
      for (int row = 0; row < 7; ++row) {
        for (int col = 0; col < 5; ++col) {
          if (glyph[row * 5 + col] == '#') {
            if (vertical) {
              Set(x + row, y - pos - col, 40, 40, 40);
            } else {
              Set(x + pos + col, y + row, 40, 40, 40);
            }
          }
        }
      }
      pos += 6;
    }
  }
  const std::vector<uint8_t>& rgb() const { return rgb_; }

 private:
  int w_, h_;
  std::vector<uint8_t> rgb_;
};

void Range(const std::vector<PlotSeries>& series, bool x, bool log, double* lo, double* hi) {
  if (*lo < *hi) return;
  *lo = 1e300;
  *hi = -1e300;
  for (const PlotSeries& s : series) {
    for (double v : x ? s.x : s.y) {
      if (!std::isfinite(v) || (log && v <= 0)) continue;
      *lo = std::min(*lo, v);
      *hi = std::max(*hi, v);
    }
  }
  if (*lo > *hi) *lo = 0, *hi = 1;
  if (*lo == *hi) *lo -= 0.5, *hi += 0.5;
  if (!log) {
    const double pad = 0.05 * (*hi - *lo);
    *lo -= pad;
    *hi += pad;
  }
}

// A tick label with enough decimals to tell ticks `step` apart.
std::string Tick(double v, double step) {
  if (std::abs(v) >= 1e6) return absl::StrFormat("%.1e", v);
  const int decimals = step > 0 ? std::clamp(static_cast<int>(std::ceil(-std::log10(step))) + 1, 0, 6) : 2;
  if (std::abs(v) >= 100 && decimals <= 1) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.*f", decimals, v);
}

}  // namespace

absl::Status WritePlotPng(const std::string& path, const std::vector<PlotSeries>& series,
                          const PlotOptions& o) {
  const int w = std::max(200, o.width), h = std::max(150, o.height);
  Canvas c(w, h);
  const int left = 70, right = w - 20, top = 30, bottom = h - 50;
  double x_lo = o.x_lo, x_hi = o.x_hi, y_lo = o.y_lo, y_hi = o.y_hi;
  Range(series, true, o.log_x, &x_lo, &x_hi);
  Range(series, false, false, &y_lo, &y_hi);
  if (o.log_x) {
    x_lo = std::log10(x_lo) - 0.1;
    x_hi = std::log10(x_hi) + 0.1;
  }
  auto px = [&](double x) {
    const double v = o.log_x ? std::log10(std::max(x, 1e-300)) : x;
    return left + (v - x_lo) / (x_hi - x_lo) * (right - left);
  };
  auto py = [&](double y) { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); };
  // Axes, ticks and labels.
  c.Line(left, bottom, right, bottom, 0, 0, 0);
  c.Line(left, bottom, left, top, 0, 0, 0);
  for (int i = 0; i <= 4; ++i) {
    const double fx = x_lo + (x_hi - x_lo) * i / 4, fy = y_lo + (y_hi - y_lo) * i / 4;
    const double tx = left + (right - left) * i / 4.0, ty = bottom - (bottom - top) * i / 4.0;
    c.Line(tx, bottom, tx, bottom + 4, 0, 0, 0);
    c.Line(left - 4, ty, left, ty, 0, 0, 0);
    const double x_value = o.log_x ? std::pow(10.0, fx) : fx;
    const double x_step = o.log_x ? x_value * (std::pow(10.0, (x_hi - x_lo) / 4) - 1) : (x_hi - x_lo) / 4;
    const std::string xl = Tick(x_value, x_step), yl = Tick(fy, (y_hi - y_lo) / 4);
    c.Text(static_cast<int>(tx) - 3 * static_cast<int>(xl.size()), bottom + 8, xl);
    c.Text(left - 8 - 6 * static_cast<int>(yl.size()), static_cast<int>(ty) - 3, yl);
  }
  c.Text(left + (right - left) / 2 - 3 * static_cast<int>(o.x_label.size()), h - 18, o.x_label);
  c.Text(8, top + (bottom - top) / 2 + 3 * static_cast<int>(o.y_label.size()), o.y_label, /*vertical=*/true);
  c.Text(left, 10, o.title);
  if (o.diagonal) {
    const double lo = std::max(x_lo, y_lo), hi = std::min(x_hi, y_hi);
    if (lo < hi) c.Line(px(lo), py(lo), px(hi), py(hi), 200, 60, 60);
  }
  int legend_y = top + 6;
  for (const PlotSeries& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (s.line && i > 0) c.Line(px(s.x[i - 1]), py(s.y[i - 1]), px(s.x[i]), py(s.y[i]), s.r, s.g, s.b);
      c.Dot(px(s.x[i]), py(s.y[i]), s.line ? 3 : 1, s.r, s.g, s.b);
    }
    if (!s.label.empty()) {
      c.Dot(right - 120, legend_y + 3, 3, s.r, s.g, s.b);
      c.Text(right - 110, legend_y, s.label);
      legend_y += 12;
    }
  }
  absl::StatusOr<std::string> png = EncodePng(c.rgb(), h, w);
  if (!png.ok()) return png.status();
  return WriteFileAtomically(path, *png);
}

}  // namespace galaxy
