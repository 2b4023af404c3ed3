#include "core/command_line.h"

#include <gtest/gtest.h>

#include <vector>

namespace galaxy {
namespace {

int RunWith(CommandLine& cli, std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return cli.Run(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLineTest, RunsTheChosenCommandWithItsFlags) {
  CommandLine cli("tool", "test tool");
  int value = 0;
  bool ran_other = false;
  CLI::App* set = cli.AddCommand("set", "sets", [&] { return absl::OkStatus(); });
  set->add_option("--value", value);
  cli.AddCommand("other", "other", [&] {
    ran_other = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(RunWith(cli, {"tool", "set", "--value", "7"}), 0);
  EXPECT_EQ(value, 7);
  EXPECT_FALSE(ran_other);
}

TEST(CommandLineTest, FailedCommandPrintsOneLineNamingItAndExitsOne) {
  CommandLine cli("tool", "test tool");
  cli.AddCommand("load", "loads",
                 [] { return absl::NotFoundError("x.h5: no dataset 'images'"); });
  testing::internal::CaptureStderr();
  int code = RunWith(cli, {"tool", "load"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 1);
  EXPECT_EQ(err, "tool load: error: x.h5: no dataset 'images'\n");
}

TEST(CommandLineTest, UsageErrorsExitTwo) {
  CommandLine cli("tool", "test tool");
  cli.AddCommand("a", "a", [] { return absl::OkStatus(); });
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  EXPECT_EQ(RunWith(cli, {"tool", "a", "--no-such-flag"}), 2);
  EXPECT_EQ(RunWith(cli, {"tool"}), 2);  // no command
  testing::internal::GetCapturedStdout();
  testing::internal::GetCapturedStderr();
}

TEST(CommandLineTest, BadLogLevelIsAUsageError) {
  CommandLine cli("tool", "test tool");
  cli.AddCommand("a", "a", [] { return absl::OkStatus(); });
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunWith(cli, {"tool", "--log-level", "loud", "a"}), 2);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("loud"), std::string::npos);
}

TEST(CommandLineTest, MainActionRunsWithoutSubcommand) {
  CommandLine cli("server", "test server");
  std::string listen;
  cli.app().add_option("--listen", listen);
  bool ran = false;
  cli.SetMainAction([&] {
    ran = true;
    return absl::OkStatus();
  });
  EXPECT_EQ(RunWith(cli, {"server", "--listen", "127.0.0.1:0"}), 0);
  EXPECT_TRUE(ran);
  EXPECT_EQ(listen, "127.0.0.1:0");
}

TEST(CommandLineTest, VersionPrintsNameVersionAndLibraries) {
  CommandLine cli("tool", "test tool");
  cli.SetVersionDetails([] { return std::vector<std::string>{"libfoo 1.2"}; });
  testing::internal::CaptureStdout();
  EXPECT_EQ(RunWith(cli, {"tool", "--version"}), 0);
  std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(out, std::string("tool ") + std::string(Version()) + "\n  libfoo 1.2\n");
}

}  // namespace
}  // namespace galaxy
