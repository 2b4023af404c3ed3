// Progress of long work, logged at most every few seconds with rate and ETA:
//   "synth: 12000/100000 galaxies (12.0%), 4210/s, ETA 21s"
//   "pretrain: 100/2000 steps (5.0%), 0.29/s, ETA 1h 49m"
#ifndef GALAXY_CORE_PROGRESS_H_
#define GALAXY_CORE_PROGRESS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace galaxy {

// A rate for a progress line: whole numbers from 10 up ("4210"), two significant digits below
// ("3.5", "0.29"), so that slow work (a training step every few seconds) does not read "0".
std::string RateText(double per_second);
// A remaining time for a progress line: "41s", "12m 05s", "2h 33m".
std::string EtaText(double seconds);

class Progress {
 public:
  // `what` names the work ("synth"), `unit` the items ("galaxies"); `total` may be 0 (unknown).
  Progress(std::string what, std::string unit, int64_t total,
           absl::Duration interval = absl::Seconds(3));

  // Records that `done` items are finished; logs when the interval has passed.
  void Update(int64_t done);
  // Logs the final line (count, time, mean rate).
  void Finish(int64_t done);

  // Items per second since construction.
  double Rate(int64_t done) const;
  // The line Update would log now.
  std::string Line(int64_t done) const;

 private:
  std::string what_, unit_;
  int64_t total_;
  absl::Duration interval_;
  absl::Time start_, last_;
};

}  // namespace galaxy

#endif  // GALAXY_CORE_PROGRESS_H_
