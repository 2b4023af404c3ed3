#include "core/log.h"

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace galaxy::log {
namespace {

constexpr char kHumanPattern[] = "%Y-%m-%d %H:%M:%S.%e %l %v";
constexpr char kJsonPattern[] = R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})";

struct State {
  std::shared_ptr<spdlog::logger> logger;
  bool json = false;
};

State& GlobalState() {
  // Created on first use and never destroyed, so logging from static destructors stays safe.
  static State* state = [] {
    auto* s = new State;
    s->logger = spdlog::stderr_logger_mt("galaxy");
    s->logger->set_pattern(kHumanPattern, spdlog::pattern_time_type::local);
    return s;
  }();
  return *state;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kOff: return spdlog::level::off;
  }
  return spdlog::level::info;
}

// Quotes a human-format value when it would be ambiguous unquoted.
std::string HumanValue(absl::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) || c == '"' || c == '=') plain = false;
  }
  if (plain) return std::string(value);
  return nlohmann::json(std::string(value)).dump();
}

std::string Body(absl::string_view message, Fields fields, bool json) {
  if (json) {
    std::string out = absl::StrCat("\"msg\":", nlohmann::json(std::string(message)).dump());
    for (const auto& [key, value] : fields) {
      absl::StrAppend(&out, ",", nlohmann::json(std::string(key)).dump(), ":",
                      nlohmann::json(std::string(value)).dump());
    }
    return out;
  }
  std::string out(message);
  for (const auto& [key, value] : fields) absl::StrAppend(&out, " ", key, "=", HumanValue(value));
  return out;
}

void Emit(Level level, absl::string_view message, Fields fields) {
  State& state = GlobalState();
  if (!state.logger->should_log(ToSpd(level))) return;
  state.logger->log(ToSpd(level), "{}", Body(message, fields, state.json));
}

}  // namespace

void Configure(const Options& options) {
  State& state = GlobalState();
  state.json = options.json;
  state.logger->set_level(ToSpd(options.level));
  if (options.json) {
    state.logger->set_pattern(kJsonPattern, spdlog::pattern_time_type::utc);
  } else {
    state.logger->set_pattern(kHumanPattern, spdlog::pattern_time_type::local);
  }
  state.logger->flush_on(spdlog::level::warn);
}

absl::StatusOr<Level> ParseLevel(absl::string_view name) {
  std::string lower = absl::AsciiStrToLower(name);
  if (lower == "debug") return Level::kDebug;
  if (lower == "info") return Level::kInfo;
  if (lower == "warn" || lower == "warning") return Level::kWarn;
  if (lower == "error") return Level::kError;
  if (lower == "off") return Level::kOff;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", name, "' (expected debug, info, warn, error or off)"));
}

void Debug(absl::string_view message, Fields fields) { Emit(Level::kDebug, message, fields); }
void Info(absl::string_view message, Fields fields) { Emit(Level::kInfo, message, fields); }
void Warn(absl::string_view message, Fields fields) { Emit(Level::kWarn, message, fields); }
void Error(absl::string_view message, Fields fields) { Emit(Level::kError, message, fields); }

std::string FormatForTest(Level level, absl::string_view message, Fields fields, bool json) {
  std::string body = Body(message, fields, json);
  std::string level_name(spdlog::level::to_string_view(ToSpd(level)).data(),
                         spdlog::level::to_string_view(ToSpd(level)).size());
  if (json) return absl::StrCat("{\"level\":\"", level_name, "\",", body, "}");
  return absl::StrCat(level_name, " ", body);
}

}  // namespace galaxy::log
