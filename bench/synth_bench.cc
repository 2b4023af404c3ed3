#include "bench/synth_bench.h"

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/parallel.h"
#include "core/status_macros.h"
#include "data/sim/synth_survey.h"

namespace galaxy {

absl::StatusOr<SynthBenchResult> RunSynthBench(int64_t count, int image_size, int threads,
                                               const std::string& scratch_dir) {
  SynthBenchResult r;
  r.count = count;
  r.image_size = image_size;
  r.threads = threads > 0 ? threads : UsableCpus();
  SynthOptions options;
  options.count = count;
  options.image_size = image_size;
  options.seed = 12345;
  GALAXY_RETURN_IF_ERROR(ValidateSynthOptions(options));
  SurveyModel model(options);  // tables built once, outside the timings
  GalaxyBatch batch;
  SynthesizeBatch(model, 0, std::min<int64_t>(count, 64), 1, &batch);  // warm-up

  // Shared machines are noisy: each in-memory figure is the median of three runs.
  auto median_rate = [&](int threads) {
    std::vector<double> rates;
    for (int rep = 0; rep < 3; ++rep) {
      const absl::Time start = absl::Now();
      SynthesizeBatch(model, 0, count, threads, &batch);
      rates.push_back(count / absl::ToDoubleSeconds(absl::Now() - start));
    }
    std::sort(rates.begin(), rates.end());
    return rates[1];
  };
  r.single_thread_per_s = median_rate(1);
  r.all_threads_per_s = median_rate(r.threads);
  absl::Time start;

  std::filesystem::create_directories(scratch_dir);
  const std::string path = scratch_dir + "/synth_bench.h5";
  start = absl::Now();
  GALAXY_RETURN_IF_ERROR(WriteSyntheticSurvey(options, path, r.threads));
  r.written_per_s = count / absl::ToDoubleSeconds(absl::Now() - start);
  std::filesystem::remove(path);
  return r;
}

std::string SynthBenchJson(const SynthBenchResult& r) {
  return absl::StrFormat(
      "{\"benchmark\":\"synth\",\"count\":%d,\"image_size\":%d,\"threads\":%d,"
      "\"single_thread_per_s\":%.1f,\"all_threads_per_s\":%.1f,\"per_core_per_s\":%.1f,"
      "\"written_per_s\":%.1f,\"target_per_core_per_s\":2000}",
      r.count, r.image_size, r.threads, r.single_thread_per_s, r.all_threads_per_s,
      r.per_core_per_s(), r.written_per_s);
}

}  // namespace galaxy
