// Synthetic-survey throughput: galaxies per second per core at a given cutout size, generated in
// memory (the simulator alone; median of three runs) and written to HDF5 (what
// `galaxy-data synth` does, once).
#ifndef GALAXY_BENCH_SYNTH_BENCH_H_
#define GALAXY_BENCH_SYNTH_BENCH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

struct SynthBenchResult {
  int64_t count = 0;
  int image_size = 0;
  int threads = 0;
  double single_thread_per_s = 0;  // in memory, one thread
  double all_threads_per_s = 0;    // in memory, `threads` threads
  double written_per_s = 0;        // to an HDF5 file, `threads` threads
  double per_core_per_s() const { return threads > 0 ? all_threads_per_s / threads : 0; }
};

// Runs the three measurements on `count` galaxies; the file goes to `scratch_dir`.
absl::StatusOr<SynthBenchResult> RunSynthBench(int64_t count, int image_size, int threads,
                                               const std::string& scratch_dir);

std::string SynthBenchJson(const SynthBenchResult& r);

}  // namespace galaxy

#endif  // GALAXY_BENCH_SYNTH_BENCH_H_
