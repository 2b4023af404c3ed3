// The command-line frame every galaxy-search binary shares: subcommands with their own flags,
// common flags (--log-level, --log-json, --version), and one way of reporting failures.
//
//   galaxy::CommandLine cli("galaxy-data", "Survey datasets: ...");
//   std::string path;
//   CLI::App* inspect = cli.AddCommand("inspect", "Summarise a dataset file",
//                                      [&] { return Inspect(path); });
//   inspect->add_option("file", path, "Dataset (HDF5)")->required();
//   return cli.Run(argc, argv);
//
// Exit codes: 0 success; 1 the command failed (one line on stderr:
// "galaxy-data inspect: error: <message>"); 2 bad usage (unknown flag, missing argument, or a
// command that is not available yet).
#ifndef GALAXY_CORE_COMMAND_LINE_H_
#define GALAXY_CORE_COMMAND_LINE_H_

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace galaxy {

class CommandLine {
 public:
  using Action = std::function<absl::Status()>;

  // `name` is the binary's name as users type it; `description` opens --help.
  CommandLine(std::string name, std::string description);
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  // The underlying CLI11 app, for top-level flags.
  CLI::App& app() { return app_; }

  // Adds a subcommand; `action` runs when the user picks it. Returns the subcommand, to add its
  // flags to. The returned pointer is owned by this object.
  CLI::App* AddCommand(const std::string& name, const std::string& description, Action action);


  // For a binary without subcommands (galaxy-server): `action` runs after parsing; its flags are
  // added to app().
  void SetMainAction(Action action) { main_action_ = std::move(action); }

  // Text printed after "NAME VERSION" by --version: one "library version" pair per line.
  void SetVersionDetails(std::function<std::vector<std::string>()> details);

  // Parses argv, configures logging, runs the chosen subcommand (or the main action). Returns
  // the process exit code. With neither, prints --help and returns 2.
  int Run(int argc, char** argv);

 private:
  std::string name_;
  CLI::App app_;
  std::string log_level_ = "info";
  bool log_json_ = false;
  std::function<std::vector<std::string>()> version_details_;
  std::vector<std::pair<CLI::App*, Action>> commands_;
  Action main_action_;
};

// The galaxy-search version, e.g. "0.1.0".
absl::string_view Version();

}  // namespace galaxy

#endif  // GALAXY_CORE_COMMAND_LINE_H_
