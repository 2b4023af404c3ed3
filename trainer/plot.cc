#include "trainer/plot.h"

#include <plplot.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"
#include "core/status_macros.h"

namespace galaxy {
namespace {

// Colour map 0 indices: 0 background (white), 1 ink (black), 2 grey; 3.. the series' colours.
constexpr int kInk = 1, kGrey = 2, kFirstSeriesColour = 3;

std::mutex& PlplotMutex() {
  static auto* mu = new std::mutex;
  return *mu;
}

bool HasPngDriver() {
  // plgDevs fills caller-owned arrays; 256 entries is far more than PLplot has drivers.
  const char* menu[256];
  const char* names[256];
  const char** menu_p = menu;
  const char** names_p = names;
  int n = 256;
  plgDevs(&menu_p, &names_p, &n);
  for (int i = 0; i < n; ++i) {
    if (names[i] != nullptr && std::string(names[i]) == "pngcairo") return true;
  }
  return false;
}

absl::Status CheckSize(const PlotOptions& o) {
  if (o.width < 100 || o.width > 8000 || o.height < 100 || o.height > 8000) {
    return absl::InvalidArgumentError(absl::StrFormat("plot: size %dx%d is outside 100..8000 px", o.width, o.height));
  }
  return absl::OkStatus();
}

// Data range [lo, hi] of the finite values, widened by `pad` of its span (and to a unit span
// around a single value); the options' range when it is set (lo < hi).
void Range(const std::vector<double>& v, double set_lo, double set_hi, double pad, double* lo, double* hi) {
  if (set_lo < set_hi) {
    *lo = set_lo;
    *hi = set_hi;
    return;
  }
  double a = INFINITY, b = -INFINITY;
  for (double x : v) {
    if (std::isfinite(x)) {
      a = std::min(a, x);
      b = std::max(b, x);
    }
  }
  if (!(a <= b)) a = 0, b = 1;
  if (b - a < 1e-12) a -= 0.5, b += 0.5;
  const double span = b - a;
  *lo = a - pad * span;
  *hi = b + pad * span;
}

// Opens a PLplot session writing `tmp`, runs `draw`, closes it, and renames the file onto `path`.
absl::Status Render(const std::string& path, const PlotOptions& o, const std::function<void()>& draw) {
  GALAXY_RETURN_IF_ERROR(CheckSize(o));
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty() && !std::filesystem::is_directory(parent)) {
    return absl::NotFoundError(absl::StrCat("plot: directory ", parent.string(), " does not exist"));
  }
  std::lock_guard<std::mutex> lock(PlplotMutex());
  if (!HasPngDriver()) {
    return absl::FailedPreconditionError(
        "plot: PLplot's PNG driver (pngcairo) is not installed; install plplot-driver-cairo "
        "(deploy/install-deps.sh does)");
  }
  const std::string tmp = TempPathFor(path);
  plsdev("pngcairo");
  plsfnam(tmp.c_str());
  plspage(0, 0, o.width, o.height, 0, 0);
  plscolbg(255, 255, 255);
  plinit();
  plscol0(kInk, 0, 0, 0);
  plscol0(kGrey, 150, 150, 150);
  pladv(0);
  plschr(0, 0.9);
  draw();
  plend();
  std::error_code ec;
  if (!std::filesystem::exists(tmp, ec) || std::filesystem::file_size(tmp, ec) == 0) {
    std::filesystem::remove(tmp, ec);
    return absl::InternalError(absl::StrCat("plot: PLplot wrote nothing to ", tmp));
  }
  return DurableRename(tmp, path);
}

// The frame: viewport, window, box, labels, title.
void Frame(const PlotOptions& o, double x_lo, double x_hi, double y_lo, double y_hi, const char* x_opt,
           const char* y_opt) {
  plvpor(0.12, 0.95, 0.12, 0.90);
  plwind(x_lo, x_hi, y_lo, y_hi);
  plcol0(kInk);
  plbox(x_opt, 0, 0, y_opt, 0, 0);
  pllab(o.x_label.c_str(), o.y_label.c_str(), o.title.c_str());
}

void Notes(const std::vector<std::string>& notes) {
  plcol0(kInk);
  for (size_t i = 0; i < notes.size(); ++i) {
    plmtex("t", -1.5 - 1.4 * static_cast<double>(i), 0.03, 0, notes[i].c_str());
  }
}

void Diagonal(double lo, double hi) {
  plcol0(kGrey);
  pllsty(2);
  const PLFLT d[2] = {lo, hi};
  plline(2, d, d);
  pllsty(1);
}

}  // namespace

absl::Status WritePlotPng(const std::string& path, const std::vector<PlotSeries>& series,
                          const PlotOptions& options) {
  std::vector<double> xs, ys;
  for (const PlotSeries& s : series) {
    if (s.x.size() != s.y.size() || (!s.y_err.empty() && s.y_err.size() != s.y.size())) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "plot: series '%s' has %d x, %d y and %d error values", s.label, s.x.size(), s.y.size(), s.y_err.size()));
    }
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (options.log_x && s.x[i] <= 0) {
        return absl::InvalidArgumentError(
            absl::StrFormat("plot: series '%s' has x = %g on a logarithmic axis", s.label, s.x[i]));
      }
      xs.push_back(options.log_x ? std::log10(s.x[i]) : s.x[i]);
      const double e = s.y_err.empty() || !std::isfinite(s.y_err[i]) ? 0 : std::abs(s.y_err[i]);
      ys.push_back(s.y[i] - e);
      ys.push_back(s.y[i] + e);
    }
  }
  if (xs.empty()) return absl::InvalidArgumentError("plot: no finite point to draw");
  double x_lo, x_hi, y_lo, y_hi;
  Range(xs, options.log_x && options.x_lo > 0 ? std::log10(options.x_lo) : options.x_lo,
        options.log_x && options.x_hi > 0 ? std::log10(options.x_hi) : options.x_hi, 0.05, &x_lo, &x_hi);
  Range(ys, options.y_lo, options.y_hi, 0.08, &y_lo, &y_hi);
  return Render(path, options, [&] {
    Frame(options, x_lo, x_hi, y_lo, y_hi, options.log_x ? "bcnstl" : "bcnst", "bcnstv");
    if (options.diagonal) Diagonal(std::max(x_lo, y_lo), std::min(x_hi, y_hi));
    std::vector<PLINT> opts, colours, styles, symbol_numbers;
    std::vector<PLFLT> widths, symbol_scales;
    std::vector<const char*> texts, symbols;
    for (size_t k = 0; k < series.size(); ++k) {
      const PlotSeries& s = series[k];
      const int colour = kFirstSeriesColour + static_cast<int>(k % 12);
      plscol0(colour, s.r, s.g, s.b);
      plcol0(colour);
      std::vector<PLFLT> x, y, lo, hi;
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        x.push_back(options.log_x ? std::log10(s.x[i]) : s.x[i]);
        y.push_back(s.y[i]);
        const double e = s.y_err.empty() || !std::isfinite(s.y_err[i]) ? 0 : std::abs(s.y_err[i]);
        lo.push_back(s.y[i] - e);
        hi.push_back(s.y[i] + e);
      }
      const PLINT n = static_cast<PLINT>(x.size());
      if (s.line) {
        plwidth(2);
        plline(n, x.data(), y.data());
        plwidth(1);
      }
      plstring(n, x.data(), y.data(), s.line ? "#(840)" : "#(728)");
      if (!s.y_err.empty()) plerry(n, x.data(), lo.data(), hi.data());
      if (s.label.empty()) continue;
      opts.push_back(s.line ? (PL_LEGEND_LINE | PL_LEGEND_SYMBOL) : PL_LEGEND_SYMBOL);
      colours.push_back(colour);
      styles.push_back(1);
      widths.push_back(2);
      symbol_scales.push_back(1);
      symbol_numbers.push_back(s.line ? 1 : 3);
      texts.push_back(s.label.c_str());
      symbols.push_back(s.line ? "#(840)" : "#(728)");
    }
    if (!texts.empty()) {
      const PLINT n = static_cast<PLINT>(texts.size());
      std::vector<PLINT> text_colours(texts.size(), kInk);
      PLFLT legend_w, legend_h;
      pllegend(&legend_w, &legend_h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
               PL_POSITION_RIGHT | PL_POSITION_TOP | PL_POSITION_INSIDE, 0.02, 0.02, 0.08, 0, kInk, 1, 0, 0, n,
               opts.data(), 1.0, 0.9, 2.0, 0.0, text_colours.data(), texts.data(), nullptr, nullptr, nullptr,
               nullptr, colours.data(), styles.data(), widths.data(), colours.data(), symbol_scales.data(),
               symbol_numbers.data(), symbols.data());
    }
    Notes(options.notes);
  });
}

absl::Status WriteDensityPlotPng(const std::string& path, const std::vector<double>& x, const std::vector<double>& y,
                                 int bins, const PlotOptions& options) {
  if (x.size() != y.size()) {
    return absl::InvalidArgumentError(absl::StrFormat("plot: %d x and %d y values", x.size(), y.size()));
  }
  if (bins < 2 || bins > 1000) return absl::InvalidArgumentError(absl::StrFormat("plot: %d bins is outside 2..1000", bins));
  double x_lo, x_hi, y_lo, y_hi;
  Range(x, options.x_lo, options.x_hi, 0, &x_lo, &x_hi);
  Range(y, options.y_lo, options.y_hi, 0, &y_lo, &y_hi);
  std::vector<std::vector<PLFLT>> counts(bins, std::vector<PLFLT>(bins, 0));
  int64_t drawn = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) continue;
    const int bx = static_cast<int>(std::floor((x[i] - x_lo) / (x_hi - x_lo) * bins));
    const int by = static_cast<int>(std::floor((y[i] - y_lo) / (y_hi - y_lo) * bins));
    if (bx < 0 || by < 0 || bx > bins || by > bins) continue;
    counts[std::min(bx, bins - 1)][std::min(by, bins - 1)] += 1;
    ++drawn;
  }
  if (drawn == 0) return absl::InvalidArgumentError("plot: no finite point inside the axis ranges");
  PLFLT z_max = 0;
  for (auto& column : counts) {
    for (PLFLT& c : column) {
      c = std::log1p(c);
      z_max = std::max(z_max, c);
    }
  }
  return Render(path, options, [&] {
    Frame(options, x_lo, x_hi, y_lo, y_hi, "bcnst", "bcnstv");
    // White for empty cells through light blue to near-black blue at the densest.
    const PLFLT at[3] = {0, 0.3, 1}, r[3] = {1, 0.62, 0.03}, g[3] = {1, 0.79, 0.19}, b[3] = {1, 0.94, 0.42};
    plscmap1l(1, 3, at, r, g, b, nullptr);
    std::vector<const PLFLT*> rows(bins);
    for (int i = 0; i < bins; ++i) rows[i] = counts[i].data();
    plimage(rows.data(), bins, bins, x_lo, x_hi, y_lo, y_hi, 0, z_max, x_lo, x_hi, y_lo, y_hi);
    plcol0(kInk);
    plbox("bcst", 0, 0, "bcst", 0, 0);
    if (options.diagonal) Diagonal(std::max(x_lo, y_lo), std::min(x_hi, y_hi));
    Notes(options.notes);
  });
}

absl::Status WriteBarPlotPng(const std::string& path, const std::vector<double>& edges,
                             const std::vector<double>& heights, double reference, const PlotOptions& options) {
  if (heights.empty() || edges.size() != heights.size() + 1) {
    return absl::InvalidArgumentError(
        absl::StrFormat("plot: %d bar heights need %d edges, got %d", heights.size(), heights.size() + 1, edges.size()));
  }
  for (size_t i = 0; i + 1 < edges.size(); ++i) {
    if (!(edges[i] < edges[i + 1])) return absl::InvalidArgumentError("plot: bar edges must increase");
  }
  for (double h : heights) {
    if (!std::isfinite(h)) return absl::InvalidArgumentError("plot: a bar height is not finite");
  }
  double y_hi = std::max(reference, *std::max_element(heights.begin(), heights.end())) * 1.35;
  if (options.y_lo < options.y_hi) y_hi = options.y_hi;
  const double y_lo = std::min(0.0, *std::min_element(heights.begin(), heights.end()));
  if (!(y_hi > y_lo)) y_hi = y_lo + 1;
  return Render(path, options, [&] {
    Frame(options, edges.front(), edges.back(), y_lo, y_hi, "bcnst", "bcnstv");
    plscol0(kFirstSeriesColour, 31, 119, 180);
    for (size_t i = 0; i < heights.size(); ++i) {
      const PLFLT bx[4] = {edges[i], edges[i], edges[i + 1], edges[i + 1]};
      const PLFLT by[4] = {0, heights[i], heights[i], 0};
      plcol0(kFirstSeriesColour);
      plfill(4, bx, by);
      plcol0(kInk);
      plline(4, bx, by);
    }
    if (reference > 0) {
      plcol0(kGrey);
      pllsty(2);
      const PLFLT rx[2] = {edges.front(), edges.back()}, ry[2] = {reference, reference};
      plline(2, rx, ry);
      pllsty(1);
    }
    Notes(options.notes);
  });
}

absl::Status WriteMatrixPlotPng(const std::string& path, const std::vector<std::vector<int64_t>>& matrix,
                                const std::vector<std::string>& names, const PlotOptions& options) {
  const size_t n = matrix.size();
  if (n == 0 || names.size() != n) {
    return absl::InvalidArgumentError(absl::StrFormat("plot: a %d-row matrix with %d names", n, names.size()));
  }
  for (const auto& row : matrix) {
    if (row.size() != n) return absl::InvalidArgumentError("plot: the matrix is not square");
  }
  // Cell shading: the row's share (recall along the diagonal); share[p][n - 1 - t] is the cell of
  // predicted class p (column) and true class t (row, class 0 at the top).
  std::vector<std::vector<PLFLT>> share(n, std::vector<PLFLT>(n, 0));
  for (size_t t = 0; t < n; ++t) {
    int64_t total = 0;
    for (int64_t c : matrix[t]) total += c;
    for (size_t p = 0; p < n; ++p) {
      share[p][n - 1 - t] = total > 0 ? static_cast<double>(matrix[t][p]) / static_cast<double>(total) : 0;
    }
  }
  return Render(path, options, [&] {
    const double side = static_cast<double>(n);
    plvpor(0.2, 0.92, 0.15, 0.87);
    plwind(0, side, 0, side);
    const PLFLT at[2] = {0, 1}, r[2] = {1, 0.03}, g[2] = {1, 0.27}, b[2] = {1, 0.58};
    plscmap1l(1, 2, at, r, g, b, nullptr);
    for (size_t t = 0; t < n; ++t) {
      for (size_t p = 0; p < n; ++p) {
        const double x0 = static_cast<double>(p), y0 = side - static_cast<double>(t) - 1;
        const PLFLT cx[4] = {x0, x0, x0 + 1, x0 + 1}, cy[4] = {y0, y0 + 1, y0 + 1, y0};
        plcol1(share[p][n - 1 - t]);
        plfill(4, cx, cy);
      }
    }
    plcol0(kInk);
    plbox("bc", 1, 0, "bc", 1, 0);
    for (size_t t = 0; t < n; ++t) {
      for (size_t p = 0; p < n; ++p) {
        const double s = share[p][n - 1 - t];
        plcol0(s > 0.6 ? 0 : kInk);  // white text on dark cells
        plptex(static_cast<double>(p) + 0.5, side - static_cast<double>(t) - 0.5, 1, 0, 0.5,
               absl::StrCat(matrix[t][p]).c_str());
      }
    }
    plcol0(kInk);
    for (size_t i = 0; i < n; ++i) {
      const double pos = (static_cast<double>(i) + 0.5) / side;
      plmtex("b", 1.5, pos, 0.5, names[i].c_str());
      plmtex("lv", 1.0, 1 - pos, 1.0, names[i].c_str());
    }
    plmtex("b", 3.5, 0.5, 0.5, options.x_label.c_str());
    plmtex("l", 7.0, 0.5, 0.5, options.y_label.c_str());
    plmtex("t", 2.0, 0.5, 0.5, options.title.c_str());
  });
}

}  // namespace galaxy
