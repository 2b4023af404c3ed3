// The table of bad inputs (docs/API.md): each case against a live server over the serving
// fixture's snapshot, with its status code and a part of its message. Part of serving_test.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "tests/served.h"
#include "tests/serving_fixture.h"

namespace galaxy {
namespace {

using testutil::Ctx;
using testutil::Served;
using testutil::SurveyIds;
using testutil::SurveyImage;

const testutil::ServingFixture& Shared() { return testutil::SharedServingFixture(); }

// ---------------------------------------------------------------------------------------------
// Bad input: each case's status code and message. With GALAXY_BAD_INPUT_TABLE=FILE the test
// writes the markdown table docs/API.md shows.
// ---------------------------------------------------------------------------------------------

struct BadCase {
  std::string what;
  std::function<grpc::Status(Served&)> call;
  grpc::StatusCode code;
  std::string message;  // a part of the message the answer must contain
};

v1::Image Tweak(const std::function<void(v1::Image&)>& change) {
  v1::Image image = SurveyImage(0);
  change(image);
  return image;
}

grpc::Status Similar(Served& s, const v1::SimilarGalaxiesRequest& r) {
  v1::SimilarGalaxiesResponse out;
  return s.search->SimilarGalaxies(Ctx().get(), r, &out);
}

grpc::Status SimilarImage(Served& s, const v1::Image& image) {
  v1::SimilarGalaxiesRequest r;
  *r.mutable_image() = image;
  return Similar(s, r);
}

grpc::Status SimilarWith(Served& s, const std::function<void(v1::SimilarGalaxiesRequest&)>& change) {
  v1::SimilarGalaxiesRequest r;
  r.set_id(SurveyIds()[0]);
  change(r);
  return Similar(s, r);
}

grpc::Status RankWith(Served& s, const std::function<void(v1::RankByExamplesRequest&)>& change) {
  v1::RankByExamplesRequest r;
  r.add_positives()->set_id(SurveyIds()[0]);
  change(r);
  v1::RankByExamplesResponse out;
  return s.search->RankByExamples(Ctx().get(), r, &out);
}

void SetFloat(v1::Image& image, size_t index, float value) {
  std::memcpy(image.mutable_data()->data() + index * 4, &value, 4);
}

TEST(ServingTest, BadInputGetsTheRightCodeAndAMessageNamingTheProblem) {
  Served s;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  using C = grpc::StatusCode;
  std::vector<BadCase> cases = {
      {"no query set", [](Served& s) { return Similar(s, {}); }, C::INVALID_ARGUMENT,
       "query: none set; give one of id, image, vector or position"},
      {"k above the limit", [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_k(5000); }); },
       C::INVALID_ARGUMENT, "k: 5000 exceeds the limit 1000"},
      {"unknown ID", [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_id(42); }); }, C::NOT_FOUND,
       "galaxy 42 is not in snapshot v1"},
      {"wrong band count", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_bands(3); })); },
       C::INVALID_ARGUMENT, "image.bands: 3; the model takes 5 bands"},
      {"band names that lack a band of the model",
       [](Served& s) {
         return SimilarImage(s, Tweak([](auto& i) {
           i.set_bands(3);
           for (const char* name : {"g", "r", "z"}) i.add_band_names(name);
         }));
       },
       C::INVALID_ARGUMENT, "image.band_names: g, r, z; the model takes u, g, r, i, z, and u, i are not among them"},
      {"image smaller than the model's input",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_height(32); })); }, C::INVALID_ARGUMENT,
       "image.height: 32 px is outside"},
      {"image larger than 512 px", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_width(600); })); },
       C::INVALID_ARGUMENT, "image.width: 600 px is outside"},
      {"truncated pixel data",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.mutable_data()->resize(i.data().size() - 3); })); },
       C::INVALID_ARGUMENT, "image.data: "},
      {"float64 declared, float32 sent",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_dtype(v1::DTYPE_FLOAT64); })); },
       C::INVALID_ARGUMENT, "float64 need"},
      {"unknown dtype",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_dtype(static_cast<v1::DType>(9)); })); },
       C::INVALID_ARGUMENT, "image.dtype: 9 is not a known dtype"},
      {"NaN pixel", [nan](Served& s) { return SimilarImage(s, Tweak([nan](auto& i) { SetFloat(i, 70, nan); })); },
       C::INVALID_ARGUMENT, "image.data: NaN at band 0, row 1"},
      {"Inf pixel", [inf](Served& s) { return SimilarImage(s, Tweak([inf](auto& i) { SetFloat(i, 5, inf); })); },
       C::INVALID_ARGUMENT, "image.data: Inf at band 0, row 0, column 5"},
      {"E(B-V) out of range", [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_e_bv(7); })); },
       C::INVALID_ARGUMENT, "image.e_bv: 7 is outside 0 .. 5"},
      {"vector of the wrong dimension",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) { r.mutable_vector()->add_values(1); });
       },
       C::INVALID_ARGUMENT, "vector.values: 1 values; the index has dimension"},
      {"vector with NaN",
       [nan](Served& s) {
         return SimilarWith(s, [nan](auto& r) {
           for (int i = 0; i < 128; ++i) r.mutable_vector()->add_values(i == 0 ? nan : 1);
         });
       },
       C::INVALID_ARGUMENT, "vector.values"},
      {"redshift range upside down",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           r.mutable_filter()->set_z_min(0.3f);
           r.mutable_filter()->set_z_max(0.1f);
         });
       },
       C::INVALID_ARGUMENT, "filter.z_max: 0.1 is below z_min 0.3"},
      {"cone declination out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_filter()->mutable_cone()->set_dec(100); }); },
       C::INVALID_ARGUMENT, "filter.cone.dec: 100 is outside [-90, 90] degrees"},
      {"cone radius zero",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_filter()->mutable_cone()->set_radius(0); }); },
       C::INVALID_ARGUMENT, "filter.cone.radius: 0 is outside (0, 180] degrees"},
      {"too many excluded IDs",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           for (int i = 0; i < 10001; ++i) r.mutable_filter()->add_exclude_ids(i);
         });
       },
       C::INVALID_ARGUMENT, "filter.exclude_ids: 10001 IDs exceeds the limit 10000"},
      {"score threshold out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.set_min_score(2); }); }, C::INVALID_ARGUMENT,
       "min_score: 2 is outside [-1, 1]"},
      {"sky position out of range",
       [](Served& s) { return SimilarWith(s, [](auto& r) { r.mutable_position()->set_ra(400); }); },
       C::INVALID_ARGUMENT, "position.ra: 400 is outside [0, 360) degrees"},
      {"no galaxy at the sky position",
       [](Served& s) {
         return SimilarWith(s, [](auto& r) {
           r.mutable_position()->set_ra(1);
           r.mutable_position()->set_dec(-89);
         });
       },
       C::NOT_FOUND, "no galaxy of snapshot v1 lies within 3 arcsec"},
      {"empty batch",
       [](Served& s) {
         v1::BatchSimilarGalaxiesResponse out;
         return s.search->BatchSimilarGalaxies(Ctx().get(), {}, &out);
       },
       C::INVALID_ARGUMENT, "queries: empty; give at least one query"},
      {"batch above the limit",
       [](Served& s) {
         v1::BatchSimilarGalaxiesRequest r;
         for (int i = 0; i < 300; ++i) r.add_queries()->set_id(i);
         v1::BatchSimilarGalaxiesResponse out;
         return s.search->BatchSimilarGalaxies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "queries: 300 queries exceeds the limit 256"},
      {"request above the message-size limit (70 MiB)",
       [](Served& s) { return SimilarImage(s, Tweak([](auto& i) { i.set_data(std::string(70 << 20, 'x')); })); },
       C::RESOURCE_EXHAUSTED, ""},
      {"page size above the limit",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_size(5000);
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "page_size: 5000 exceeds the limit 1000"},
      {"forged page token",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_token("nonsense");
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "page_token: not a token this server issued"},
      {"page token of another snapshot",
       [](Served& s) {
         v1::ListAnomaliesRequest r;
         r.set_page_token("v0/100");
         v1::ListAnomaliesResponse out;
         return s.search->ListAnomalies(Ctx().get(), r, &out);
       },
       C::FAILED_PRECONDITION, "snapshot changed to v1; restart the listing"},
      {"anomaly query with nothing set",
       [](Served& s) {
         v1::ScoreAnomalyResponse out;
         return s.search->ScoreAnomaly(Ctx().get(), {}, &out);
       },
       C::INVALID_ARGUMENT, "query: none set; give id or image"},
      {"unknown ID for GetGalaxy",
       [](Served& s) {
         v1::GetGalaxyRequest r;
         r.set_id(-5);
         v1::GalaxyRecord out;
         return s.search->GetGalaxy(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "galaxy -5 is not in snapshot v1"},
      {"deadline already passed",
       [](Served& s) {
         grpc::ClientContext c;
         c.set_deadline(std::chrono::system_clock::now() - std::chrono::seconds(1));
         v1::SimilarGalaxiesRequest r;
         *r.mutable_image() = SurveyImage(0);
         v1::SimilarGalaxiesResponse out;
         return s.search->SimilarGalaxies(&c, r, &out);
       },
       C::DEADLINE_EXCEEDED, ""},
      {"rebuild from a missing dataset",
       [](Served& s) {
         v1::RebuildIndexRequest r;
         r.set_data_path("/nonexistent/survey.h5");
         v1::RebuildIndexResponse out;
         return s.admin->RebuildIndex(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "data_path: /nonexistent/survey.h5 is not a file on the server"},
      {"rebuild with an unknown index parameter",
       [](Served& s) {
         v1::RebuildIndexRequest r;
         r.set_data_path(Shared().survey);
         (*r.mutable_index_params())["speed"] = "11";
         v1::RebuildIndexResponse out;
         return s.admin->RebuildIndex(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "index_params: "},
      {"rebuild of unknown features",
       [](Served& s) {
         v1::RebuildIndexRequest r;
         r.set_data_path(Shared().survey);
         r.set_features(static_cast<v1::EmbeddingFeatures>(7));
         v1::RebuildIndexResponse out;
         return s.admin->RebuildIndex(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "features: unknown value 7"},
      {"status of an unknown rebuild",
       [](Served& s) {
         v1::GetRebuildStatusRequest r;
         r.set_rebuild_id("rebuild-99");
         v1::RebuildStatus out;
         return s.admin->GetRebuildStatus(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "rebuild_id: no rebuild 'rebuild-99'"},
      {"recommendation without positives",
       [](Served& s) {
         v1::RecommendRequest r;
         r.add_negatives()->set_id(SurveyIds()[0]);
         v1::SimilarGalaxiesResponse out;
         return s.search->Recommend(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "positives: empty; give at least one example"},
      {"recommendation with too many examples",
       [](Served& s) {
         v1::RecommendRequest r;
         for (int i = 0; i < 65; ++i) r.add_positives()->set_id(SurveyIds()[static_cast<size_t>(i)]);
         v1::SimilarGalaxiesResponse out;
         return s.search->Recommend(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "positives: 65 examples exceeds the limit 64"},
      {"example weight NaN",
       [nan](Served& s) {
         v1::RecommendRequest r;
         v1::Example* e = r.add_positives();
         e->set_id(SurveyIds()[0]);
         e->set_weight(nan);
         v1::SimilarGalaxiesResponse out;
         return s.search->Recommend(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "positives[0].weight: nan is outside (0, 100]; 0 means 1"},
      {"unknown example ID",
       [](Served& s) {
         v1::RecommendRequest r;
         r.add_positives()->set_id(SurveyIds()[0]);
         r.add_negatives()->set_id(42);
         v1::SimilarGalaxiesResponse out;
         return s.search->Recommend(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "negatives[0]: galaxy 42 is not in snapshot v1"},
      {"recommendation score threshold off the strategy's scale",
       [](Served& s) {
         v1::RecommendRequest r;
         r.add_positives()->set_id(SurveyIds()[0]);
         r.set_min_score(1.5f);
         v1::SimilarGalaxiesResponse out;
         return s.search->Recommend(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "min_score: 1.5 is outside [-1, 1] (the strategy's scale)"},
      {"few-shot ranking without positives",
       [](Served& s) { return RankWith(s, [](auto& r) { r.clear_positives(); }); }, C::INVALID_ARGUMENT,
       "positives: empty; give at least one example"},
      {"few-shot ranking with too many examples",
       [](Served& s) {
         return RankWith(s, [](auto& r) {
           for (int i = 0; i < 10001; ++i) r.add_negatives()->set_id(i);
         });
       },
       C::INVALID_ARGUMENT, "negatives: 10001 examples exceeds the limit 10000"},
      {"few-shot ranking with too many images",
       [](Served& s) {
         return RankWith(s, [](auto& r) {
           for (int i = 0; i < 65; ++i) *r.add_positives()->mutable_image() = SurveyImage(i);
         });
       },
       C::INVALID_ARGUMENT, "positives[65]: more than 64 images among the examples"},
      {"few-shot example with a weight",
       [](Served& s) { return RankWith(s, [](auto& r) { r.mutable_positives(0)->set_weight(2); }); },
       C::INVALID_ARGUMENT, "positives[0].weight: not used by RankByExamples"},
      {"few-shot example vector NaN",
       [nan](Served& s) {
         return RankWith(s, [nan](auto& r) {
           v1::Vector* v = r.add_negatives()->mutable_vector();
           for (int d = 0; d < 128; ++d) v->add_values(d == 3 ? nan : 1.0f);
         });
       },
       C::INVALID_ARGUMENT, "negatives[0].vector.values[3]: not a finite number"},
      {"few-shot example vector of the wrong dimension",
       [](Served& s) { return RankWith(s, [](auto& r) { r.add_negatives()->mutable_vector()->add_values(1); }); },
       C::INVALID_ARGUMENT, "negatives[0].vector.values: 1 values; the index has dimension 128"},
      {"few-shot ranking with no negatives of any kind",
       [](Served& s) { return RankWith(s, [](auto& r) { r.set_random_negatives(0); }); }, C::INVALID_ARGUMENT,
       "random_negatives: 0 with no negatives"},
      {"regularization zero", [](Served& s) { return RankWith(s, [](auto& r) { r.set_regularization(0); }); },
       C::INVALID_ARGUMENT, "regularization: 0 is outside (0, 10000]"},
      {"probability threshold above 1",
       [](Served& s) { return RankWith(s, [](auto& r) { r.set_min_probability(1.5f); }); }, C::INVALID_ARGUMENT,
       "min_probability: 1.5 is outside [0, 1]"},
      {"label of an unknown galaxy",
       [](Served& s) {
         v1::AddLabelsRequest r;
         v1::Label* l = r.add_labels();
         l->set_galaxy_id(42);
         l->set_class_name("ring");
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "labels[0]: galaxy 42 is not in snapshot v1"},
      {"label class name too long",
       [](Served& s) {
         v1::AddLabelsRequest r;
         v1::Label* l = r.add_labels();
         l->set_galaxy_id(SurveyIds()[0]);
         l->set_class_name(std::string(65, 'x'));
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "labels[0].class_name: 65 bytes; use 1..64"},
      {"label with a control character",
       [](Served& s) {
         v1::AddLabelsRequest r;
         v1::Label* l = r.add_labels();
         l->set_galaxy_id(SurveyIds()[0]);
         l->set_interest(v1::INTEREST_INTERESTING);
         l->set_comment("fine\x1b[31mred");
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "labels[0].comment: a control character (0x1b) at byte 4"},
      {"label with neither class nor interest",
       [](Served& s) {
         v1::AddLabelsRequest r;
         r.add_labels()->set_galaxy_id(SurveyIds()[0]);
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "labels[0]: neither class_name nor interest; give at least one"},
      {"too many labels in one call",
       [](Served& s) {
         v1::AddLabelsRequest r;
         for (int i = 0; i < 1001; ++i) r.add_labels()->set_galaxy_id(SurveyIds()[0]);
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "labels: 1001 labels exceeds the limit 1000"},
      {"label author with a space",
       [](Served& s) {
         v1::AddLabelsRequest r;
         v1::Label* l = r.add_labels();
         l->set_galaxy_id(SurveyIds()[0]);
         l->set_class_name("ring");
         r.set_author("a b");
         v1::AddLabelsResponse out;
         return s.search->AddLabels(Ctx().get(), r, &out);
       },
       C::INVALID_ARGUMENT, "author: use only letters, digits and . _ @ -"},
      {"ranking by labels no galaxy carries",
       [](Served& s) {
         v1::RankByExamplesRequest r;
         r.add_positive_labels()->set_class_name("unicorn");
         v1::RankByExamplesResponse out;
         return s.search->RankByExamples(Ctx().get(), r, &out);
       },
       C::NOT_FOUND, "positive_labels: no galaxy of snapshot v1 carries these labels"},
      {"ranking page token of another snapshot",
       [](Served& s) { return RankWith(s, [](auto& r) { r.set_page_token("v0/1f/50"); }); },
       C::FAILED_PRECONDITION, "page_token: issued by snapshot v0"},
  };
  std::string table =
      "| # | bad input | status code | message (excerpt) |\n| --- | --- | --- | --- |\n";
  int number = 0;
  for (const BadCase& c : cases) {
    grpc::Status status = c.call(s);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), c.message))
        << c.what << ": '" << status.error_message() << "' lacks '" << c.message << "'";
    std::string shown = status.error_message().substr(0, 110);
    absl::StrAppend(&table, "| ", ++number, " | ", c.what, " | ", static_cast<int>(status.error_code()), " ",
                    absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), " | ", shown,
                    status.error_message().size() > 110 ? "..." : "", " |\n");
  }
  EXPECT_GE(cases.size(), 20u);
  // The server is alive and answers afterwards.
  v1::IndexInfo info;
  ASSERT_TRUE(s.search->GetIndexInfo(Ctx().get(), {}, &info).ok());
  EXPECT_EQ(info.snapshot_version(), "v1");
  if (const char* out = std::getenv("GALAXY_BAD_INPUT_TABLE")) std::ofstream(out) << table;
}


}  // namespace
}  // namespace galaxy
