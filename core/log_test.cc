#include "core/log.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace galaxy::log {
namespace {

TEST(LogTest, HumanFormatAppendsFieldsAndQuotesAmbiguousValues) {
  std::string line =
      FormatForTest(Level::kInfo, "snapshot loaded", {{"version", "v1"}, {"path", "a b"}}, false);
  EXPECT_EQ(line, "info snapshot loaded version=v1 path=\"a b\"");
}

TEST(LogTest, JsonFormatIsOneParsableObjectWithEscapedText) {
  std::string line = FormatForTest(Level::kWarn, "bad \"input\"\nsecond line",
                                   {{"file", "x.h5"}, {"key", "images"}}, true);
  nlohmann::json parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["msg"], "bad \"input\"\nsecond line");
  EXPECT_EQ(parsed["file"], "x.h5");
  EXPECT_EQ(parsed["key"], "images");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, ParseLevelAcceptsKnownNamesAndRejectsOthers) {
  EXPECT_EQ(*ParseLevel("DEBUG"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("off"), Level::kOff);
  absl::StatusOr<Level> bad = ParseLevel("loud");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("loud"), std::string::npos);
}

}  // namespace
}  // namespace galaxy::log
