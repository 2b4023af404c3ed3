// Splitting work over CPU threads.
#ifndef GALAXY_CORE_PARALLEL_H_
#define GALAXY_CORE_PARALLEL_H_

#include <cstdint>
#include <functional>

namespace galaxy {

// CPUs this process may run on (its affinity mask), at least 1.
int UsableCpus();

// Calls fn(begin, end) on `threads` threads (<= 0: UsableCpus()) over contiguous blocks covering
// [0, n). Returns when all are done. fn must be thread-safe across disjoint ranges.
void ParallelFor(int64_t n, int threads, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace galaxy

#endif  // GALAXY_CORE_PARALLEL_H_
