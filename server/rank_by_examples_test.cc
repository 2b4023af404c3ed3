// RankByExamples and StreamRankByExamples on the arc survey of server/search_service_fixture.h:
// galaxy i is embedded at angle 1.5 i / 29, so a classifier trained on galaxies at one end of the
// arc against the other end ranks every other galaxy by its angle.
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "server/search_service_fixture.h"

namespace galaxy {
namespace {

v1::RankByExamplesRequest Request(const std::vector<int>& positives, const std::vector<int>& negatives) {
  v1::RankByExamplesRequest request;
  for (int i : positives) request.add_positives()->set_id(kFirstId + i);
  for (int i : negatives) request.add_negatives()->set_id(kFirstId + i);
  request.set_regularization(100);
  return request;
}

std::vector<int64_t> Ids(const v1::RankByExamplesResponse& response) {
  std::vector<int64_t> ids;
  for (const v1::RankedGalaxy& g : response.galaxies()) ids.push_back(g.id() - kFirstId);
  return ids;
}

class RankByExamplesTest : public SearchServiceTest {
 protected:
  grpc::Status Rank(const v1::RankByExamplesRequest& request, v1::RankByExamplesResponse* out) {
    grpc::ClientContext context;
    out->Clear();
    return stub_->RankByExamples(&context, request, out);
  }
};

// Galaxies 29, 24, 23, ..., 4: every galaxy but the examples (0-3 and 25-28), highest angle first.
std::vector<int64_t> ByAngle() {
  std::vector<int64_t> ids = {29};
  for (int i = 24; i >= 4; --i) ids.push_back(i);
  return ids;
}

TEST_F(RankByExamplesTest, RanksTheWholeCatalogByTheClassifier) {
  v1::RankByExamplesRequest request = Request({25, 26, 27, 28}, {0, 1, 2, 3});
  request.set_page_size(100);
  request.set_include_metadata(true);
  v1::RankByExamplesResponse out;
  const grpc::Status status = Rank(request, &out);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Ids(out), ByAngle());
  EXPECT_EQ(out.total_count(), 22u);
  EXPECT_EQ(out.first_rank(), 1u);
  EXPECT_TRUE(out.next_page_token().empty());
  EXPECT_EQ(out.snapshot_version(), server_->snapshot_version());
  for (int i = 0; i < out.galaxies_size(); ++i) {
    EXPECT_EQ(out.galaxies(i).rank(), static_cast<uint64_t>(i) + 1);
    EXPECT_EQ(out.galaxies(i).galaxy().id(), out.galaxies(i).id());  // records asked for
    if (i > 0) {
      EXPECT_LE(out.galaxies(i).probability(), out.galaxies(i - 1).probability());
    }
  }
  EXPECT_GT(out.galaxies(0).probability(), 0.5f);
  EXPECT_LT(out.galaxies(21).probability(), 0.5f);
  const v1::FewShotClassifier& c = out.classifier();
  EXPECT_EQ(c.positives(), 4u);
  EXPECT_EQ(c.negatives(), 4u);
  EXPECT_FLOAT_EQ(c.training_accuracy(), 1.0f);
  ASSERT_EQ(c.weights_size(), 2);
  // Its probability is the logistic of w . x + b for the galaxy's embedding.
  const double x = std::cos(Angle(29)), y = std::sin(Angle(29));
  EXPECT_NEAR(out.galaxies(0).probability(), 1 / (1 + std::exp(-(c.weights(0) * x + c.weights(1) * y + c.bias()))),
              1e-5);
  EXPECT_TRUE(Passes().empty());  // catalog examples never run the model
}

TEST_F(RankByExamplesTest, PagesAndTheStreamCutTheSameRanking) {
  v1::RankByExamplesRequest request = Request({25, 26, 27, 28}, {0, 1, 2, 3});
  request.set_page_size(5);
  std::vector<int64_t> paged;
  v1::RankByExamplesResponse out;
  int pages = 0;
  do {
    ASSERT_TRUE(Rank(request, &out).ok());
    EXPECT_EQ(out.first_rank(), paged.size() + 1);
    for (int64_t id : Ids(out)) paged.push_back(id);
    request.set_page_token(out.next_page_token());
    ++pages;
  } while (!out.next_page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 5);  // 22 galaxies, 5 a page
  EXPECT_EQ(paged, ByAngle());

  // The stream from the start, all of it, then from the third page on with a limit.
  const auto stream = [&](const v1::RankByExamplesRequest& r, std::vector<int>* sizes) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::RankByExamplesResponse>> reader = stub_->StreamRankByExamples(&context, r);
    std::vector<int64_t> ids;
    v1::RankByExamplesResponse page;
    while (reader->Read(&page)) {
      sizes->push_back(page.galaxies_size());
      for (int64_t id : Ids(page)) ids.push_back(id);
    }
    EXPECT_TRUE(reader->Finish().ok());
    return ids;
  };
  request.clear_page_token();
  std::vector<int> sizes;
  EXPECT_EQ(stream(request, &sizes), ByAngle());
  EXPECT_EQ(sizes, (std::vector<int>{5, 5, 5, 5, 2}));
  v1::RankByExamplesRequest third = request;
  third.set_page_size(5);
  ASSERT_TRUE(Rank(request, &out).ok());
  request.set_page_token(out.next_page_token());
  ASSERT_TRUE(Rank(request, &out).ok());
  third.set_page_token(out.next_page_token());
  third.set_limit(7);
  sizes.clear();
  const std::vector<int64_t> from_third = stream(third, &sizes);
  const std::vector<int64_t> all = ByAngle();
  EXPECT_EQ(from_third, std::vector<int64_t>(all.begin() + 10, all.begin() + 17));
  EXPECT_EQ(sizes, (std::vector<int>{5, 2}));
}

TEST_F(RankByExamplesTest, RandomNegativesFiltersAndThresholds) {
  // No negatives: the other galaxies drawn at random stand in for them (all 26 here).
  v1::RankByExamplesRequest request = Request({25, 26, 27, 28}, {});
  request.set_page_size(3);
  v1::RankByExamplesResponse out;
  ASSERT_TRUE(Rank(request, &out).ok());
  EXPECT_EQ(out.classifier().negatives(), 26u);
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{29, 24, 23}));
  EXPECT_EQ(out.total_count(), 26u);
  // Fewer random negatives, drawn by the seed: the same seed draws the same ones.
  request.set_random_negatives(5);
  request.set_seed(7);
  v1::RankByExamplesResponse again;
  ASSERT_TRUE(Rank(request, &out).ok());
  ASSERT_TRUE(Rank(request, &again).ok());
  EXPECT_EQ(out.classifier().negatives(), 5u);
  EXPECT_EQ(out.classifier().bias(), again.classifier().bias());
  // A cone around galaxies 17..23 (ra 27..33) and exclusions.
  request = Request({25, 26, 27, 28}, {0, 1, 2, 3});
  request.mutable_filter()->mutable_cone()->set_ra(30);
  request.mutable_filter()->mutable_cone()->set_dec(0);
  request.mutable_filter()->mutable_cone()->set_radius(3.5);
  request.mutable_filter()->add_exclude_ids(kFirstId + 22);
  ASSERT_TRUE(Rank(request, &out).ok());
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{23, 21, 20, 19, 18, 17}));
  EXPECT_EQ(out.total_count(), 6u);
  // A probability threshold keeps the head of the ranking and counts it.
  request = Request({25, 26, 27, 28}, {0, 1, 2, 3});
  request.set_min_probability(0.5f);
  ASSERT_TRUE(Rank(request, &out).ok());
  ASSERT_GT(out.galaxies_size(), 0);
  EXPECT_LT(out.galaxies_size(), 22);
  EXPECT_EQ(out.total_count(), static_cast<uint64_t>(out.galaxies_size()));
  for (const v1::RankedGalaxy& g : out.galaxies()) EXPECT_GE(g.probability(), 0.5f);
  // An uploaded image is embedded once and, not being a catalog galaxy, is not excluded.
  request = Request({}, {0, 1, 2, 3});
  *request.add_positives()->mutable_image() = Upload(26);
  request.set_page_size(2);
  ASSERT_TRUE(Rank(request, &out).ok());
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{29, 28}));
  EXPECT_EQ(Passes().size(), 1u);
}

TEST_F(RankByExamplesTest, TokensOfAnotherRankingOrSnapshotAreRefused) {
  v1::RankByExamplesRequest request = Request({25, 26}, {0, 1});
  request.set_page_size(5);
  v1::RankByExamplesResponse out;
  ASSERT_TRUE(Rank(request, &out).ok());
  ASSERT_FALSE(out.next_page_token().empty());
  // Another page size is fine; another ranking is not.
  v1::RankByExamplesRequest next = request;
  next.set_page_token(out.next_page_token());
  next.set_page_size(7);
  ASSERT_TRUE(Rank(next, &out).ok());
  EXPECT_EQ(out.first_rank(), 6u);
  next.set_seed(3);
  grpc::Status status = Rank(next, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("issued for another ranking"), std::string::npos) << status.error_message();
  next = request;
  next.set_page_token("elsewhere/1f/5");
  status = Rank(next, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("issued by snapshot elsewhere"), std::string::npos) << status.error_message();
  next.set_page_token("garbage");
  EXPECT_EQ(Rank(next, &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Unknown examples are named.
  next = Request({25, 26}, {0});
  next.add_negatives()->set_id(7);
  status = Rank(next, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("negatives[1]: galaxy 7 is not in snapshot"), std::string::npos)
      << status.error_message();
}

}  // namespace
}  // namespace galaxy
