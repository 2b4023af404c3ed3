// The rate and remaining time in progress lines, which long training runs are watched by.
#include "core/progress.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

TEST(ProgressTextTest, SlowRatesKeepTwoDigits) {
  EXPECT_EQ(RateText(4210.4), "4210");
  EXPECT_EQ(RateText(10), "10");
  EXPECT_EQ(RateText(3.5), "3.5");
  EXPECT_EQ(RateText(0.2857), "0.29");  // a training step every 3.5 s, which "%.0f" printed as 0
  EXPECT_EQ(RateText(0), "0");
}

TEST(ProgressTextTest, RemainingTimeInSecondsMinutesOrHours) {
  EXPECT_EQ(EtaText(0), "0s");
  EXPECT_EQ(EtaText(40.2), "41s");
  EXPECT_EQ(EtaText(725), "12m 05s");
  EXPECT_EQ(EtaText(9172), "2h 32m");
  EXPECT_EQ(EtaText(-3), "0s");
}

TEST(ProgressTextTest, LineNamesTheWorkAndCounts) {
  Progress progress("synth", "galaxies", 100);
  const std::string line = progress.Line(12);
  EXPECT_EQ(line.rfind("synth: 12/100 galaxies (12.0%), ", 0), 0u) << line;
  EXPECT_NE(line.find("/s, ETA "), std::string::npos) << line;
}

}  // namespace
}  // namespace galaxy
