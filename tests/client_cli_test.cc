// Every galaxy-client command against a live server (tests/client_cli_fixture.h) over the serving
// fixture's snapshots: tables, --json, --html galleries, images from HDF5, .npy and FITS files,
// admin commands, tokens and TLS, and errors shown as one line with a non-zero exit. The Python
// client's: tests/python_client_cli_test.cc.
#include <fitsio.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "data/hdf5_dataset.h"
#include "data/npy.h"
#include "nlohmann/json.hpp"
#include "tests/client_cli_fixture.h"
#include "tests/serving_fixture.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"
#include "tests/test_certificates.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

using testutil::SurveyIds;

TEST(ClientFixture, Build) {
  EXPECT_TRUE(fs::exists(testutil::SharedServingFixture().snapshots + "/v1/manifest.json"));
}

TEST_F(ClientCliTest, InfoHealthServices) {
  testutil::CommandResult info = Client({"info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_TRUE(absl::StrContains(info.out, "snapshot           v1")) << info.out;
  EXPECT_TRUE(absl::StrContains(info.out, "galaxies           1500")) << info.out;
  EXPECT_TRUE(absl::StrContains(info.out, "with redshift head")) << info.out;
  EXPECT_TRUE(absl::StrContains(info.out, "index kind         flat\n")) << info.out;
  testutil::CommandResult json = Client({"info"}, {"--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(nlohmann::json::parse(json.out)["snapshot_version"], "v1");
  testutil::CommandResult health = Client({"health", "--service", "galaxy.v1.GalaxySearch"});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_TRUE(absl::StrContains(health.out, "SERVING"));
  testutil::CommandResult services = Client({"services"});
  EXPECT_TRUE(absl::StrContains(services.out, "galaxy.v1.GalaxyAdmin: RebuildIndex, GetRebuildStatus, ReloadSnapshot"))
      << services.out;
}

TEST_F(ClientCliTest, SimilarByIdImagePositionWithFiltersJsonAndGallery) {
  testutil::CommandResult table = Client({"similar", "--id", Id(3), "--k", "5"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  std::vector<std::string> lines = absl::StrSplit(table.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 7u) << table.out;  // title, header, 5 rows
  EXPECT_TRUE(absl::StrContains(lines[0], "5 neighbours of galaxy " + Id(3))) << lines[0];
  for (size_t i = 2; i < lines.size(); ++i) {
    EXPECT_FALSE(absl::StrContains(lines[i], Id(3))) << "the query itself is not a neighbour: " << lines[i];
  }

  // By image (an HDF5 row) and by position: the same galaxy and neighbours.
  testutil::CommandResult by_image = Client({"similar", "--image", testutil::SharedServingFixture().survey,
                                             "--row", "3", "--k", "6"}, {"--json"});
  ASSERT_EQ(by_image.exit_code, 0) << by_image.err;
  nlohmann::json image = nlohmann::json::parse(by_image.out);
  EXPECT_EQ(image["neighbors"][0]["id"], Id(3));  // int64 is a JSON string in proto3's mapping
  testutil::CommandResult record = Client({"galaxy", "--id", Id(3)}, {"--json"});
  nlohmann::json g = nlohmann::json::parse(record.out);
  testutil::CommandResult by_position = Client({"similar", "--ra", absl::StrCat(g["ra"].get<double>()), "--dec",
                                                absl::StrCat(g["dec"].get<double>()), "--k", "5"}, {"--json"});
  ASSERT_EQ(by_position.exit_code, 0) << by_position.err;
  nlohmann::json position = nlohmann::json::parse(by_position.out);
  EXPECT_EQ(position["query_id"], Id(3));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(position["neighbors"][i]["id"], image["neighbors"][i + 1]["id"]);

  // Filters.
  testutil::CommandResult filtered = Client({"similar", "--id", Id(3), "--k", "8", "--z-min", "0.1", "--z-max", "0.2",
                                             "--z-source", "spec", "--exclude", Id(4), "--exclude", Id(5)},
                                            {"--json"});
  ASSERT_EQ(filtered.exit_code, 0) << filtered.err;
  nlohmann::json f = nlohmann::json::parse(filtered.out);
  ASSERT_EQ(f["neighbors"].size(), 8u);
  for (const auto& n : f["neighbors"]) {
    EXPECT_GE(n["galaxy"]["specz"].get<double>(), 0.1 - 1e-6);
    EXPECT_LE(n["galaxy"]["specz"].get<double>(), 0.2 + 1e-6);
    EXPECT_NE(n["id"], Id(4));
  }

  // The gallery: a self-contained page with the query and every neighbour as an embedded PNG.
  const std::string html = dir_.File("similar.html");
  testutil::CommandResult gallery = Client({"similar", "--id", Id(3), "--k", "6", "--html", html});
  ASSERT_EQ(gallery.exit_code, 0) << gallery.err;
  const std::string page = testutil::ReadFile(html);
  size_t images = 0;
  for (size_t at = page.find("src=\"data:image/png;base64,"); at != std::string::npos;
       at = page.find("src=\"data:image/png;base64,", at + 1)) {
    ++images;
  }
  EXPECT_EQ(images, 7u);
  EXPECT_TRUE(absl::StrContains(page, "Galaxies like " + Id(3)));
  EXPECT_FALSE(absl::StrContains(page, "no image"));
}

TEST_F(ClientCliTest, RecommendFromSeveralExamples) {
  // Average vector: like galaxies 3 and 4, unlike 5; no example comes back.
  testutil::CommandResult average = Client(
      {"recommend", "--positive", Id(3), "--positive", Id(4), "--negative", Id(5), "--k", "6"}, {"--json"});
  ASSERT_EQ(average.exit_code, 0) << average.err;
  nlohmann::json a = nlohmann::json::parse(average.out);
  ASSERT_EQ(a["neighbors"].size(), 6u) << average.out;
  for (const auto& n : a["neighbors"]) {
    for (int example : {3, 4, 5}) EXPECT_NE(n["id"], Id(example));
  }
  // Best score with an image example (row 0 of the survey, galaxy 0 itself, which no ID
  // excludes): galaxy 0 is the best match of that example, so it comes first.
  testutil::CommandResult best =
      Client({"recommend", "--positive", Id(3), "--positive-image", testutil::SharedServingFixture().survey,
              "--positive-weight", "1", "--positive-weight", "1.5", "--strategy", "best-score", "--k", "5"},
             {"--json"});
  ASSERT_EQ(best.exit_code, 0) << best.err;
  nlohmann::json b = nlohmann::json::parse(best.out);
  ASSERT_EQ(b["neighbors"].size(), 5u) << best.out;
  EXPECT_EQ(b["neighbors"][0]["id"], Id(0));
  EXPECT_GT(b["neighbors"][0]["score"].get<double>(), 1.4);  // weight 1.5 x similarity ~1
  // The table.
  testutil::CommandResult table = Client({"recommend", "--positive", Id(3), "--k", "3"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "3 galaxies for 1 positive and 0 negative examples (average)"))
      << table.out;
  // Mistakes: named, one line, exit 1.
  testutil::CommandResult weights =
      Client({"recommend", "--positive", Id(3), "--positive-weight", "1", "--positive-weight", "2"});
  EXPECT_EQ(weights.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(weights.err, "--positive-weight: 2 weights for 1 positive examples")) << weights.err;
  testutil::CommandResult unknown = Client({"recommend", "--positive", Id(3), "--negative", "42"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(unknown.err, "negatives[0]: galaxy 42 is not in snapshot")) << unknown.err;
  // Diversity flags reach the server, and a bad lambda is named.
  testutil::CommandResult diverse =
      Client({"similar", "--id", Id(3), "--k", "5", "--mmr", "0.5", "--sky-duplicates", "2"}, {"--json"});
  ASSERT_EQ(diverse.exit_code, 0) << diverse.err;
  EXPECT_EQ(nlohmann::json::parse(diverse.out)["neighbors"].size(), 5u);
  testutil::CommandResult bad_mmr = Client({"recommend", "--positive", Id(3), "--mmr", "2"});
  EXPECT_EQ(bad_mmr.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad_mmr.err, "diversity.mmr_lambda: 2 is outside [0, 1]")) << bad_mmr.err;
  testutil::CommandResult none = Client({"recommend", "--negative", Id(3)});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(none.err, "give --positive and/or --positive-image")) << none.err;
}

TEST_F(ClientCliTest, RankTheCatalogFromExamples) {
  // Ten examples, random negatives; the whole ranking as JSON, in one message however many pages
  // the server streamed.
  std::vector<std::string> args = {"rank", "--top", "0", "--seed", "4"};
  for (int i = 0; i < 10; ++i) {
    args.push_back("--positive");
    args.push_back(Id(i));
  }
  testutil::CommandResult all = Client(args, {"--json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  nlohmann::json a = nlohmann::json::parse(all.out);
  ASSERT_EQ(a["galaxies"].size(), testutil::kServingGalaxies - 10u);
  EXPECT_EQ(a["total_count"], "1490");  // 64-bit integers are strings in protobuf's JSON
  EXPECT_EQ(a["classifier"]["positives"], 10);
  EXPECT_EQ(a["classifier"]["negatives"], 1000);
  EXPECT_EQ(a["galaxies"][1489]["rank"], "1490");
  for (int i = 0; i < 10; ++i) EXPECT_NE(a["galaxies"][0]["id"], Id(i));
  // The top 5 as a table and a CSV file: the same galaxies in the same order.
  args[2] = "5";
  args.push_back("--csv");
  args.push_back(dir_.File("rank.csv"));
  testutil::CommandResult table = Client(args);
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "5 of 1490 galaxies ranked by a classifier of 10 positive and 1000 negative"))
      << table.out;
  std::ifstream csv(dir_.File("rank.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "rank,id,probability,ra,dec,specz,zphot,anomaly_percentile");
  for (int rank = 1; rank <= 5; ++rank) {
    ASSERT_TRUE(std::getline(csv, line));
    const std::string id = a["galaxies"][rank - 1]["id"].get<std::string>();
    EXPECT_TRUE(absl::StartsWith(line, absl::StrCat(rank, ",", id, ","))) << line;
  }
  EXPECT_FALSE(std::getline(csv, line));
  // Mistakes: named, one line, exit 1.
  ExpectOneLineError(Client({"rank", "--negative", Id(3)}), "give --positive, --positive-image, --positive-label");
  ExpectOneLineError(Client({"rank", "--positive", Id(3), "--regularization", "0"}),
                     "regularization: 0 is outside (0, 10000]");
}

TEST_F(ClientCliTest, LabelListExportRankAndUnlabel) {
  ASSERT_EQ(Client({"label", "--id", Id(1), "--id", Id(2), "--class", "spiral, barred", "--comment", "looks \"odd\""})
                .exit_code,
            0);
  testutil::CommandResult bad = Client({"label", "--id", Id(3), "--interest", "meh"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(bad.err, "--interest: 'meh' is not interesting or not-interesting")) << bad.err;
  ASSERT_EQ(Client({"label", "--id", Id(3), "--interest", "not-interesting", "--author", "ada"}).exit_code, 0);
  testutil::CommandResult table = Client({"labels"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "3 labels")) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "not interesting")) << table.out;
  testutil::CommandResult mine = Client({"labels", "--author", "ada"}, {"--json"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_EQ(nlohmann::json::parse(mine.out)["labels"].size(), 1u);
  // CSV export to a file, quoted where the text needs it.
  testutil::CommandResult exported = Client({"export-labels", "--out", dir_.File("labels.csv")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::ifstream csv(dir_.File("labels.csv"));
  std::stringstream text;
  text << csv.rdbuf();
  EXPECT_TRUE(absl::StrContains(text.str(), absl::StrCat(Id(1), ",\"spiral, barred\",,anonymous,"))) << text.str();
  EXPECT_TRUE(absl::StrContains(text.str(), ",\"looks \"\"odd\"\"\"\r\n")) << text.str();
  EXPECT_FALSE(std::filesystem::exists(dir_.File("labels.csv.tmp")));
  // The labelled galaxies as the examples of a ranking.
  testutil::CommandResult ranked = Client({"rank", "--positive-label", "spiral, barred", "--top", "3"}, {"--json"});
  ASSERT_EQ(ranked.exit_code, 0) << ranked.err;
  EXPECT_EQ(nlohmann::json::parse(ranked.out)["classifier"]["positives"], 2);
  // Galaxy 3, marked not interesting, is scored down in the re-ranked anomaly listing.
  testutil::CommandResult reranked = Client({"list-anomalies", "--top", "5", "--rerank-by-labels"});
  ASSERT_EQ(reranked.exit_code, 0) << reranked.err;
  EXPECT_TRUE(absl::StrContains(reranked.out, "re-ranked by labels")) << reranked.out;
  EXPECT_TRUE(absl::StrContains(reranked.out, "after labels")) << reranked.out;
  // Delete: the anonymous labels, then ada's.
  testutil::CommandResult gone = Client({"unlabel", "--id", Id(1), "--id", Id(2), "--class", "spiral, barred"});
  ASSERT_EQ(gone.exit_code, 0) << gone.err;
  EXPECT_TRUE(absl::StrContains(gone.out, "2 labels deleted")) << gone.out;
  ASSERT_EQ(Client({"unlabel", "--id", Id(3), "--author", "ada"}).exit_code, 0);
  EXPECT_TRUE(absl::StrContains(Client({"labels"}).out, "0 labels"));
}

TEST_F(ClientCliTest, ImagesFromNpyFitsAndHdf5FilesWithTheirBandNames) {
  const v1::Image image = testutil::SurveyImage(7);
  const std::vector<float> pixels(reinterpret_cast<const float*>(image.data().data()),
                                  reinterpret_cast<const float*>(image.data().data()) + image.data().size() / 4);
  ASSERT_TRUE(WriteNpy(dir_.File("g.npy"), "<f4", {5, 64, 64}, pixels.data(), static_cast<int64_t>(pixels.size() * 4))
                  .ok());
  // A FITS cutout of `planes` 64 x 64 planes, its header naming them in BANDS when `bands_key` is set.
  const auto write_fits = [&](const std::string& name, const std::vector<float>& values, long planes,
                              const char* bands_key) {
    int status = 0;
    fitsfile* f = nullptr;
    fits_create_file(&f, dir_.File(name).c_str(), &status);
    long axes[3] = {64, 64, planes};
    fits_create_img(f, FLOAT_IMG, 3, axes, &status);
    fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(values.size()), const_cast<float*>(values.data()), &status);
    if (bands_key != nullptr) fits_write_key(f, TSTRING, "BANDS", const_cast<char*>(bands_key), nullptr, &status);
    fits_close_file(f, &status);
    ASSERT_EQ(status, 0) << name;
  };
  write_fits("g.fits", pixels, 5, nullptr);
  // The planes stored z, i, r, g, u, as its header says: the server picks the model's by name.
  const size_t plane = 64 * 64;
  std::vector<float> reversed(pixels.size());
  for (size_t b = 0; b < 5; ++b) {
    std::copy(pixels.begin() + b * plane, pixels.begin() + (b + 1) * plane, reversed.begin() + (4 - b) * plane);
  }
  write_fits("zirgu.fits", reversed, 5, "zirgu");
  const std::string e_bv = absl::StrCat(image.e_bv());
  // Without the header's names the reversed planes are another image.
  write_fits("unnamed.fits", reversed, 5, nullptr);
  std::map<std::string, double> top_score;
  for (const char* file : {"g.npy", "g.fits", "zirgu.fits", "unnamed.fits"}) {
    testutil::CommandResult r = Client({"similar", "--image", dir_.File(file), "--e-bv", e_bv, "--k", "1"}, {"--json"});
    ASSERT_EQ(r.exit_code, 0) << file << ": " << r.err;
    const nlohmann::json top = nlohmann::json::parse(r.out)["neighbors"][0];
    if (std::string(file) != "unnamed.fits") {
      EXPECT_EQ(top["id"], Id(7)) << file;
    }
    top_score[file] = top["score"].get<double>();
  }
  EXPECT_EQ(top_score["zirgu.fits"], top_score["g.fits"]);  // the same pixels reach the model
  EXPECT_NE(top_score["unnamed.fits"], top_score["g.fits"]);
  // A .npy names no bands: --bands does, in either spelling.
  ASSERT_TRUE(WriteNpy(dir_.File("zirgu.npy"), "<f4", {5, 64, 64}, reversed.data(),
                       static_cast<int64_t>(reversed.size() * 4))
                  .ok());
  // An HDF5 file of ours names its planes (attribute "bands"), and they go with the image.
  {
    absl::StatusOr<std::unique_ptr<DatasetReader>> survey = DatasetReader::Open(testutil::SharedServingFixture().survey);
    ASSERT_TRUE(survey.ok()) << survey.status();
    GalaxyBatch row;
    ASSERT_TRUE((*survey)->Read(7, 1, &row).ok());
    ASSERT_EQ(row.images, pixels);
    row.images = reversed;
    DatasetLayout layout = (*survey)->layout();
    layout.band_names = {"z", "i", "r", "g", "u"};
    absl::StatusOr<std::unique_ptr<DatasetWriter>> writer = DatasetWriter::Create(dir_.File("zirgu.h5"), layout);
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Append(row).ok());
    ASSERT_TRUE((*writer)->Commit().ok());
  }
  for (const std::vector<std::string>& query : std::vector<std::vector<std::string>>{
           {"zirgu.npy", "--bands", "zirgu"}, {"zirgu.npy", "--bands", "z, i, r, g, u"}, {"zirgu.npy", "--bands", "z i r g u"},
           {"zirgu.h5"},
           {"zirgu.fits", "--bands", "z,i,r,g,u"}}) {  // names that agree with the file's own are taken too
    std::vector<std::string> args = {"similar", "--image", dir_.File(query[0]), "--e-bv", e_bv, "--k", "1"};
    args.insert(args.end(), query.begin() + 1, query.end());
    testutil::CommandResult r = Client(args, {"--json"});
    ASSERT_EQ(r.exit_code, 0) << absl::StrJoin(query, " ") << ": " << r.err;
    const nlohmann::json top = nlohmann::json::parse(r.out)["neighbors"][0];
    EXPECT_EQ(top["id"], Id(7)) << absl::StrJoin(query, " ");
    EXPECT_EQ(top["score"].get<double>(), top_score["g.fits"]) << absl::StrJoin(query, " ");
  }
  // The examples of recommend and rank take --bands alike: the z-to-u .npy named so is the u-to-z
  // one, as a positive example (galaxy 7 first, with the same score) and as a ranking's (the same
  // ranking, probability for probability).
  for (const char* command : {"recommend", "rank"}) {
    const bool recommend = std::string(command) == "recommend";
    std::map<std::string, nlohmann::json> answers;
    for (const std::vector<std::string>& example : std::vector<std::vector<std::string>>{
             {"g.npy"}, {"zirgu.npy", "--bands", "zirgu"}, {"zirgu.npy"}}) {
      std::vector<std::string> args = {command, "--positive-image", dir_.File(example[0])};
      args.insert(args.end(), example.begin() + 1, example.end());
      if (recommend) {
        args.insert(args.end(), {"--k", "3"});
      } else {
        args.insert(args.end(), {"--top", "5", "--seed", "3"});
      }
      testutil::CommandResult r = Client(args, {"--json"});
      ASSERT_EQ(r.exit_code, 0) << absl::StrJoin(args, " ") << ": " << r.err;
      answers[absl::StrJoin(example, " ")] = nlohmann::json::parse(r.out);
    }
    const char* list = recommend ? "neighbors" : "galaxies";
    const char* value = recommend ? "score" : "probability";
    const nlohmann::json& plain = answers["g.npy"];
    const nlohmann::json& named = answers["zirgu.npy --bands zirgu"];
    if (recommend) {
      EXPECT_EQ(plain[list][0]["id"], Id(7));
    }
    ASSERT_EQ(named[list].size(), plain[list].size()) << command;
    for (size_t i = 0; i < plain[list].size(); ++i) {
      EXPECT_EQ(named[list][i]["id"], plain[list][i]["id"]) << command << " " << i;
      EXPECT_EQ(named[list][i][value], plain[list][i][value]) << command << " " << i;
    }
    EXPECT_NE(answers["zirgu.npy"][list], plain[list]) << command << ": unnamed reversed planes are another image";
  }
  ExpectOneLineError(Client({"rank", "--positive-image", dir_.File("g.npy"), "--bands", "grz"}),
                     "--bands names 3 bands (g, r, z) for an image of 5 in ");
  ExpectOneLineError(
      Client({"recommend", "--positive", Id(3), "--negative-image", dir_.File("zirgu.fits"), "--bands", "ugriz"}),
      "zirgu.fits is z by the file's own names (z, i, r, g, u); leave --bands out");
  // Names that do not fit the image or contradict the file's own are refused, naming both.
  ExpectOneLineError(Client({"similar", "--image", dir_.File("g.npy"), "--bands", "grz"}),
                     "--bands names 3 bands (g, r, z) for an image of 5 in ");
  ExpectOneLineError(Client({"predict-z", "--image", dir_.File("g.npy"), "--bands", "g,,r,i,z"}),
                     "--bands 'g,,r,i,z': name 2 is empty");
  ExpectOneLineError(Client({"anomaly", "--image", dir_.File("zirgu.fits"), "--bands", "ugriz"}),
                     "zirgu.fits is z by the file's own names (z, i, r, g, u); leave --bands out");
  // Three bands named g, r, z: the model's u and i are missing, and the error says so.
  write_fits("grz.fits", std::vector<float>(pixels.begin(), pixels.begin() + 3 * plane), 3, "grz");
  ExpectOneLineError(Client({"similar", "--image", dir_.File("grz.fits")}), "g, r, z; the model takes u, g, r, i, z, and u, i are not among them");
  ExpectOneLineError(Client({"similar", "--image", dir_.File("missing.npy")}), "missing.npy: no such file");
  // Bad FITS files get one clear line, never a crash or an unbounded allocation: a header byte
  // outside printable ASCII (cfitsio overflowed a field on one), axes a header made up, and a
  // file cut short.
  std::string bytes = testutil::ReadFile(dir_.File("g.fits"));
  std::string bad = bytes;
  bad[bytes.find("NAXIS1") + 12] = '\xde';
  std::ofstream(dir_.File("bytes.fits"), std::ios::binary) << bad;
  ExpectOneLineError(Client({"similar", "--image", dir_.File("bytes.fits")}), "header holds byte 0xde");
  bad = bytes;
  const size_t naxis1 = bad.find("NAXIS1  =");
  bad.replace(naxis1, 30, "NAXIS1  =              9999999");
  std::ofstream(dir_.File("huge.fits"), std::ios::binary) << bad;
  ExpectOneLineError(Client({"similar", "--image", dir_.File("huge.fits")}), "declares an image of 9999999 x 64 pixels");
  std::ofstream(dir_.File("short.fits"), std::ios::binary) << bytes.substr(0, 2880 + 4000);
  ExpectOneLineError(Client({"similar", "--image", dir_.File("short.fits")}), "the file holds 4000 after it (truncated?)");
  std::ofstream(dir_.File("g.png")) << "x";
  ExpectOneLineError(Client({"similar", "--image", dir_.File("g.png")}), "unknown image file type");
}

TEST_F(ClientCliTest, RedshiftAnomaliesAndRecords) {
  testutil::CommandResult z = Client({"predict-z", "--id", Id(1), "--id", Id(2), "--image",
                                      testutil::SharedServingFixture().survey, "--row", "1", "--pdf"},
                                     {"--json"});
  ASSERT_EQ(z.exit_code, 0) << z.err;
  nlohmann::json zj = nlohmann::json::parse(z.out);
  ASSERT_EQ(zj["predictions"].size(), 3u);
  EXPECT_EQ(zj["predictions"][0]["pdf"].size(), 180u);
  EXPECT_NEAR(zj["predictions"][0]["z_phot"].get<double>(), zj["predictions"][2]["z_phot"].get<double>(), 1e-3);
  testutil::CommandResult table = Client({"predict-z", "--id", Id(1)});
  EXPECT_TRUE(absl::StrContains(table.out, Id(1))) << table.out;
  ExpectOneLineError(Client({"predict-z", "--id", "42"}), "galaxy 42 is not in snapshot v1");

  testutil::CommandResult a = Client({"anomaly", "--id", Id(1), "--neighbors"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // The fixture's snapshot scores with the default, the Mahalanobis distance; the client says so
  // (it once called every score a mean cosine distance) and lists the neighbours under their k.
  EXPECT_TRUE(absl::StrContains(a.out, "(squared Mahalanobis distance from the catalog's mean), percentile")) << a.out;
  EXPECT_FALSE(absl::StrContains(a.out, "cosine")) << a.out;
  EXPECT_TRUE(absl::StrContains(a.out, "its 10 nearest:")) << a.out;
  testutil::CommandResult ai = Client({"anomaly", "--image", testutil::SharedServingFixture().survey}, {"--json"});
  ASSERT_EQ(ai.exit_code, 0) << ai.err;
  EXPECT_GE(nlohmann::json::parse(ai.out)["percentile"].get<double>(), 0);

  const std::string html = dir_.File("anomalies.html");
  testutil::CommandResult list = Client({"list-anomalies", "--top", "30", "--html", html}, {"--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  nlohmann::json lj = nlohmann::json::parse(list.out);
  ASSERT_EQ(lj["galaxies"].size(), 30u);
  for (size_t i = 1; i < 30; ++i) {
    EXPECT_LE(lj["galaxies"][i]["anomaly_score"].get<double>(), lj["galaxies"][i - 1]["anomaly_score"].get<double>());
  }
  const std::string page = testutil::ReadFile(html);
  EXPECT_TRUE(absl::StrContains(page, "The most anomalous galaxies"));
  EXPECT_TRUE(absl::StrContains(page, "Ranked by anomaly score (squared Mahalanobis distance from the catalog")) << page;

  testutil::CommandResult g = Client({"galaxy", "--id", Id(1)});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_TRUE(absl::StrContains(g.out, "dataset row        1")) << g.out;
  ExpectOneLineError(Client({"galaxy", "--id", "5"}), "server 127.0.0.1:");
}

TEST_F(ClientCliTest, RebuildReloadAndStatus) {
  testutil::CommandResult none = Client({"rebuild-status"});
  EXPECT_TRUE(absl::StrContains(none.out, "no rebuild has run")) << none.out;
  EXPECT_EQ(nlohmann::json::parse(Client({"info"}, {"--json"}).out)["model"]["features"], "EMBEDDING_FEATURES_BACKBONE");
  testutil::CommandResult rebuild = Client({"rebuild", "--data", testutil::SharedServingFixture().survey, "--index",
                                            "hnsw", "--param", "efSearch=64", "--features", "projection", "--wait"});
  ASSERT_EQ(rebuild.exit_code, 0) << rebuild.err;
  EXPECT_TRUE(absl::StrContains(rebuild.out, "STATE_SUCCEEDED")) << rebuild.out;
  testutil::CommandResult info = Client({"info"}, {"--json"});
  nlohmann::json ij = nlohmann::json::parse(info.out);
  EXPECT_NE(ij["snapshot_version"], "v1");
  EXPECT_EQ(ij["index_kind"], "INDEX_KIND_HNSW");
  EXPECT_EQ(ij["index_params"]["efSearch"], "64");
  EXPECT_EQ(ij["model"]["features"], "EMBEDDING_FEATURES_PROJECTION");
  EXPECT_TRUE(absl::StrContains(Client({"info"}).out, "(projection features)"));
  // Uploads are embedded as the index was: an image of galaxy 3 finds galaxy 3 first.
  testutil::CommandResult by_image = Client({"similar", "--image", testutil::SharedServingFixture().survey,
                                             "--row", "3", "--k", "2"}, {"--json"});
  ASSERT_EQ(by_image.exit_code, 0) << by_image.err;
  EXPECT_EQ(nlohmann::json::parse(by_image.out)["neighbors"][0]["id"], Id(3));
  testutil::CommandResult status = Client({"rebuild-status"});
  EXPECT_TRUE(absl::StrContains(status.out, "STATE_SUCCEEDED")) << status.out;
  testutil::CommandResult reload = Client({"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.err;
  EXPECT_TRUE(absl::StrContains(reload.out, "already serving")) << reload.out;
  ExpectOneLineError(Client({"rebuild", "--data", "/nonexistent.h5"}), "data_path: /nonexistent.h5 is not a file");
  ExpectOneLineError(Client({"rebuild", "--data", "x.h5", "--index", "lsh"}),
                     "--index: 'lsh' is not flat, hnsw, ivfpq or torch-flat");
  ExpectOneLineError(Client({"rebuild", "--data", "x.h5", "--features", "pixels"}),
                     "--features: 'pixels' is not backbone, projection or stages");
  // The Python client names the kind as the command line does: a torch-flat rebuild of every
  // stage's features, then its answers are the flat index's (the galaxy itself first, score 1).
  const std::string source = GALAXY_SOURCE_DIR;
  absl::StatusOr<testutil::CommandResult> python = testutil::RunCommand(
      {"/usr/bin/env", "PYTHONPATH=" + source + "/client/python", "XDG_CACHE_HOME=" + dir_.File("cache"),
       "/usr/bin/python3", "-c",
       absl::StrCat("import time\n"
                    "from galaxy_search import Client\n"
                    "with Client('127.0.0.1:", server_->port(), "') as c:\n"
                    "    c.rebuild('", testutil::SharedServingFixture().survey,
                    "', index_kind='torch-flat', features='stages')\n"
                    "    while c.rebuild_status().state == 1: time.sleep(0.2)\n"
                    "    s = c.rebuild_status()\n"
                    "    g = c.galaxy(", Id(7), ", include_embedding=True)\n"
                    "    r = c.similar(vector=list(g.embedding), k=3)\n"
                    "    print(s.state, c.info().index_kind, c.info().model.features, c.info().dimension,\n"
                    "          r.neighbors[0].id,\n"
                    "          round(r.neighbors[0].score, 4))\n"
                    "    for bad in [dict(index_kind='lsh'), dict(features='pixels')]:\n"
                    "        try:\n"
                    "            c.rebuild('x.h5', **bad)\n"
                    "        except ValueError as e:\n"
                    "            print(e)\n")},
      absl::Seconds(300));
  ASSERT_TRUE(python.ok()) << python.status();
  EXPECT_EQ(python->exit_code, 0) << python->err;
  EXPECT_TRUE(absl::StrContains(python->out, absl::StrCat("2 4 3 240 ", Id(7), " 1.0"))) << python->out << python->err;
  EXPECT_TRUE(absl::StrContains(python->out, "features 'pixels': expected one of backbone, projection, stages"))
      << python->out;
  EXPECT_TRUE(absl::StrContains(python->out, "index_kind 'lsh': expected one of flat, hnsw, ivfpq, torch-flat"))
      << python->out;
  testutil::CommandResult torch_info = Client({"info"}, {"--json"});
  EXPECT_EQ(nlohmann::json::parse(torch_info.out)["index_kind"], "INDEX_KIND_TORCH_FLAT");
  EXPECT_EQ(nlohmann::json::parse(torch_info.out)["model"]["features"], "EMBEDDING_FEATURES_STAGES");
  const std::string torch_info_text = Client({"info"}).out;
  EXPECT_TRUE(absl::StrContains(torch_info_text, "240 (stages features)")) << torch_info_text;
  EXPECT_TRUE(absl::StrContains(torch_info_text, "index kind         torch-flat\n")) << torch_info_text;
}

TEST_F(ClientCliTest, UsageAndConnectionErrorsAreOneLine) {
  ExpectOneLineError(Client({"similar", "--id", "1", "--ra", "10", "--dec", "2"}),
                     "give exactly one of --id, --image or --ra with --dec");
  ExpectOneLineError(Client({"similar", "--id", Id(1), "--cone-ra", "10"}), "give all three or none");
  ExpectOneLineError(Client({"similar", "--id", Id(1), "--k", "5000"}), "k: 5000 exceeds the limit 1000");
  ExpectOneLineError(Client({"anomaly"}), "give exactly one of --id or --image");
  absl::StatusOr<testutil::CommandResult> down = testutil::RunCommand(
      {testutil::BinDir() + "/galaxy-client", "--server", "127.0.0.1:1", "--timeout", "3", "info"});
  ASSERT_TRUE(down.ok());
  ExpectOneLineError(*down, "server 127.0.0.1:1");
}

TEST_F(ClientCliTest, TokensAndTls) {
  const std::string d = dir_.path().string();
  ASSERT_TRUE(testutil::MakeTestCertificates(d).ok());
  std::ofstream(d + "/tokens") << "search search-0123456789abcdef\nadmin admin-0123456789abcdef\n";
  std::ofstream(d + "/search-token") << "search-0123456789abcdef\n";
  Start([&](ServerOptions& o) {
    o.tls_cert = d + "/server.pem";
    o.tls_key = d + "/server.key";
    o.auth_token_file = d + "/tokens";
  });
  const std::vector<std::string> tls = {"--tls-ca", d + "/ca.pem"};
  std::vector<std::string> with_token = tls;
  with_token.insert(with_token.end(), {"--token-file", d + "/search-token"});
  testutil::CommandResult ok = Client({"info"}, with_token);
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(absl::StrContains(ok.out, "snapshot           v1"));
  ExpectOneLineError(Client({"info"}, tls), "missing 'authorization: Bearer <token>'");
  ExpectOneLineError(Client({"reload"}, with_token), "needs the admin token");
  std::vector<std::string> admin = tls;
  admin.insert(admin.end(), {"--token-file", d + "/tokens"});  // a server token file: its first token (search)
  ExpectOneLineError(Client({"reload"}, admin), "needs the admin token");
  std::ofstream(d + "/admin-token") << "# admin\nadmin admin-0123456789abcdef\n";
  std::vector<std::string> admin_only = tls;
  admin_only.insert(admin_only.end(), {"--token-file", d + "/admin-token"});
  EXPECT_EQ(Client({"reload"}, admin_only).exit_code, 0);
  testutil::CommandResult plain = Client({"--timeout", "3", "info"}, {"--token-file", d + "/search-token"});
  EXPECT_EQ(plain.exit_code, 1) << plain.out;
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

// The gallery in a real browser: headless Chromium loads the page without errors, every image
// decodes (the page's own script says so in its title), and the screenshot shows them.
TEST_F(ClientCliTest, GalleryRendersInHeadlessChromium) {
  const std::string html = dir_.File("gallery.html");
  ASSERT_EQ(Client({"similar", "--id", Id(11), "--k", "5", "--html", html}).exit_code, 0);
  const std::string chromium = "/usr/bin/chromium";
  ASSERT_TRUE(fs::exists(chromium)) << "Debian's chromium is a test dependency (deploy/install-deps.sh)";
  const std::vector<std::string> common = {chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                           "--hide-scrollbars", "--window-size=1200,700",
                                           "--virtual-time-budget=5000",
                                           "--user-data-dir=" + dir_.File("chromium-profile")};
  std::vector<std::string> dump = common;
  dump.insert(dump.end(), {"--dump-dom", "file://" + html});
  // Image decoding runs outside Chromium's virtual time, so on a loaded machine the DOM can be
  // dumped before the page's script has said anything: try again (3 times in all) until it says
  // "decoded" or "decode failed".
  absl::StatusOr<testutil::CommandResult> dom;
  std::string title;
  for (int attempt = 0; attempt < 3; ++attempt) {
    dom = testutil::RunCommand(dump, absl::Seconds(120));
    ASSERT_TRUE(dom.ok()) << dom.status();
    ASSERT_EQ(dom->exit_code, 0) << dom->err;
    const size_t open = dom->out.find("<title>"), close = dom->out.find("</title>");
    ASSERT_NE(open, std::string::npos) << dom->out.substr(0, 300);
    title = dom->out.substr(open, close - open);
    if (absl::StrContains(title, "images decoded]") || absl::StrContains(title, "decode failed]")) break;
  }
  EXPECT_TRUE(absl::StrContains(title, "[6 images decoded]")) << title;
  EXPECT_FALSE(absl::StrContains(dom->err, "Uncaught")) << dom->err;  // no script errors

  const int64_t coloured =
      ColouredPixelsOfScreenshot("file://" + html, dir_.File("gallery.png"), 1200, 700);
  EXPECT_GT(coloured, 6 * 2000) << "six galaxy images should show in colour";
}

}  // namespace
}  // namespace galaxy
