// The machine a benchmark ran on, written beside every result: figures from different machines
// are never compared, only ratios measured in one run.
#ifndef GALAXY_BENCH_MACHINE_INFO_H_
#define GALAXY_BENCH_MACHINE_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace galaxy {

struct MachineInfo {
  // From /proc/cpuinfo "model name", e.g. "AMD EPYC 7B13".
  std::string cpu_model;
  // CPUs this process may run on (affinity), and all online CPUs.
  int usable_cpus = 0;
  int online_cpus = 0;
  // Physical memory, bytes.
  uint64_t memory_bytes = 0;
  // CUDA devices LibTorch sees, by name (empty without a GPU).
  std::vector<std::string> gpus;
  // "name version" of every library the benchmarks use.
  std::vector<std::string> libraries;
  // Operating system, from /etc/os-release PRETTY_NAME.
  std::string os;
  // UTC time of the reading, ISO 8601.
  std::string date;
};

// Reads the machine now. Never fails: what cannot be read is left empty / zero.
MachineInfo ReadMachineInfo();

// One JSON object.
std::string MachineInfoJson(const MachineInfo& info);

// A markdown bullet list, for docs/BENCHMARKS.md.
std::string MachineInfoMarkdown(const MachineInfo& info);

// This process's resident set now, and its peak since the last ResetPeakRss() (or since it
// started), bytes, from /proc/self/status (VmRSS, VmHWM); 0 where unreadable.
int64_t CurrentRssBytes();
int64_t PeakRssBytes();
// Restarts the peak (writes 5 to /proc/self/clear_refs), so that the next PeakRssBytes() is the
// peak of the work in between. False where the kernel does not allow it.
bool ResetPeakRss();

}  // namespace galaxy

#endif  // GALAXY_BENCH_MACHINE_INFO_H_
