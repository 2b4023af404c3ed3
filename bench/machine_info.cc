#include "bench/machine_info.h"

#include <sched.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "core/library_versions.h"
#include "data/data_versions.h"
#include "indexer/index_versions.h"
#include "model/torch_info.h"
#include "nlohmann/json.hpp"
#include "proto/rpc_versions.h"

namespace galaxy {
namespace {

// Value of the first line "key<sep>value" of a text file, trimmed; "" when absent.
std::string FirstValue(const std::string& path, absl::string_view key, char separator) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!absl::StartsWith(line, key)) continue;
    size_t at = line.find(separator);
    if (at == std::string::npos) continue;
    std::string value(absl::StripAsciiWhitespace(line.substr(at + 1)));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return value;
  }
  return "";
}

}  // namespace

MachineInfo ReadMachineInfo() {
  MachineInfo info;
  info.cpu_model = FirstValue("/proc/cpuinfo", "model name", ':');
  cpu_set_t set;
  info.usable_cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
  info.online_cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  info.memory_bytes =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  info.gpus = GetTorchInfo().device_names;
  info.libraries = JoinVersions({TorchLibraryVersions(), IndexLibraryVersions(),
                                 RpcLibraryVersions(), DataLibraryVersions(), CoreLibraryVersions()});
  info.os = FirstValue("/etc/os-release", "PRETTY_NAME", '=');
  info.date = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  return info;
}

std::string MachineInfoJson(const MachineInfo& info) {
  nlohmann::json j = {{"cpu_model", info.cpu_model},     {"usable_cpus", info.usable_cpus},
                      {"online_cpus", info.online_cpus}, {"memory_bytes", info.memory_bytes},
                      {"gpus", info.gpus},               {"libraries", info.libraries},
                      {"os", info.os},                   {"date", info.date}};
  return j.dump(2);
}

std::string MachineInfoMarkdown(const MachineInfo& info) {
  return absl::StrCat(
      "- CPU: ", info.cpu_model.empty() ? "unknown" : info.cpu_model, ", ", info.usable_cpus,
      " usable of ", info.online_cpus, " online\n",
      "- Memory: ", info.memory_bytes >> 30, " GiB\n",
      "- GPU: ", info.gpus.empty() ? "none" : absl::StrJoin(info.gpus, ", "), "\n",
      "- OS: ", info.os, "\n",
      "- Libraries: ", absl::StrJoin(info.libraries, "; "), "\n",
      "- Date: ", info.date, "\n");
}

}  // namespace galaxy

namespace galaxy {
namespace {

int64_t StatusKib(absl::string_view key) {
  int64_t kib = 0;
  // "VmHWM:     123456 kB"
  return absl::SimpleAtoi(absl::StripSuffix(FirstValue("/proc/self/status", key, ':'), " kB"), &kib) ? kib : 0;
}

}  // namespace

int64_t CurrentRssBytes() { return StatusKib("VmRSS") * 1024; }
int64_t PeakRssBytes() { return StatusKib("VmHWM") * 1024; }

bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace galaxy
