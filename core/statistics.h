// Rank statistics shared by the indexer's and the trainer's evaluations.
#ifndef GALAXY_CORE_STATISTICS_H_
#define GALAXY_CORE_STATISTICS_H_

#include <vector>

namespace galaxy {

// ROC AUC of `scores` for telling `positive` from the rest (the Mann-Whitney statistic, ties
// counted half); -1 when either class is empty.
double RocAuc(const std::vector<double>& scores, const std::vector<bool>& positive);

}  // namespace galaxy

#endif  // GALAXY_CORE_STATISTICS_H_
