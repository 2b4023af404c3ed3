// The plots of a redshift evaluation (galaxy-train eval, the science report).
#ifndef GALAXY_TRAINER_REDSHIFT_PLOTS_H_
#define GALAXY_TRAINER_REDSHIFT_PLOTS_H_

#include <string>

#include "absl/status/status.h"
#include "trainer/redshift_training.h"

namespace galaxy {

// Writes the plots of an evaluation: predicted vs true redshift as a density plot with the
// metrics on it (`path`), the metrics per true-redshift bin (<stem>_per_bin.png) and the PIT
// histogram (<stem>_pit.png), beside it.
absl::Status WriteRedshiftPlots(const std::string& path, const EvalReport& report, const std::string& title);

// `path` with `suffix` before its extension: ("a/b.png", "_pit") -> "a/b_pit.png".
std::string SiblingPath(const std::string& path, const std::string& suffix);

}  // namespace galaxy

#endif  // GALAXY_TRAINER_REDSHIFT_PLOTS_H_
