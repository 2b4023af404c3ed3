#include "core/progress.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace galaxy {

Progress::Progress(std::string what, std::string unit, int64_t total, absl::Duration interval)
    : what_(std::move(what)), unit_(std::move(unit)), total_(total), interval_(interval),
      start_(absl::Now()), last_(start_) {}

double Progress::Rate(int64_t done) const {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
  return seconds > 0 ? static_cast<double>(done) / seconds : 0;
}

std::string Progress::Line(int64_t done) const {
  const double rate = Rate(done);
  if (total_ <= 0) return absl::StrFormat("%s: %d %s, %.0f/s", what_, done, unit_, rate);
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0;
  return absl::StrFormat("%s: %d/%d %s (%.1f%%), %.0f/s, ETA %.0fs", what_, done, total_, unit_,
                         100.0 * static_cast<double>(done) / static_cast<double>(total_), rate,
                         std::ceil(eta));
}

void Progress::Update(int64_t done) {
  const absl::Time now = absl::Now();
  if (now - last_ < interval_) return;
  last_ = now;
  log::Info(Line(done));
}

void Progress::Finish(int64_t done) {
  log::Info(absl::StrFormat("%s: %d %s in %.1fs (%.0f/s)", what_, done, unit_,
                            absl::ToDoubleSeconds(absl::Now() - start_), Rate(done)));
}

}  // namespace galaxy
