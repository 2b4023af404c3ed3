#include "core/progress.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace galaxy {

Progress::Progress(std::string what, std::string unit, int64_t total, absl::Duration interval)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), interval_(interval),
      start_(absl::Now()), last_(start_) {}

std::string RateText(double per_second) {
  return per_second >= 10 ? absl::StrFormat("%.0f", per_second) : absl::StrFormat("%.2g", per_second);
}

std::string EtaText(double seconds) {
  const int64_t s = static_cast<int64_t>(std::ceil(std::max(seconds, 0.0)));
  if (s < 60) return absl::StrFormat("%ds", s);
  if (s < 3600) return absl::StrFormat("%dm %02ds", s / 60, s % 60);
  return absl::StrFormat("%dh %02dm", s / 3600, s % 3600 / 60);
}

double Progress::Rate(int64_t done) const {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
  return seconds > 0 ? static_cast<double>(done) / seconds : 0;
}

std::string Progress::Line(int64_t done) const {
  const double rate = Rate(done);
  if (total_ <= 0) return absl::StrFormat("%s: %d %s, %s/s", what_, done, unit_, RateText(rate));
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  return absl::StrFormat("%s: %d/%d %s (%.1f%%), %s/s, ETA %s", what_, done, total_, unit_,
                         100.0 * static_cast<double>(done) / static_cast<double>(total_), RateText(rate),
                         EtaText(eta));
}

void Progress::Update(int64_t done) {
  const absl::Time now = absl::Now();
  if (now - last_ < interval_) return;
  last_ = now;
  log::Info(Line(done));
}

void Progress::Finish(int64_t done) {
  log::Info(absl::StrFormat("%s: %d %s in %.1fs (%s/s)", what_, done, unit_,
                            absl::ToDoubleSeconds(absl::Now() - start_), RateText(Rate(done))));
}

}  // namespace galaxy
