// Deployment files: the Dockerfiles build with the very scripts CI runs, the compose file is
// valid (where a docker client exists), and the example configuration is one galaxy-server reads.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

std::string Source(const std::string& relative) {
  std::ifstream in(std::string(GALAXY_SOURCE_DIR) + "/" + relative);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DeployTest, DockerfilesBuildWithCisOwnScripts) {
  // CI: .ci/run -> deploy/test.sh -> deploy/install-deps.sh, deploy/build.sh.
  EXPECT_TRUE(absl::StrContains(Source(".ci/run"), "deploy/test.sh"));
  const std::string test = Source("deploy/test.sh");
  EXPECT_TRUE(absl::StrContains(test, "deploy/install-deps.sh"));
  EXPECT_TRUE(absl::StrContains(test, "deploy/build.sh"));
  for (const char* file : {"deploy/Dockerfile", "deploy/Dockerfile.cuda"}) {
    const std::string docker = Source(file);
    ASSERT_FALSE(docker.empty()) << file;
    EXPECT_TRUE(absl::StrContains(docker, "RUN GALAXY_DEPS_QUIET=1 deploy/install-deps.sh")) << file;
    EXPECT_TRUE(absl::StrContains(docker, "deploy/build.sh")) << file;
    EXPECT_TRUE(absl::StrContains(docker, "install-deps.sh --runtime")) << file;
    EXPECT_TRUE(absl::StrContains(docker, "useradd --system --uid 10001")) << file;
    EXPECT_TRUE(absl::StrContains(docker, "\nUSER 10001:10001\n")) << file << ": the runtime user is not root";
    EXPECT_TRUE(absl::StrContains(docker, "HEALTHCHECK")) << file;
    EXPECT_TRUE(absl::StrContains(docker, "health\", \"--service\", \"galaxy.v1.GalaxySearch\"")) << file;
  }
}

TEST(DeployTest, ComposeFileValidatesWhereDockerExists) {
  const std::string compose = std::string(GALAXY_SOURCE_DIR) + "/deploy/docker-compose.yml";
  if (std::system("docker compose version >/dev/null 2>&1") != 0) {
    // No docker client on this machine (CI's machines have none): check what can be checked.
    const std::string text = Source("deploy/docker-compose.yml");
    EXPECT_TRUE(absl::StrContains(text, "dockerfile: deploy/Dockerfile"));
    EXPECT_TRUE(absl::StrContains(text, "snapshots:/var/lib/galaxy/snapshots"));
    GTEST_SKIP() << "no docker client: `docker compose config` not run";
  }
  absl::StatusOr<testutil::CommandResult> r =
      testutil::RunCommand({"/bin/sh", "-c", "docker compose -f '" + compose + "' config --quiet"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->err;
}

TEST(DeployTest, TheExampleConfigurationIsOneTheServerReads) {
  testutil::ScopedTempDir dir;
  // The example with the snapshots directory pointed somewhere that exists, and --help-free
  // validation: the server starts (NOT_SERVING, nothing published) and stops on SIGTERM.
  std::string config = Source("deploy/galaxy-server.conf.example");
  ASSERT_FALSE(config.empty());
  const std::string from = "snapshots = \"/var/lib/galaxy/snapshots\"";
  ASSERT_TRUE(absl::StrContains(config, from));
  config.replace(config.find(from), from.size(), "snapshots = \"" + dir.File("snapshots") + "\"");
  const std::string listen = "listen = \"127.0.0.1:50051\"";
  config.replace(config.find(listen), listen.size(), "listen = \"127.0.0.1:0\"");
  std::ofstream(dir.File("server.conf")) << config;
  absl::StatusOr<std::unique_ptr<testutil::ServerProcess>> server =
      testutil::ServerProcess::Start({"--config", dir.File("server.conf"), "--device", "cpu"});
  ASSERT_TRUE(server.ok()) << server.status();
  absl::StatusOr<int> code = (*server)->Stop(SIGTERM);
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 0) << (*server)->Log();
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

// The README's first command, small: it installs (a no-op here), builds (up to date), trains a
// small model, indexes, serves, queries every RPC from the CLI and Python, writes the galleries
// and checks one in headless Chromium. The test then looks at the page and the screenshot itself.
TEST(DemoTest, TheFirstCommandLeavesAGalleryThatRendersInChromium) {
  testutil::ScopedTempDir dir;
  const std::string out = dir.File("demo");
  absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(
      {"/usr/bin/env", "GALAXY_DEMO_DIR=" + out, "GALAXY_DEMO_COUNT=3000", "GALAXY_DEMO_PRETRAIN_STEPS=40",
       "GALAXY_DEMO_FINETUNE_EPOCHS=2", "GALAXY_DEPS_QUIET=1", std::string(GALAXY_SOURCE_DIR) + "/deploy/demo.sh"},
      absl::Minutes(20));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->exit_code, 0) << r->out.substr(r->out.size() > 3000 ? r->out.size() - 3000 : 0) << r->err;
  EXPECT_TRUE(absl::StrContains(r->out, "images decoded]")) << "the demo's own Chromium check";
  EXPECT_TRUE(absl::StrContains(r->out, "web explorer: http://127.0.0.1:")) << "the demo prints the explorer's URL";
  EXPECT_TRUE(absl::StrContains(r->out, "bytes of PNG")) << "the demo's HTTP/JSON step";
  EXPECT_TRUE(absl::StrContains(r->out, "= the galaxy itself")) << "the Python example's image query";
  EXPECT_TRUE(absl::StrContains(r->out, "STATE_SUCCEEDED")) << "the rebuild";
  EXPECT_TRUE(absl::StrContains(r->out, "of the top 20 are mergers")) << "the few-shot search";
  std::ifstream html(out + "/similar.html");
  std::stringstream text;
  text << html.rdbuf();
  size_t images = 0;
  for (size_t at = text.str().find("data:image/png;base64,"); at != std::string::npos;
       at = text.str().find("data:image/png;base64,", at + 1)) {
    ++images;
  }
  EXPECT_EQ(images, 13u) << "the query and its 12 neighbours";
  std::ifstream png(out + "/similar.png", std::ios::binary);
  std::string head(8, '\0');
  png.read(head.data(), 8);
  EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8)) << "the Chromium screenshot";
  // The example notebook, executed against the demo's server: its galleries are in the page.
  std::ifstream notebook(out + "/quickstart.html");
  std::stringstream page;
  page << notebook.rdbuf();
  EXPECT_TRUE(absl::StrContains(page.str(), "galaxy-search-gallery")) << "the notebook's galleries";
  EXPECT_FALSE(absl::StrContains(page.str(), "Traceback")) << "a cell of the notebook failed";
}

}  // namespace
}  // namespace galaxy
