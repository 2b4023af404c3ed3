// Deterministic train / validation / test assignment by a hash of the catalog ID: the same
// galaxy lands in the same part on every run and machine, whatever the file order, and adding
// galaxies never moves the old ones.
#ifndef GALAXY_DATA_DATASET_SPLIT_H_
#define GALAXY_DATA_DATASET_SPLIT_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

enum class SplitPart { kTrain = 0, kValidation = 1, kTest = 2 };
const char* SplitPartName(SplitPart part);

struct SplitFractions {
  double train = 0.8, validation = 0.1, test = 0.1;
};

// Parses "0.8,0.1,0.1"; INVALID_ARGUMENT unless three non-negative numbers summing to 1
// (within 1e-6).
absl::StatusOr<SplitFractions> ParseSplitFractions(const std::string& text);

// The part of galaxy `id` under `seed`.
SplitPart SplitOf(int64_t id, uint64_t seed, const SplitFractions& fractions);

}  // namespace galaxy

#endif  // GALAXY_DATA_DATASET_SPLIT_H_
