// The output of galaxy-train's eval command (trainer/train_main.cc wires the flags; both are
// compiled into the galaxy-train binary only).
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

}  // namespace galaxy

#endif  // GALAXY_TRAINER_TRAIN_COMMANDS_H_
