// galaxy-bench: the benchmark suite. Every figure is reported with the machine it ran on and as a
// ratio to a reference measured in the same run.
#include <iostream>

#include "bench/machine_info.h"
#include "core/command_line.h"

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-bench",
      "Benchmarks: synthesis, training and embedding throughput, index build, in-process search,\n"
      "served QPS and latency; each as a ratio to its reference measured in the same run.");
  cli.SetVersionDetails([] { return galaxy::ReadMachineInfo().libraries; });
  bool json = false;
  CLI::App* machine = cli.AddCommand("machine", "Describe this machine (CPU, memory, GPU, libraries)",
                                     [&] {
                                       galaxy::MachineInfo info = galaxy::ReadMachineInfo();
                                       std::cout << (json ? galaxy::MachineInfoJson(info) + "\n"
                                                          : galaxy::MachineInfoMarkdown(info));
                                       return absl::OkStatus();
                                     });
  machine->add_flag("--json", json, "JSON instead of markdown");
  CLI::App* run = cli.AddPlannedCommand("run", "Run the suite and write JSON + markdown results");
  run->add_flag("--quick", "Small sizes: checks that every benchmark runs (CI)");
  run->add_option("--out", "Results directory");
  return cli.Run(argc, argv);
}
