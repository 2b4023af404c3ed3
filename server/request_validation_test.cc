#include "server/request_validation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace galaxy {
namespace {

const ModelShape kShape{5, 8, 4, {}};
const RequestLimits kLimits{100, 16, 1 << 20};

v1::Image MakeImage(int bands, int h, int w, bool f64 = false) {
  v1::Image image;
  image.set_bands(static_cast<uint32_t>(bands));
  image.set_height(static_cast<uint32_t>(h));
  image.set_width(static_cast<uint32_t>(w));
  image.set_dtype(f64 ? v1::DTYPE_FLOAT64 : v1::DTYPE_FLOAT32);
  std::string data;
  for (int b = 0; b < bands; ++b) {
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const double v = b * 10000 + y * 100 + x;
        if (f64) {
          data.append(reinterpret_cast<const char*>(&v), 8);
        } else {
          const float f = static_cast<float>(v);
          data.append(reinterpret_cast<const char*>(&f), 4);
        }
      }
    }
  }
  image.set_data(data);
  return image;
}

TEST(RequestValidationTest, ImagesAreDecodedWholeInBothDtypes) {
  for (bool f64 : {false, true}) {
    DecodedImage out;
    ASSERT_TRUE(DecodeImage(MakeImage(5, 12, 10, f64), kShape, kLimits, "image", &out).ok());
    // Kept as sent: the model crops (the batcher's test checks what it sees).
    ASSERT_EQ(out.pixels.size(), 5u * 12 * 10);
    EXPECT_EQ(out.height, 12);
    EXPECT_EQ(out.width, 10);
    EXPECT_EQ(out.pixels[0], 0);
    EXPECT_EQ(out.pixels[5 * 120 - 1], 4 * 10000 + 11 * 100 + 9);
    EXPECT_EQ(out.e_bv, 0);
  }
}

TEST(RequestValidationTest, BadImagesNameTheFieldAndTheProblem) {
  DecodedImage out;
  auto message = [&](const v1::Image& image) {
    absl::Status s = DecodeImage(image, kShape, kLimits, "queries[2].image", &out);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  };
  EXPECT_EQ(message(MakeImage(3, 8, 8)), "queries[2].image.bands: 3; the model takes 5 bands");
  EXPECT_EQ(message(MakeImage(5, 7, 8)), "queries[2].image.height: 7 px is outside 8 (the model's input size) .. 512");
  v1::Image truncated = MakeImage(5, 8, 8);
  truncated.mutable_data()->resize(truncated.data().size() - 4);
  EXPECT_EQ(message(truncated), "queries[2].image.data: 1276 bytes; 5 bands x 8 x 8 float32 need 1280");
  v1::Image nan = MakeImage(5, 8, 8);
  const float q = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(nan.mutable_data()->data() + 4 * (64 + 8 + 3), &q, 4);
  EXPECT_EQ(message(nan), "queries[2].image.data: NaN at band 1, row 1, column 3");
  v1::Image reddened = MakeImage(5, 8, 8);
  reddened.set_e_bv(-0.1f);
  EXPECT_NE(message(reddened).find("e_bv"), std::string::npos);
  v1::Image dtype = MakeImage(5, 8, 8);
  dtype.set_dtype(static_cast<v1::DType>(7));
  EXPECT_NE(message(dtype).find("dtype: 7"), std::string::npos);
  v1::Image huge = MakeImage(5, 8, 8);
  huge.mutable_data()->resize((1 << 20) + 4);
  EXPECT_EQ(DecodeImage(huge, kShape, kLimits, "image", &out).code(), absl::StatusCode::kResourceExhausted);
}

TEST(RequestValidationTest, ImagesThatNameTheirBandsArePickedInTheModelsOrder) {
  const ModelShape named{5, 8, 4, {"u", "g", "r", "i", "z"}};
  // Seven planes (band b holds b * 10000 + ...), named as surveys write them, in another order.
  v1::Image image = MakeImage(7, 8, 8);
  for (const char* name : {"HSC-Y", "SDSS z", "i", "R", "g.00000", "Ha", "u"}) image.add_band_names(name);
  DecodedImage out;
  ASSERT_TRUE(DecodeImage(image, named, kLimits, "image", &out).ok());
  ASSERT_EQ(out.pixels.size(), 5u * 64);
  const int plane_of[] = {6, 4, 3, 2, 1};  // u g r i z
  for (int b = 0; b < 5; ++b) EXPECT_EQ(out.pixels[b * 64 + 9], plane_of[b] * 10000 + 101) << b;  // y 1, x 1

  auto message = [&](const v1::Image& bad, const ModelShape& shape) {
    absl::Status s = DecodeImage(bad, shape, kLimits, "image", &out);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.message());
  };
  v1::Image grz = MakeImage(3, 8, 8);
  for (const char* name : {"g", "r", "z"}) grz.add_band_names(name);
  EXPECT_EQ(message(grz, named), "image.band_names: g, r, z; the model takes u, g, r, i, z, and u, i are not among them");
  EXPECT_EQ(message(grz, kShape), "image.band_names: the model's bands have no names to match them to; send its bands "
                                  "in its order");
  v1::Image twice = MakeImage(5, 8, 8);
  for (const char* name : {"u", "g", "r", "i", "SDSS-i"}) twice.add_band_names(name);
  EXPECT_EQ(message(twice, named), "image.band_names: u, g, r, i, SDSS-i name band i twice");
  v1::Image short_names = MakeImage(5, 8, 8);
  short_names.add_band_names("u");
  EXPECT_EQ(message(short_names, named), "image.band_names: 1 names for 5 bands");
  v1::Image many = MakeImage(17, 8, 8);
  for (int b = 0; b < 17; ++b) many.add_band_names("u");
  EXPECT_EQ(message(many, named), "image.bands: 17 is outside 1 .. 16");
  v1::Image long_name = MakeImage(1, 8, 8);
  long_name.add_band_names(std::string(65, 'g'));
  EXPECT_EQ(message(long_name, named), "image.band_names: a name of 65 characters; 1 .. 64");
  // Without names, the count must be the model's, and the error says how to name them.
  EXPECT_EQ(message(MakeImage(3, 8, 8), named),
            "image.bands: 3; the model takes 5 bands (u, g, r, i, z; band_names picks them by name)");
}

TEST(RequestValidationTest, SimilarRequests) {
  SimilarQuery q;
  v1::SimilarGalaxiesRequest r;
  EXPECT_EQ(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message(),
            "query: none set; give one of id, image, vector or position");
  r.set_id(7);
  ASSERT_TRUE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).ok());
  EXPECT_EQ(q.k, 10);
  r.set_k(101);
  EXPECT_EQ(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message(), "k: 101 exceeds the limit 100");
  r.set_k(5);
  r.mutable_filter()->set_z_min(0.3f);
  r.mutable_filter()->set_z_max(0.1f);
  EXPECT_NE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message().find("filter.z_max"), std::string::npos);
  r.clear_filter();
  r.mutable_filter()->mutable_cone()->set_radius(0);
  EXPECT_NE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message().find("filter.cone.radius"),
            std::string::npos);
  r.clear_filter();
  r.set_min_score(1.5f);
  EXPECT_NE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message().find("min_score"), std::string::npos);
  r.clear_min_score();
  r.mutable_vector()->add_values(1);
  EXPECT_EQ(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message(),
            "vector.values: 1 values; the index has dimension 4");
  for (int i = 0; i < 3; ++i) r.mutable_vector()->add_values(0);
  ASSERT_TRUE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).ok());
  EXPECT_EQ(q.vector, (std::vector<float>{1, 0, 0, 0}));
  r.mutable_vector()->set_values(0, 0);
  EXPECT_NE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message().find("all zero"), std::string::npos);
  r.mutable_position()->set_ra(360);
  EXPECT_NE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message().find("position.ra"), std::string::npos);
  EXPECT_EQ(ValidateBatchSize(0, kLimits, "queries").message(), "queries: empty; give at least one query");
  EXPECT_EQ(ValidateBatchSize(17, kLimits, "queries").message(), "queries: 17 queries exceeds the limit 16");
}

TEST(RequestValidationTest, DiversityBounds) {
  v1::SimilarGalaxiesRequest r;
  r.set_id(1);
  SimilarQuery q;
  r.mutable_diversity()->set_mmr_lambda(0.5f);
  r.mutable_diversity()->set_sky_duplicate_arcsec(1.5f);
  ASSERT_TRUE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).ok());
  EXPECT_EQ(q.mmr_lambda, 0.5f);
  EXPECT_NEAR(*q.sky_duplicate_degrees, 1.5 / 3600, 1e-12);
  r.mutable_diversity()->set_mmr_lambda(1.5f);
  EXPECT_EQ(ValidateSimilarRequest(r, kShape, kLimits, "queries[2]", &q).message(),
            "queries[2].diversity.mmr_lambda: 1.5 is outside [0, 1]");
  r.mutable_diversity()->set_mmr_lambda(0);
  r.mutable_diversity()->set_sky_duplicate_arcsec(0);
  EXPECT_EQ(ValidateSimilarRequest(r, kShape, kLimits, "", &q).message(),
            "diversity.sky_duplicate_arcsec: 0 is outside (0, 60] arcsec");
  r.clear_diversity();
  ASSERT_TRUE(ValidateSimilarRequest(r, kShape, kLimits, "", &q).ok());
  EXPECT_FALSE(q.mmr_lambda.has_value());  // reset by a reused query
  EXPECT_FALSE(q.sky_duplicate_degrees.has_value());
}

TEST(RequestValidationTest, RecommendExamplesWeightsStrategyAndScoreScale) {
  v1::RecommendRequest r;
  RecommendQuery q;
  auto message = [&]() {
    absl::Status s = ValidateRecommendRequest(r, kShape, kLimits, &q);
    return s.ok() ? std::string("ok") : std::string(s.message());
  };
  EXPECT_EQ(message(), "positives: empty; give at least one example");
  r.add_positives()->set_id(7);
  v1::Example* vector = r.add_positives();
  for (float v : {3.0f, 4.0f, 0.0f, 0.0f}) vector->mutable_vector()->add_values(v);
  vector->set_weight(2.5f);
  *r.add_negatives()->mutable_image() = MakeImage(5, 8, 8);
  r.add_negatives()->mutable_position()->set_ra(10);
  ASSERT_EQ(message(), "ok");
  ASSERT_EQ(q.positives.size(), 2u);
  EXPECT_EQ(q.positives[0].kind, QueryItem::Kind::kId);
  EXPECT_EQ(q.positives[0].weight, 1.0f);  // 0 means 1
  EXPECT_EQ(q.positives[1].vector, std::vector<float>({0.6f, 0.8f, 0, 0}));
  EXPECT_EQ(q.positives[1].weight, 2.5f);
  EXPECT_EQ(q.negatives[0].kind, QueryItem::Kind::kImage);
  EXPECT_EQ(q.negatives[1].kind, QueryItem::Kind::kPosition);
  EXPECT_FALSE(q.best_score);
  EXPECT_EQ(q.search.k, 10);

  r.mutable_positives(1)->set_weight(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(message(), "positives[1].weight: nan is outside (0, 100]; 0 means 1");
  r.mutable_positives(1)->set_weight(-1);
  EXPECT_EQ(message(), "positives[1].weight: -1 is outside (0, 100]; 0 means 1");
  r.mutable_positives(1)->set_weight(1);
  r.mutable_positives(1)->mutable_vector()->add_values(1);
  EXPECT_EQ(message(), "positives[1].vector.values: 5 values; the index has dimension 4");
  r.mutable_positives(1)->set_id(9);
  r.add_negatives();
  EXPECT_EQ(message(), "negatives[2].example: none set; give one of id, image, vector or position");
  r.mutable_negatives()->RemoveLast();
  r.mutable_negatives(1)->mutable_position()->set_dec(95);
  EXPECT_EQ(message(), "negatives[1].position.dec: 95 is outside [-90, 90] degrees");
  r.mutable_negatives(1)->mutable_position()->set_dec(0);

  // min_score is on the strategy's scale: cosine for the average, a difference of weighted
  // similarities for the best score.
  r.set_min_score(1.5f);
  EXPECT_EQ(message(), "min_score: 1.5 is outside [-1, 1] (the strategy's scale)");
  r.set_strategy(v1::RECOMMEND_STRATEGY_BEST_SCORE);
  EXPECT_EQ(message(), "ok");
  EXPECT_TRUE(q.best_score);
  EXPECT_EQ(q.search.min_score, 1.5f);
  r.set_strategy(static_cast<v1::RecommendStrategy>(9));
  EXPECT_EQ(message(), "strategy: 9 is not a known strategy (1 average vector, 2 best score)");
  r.set_strategy(v1::RECOMMEND_STRATEGY_AVERAGE_VECTOR);
  r.clear_min_score();
  r.set_k(1000);
  EXPECT_EQ(message(), "k: 1000 exceeds the limit 100");
  r.set_k(5);
  for (int i = 0; i < kMaxExamples; ++i) r.add_positives()->set_id(i);
  EXPECT_EQ(message(), "positives: 66 examples exceeds the limit 64");
}

TEST(RequestValidationTest, RankExamplesNegativesRegularizationAndPaging) {
  v1::RankByExamplesRequest r;
  RankQuery q;
  auto message = [&]() {
    absl::Status s = ValidateRankRequest(r, kShape, kLimits, &q);
    return s.ok() ? std::string("ok") : std::string(s.message());
  };
  EXPECT_EQ(message(), "positives: empty; give at least one example (or positive_labels)");
  r.add_positives()->set_id(7);
  ASSERT_EQ(message(), "ok");
  // Defaults: random negatives when none are given, C = 0.01, pages of 50.
  EXPECT_EQ(q.random_negatives, kDefaultRandomNegatives);
  EXPECT_EQ(q.c, 0.01);
  EXPECT_EQ(q.page_size, 50);
  EXPECT_FALSE(q.min_probability.has_value());
  const uint64_t fingerprint = q.fingerprint;
  // Paging fields leave the fingerprint alone; anything else changes it.
  r.set_page_size(7);
  r.set_page_token("v1/ab/7");
  r.set_limit(100);
  ASSERT_EQ(message(), "ok");
  EXPECT_EQ(q.fingerprint, fingerprint);
  EXPECT_EQ(q.page_token, "v1/ab/7");
  EXPECT_EQ(q.limit, 100u);
  r.set_seed(1);
  ASSERT_EQ(message(), "ok");
  EXPECT_NE(q.fingerprint, fingerprint);
  // Given negatives: no random ones unless asked for.
  r.add_negatives()->set_id(8);
  ASSERT_EQ(message(), "ok");
  EXPECT_EQ(q.random_negatives, 0u);
  r.set_random_negatives(200);
  ASSERT_EQ(message(), "ok");
  EXPECT_EQ(q.random_negatives, 200u);
  r.set_random_negatives(kMaxRandomNegatives + 1);
  EXPECT_EQ(message(), "random_negatives: 100001 exceeds the limit 100000");
  r.clear_negatives();
  r.set_random_negatives(0);
  EXPECT_EQ(message(), "random_negatives: 0 with no negatives: the classifier needs examples of what is not sought");
  r.clear_random_negatives();
  r.mutable_positives(0)->set_weight(3);
  EXPECT_EQ(message(), "positives[0].weight: not used by RankByExamples (every example counts alike); leave it unset");
  r.mutable_positives(0)->clear_weight();
  for (float c : {0.0f, -1.0f, 2e4f, std::numeric_limits<float>::quiet_NaN()}) {
    r.set_regularization(c);
    EXPECT_NE(message().find("regularization: "), std::string::npos) << c;
  }
  r.set_regularization(0.5f);
  ASSERT_EQ(message(), "ok");
  EXPECT_EQ(q.c, 0.5);
  r.set_page_size(1001);
  EXPECT_EQ(message(), "page_size: 1001 exceeds the limit 1000");
  r.set_page_size(0);
  r.set_min_probability(-0.1f);
  EXPECT_EQ(message(), "min_probability: -0.1 is outside [0, 1]");
  r.set_min_probability(0.9f);
  r.mutable_filter()->set_z_min(std::numeric_limits<float>::infinity());
  EXPECT_NE(message().find("filter.z_min"), std::string::npos) << message();
  r.clear_filter();
  ASSERT_EQ(message(), "ok");
  EXPECT_EQ(q.min_probability, 0.9f);
  // Images: at most kMaxRankImages among all examples.
  for (int i = 0; i < kMaxRankImages; ++i) *r.add_negatives()->mutable_image() = MakeImage(5, 8, 8);
  ASSERT_EQ(message(), "ok");
  *r.add_positives()->mutable_image() = MakeImage(5, 8, 8);
  EXPECT_EQ(message(), "negatives[63]: more than 64 images among the examples; give the others as catalog IDs or vectors");
  r.clear_negatives();
  for (int i = 0; i < kMaxRankExamples; ++i) r.add_positives()->set_id(i);
  EXPECT_EQ(message(), "positives: 10002 examples exceeds the limit 10000");
}

// Examples chosen by label stand in for examples given: negatives from negative_labels alone
// need no random negatives, positives from positive_labels alone need no positive example. (The
// request fuzzer once took the first case for a broken check: its input is the request below.)
TEST(RequestValidationTest, RankExamplesTakenFromLabelsAlone) {
  const std::string fuzzed("r\002\020\002\012\016\010\216\200\254\212\304\336\300\226\021 \012 \0055\000\000\000\012",
                           25);
  v1::RankByExamplesRequest r;
  ASSERT_TRUE(r.ParseFromString(fuzzed));
  ASSERT_EQ(r.positives_size(), 1);
  ASSERT_EQ(r.negatives_size(), 0);
  ASSERT_EQ(r.negative_labels_size(), 1);
  RankQuery q;
  ASSERT_TRUE(ValidateRankRequest(r, kShape, kLimits, &q).ok());
  EXPECT_TRUE(q.negatives.empty());
  EXPECT_EQ(q.random_negatives, 0u);
  ASSERT_EQ(q.negative_labels.size(), 1u);
  EXPECT_EQ(q.negative_labels[0].interest(), v1::INTEREST_NOT_INTERESTING);

  v1::RankByExamplesRequest by_labels;
  v1::LabelSelector* wanted = by_labels.add_positive_labels();
  wanted->set_class_name("ring");
  ASSERT_TRUE(ValidateRankRequest(by_labels, kShape, kLimits, &q).ok());
  EXPECT_TRUE(q.positives.empty());
  ASSERT_EQ(q.positive_labels.size(), 1u);
  EXPECT_EQ(q.random_negatives, kDefaultRandomNegatives);
}

}  // namespace
}  // namespace galaxy
