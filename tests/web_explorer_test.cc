// The web explorer in a real browser: Debian's Chromium driven by playwright-core
// (tests/browser/explorer_test.mjs, npm packages installed by deploy/install-deps.sh) against a
// server on the serving fixture, with tokens. This test asks gRPC the same questions the
// browser will ask the page and hands the answers over; the script checks the page shows
// exactly them. GALAXY_EXPLORER_SCREENSHOTS=DIR keeps the page's screenshots (docs/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include <fitsio.h>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "data/npy.h"
#include "tests/served.h"
#include "tests/subprocess.h"
#include "tests/test_certificates.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
using testutil::Ctx;

constexpr char kToken[] = "search-explorer-0123456789";

std::unique_ptr<grpc::ClientContext> Authorized() {
  auto context = Ctx();
  context->AddMetadata("authorization", absl::StrCat("Bearer ", kToken));
  return context;
}

nlohmann::json Neighbours(const v1::SimilarGalaxiesResponse& answer) {
  nlohmann::json list = nlohmann::json::array();
  for (const v1::Neighbor& n : answer.neighbors()) list.push_back({{"id", absl::StrCat(n.id())}, {"score", n.score()}});
  return list;
}

// "hh:mm:ss.ss +dd:mm:ss.s", as a person would type it, and its value in degrees read back.
std::string Sexagesimal(double ra, double dec, double* ra_back, double* dec_back) {
  const auto split = [](double value, int decimals, int* whole, int* minutes, double* seconds) {
    *whole = static_cast<int>(value);
    *minutes = static_cast<int>((value - *whole) * 60);
    *seconds = std::round(((value - *whole) * 60 - *minutes) * 60 * std::pow(10, decimals)) / std::pow(10, decimals);
  };
  int h, m, d, dm;
  double s, ds;
  split(ra / 15, 2, &h, &m, &s);
  split(std::abs(dec), 1, &d, &dm, &ds);
  *ra_back = (h + m / 60.0 + s / 3600) * 15;
  *dec_back = (dec < 0 ? -1 : 1) * (d + dm / 60.0 + ds / 3600);
  return absl::StrFormat("%02d:%02d:%05.2f %c%02d:%02d:%04.1f", h, m, s, dec < 0 ? '-' : '+', d, dm, ds);
}

TEST(WebExplorerTest, SearchesOpensAGalaxyLabelsAnomaliesAndRanksInChromium) {
  const std::string source = GALAXY_SOURCE_DIR;
  const std::string script = source + "/tests/browser/explorer_test.mjs";
  ASSERT_TRUE(fs::exists("/usr/bin/chromium")) << "Debian's chromium is a test dependency (deploy/install-deps.sh)";
  ASSERT_TRUE(fs::exists(source + "/tests/browser/node_modules/playwright-core/package.json"))
      << "playwright-core is missing: deploy/install-deps.sh installs it (npm ci in tests/browser)";
  testutil::ScopedTempDir dir;
  std::ofstream(dir.File("tokens")) << "search " << kToken << " ada\nadmin admin-explorer-0123456789\n";
  testutil::Served served([&](ServerOptions& o) {
    o.http_listen = "127.0.0.1:0";
    o.auth_token_file = dir.File("tokens");
  });
  const std::vector<int64_t>& ids = testutil::SurveyIds();
  nlohmann::json expected = {{"token", kToken}};
  // What the page shows of an uploaded cutout itself: its redshift and anomaly score, by gRPC.
  const auto upload_facts = [&](const v1::Image& image) {
    v1::PredictRedshiftRequest predict;
    *predict.add_queries()->mutable_image() = image;
    v1::PredictRedshiftResponse predicted;
    grpc::Status status = served.search->PredictRedshift(Authorized().get(), predict, &predicted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    v1::ScoreAnomalyRequest score;
    *score.mutable_image() = image;
    v1::ScoreAnomalyResponse scored;
    status = served.search->ScoreAnomaly(Authorized().get(), score, &scored);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(predicted.predictions_size(), 1);
    if (predicted.predictions_size() != 1) return nlohmann::json();
    return nlohmann::json{{"zPhot", predicted.predictions(0).z_phot()},
                          {"zPhotErr", predicted.predictions(0).z_phot_err()},
                          {"score", scored.score()},
                          {"percentile", scored.percentile()}};
  };

  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(ids[7]);
  by_id.set_k(12);
  v1::SimilarGalaxiesResponse by_id_answer;
  ASSERT_TRUE(served.search->SimilarGalaxies(Authorized().get(), by_id, &by_id_answer).ok());
  expected["byId"] = {{"id", absl::StrCat(ids[7])}, {"neighbors", Neighbours(by_id_answer)}};

  v1::GetGalaxyRequest get;
  get.set_id(ids[20]);
  v1::GalaxyRecord record;
  ASSERT_TRUE(served.search->GetGalaxy(Authorized().get(), get, &record).ok());
  v1::SimilarGalaxiesRequest by_position;
  double ra = 0, dec = 0;
  const std::string typed = Sexagesimal(record.ra(), record.dec(), &ra, &dec);
  by_position.mutable_position()->set_ra(ra);
  by_position.mutable_position()->set_dec(dec);
  by_position.set_k(24);
  v1::SimilarGalaxiesResponse by_position_answer;
  grpc::Status status = served.search->SimilarGalaxies(Authorized().get(), by_position, &by_position_answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  expected["byPosition"] = {{"text", typed}, {"neighbors", Neighbours(by_position_answer)}};

  v1::SimilarGalaxiesRequest by_image;
  *by_image.mutable_image() = testutil::SurveyImage(33);
  by_image.mutable_image()->clear_e_bv();  // a .npy file carries no reddening
  by_image.set_k(12);
  const v1::Image& image = by_image.image();
  ASSERT_TRUE(WriteNpy(dir.File("cutout.npy"), "<f4",
                       {image.bands(), image.height(), image.width()}, image.data().data(),
                       static_cast<int64_t>(image.data().size()))
                  .ok());
  v1::SimilarGalaxiesResponse by_image_answer;
  ASSERT_TRUE(served.search->SimilarGalaxies(Authorized().get(), by_image, &by_image_answer).ok());
  expected["byImage"] = {{"file", dir.File("cutout.npy")},
                         {"neighbors", Neighbours(by_image_answer)},
                         {"facts", upload_facts(by_image.image())}};
  // The same cutout stored z to u, the bands field naming its planes: the same answer.
  {
    const size_t plane = static_cast<size_t>(image.height()) * image.width() * 4;
    std::string reversed(image.data().size(), '\0');
    for (size_t b = 0; b < image.bands(); ++b) {
      reversed.replace((image.bands() - 1 - b) * plane, plane, image.data(), b * plane, plane);
    }
    ASSERT_TRUE(WriteNpy(dir.File("cutout-zirgu.npy"), "<f4", {image.bands(), image.height(), image.width()},
                         reversed.data(), static_cast<int64_t>(reversed.size()))
                    .ok());
  }
  expected["byNamedImage"] = {{"file", dir.File("cutout-zirgu.npy")}, {"bands", "zirgu"}};

  // The same kind of query from a FITS file (axes width, height, bands), with its reddening typed.
  v1::SimilarGalaxiesRequest by_fits;
  *by_fits.mutable_image() = testutil::SurveyImage(44);
  by_fits.set_k(12);
  {
    const v1::Image& cube = by_fits.image();
    std::vector<float> pixels(cube.data().size() / 4);
    std::memcpy(pixels.data(), cube.data().data(), cube.data().size());
    int fits_status = 0;
    fitsfile* f = nullptr;
    fits_create_file(&f, dir.File("cutout.fits").c_str(), &fits_status);
    long axes[3] = {static_cast<long>(cube.width()), static_cast<long>(cube.height()), static_cast<long>(cube.bands())};
    fits_create_img(f, FLOAT_IMG, 3, axes, &fits_status);
    fits_write_img(f, TFLOAT, 1, static_cast<LONGLONG>(pixels.size()), pixels.data(), &fits_status);
    fits_close_file(f, &fits_status);
    ASSERT_EQ(fits_status, 0);
  }
  // The page sends what the person typed, parsed as a float: the same float here.
  by_fits.mutable_image()->set_e_bv(std::stof(absl::StrCat(by_fits.image().e_bv())));
  v1::SimilarGalaxiesResponse by_fits_answer;
  ASSERT_TRUE(served.search->SimilarGalaxies(Authorized().get(), by_fits, &by_fits_answer).ok());
  expected["byFits"] = {{"file", dir.File("cutout.fits")},
                        {"ebv", absl::StrCat(by_fits.image().e_bv())},
                        {"neighbors", Neighbours(by_fits_answer)},
                        {"facts", upload_facts(by_fits.image())}};
  // The reddening reaches the redshift head: the FITS cutout's facts differ from the .npy's.
  EXPECT_NE(expected["byFits"]["facts"]["zPhot"], expected["byImage"]["facts"]["zPhot"]);

  // A label whose class name is markup: the page must show it as text.
  const std::string hostile = "<img src=x onerror=\"window.pwned=1\">&amp;";
  v1::AddLabelsRequest add;
  v1::Label* label = add.add_labels();
  label->set_galaxy_id(ids[8]);
  label->set_class_name(hostile);
  label->set_comment("<script>window.pwned=2</script>");
  v1::AddLabelsResponse added;
  status = served.search->AddLabels(Authorized().get(), add, &added);
  ASSERT_TRUE(status.ok()) << status.error_message();
  expected["hostile"] = {{"id", absl::StrCat(ids[8])}, {"className", hostile}};

  // The same page over HTTPS, from a second server with the test certificates.
  ASSERT_TRUE(testutil::MakeTestCertificates(dir.path().string()).ok());
  testutil::Served https([&](ServerOptions& o) {
    o.http_listen = "127.0.0.1:0";
    o.tls_cert = dir.File("server.pem");
    o.tls_key = dir.File("server.key");
  });
  expected["httpsBase"] = absl::StrCat("https://127.0.0.1:", https.server().http_port());

  v1::RecommendRequest recommend;
  recommend.add_positives()->set_id(by_id_answer.neighbors(0).id());
  recommend.add_positives()->set_id(by_id_answer.neighbors(1).id());
  recommend.add_negatives()->set_id(by_id_answer.neighbors(2).id());
  recommend.set_k(24);
  v1::SimilarGalaxiesResponse recommended;
  ASSERT_TRUE(served.search->Recommend(Authorized().get(), recommend, &recommended).ok());
  expected["moreLikeThese"] = {{"neighbors", Neighbours(recommended)}};

  // Examples from uploaded cutouts, after the IDs as the page sends them: an ID and cutout.npy
  // like, cutout.fits (its reddening not typed) not like.
  v1::Image fits_unreddened = by_fits.image();
  fits_unreddened.clear_e_bv();
  v1::RecommendRequest recommend_cutouts;
  recommend_cutouts.add_positives()->set_id(by_id_answer.neighbors(3).id());
  *recommend_cutouts.add_positives()->mutable_image() = by_image.image();
  *recommend_cutouts.add_negatives()->mutable_image() = fits_unreddened;
  recommend_cutouts.set_k(24);
  v1::SimilarGalaxiesResponse recommended_cutouts;
  status = served.search->Recommend(Authorized().get(), recommend_cutouts, &recommended_cutouts);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The ranking by an ID and the z-to-u cutout whose planes the bands field names, against an ID:
  // the answer for cutout.npy itself.
  v1::RankByExamplesRequest rank_cutouts;
  rank_cutouts.add_positives()->set_id(by_id_answer.neighbors(3).id());
  *rank_cutouts.add_positives()->mutable_image() = by_image.image();
  rank_cutouts.add_negatives()->set_id(by_id_answer.neighbors(4).id());
  rank_cutouts.set_page_size(24);
  v1::RankByExamplesResponse ranked_cutouts;
  status = served.search->RankByExamples(Authorized().get(), rank_cutouts, &ranked_cutouts);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const auto ranking = [](const v1::RankByExamplesResponse& answer) {
    nlohmann::json galaxies = nlohmann::json::array();
    for (const v1::RankedGalaxy& g : answer.galaxies()) {
      galaxies.push_back({{"id", absl::StrCat(g.id())}, {"score", g.probability()}});
    }
    return galaxies;
  };
  // Its next page, which the page asks for after the form has changed.
  ASSERT_FALSE(ranked_cutouts.next_page_token().empty());
  rank_cutouts.set_page_token(ranked_cutouts.next_page_token());
  v1::RankByExamplesResponse next_cutouts;
  status = served.search->RankByExamples(Authorized().get(), rank_cutouts, &next_cutouts);
  ASSERT_TRUE(status.ok()) << status.error_message();
  expected["cutoutExamples"] = {{"positive", absl::StrCat(by_id_answer.neighbors(3).id())},
                                {"negative", absl::StrCat(by_id_answer.neighbors(4).id())},
                                {"recommended", Neighbours(recommended_cutouts)},
                                {"ranked", ranking(ranked_cutouts)},
                                {"nextPage", ranking(next_cutouts)},
                                {"nextFirstRank", next_cutouts.first_rank()}};

  v1::ListAnomaliesRequest anomalies;
  anomalies.set_page_size(24);
  v1::ListAnomaliesResponse anomalous;
  ASSERT_TRUE(served.search->ListAnomalies(Authorized().get(), anomalies, &anomalous).ok());
  expected["anomalies"] = nlohmann::json::array();
  for (const v1::GalaxyRecord& g : anomalous.galaxies()) expected["anomalies"].push_back(absl::StrCat(g.id()));

  std::ofstream(dir.File("expected.json")) << expected.dump(2);
  const char* shots = std::getenv("GALAXY_EXPLORER_SCREENSHOTS");
  std::vector<std::string> argv = {"/usr/bin/node", script, absl::StrCat("http://127.0.0.1:", served.server().http_port()),
                                   dir.File("expected.json")};
  if (shots != nullptr) argv.push_back(shots);
  absl::StatusOr<testutil::CommandResult> run = testutil::RunCommand(argv, absl::Seconds(400));
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->exit_code, 0) << run->out << run->err;
  std::cout << run->out;

  // The three labels the browser wrote are in the store beside the one written here, all signed
  // by the token's holder.
  v1::ListLabelsRequest list;
  v1::ListLabelsResponse labels;
  ASSERT_TRUE(served.search->ListLabels(Authorized().get(), list, &labels).ok());
  ASSERT_EQ(labels.labels_size(), 4);
  for (const v1::Label& label : labels.labels()) EXPECT_EQ(label.author(), "ada");
}

}  // namespace
}  // namespace galaxy
