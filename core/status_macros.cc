#include "core/status_macros.h"

#include "absl/strings/str_cat.h"

namespace galaxy {

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

absl::Status StatusFromException(const std::exception& e, absl::string_view context) {
  absl::string_view what = e.what();
  if (size_t eol = what.find('\n'); eol != absl::string_view::npos) what = what.substr(0, eol);
  return absl::InternalError(absl::StrCat(context, ": ", what));
}

}  // namespace galaxy
