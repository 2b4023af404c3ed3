// Process-wide logging for every galaxy-search binary: human-readable lines on stderr by default,
// or one JSON object per line (`--log-json`) for log collectors.
//
// This header includes neither spdlog nor fmt on purpose: LibTorch 2.x bundles its own fmt, which
// breaks Debian's spdlog in any target that also links LibTorch. The implementation lives in the
// small `galaxy_log` library, which links spdlog privately.
//
//   galaxy::log::Info("snapshot loaded", {{"version", v}, {"count", absl::StrCat(n)}});
//   -> 2026-11-26 10:00:00.123 INFO snapshot loaded version=v1 count=1000
//   -> {"ts":"2026-11-26T10:00:00.123Z","level":"info","msg":"snapshot loaded","version":"v1",...}
//
// Thread-safe. Never pass secrets (tokens, keys) as messages or fields.
#ifndef GALAXY_CORE_LOG_H_
#define GALAXY_CORE_LOG_H_

#include <initializer_list>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>

#include "absl/status/statusor.h"

namespace galaxy::log {

enum class Level { kDebug, kInfo, kWarn, kError, kOff };

// Structured key=value pairs appended to a log line.
using Fields = std::initializer_list<std::pair<absl::string_view, absl::string_view>>;

struct Options {
  // Lines below this level are dropped. Default: info.
  Level level = Level::kInfo;
  // One JSON object per line instead of the human format. Default: false.
  bool json = false;
};

// Configures the process logger. Call once from main before other threads start; later calls
// replace the settings.
void Configure(const Options& options);

// Parses "debug", "info", "warn", "error" or "off" (INVALID_ARGUMENT otherwise).
absl::StatusOr<Level> ParseLevel(absl::string_view name);

void Debug(absl::string_view message, Fields fields = {});
void Info(absl::string_view message, Fields fields = {});
void Warn(absl::string_view message, Fields fields = {});
void Error(absl::string_view message, Fields fields = {});

// Formats one line as Configure's format would (no timestamp); exposed for tests.
std::string FormatForTest(Level level, absl::string_view message, Fields fields, bool json);

}  // namespace galaxy::log

#endif  // GALAXY_CORE_LOG_H_
