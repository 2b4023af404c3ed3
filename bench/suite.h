// The whole benchmark suite in one run (`galaxy-bench run`): machine, synthesis, training and
// embedding, index build / search / recall at several catalog sizes per index kind, and serving
// (by ID against in-process search, by image with the batcher on and off). Writes results.json
// and results.md (tables, the machine, the date, and the memory estimate for 10^8 and 10^9
// galaxies computed from the measured bytes per galaxy).
//
//   --quick: small sizes, a few seconds each; checks that everything runs (CI).
//   full:    1M-galaxy index and serving, 10^4 / 10^5 / 10^6 scaling (about half an hour on 2 cores).
#ifndef GALAXY_BENCH_SUITE_H_
#define GALAXY_BENCH_SUITE_H_

#include <string>

#include "absl/status/status.h"

namespace galaxy {

struct SuiteOptions {
  bool quick = false;
  // Results directory (results.json, results.md) and scratch space beneath it.
  std::string out = "bench/results/suite";
};

absl::Status RunSuite(const SuiteOptions& options);

}  // namespace galaxy

#endif  // GALAXY_BENCH_SUITE_H_
