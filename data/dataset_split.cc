#include "data/dataset_split.h"

#include <cmath>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/random.h"

namespace galaxy {

const char* SplitPartName(SplitPart part) {
  switch (part) {
    case SplitPart::kTrain: return "train";
    case SplitPart::kValidation: return "val";
    case SplitPart::kTest: return "test";
  }
  return "unknown";
}

absl::StatusOr<SplitFractions> ParseSplitFractions(const std::string& text) {
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  std::vector<double> values;
  for (const std::string& p : parts) {
    double v = 0;
    if (!absl::SimpleAtod(p, &v) || !(v >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat("--fractions: '", p, "' is not a fraction"));
    }
    values.push_back(v);
  }
  if (values.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("--fractions: need train,validation,test (got '", text, "')"));
  }
  if (std::abs(values[0] + values[1] + values[2] - 1) > 1e-6) {
    return absl::InvalidArgumentError(absl::StrCat("--fractions: '", text, "' does not sum to 1"));
  }
  return SplitFractions{values[0], values[1], values[2]};
}

SplitPart SplitOf(int64_t id, uint64_t seed, const SplitFractions& f) {
  const double u = static_cast<double>(Mix64(static_cast<uint64_t>(id) ^ Mix64(seed)) >> 11) * 0x1.0p-53;
  if (u < f.train) return SplitPart::kTrain;
  if (u < f.train + f.validation) return SplitPart::kValidation;
  return SplitPart::kTest;
}

}  // namespace galaxy
