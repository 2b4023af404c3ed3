// Output formatting of galaxy-train's commands (trainer/train_main.cc wires the flags).
#ifndef GALAXY_TRAINER_TRAIN_COMMANDS_H_
#define GALAXY_TRAINER_TRAIN_COMMANDS_H_

#include <string>

#include "absl/status/status.h"
#include "trainer/redshift_training.h"

namespace galaxy {

// Runs the evaluation; prints a table (or the JSON with print_json); writes the JSON to
// json_path and the predicted-vs-true plot to plot_path when given.
absl::Status RunEvalCommand(const EvalOptions& options, const std::string& json_path,
                            const std::string& plot_path, bool print_json);

// Writes the plots of an evaluation: predicted vs true redshift as a density plot with the
// metrics on it (`path`), the metrics per true-redshift bin (<stem>_per_bin.png) and the PIT
// histogram (<stem>_pit.png), beside it.
absl::Status WriteRedshiftPlots(const std::string& path, const EvalReport& report, const std::string& title);

// `path` with `suffix` before its extension: ("a/b.png", "_pit") -> "a/b_pit.png".
std::string SiblingPath(const std::string& path, const std::string& suffix);

// The contents of a text file, or "" when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAIN_COMMANDS_H_
