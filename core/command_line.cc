#include "core/command_line.h"

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace galaxy {

absl::string_view Version() { return GALAXY_VERSION; }

CommandLine::CommandLine(std::string name, std::string description)
    : name_(std::move(name)), app_(std::move(description), name_) {
  app_.set_help_all_flag("--help-all", "Print help for every command, with all their flags");
  app_.require_subcommand(0, 1);
  app_.fallthrough();
  app_.add_option("--log-level", log_level_, "Log level: debug, info, warn, error, off")
      ->capture_default_str()
      ->envname("GALAXY_LOG_LEVEL");
  app_.add_flag("--log-json", log_json_, "Write logs as one JSON object per line")
      ->envname("GALAXY_LOG_JSON");
  app_.add_flag_callback(
      "--version",
      [this] {
        std::cout << name_ << " " << Version() << "\n";
        if (version_details_) {
          for (const std::string& line : version_details_()) std::cout << "  " << line << "\n";
        }
        throw CLI::Success();
      },
      "Print the version and the libraries this binary uses, then exit");
}

CLI::App* CommandLine::AddCommand(const std::string& name, const std::string& description,
                                  Action action) {
  CLI::App* sub = app_.add_subcommand(name, description);
  commands_.emplace_back(sub, std::move(action));
  return sub;
}

void CommandLine::SetVersionDetails(std::function<std::vector<std::string>()> details) {
  version_details_ = std::move(details);
}

int CommandLine::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here with 0; every usage error exits 2.
    return app_.exit(e) == 0 ? 0 : 2;
  }
  absl::StatusOr<log::Level> level = log::ParseLevel(log_level_);
  if (!level.ok()) {
    std::cerr << name_ << ": error: --log-level: " << level.status().message() << "\n";
    return 2;
  }
  log::Options log_options;
  log_options.level = *level;
  log_options.json = log_json_;
  log::Configure(log_options);

  for (auto& [sub, action] : commands_) {
    if (!sub->parsed()) continue;
    absl::Status status = action();
    if (status.ok()) return 0;
    std::cerr << name_ << " " << sub->get_name() << ": error: " << status.message() << "\n";
    return status.code() == absl::StatusCode::kUnimplemented ? 2 : 1;
  }
  if (main_action_) {
    absl::Status status = main_action_();
    if (status.ok()) return 0;
    std::cerr << name_ << ": error: " << status.message() << "\n";
    return status.code() == absl::StatusCode::kUnimplemented ? 2 : 1;
  }
  std::cerr << app_.help() << "\n" << name_ << ": error: a command is required\n";
  return 2;
}

}  // namespace galaxy
