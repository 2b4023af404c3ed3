// The Python client (client/python) against a live server: its example script from the source
// tree, the package installed with pip into a fresh virtual environment (its own tests run
// there), and the example notebook executed by nbconvert and rendered in Chromium.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "tests/client_cli_fixture.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

TEST(PythonClientFixture, Build) {
  EXPECT_TRUE(fs::exists(testutil::SharedServingFixture().snapshots + "/v1/manifest.json"));
}

class PythonClientCliTest : public ClientCliTest {
 protected:
  // The Python package as users install it: a copy of what its build reads (so that the build's
  // files land outside the source tree), pip, offline, into a fresh virtual environment (venv_)
  // that sees Debian's grpcio, protobuf, numpy, astropy and pandas.
  void InstallPythonPackage() {
    const std::string source = GALAXY_SOURCE_DIR;
    const std::string tree = dir_.File("tree");
    fs::create_directories(tree + "/client");
    fs::copy(source + "/client/python", tree + "/client/python", fs::copy_options::recursive);
    fs::copy(source + "/proto", tree + "/proto", fs::copy_options::recursive);
    fs::copy(source + "/CMakeLists.txt", tree + "/CMakeLists.txt");
    venv_ = dir_.File("venv");
    testutil::CommandResult made = InVenv({"/usr/bin/python3", "-m", "venv", "--system-site-packages", venv_});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    testutil::CommandResult installed =
        InVenv({venv_ + "/bin/pip", "install", "--no-build-isolation", "--no-index", tree + "/client/python"});
    ASSERT_EQ(installed.exit_code, 0) << installed.out << installed.err;
    EXPECT_TRUE(absl::StrContains(installed.out, "Successfully installed galaxy-search-0.1.0+proto."))
        << installed.out;
  }

  // Runs `argv` with only `env` and PATH (the virtual environment's bin/ first), HOME and an
  // unused cache directory set, and pip told to download nothing.
  testutil::CommandResult InVenv(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
    std::vector<std::string> all = {"/usr/bin/env", "-i", "PATH=" + dir_.File("venv") + "/bin:/usr/bin:/bin",
                                    "HOME=" + dir_.File("home"), "XDG_CACHE_HOME=" + dir_.File("no-cache"),
                                    "PIP_NO_INDEX=1"};
    all.insert(all.end(), env.begin(), env.end());
    all.insert(all.end(), argv.begin(), argv.end());
    absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(all, absl::Seconds(300));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : testutil::CommandResult();
  }

  std::string venv_;

  // How many PNG data URIs `page` holds (the galleries' images).
  static int PngImagesIn(const std::string& page) {
    int images = 0;
    for (size_t at = page.find("data:image/png;base64,"); at != std::string::npos;
         at = page.find("data:image/png;base64,", at + 1)) {
      ++images;
    }
    return images;
  }

};

// The Python client's example (client/python/example.py) against the live server: it generates
// the API modules from the proto into a fresh cache, queries by ID, by a numpy image and by
// several examples, and exits 0 only when the image query finds the galaxy itself and no
// example comes back from the recommendation.
TEST_F(PythonClientCliTest, ExampleRunsAgainstALiveServer) {
  const std::string source = GALAXY_SOURCE_DIR;
  absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(
      {"/usr/bin/env", "PYTHONPATH=" + source + "/client/python", "XDG_CACHE_HOME=" + dir_.File("cache"),
       "/usr/bin/python3", source + "/client/python/example.py", "--server",
       absl::StrCat("127.0.0.1:", server_->port()), "--id", Id(12)},
      absl::Seconds(120));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 0) << r->out << r->err;
  EXPECT_TRUE(absl::StrContains(r->out, "the 5 galaxies most like " + Id(12))) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "= the galaxy itself")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "(no example among them)")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "ranked 1497 galaxies by a classifier of 3 positives and 1000 negatives"))
      << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "labelled 3 galaxies; ranked from the label")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "exported 3 labels as CSV; deleted 3")) << r->out;
  EXPECT_TRUE(absl::StrContains(r->out, "an unknown ID: NOT_FOUND: galaxy 42 is not in snapshot v1")) << r->out;
  EXPECT_TRUE(fs::exists(dir_.File("cache")));
}

// The package as users install it (InstallPythonPackage): the API modules come generated
// inside it (imported with no protoc on PATH and no cache), its own tests pass against the
// installed package, and the example runs against the live server from it.
TEST_F(PythonClientCliTest, PackageInstallsOfflineIntoAVirtualEnvironment) {
  const std::string source = GALAXY_SOURCE_DIR;
  ASSERT_NO_FATAL_FAILURE(InstallPythonPackage());
  // Imported from outside the tree, with a PATH that has no protoc: the modules are the package's.
  const std::string bin = dir_.File("bin-without-protoc");
  fs::create_directories(bin);
  std::vector<std::string> argv = {"/usr/bin/env", "-i", "PATH=" + bin, "HOME=" + dir_.File("home"),
                                   "XDG_CACHE_HOME=" + dir_.File("no-cache"), venv_ + "/bin/python", "-c",
                                   "import galaxy_search, galaxy_search._api as api\n"
                                   "print(galaxy_search.galaxy_pb2.__name__, len(api.PROTO_SHA256),\n"
                                   "      galaxy_search.__version__.startswith('0.1.0+proto.'))"};
  absl::StatusOr<testutil::CommandResult> imported = testutil::RunCommand(argv, absl::Seconds(60));
  ASSERT_TRUE(imported.ok()) << imported.status();
  EXPECT_EQ(imported->exit_code, 0) << imported->err;
  EXPECT_EQ(imported->out, "galaxy_search._api.galaxy_pb2 64 True\n");
  // The package's tests and the example from directories of their own (a script's directory
  // comes first on sys.path: from the tree, they would import the package's sources instead).
  fs::copy(source + "/client/python/tests", dir_.File("tests"), fs::copy_options::recursive);
  testutil::CommandResult tests =
      InVenv({venv_ + "/bin/python", "-m", "unittest", "discover", "-s", dir_.File("tests")});
  EXPECT_EQ(tests.exit_code, 0) << tests.out << tests.err;
  EXPECT_TRUE(absl::StrContains(tests.err, "\nOK")) << tests.err;
  fs::create_directories(dir_.File("run"));
  fs::copy(source + "/client/python/example.py", dir_.File("run/example.py"));
  testutil::CommandResult example = InVenv({venv_ + "/bin/python", dir_.File("run/example.py"), "--server",
                                            absl::StrCat("127.0.0.1:", server_->port()), "--id", Id(12)});
  EXPECT_EQ(example.exit_code, 0) << example.out << example.err;
  EXPECT_TRUE(absl::StrContains(example.out, "= the galaxy itself")) << example.out;
  EXPECT_FALSE(fs::exists(dir_.File("no-cache"))) << "the installed package generated its modules again";
}

// The example notebook (client/python/examples/quickstart.ipynb), executed by nbconvert in a
// kernel of the virtual environment against the live server: every cell runs (its own asserts
// included), its answers show as galleries of PNG composites, and the page rendered in Chromium
// shows them in colour.
TEST_F(PythonClientCliTest, NotebookRunsAgainstALiveServerAndItsGalleriesRender) {
  const std::string source = GALAXY_SOURCE_DIR;
  ASSERT_NO_FATAL_FAILURE(InstallPythonPackage());
  // A kernel that runs the virtual environment's python (Debian's "python3" kernel runs /usr/bin/python3).
  testutil::CommandResult kernel = InVenv({venv_ + "/bin/python", "-m", "ipykernel", "install", "--prefix", venv_,
                                           "--name", "galaxy-search-venv"});
  ASSERT_EQ(kernel.exit_code, 0) << kernel.out << kernel.err;
  fs::create_directories(dir_.File("notebook"));
  fs::copy(source + "/client/python/examples/quickstart.ipynb", dir_.File("notebook/quickstart.ipynb"));
  testutil::CommandResult executed =
      InVenv({venv_ + "/bin/python", "-m", "nbconvert", "--to", "notebook", "--execute",
              "--ExecutePreprocessor.kernel_name=galaxy-search-venv", "--ExecutePreprocessor.timeout=240",
              "--output", "executed", dir_.File("notebook/quickstart.ipynb")},
             {absl::StrCat("GALAXY_SERVER=127.0.0.1:", server_->port()), "GALAXY_QUERY_ID=" + Id(12)});
  ASSERT_EQ(executed.exit_code, 0) << executed.out << executed.err;

  std::ifstream in(dir_.File("notebook/executed.ipynb"));
  const nlohmann::json notebook = nlohmann::json::parse(in);
  std::string text;
  int images = 0, galleries = 0;
  for (const nlohmann::json& cell : notebook["cells"]) {
    if (cell["cell_type"] != "code") continue;
    for (const nlohmann::json& output : cell["outputs"]) {
      EXPECT_NE(output["output_type"], "error") << output.dump();
      if (output.contains("text")) {
        for (const auto& line : output["text"]) text += line.get<std::string>();
      }
      if (!output.contains("data") || !output["data"].contains("text/html")) continue;
      std::string page;
      for (const auto& line : output["data"]["text/html"]) page += line.get<std::string>();
      if (absl::StrContains(page, "galaxy-search-gallery")) ++galleries;
      images += PngImagesIn(page);
    }
  }
  // The package is the virtual environment's; the answers are the server's.
  EXPECT_TRUE(absl::StrContains(text, "galaxy_search 0.1.0+proto.")) << text;
  EXPECT_TRUE(absl::StrContains(text, "from " + venv_ + "/lib/")) << text;
  EXPECT_TRUE(absl::StrContains(text, "snapshot v1: 1500 galaxies")) << text;
  EXPECT_TRUE(absl::StrContains(text, "the position matched " + Id(12))) << text;
  EXPECT_TRUE(absl::StrContains(text, "1497 galaxies ranked; classifier of 3 positives")) << text;
  EXPECT_TRUE(absl::StrContains(text, "40 queries answered; redshifts of 40 galaxies")) << text;
  // Galleries: 8 anomalies; the query and its 11 neighbours; the galaxy; 12 ranked.
  EXPECT_EQ(galleries, 4);
  EXPECT_EQ(images, 8 + 12 + 1 + 12);

  testutil::CommandResult html = InVenv({venv_ + "/bin/python", "-m", "nbconvert", "--to", "html",
                                         dir_.File("notebook/executed.ipynb")});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  const int64_t coloured = ColouredPixelsOfScreenshot("file://" + dir_.File("notebook/executed.html"),
                                                      dir_.File("notebook/executed.png"), 1100, 2200);
  if (const char* keep = std::getenv("GALAXY_NOTEBOOK_SCREENSHOT")) {
    fs::copy_file(dir_.File("notebook/executed.png"), keep, fs::copy_options::overwrite_existing);
  }
  // The first 2200 px hold the anomalies' and the neighbours' galleries: 20 images of 128 x 128.
  EXPECT_GT(coloured, 20 * 2000) << "the galleries should show in colour";
}

}  // namespace
}  // namespace galaxy
