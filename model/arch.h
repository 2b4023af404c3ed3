// The backbone and stem names every tool accepts, free of LibTorch so that option parsing can check them
// without pulling it in. What each one is: model/resnet.h.
#ifndef GALAXY_MODEL_ARCH_H_
#define GALAXY_MODEL_ARCH_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace galaxy {

// The choices as every `--arch` and `--stem` option's help lists them.
inline constexpr char kArchChoices[] = "resnet50 | resnet18 | small | tiny";
inline constexpr char kStemChoices[] = "paper | half | torchvision";

// OK for resnet50, resnet18, small or tiny; otherwise INVALID_ARGUMENT naming `what` (the flag or
// field) and the value.
inline absl::Status ValidateArch(const std::string& arch, const std::string& what) {
  if (arch == "resnet50" || arch == "resnet18" || arch == "small" || arch == "tiny") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": unknown '", arch, "' (expected resnet50, resnet18, small or tiny)"));
}

// OK for paper, half or torchvision (what each keeps of the image: model/resnet.h); otherwise
// INVALID_ARGUMENT naming `what` and the value.
inline absl::Status ValidateStem(const std::string& stem, const std::string& what) {
  if (stem == "paper" || stem == "half" || stem == "torchvision") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": unknown '", stem, "' (expected paper, half or torchvision)"));
}

}  // namespace galaxy

#endif  // GALAXY_MODEL_ARCH_H_
