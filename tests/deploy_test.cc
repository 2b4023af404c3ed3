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
    EXPECT_TRUE(absl::StrContains(docker, "\nUSER galaxy\n")) << file << ": the runtime user is not root";
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
