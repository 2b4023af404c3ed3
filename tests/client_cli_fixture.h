// The fixture of galaxy-client's and the Python client's tests: a live server (in this process,
// on a loopback port) over a copy of the serving fixture's snapshots, galaxy-client run against
// it, and a headless Chromium for the galleries.
#ifndef GALAXY_TESTS_CLIENT_CLI_FIXTURE_H_
#define GALAXY_TESTS_CLIENT_CLI_FIXTURE_H_

#include <stb/stb_image.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "server/galaxy_server.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {

class ClientCliTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(nullptr); }

  void Start(const std::function<void(ServerOptions&)>& configure) {
    server_.reset();
    RemoveTree(dir_.File("snapshots")).IgnoreError();
    std::filesystem::copy(testutil::SharedServingFixture().snapshots, dir_.File("snapshots"),
                          std::filesystem::copy_options::recursive);
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.snapshots_dir = dir_.File("snapshots");
    o.device = "cpu";
    o.threads = 2;
    if (configure) configure(o);
    auto server = GalaxyServer::Start(o);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // Runs galaxy-client with --server set, then `args`.
  testutil::CommandResult Client(std::vector<std::string> args, std::vector<std::string> global = {}) {
    std::vector<std::string> argv = {testutil::BinDir() + "/galaxy-client", "--server",
                                     absl::StrCat("127.0.0.1:", server_->port())};
    argv.insert(argv.end(), global.begin(), global.end());
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(argv, absl::Seconds(120));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testutil::CommandResult();
  }

  // A failure: exit 1 and exactly one line on stderr, containing `text`.
  void ExpectOneLineError(const testutil::CommandResult& r, const std::string& text) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    std::vector<std::string> lines = absl::StrSplit(r.err, '\n', absl::SkipEmpty());
    EXPECT_EQ(lines.size(), 1u) << r.err;
    EXPECT_TRUE(absl::StrContains(r.err, text)) << r.err;
  }

  std::string Id(int row) const { return absl::StrCat(testutil::SurveyIds()[static_cast<size_t>(row)]); }

  // Headless Chromium's screenshot of the page at `url` (width x height) into `png`; returns how
  // many of its pixels are coloured (channels more than 40 apart): galaxy composites are, the
  // pages' text and backgrounds are grey. -1 (and a failure) when there is no screenshot.
  int64_t ColouredPixelsOfScreenshot(const std::string& url, const std::string& png, int width, int height) {
    const std::string chromium = "/usr/bin/chromium";
    EXPECT_TRUE(std::filesystem::exists(chromium)) << "Debian's chromium is a test dependency (deploy/install-deps.sh)";
    absl::StatusOr<testutil::CommandResult> taken = testutil::RunCommand(
        {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         absl::StrCat("--window-size=", width, ",", height), "--virtual-time-budget=5000",
         "--user-data-dir=" + dir_.File("chromium-profile"), "--screenshot=" + png, url},
        absl::Seconds(120));
    EXPECT_TRUE(taken.ok()) << taken.status();
    if (!taken.ok()) return -1;
    EXPECT_EQ(taken->exit_code, 0) << taken->err;
    int w = 0, h = 0, channels = 0;
    unsigned char* rgb = stbi_load(png.c_str(), &w, &h, &channels, 3);
    EXPECT_NE(rgb, nullptr) << "the screenshot is not a PNG";
    if (rgb == nullptr) return -1;
    EXPECT_EQ(w, width);
    EXPECT_EQ(h, height);
    int64_t coloured = 0;
    for (int i = 0; i < w * h; ++i) {
      const int r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
      if (std::max({r, g, b}) - std::min({r, g, b}) > 40) ++coloured;
    }
    stbi_image_free(rgb);
    return coloured;
  }


  testutil::ScopedTempDir dir_;
  std::unique_ptr<GalaxyServer> server_;
};

}  // namespace galaxy

#endif  // GALAXY_TESTS_CLIENT_CLI_FIXTURE_H_
