// The serving path with a fake embedder: SimilarGalaxies, Recommend, redshifts and anomalies on
// the hand-made arc survey of server/search_service_fixture.h.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "indexer/snapshot.h"
#include "server/search_service_fixture.h"

namespace galaxy {
namespace {

TEST_F(SearchServiceTest, AnImageQueryIsEmbeddedOnceAndAnsweredWithItsNeighbours) {
  v1::SimilarGalaxiesRequest request;
  *request.mutable_image() = Upload(12);
  request.set_k(3);
  v1::SimilarGalaxiesResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub_->SimilarGalaxies(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.neighbors_size(), 3);
  EXPECT_EQ(response.neighbors(0).id(), kFirstId + 12);  // the uploaded galaxy itself
  EXPECT_NEAR(response.neighbors(0).score(), 1.0, 1e-5);
  EXPECT_EQ(std::set<int64_t>({response.neighbors(1).id(), response.neighbors(2).id()}),
            std::set<int64_t>({kFirstId + 11, kFirstId + 13}));
  const std::vector<FakeEmbedder::Call> passes = Passes();
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_EQ(passes[0].n, 1);
  EXPECT_FALSE(passes[0].redshift);  // no redshift head for a similarity query
}

TEST_F(SearchServiceTest, QueriesByIdAndPositionNeverRunTheModel) {
  v1::SimilarGalaxiesRequest by_id;
  by_id.set_id(kFirstId + 5);
  by_id.set_k(2);
  v1::SimilarGalaxiesResponse response;
  grpc::ClientContext c1;
  ASSERT_TRUE(stub_->SimilarGalaxies(&c1, by_id, &response).ok());
  EXPECT_EQ(response.query_id(), kFirstId + 5);
  ASSERT_EQ(response.neighbors_size(), 2);
  EXPECT_EQ(std::set<int64_t>({response.neighbors(0).id(), response.neighbors(1).id()}),
            std::set<int64_t>({kFirstId + 4, kFirstId + 6}));
  v1::SimilarGalaxiesRequest by_position;
  by_position.mutable_position()->set_ra(17.0);
  by_position.mutable_position()->set_dec(0.0);
  by_position.set_k(1);
  grpc::ClientContext c2;
  ASSERT_TRUE(stub_->SimilarGalaxies(&c2, by_position, &response).ok());
  EXPECT_EQ(response.query_id(), kFirstId + 7);
  EXPECT_TRUE(Passes().empty());
}

TEST_F(SearchServiceTest, RedshiftsOfCatalogGalaxiesComeFromTheSnapshotAndOfImagesFromTheModel) {
  v1::PredictRedshiftRequest request;
  request.add_queries()->set_id(kFirstId + 20);
  *request.add_queries()->mutable_image() = Upload(3);
  request.add_queries()->set_id(42);  // not in the catalog
  request.set_include_pdf(true);
  v1::PredictRedshiftResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->PredictRedshift(&context, request, &response).ok());
  ASSERT_EQ(response.predictions_size(), 3);
  EXPECT_EQ(response.binning().bins(), 2u);
  const v1::RedshiftPrediction& stored = response.predictions(0);
  EXPECT_EQ(stored.status().code(), 0) << stored.status().message();
  EXPECT_NEAR(stored.z_phot(), 0.2 + 0.1, 1e-6);  // the fake's E(B-V) + 0.1, from the build
  ASSERT_EQ(stored.pdf_size(), 2);                // stored in redshift_pdfs.npy
  EXPECT_NEAR(stored.pdf(0), 0.5, 1e-4);
  EXPECT_NEAR(stored.pdf(0) + stored.pdf(1), 1.0, 1e-6);
  const v1::RedshiftPrediction& uploaded = response.predictions(1);
  EXPECT_EQ(uploaded.status().code(), 0) << uploaded.status().message();
  EXPECT_NEAR(uploaded.z_phot(), 0.03 + 0.1, 1e-6);
  EXPECT_EQ(uploaded.pdf_size(), 2);
  EXPECT_EQ(response.predictions(2).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_NE(response.predictions(2).status().message().find("42"), std::string::npos);
  // One pass, for the upload alone, with the redshift head.
  const std::vector<FakeEmbedder::Call> passes = Passes();
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_EQ(passes[0].n, 1);
  EXPECT_TRUE(passes[0].redshift);
}

TEST_F(SearchServiceTest, ABatchEmbedsItsImagesInOnePassAndAnswersEachItem) {
  v1::BatchSimilarGalaxiesRequest request;
  *request.add_queries()->mutable_image() = Upload(1);
  v1::Image broken = Upload(2);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(broken.mutable_data()->data() + 4 * 7, &nan, 4);
  *request.add_queries()->mutable_image() = broken;
  request.add_queries()->set_id(7);  // not in the catalog
  *request.add_queries()->mutable_image() = Upload(25);
  for (auto& q : *request.mutable_queries()) q.set_k(1);
  v1::BatchSimilarGalaxiesResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->BatchSimilarGalaxies(&context, request, &response).ok());
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).response().neighbors(0).id(), kFirstId + 1);
  EXPECT_EQ(response.results(1).status().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(response.results(1).status().message().find("queries[1].image.data: NaN"), std::string::npos)
      << response.results(1).status().message();
  EXPECT_EQ(response.results(2).status().code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(response.results(3).response().neighbors(0).id(), kFirstId + 25);
  const std::vector<FakeEmbedder::Call> passes = Passes();
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_EQ(passes[0].n, 2);
}

TEST_F(SearchServiceTest, AnUploadIsScoredAgainstTheCatalog) {
  v1::ScoreAnomalyRequest request;
  *request.mutable_image() = Upload(29);
  request.set_include_neighbors(true);
  v1::ScoreAnomalyResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ScoreAnomaly(&context, request, &response).ok());
  EXPECT_EQ(response.k(), 3u);
  ASSERT_EQ(response.neighbors_size(), 3);
  EXPECT_EQ(response.neighbors(0).id(), kFirstId + 29);
  // The fake embedder embeds the upload as it embedded galaxy 29, so the Mahalanobis score (the
  // default) is galaxy 29's own stored score, and its percentile too.
  v1::GetGalaxyRequest get;
  get.set_id(kFirstId + 29);
  v1::GalaxyRecord stored;
  grpc::ClientContext get_context;
  ASSERT_TRUE(stub_->GetGalaxy(&get_context, get, &stored).ok());
  EXPECT_GT(response.score(), 0.0f);
  EXPECT_NEAR(response.score(), stored.anomaly_score(), 1e-4 * stored.anomaly_score());
  EXPECT_NEAR(response.percentile(), stored.anomaly_percentile(), 1e-3);
  EXPECT_EQ(Passes().size(), 1u);
}

TEST_F(SearchServiceTest, WithTurnsAnUploadIsEmbeddedWithItsTurnsAndScoredAsTheCatalog) {
  testutil::ScopedTempDir dir;
  absl::StatusOr<std::unique_ptr<GalaxyServer>> server =
      BuildAndServe(dir.File("snapshots"), IndexKind::kFlat, AnomalyScoreKind::kMahalanobisTurns);
  ASSERT_TRUE(server.ok()) << server.status();
  std::unique_ptr<v1::GalaxySearch::Stub> stub = v1::GalaxySearch::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  v1::IndexInfo info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(stub->GetIndexInfo(&info_context, v1::GetIndexInfoRequest(), &info).ok());
  EXPECT_EQ(info.anomaly_score(), "mahalanobis-turns");
  const size_t before = fake_->calls().size();
  v1::ScoreAnomalyRequest request;
  *request.mutable_image() = Upload(29);
  v1::ScoreAnomalyResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(stub->ScoreAnomaly(&context, request, &response).ok());
  const std::vector<FakeEmbedder::Call> calls = fake_->calls();
  ASSERT_EQ(calls.size(), before + 1);
  EXPECT_TRUE(calls.back().turn_average);
  // The upload is galaxy 29's image: its score is the one the build stored for galaxy 29, which
  // differs from that snapshot's one-view score of the same galaxy.
  v1::GetGalaxyRequest get;
  get.set_id(kFirstId + 29);
  v1::GalaxyRecord stored, one_view;
  grpc::ClientContext get_context, one_view_context;
  ASSERT_TRUE(stub->GetGalaxy(&get_context, get, &stored).ok());
  ASSERT_TRUE(stub_->GetGalaxy(&one_view_context, get, &one_view).ok());
  EXPECT_GT(response.score(), 0.0f);
  EXPECT_NEAR(response.score(), stored.anomaly_score(), 1e-4 * stored.anomaly_score());
  EXPECT_NEAR(response.percentile(), stored.anomaly_percentile(), 1e-3);
  EXPECT_GT(std::abs(stored.anomaly_score() - one_view.anomaly_score()), 1e-3 * one_view.anomaly_score());
}

TEST_F(SearchServiceTest, RecommendBlendsExamplesOrTakesTheBestOfEach) {
  const auto recommend = [&](const std::vector<int>& positives, const std::vector<int>& negatives, bool best,
                             int k, v1::SimilarGalaxiesResponse* out) {
    v1::RecommendRequest request;
    for (int i : positives) request.add_positives()->set_id(kFirstId + i);
    for (int i : negatives) request.add_negatives()->set_id(kFirstId + i);
    request.set_strategy(best ? v1::RECOMMEND_STRATEGY_BEST_SCORE : v1::RECOMMEND_STRATEGY_AVERAGE_VECTOR);
    request.set_k(static_cast<uint32_t>(k));
    grpc::ClientContext context;
    out->Clear();
    return stub_->Recommend(&context, request, out);
  };
  v1::SimilarGalaxiesResponse out;
  // Galaxy i sits at angle 1.5 i / 29 on an arc. The mean of 10 and 14 points at 12.
  ASSERT_TRUE(recommend({10, 14}, {}, false, 3, &out).ok());
  std::vector<int64_t> ids = Ids(out);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[0], 12);
  EXPECT_EQ(std::set<int64_t>({ids[1], ids[2]}), std::set<int64_t>({11, 13}));
  // 2P - N with N at 8 turns the query 3.9 steps past 12, away from 8.
  ASSERT_TRUE(recommend({10, 14}, {8}, false, 1, &out).ok());
  EXPECT_EQ(Ids(out), std::vector<int64_t>({16}));
  // Best score keeps the two examples apart: the neighbours of 3 and of 25, not the middle.
  ASSERT_TRUE(recommend({3, 25}, {}, true, 4, &out).ok());
  ids = Ids(out);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()), std::set<int64_t>({2, 4, 24, 26}));
  EXPECT_NEAR(out.neighbors(0).score(), std::cos(1.5 / 29), 1e-5);
  // ... and a negative at 26 pushes 25's neighbours below 3's, the farther from 26 the higher.
  ASSERT_TRUE(recommend({3, 25}, {26}, true, 2, &out).ok());
  EXPECT_EQ(Ids(out), std::vector<int64_t>({1, 2}));
  EXPECT_TRUE(Passes().empty());  // catalog examples never run the model
  // An image example is embedded (once) and, not being a catalog ID, may come back itself.
  v1::RecommendRequest by_image;
  *by_image.add_positives()->mutable_image() = Upload(20);
  by_image.set_k(1);
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->Recommend(&context, by_image, &out).ok());
  EXPECT_EQ(Ids(out), std::vector<int64_t>({20}));
  EXPECT_EQ(Passes().size(), 1u);
}

TEST_F(SearchServiceTest, RecommendNamesTheExampleAtFault) {
  v1::RecommendRequest request;
  request.add_positives()->set_id(kFirstId + 1);
  request.add_positives()->set_id(7);
  v1::SimilarGalaxiesResponse out;
  grpc::ClientContext c1;
  grpc::Status status = stub_->Recommend(&c1, request, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("positives[1]: galaxy 7 is not in snapshot"), std::string::npos)
      << status.error_message();
  // Two opposite vectors average to nothing.
  request.Clear();
  for (float sign : {1.0f, -1.0f}) {
    v1::Vector* v = request.add_positives()->mutable_vector();
    v->add_values(sign);
    v->add_values(0);
  }
  grpc::ClientContext c2;
  status = stub_->Recommend(&c2, request, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("cancel out"), std::string::npos) << status.error_message();
}

TEST_F(SearchServiceTest, DiversityDropsSkyDuplicatesAndSpreadsTheAnswer) {
  const auto similar = [&](int id, int k, std::optional<float> mmr, std::optional<float> arcsec) {
    v1::SimilarGalaxiesRequest request;
    request.set_id(kFirstId + id);
    request.set_k(static_cast<uint32_t>(k));
    if (mmr) request.mutable_diversity()->set_mmr_lambda(*mmr);
    if (arcsec) request.mutable_diversity()->set_sky_duplicate_arcsec(*arcsec);
    v1::SimilarGalaxiesResponse out;
    grpc::ClientContext context;
    EXPECT_TRUE(stub_->SimilarGalaxies(&context, request, &out).ok());
    return Ids(out);
  };
  // On the arc, 27's four nearest are 26 and 28, then 25 and 29; but on the sky 29 is 28 again.
  std::vector<int64_t> plain = similar(27, 4, std::nullopt, std::nullopt);
  EXPECT_EQ(std::set<int64_t>(plain.begin(), plain.end()), std::set<int64_t>({25, 26, 28, 29}));
  std::vector<int64_t> distinct = similar(27, 4, std::nullopt, 2.0f);
  EXPECT_EQ(std::set<int64_t>(distinct.begin(), distinct.end()), std::set<int64_t>({24, 25, 26, 28}));
  // ... and 29 is dropped as the query galaxy 28 itself.
  std::vector<int64_t> of_28 = similar(28, 2, std::nullopt, std::nullopt);
  EXPECT_EQ(std::set<int64_t>(of_28.begin(), of_28.end()), std::set<int64_t>({27, 29}));
  of_28 = similar(28, 2, std::nullopt, 2.0f);
  EXPECT_EQ(std::set<int64_t>(of_28.begin(), of_28.end()), std::set<int64_t>({26, 27}));
  // Maximal marginal relevance: the best first, then galaxies farther apart on the arc.
  const auto spread = [](const std::vector<int64_t>& ids) {
    return *std::max_element(ids.begin(), ids.end()) - *std::min_element(ids.begin(), ids.end());
  };
  std::vector<int64_t> near = similar(14, 4, std::nullopt, std::nullopt);
  std::vector<int64_t> mmr = similar(14, 4, 0.5f, std::nullopt);
  ASSERT_EQ(mmr.size(), 4u);
  EXPECT_TRUE(mmr[0] == 13 || mmr[0] == 15) << mmr[0];
  EXPECT_EQ(spread(near), 4);  // 12, 13, 15, 16
  EXPECT_GT(spread(mmr), spread(near));
  EXPECT_EQ(similar(14, 4, 1.0f, std::nullopt), near);  // lambda 1 is the plain ranking
}

TEST_F(SearchServiceTest, StoredPdfsThatAreMissingOrTruncatedAreNamed) {
  testutil::ScopedTempDir copy;
  const std::string version = server_->snapshot_version();
  std::filesystem::copy(dir_->File("snapshots/" + version), copy.File("snap"),
                        std::filesystem::copy_options::recursive);
  const std::string pdfs = copy.File("snap/redshift_pdfs.npy");
  std::vector<float> pdf;
  {
    absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Open(copy.File("snap"));
    ASSERT_TRUE(snap.ok()) << snap.status();
    ASSERT_TRUE((*snap)->RedshiftPdf(kGalaxies - 1, &pdf).ok());
    EXPECT_EQ(pdf.size(), 2u);
    EXPECT_EQ((*snap)->RedshiftPdf(kGalaxies, &pdf).code(), absl::StatusCode::kDataLoss);
  }
  std::filesystem::resize_file(pdfs, std::filesystem::file_size(pdfs) - 2);
  {
    absl::StatusOr<std::unique_ptr<Snapshot>> snap = Snapshot::Open(copy.File("snap"));
    ASSERT_TRUE(snap.ok()) << snap.status();
    const absl::Status truncated = (*snap)->RedshiftPdf(kGalaxies - 1, &pdf);
    EXPECT_EQ(truncated.code(), absl::StatusCode::kDataLoss) << truncated;
    EXPECT_NE(truncated.message().find("redshift_pdfs.npy: row 29 is truncated"), std::string::npos) << truncated;
  }
  std::filesystem::remove(pdfs);  // as in a snapshot built before pdfs were stored
  absl::StatusOr<std::unique_ptr<Snapshot>> old = Snapshot::Open(copy.File("snap"));
  ASSERT_TRUE(old.ok()) << old.status();
  const absl::Status missing = (*old)->RedshiftPdf(0, &pdf);
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.message().find("rebuild it"), std::string::npos) << missing;
}

TEST_F(SearchServiceTest, TheModelsFailureReachesTheCallerAsInternal) {
  fake_->FailWith(absl::InternalError("running the model: out of memory"));
  v1::SimilarGalaxiesRequest request;
  *request.mutable_image() = Upload(4);
  v1::SimilarGalaxiesResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub_->SimilarGalaxies(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "running the model: out of memory");
}

}  // namespace
}  // namespace galaxy

namespace galaxy {
namespace {

// A torch-flat snapshot of the same survey, served by a second server, answers every kind of
// similarity query as the suite's flat one: by ID, by upload, by position with a sky filter, and
// with k above the catalog's size.
TEST_F(SearchServiceTest, ATorchFlatSnapshotAnswersAsTheFlatOne) {
  testutil::ScopedTempDir other;
  absl::StatusOr<std::unique_ptr<GalaxyServer>> server = BuildAndServe(other.File("snapshots"), IndexKind::kTorchFlat);
  ASSERT_TRUE(server.ok()) << server.status();
  auto torch_stub = v1::GalaxySearch::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), grpc::InsecureChannelCredentials()));
  v1::IndexInfo info;
  grpc::ClientContext info_context;
  ASSERT_TRUE(torch_stub->GetIndexInfo(&info_context, v1::GetIndexInfoRequest(), &info).ok());
  EXPECT_EQ(info.index_kind(), v1::INDEX_KIND_TORCH_FLAT);

  std::vector<v1::SimilarGalaxiesRequest> requests(4);
  requests[0].set_id(kFirstId + 5);
  requests[0].set_k(4);
  *requests[1].mutable_image() = Upload(12);
  requests[1].set_k(6);
  requests[2].mutable_position()->set_ra(17.0);
  requests[2].mutable_position()->set_dec(0.0);
  requests[2].set_k(5);
  requests[2].mutable_filter()->mutable_cone()->set_ra(20.0);
  requests[2].mutable_filter()->mutable_cone()->set_dec(0.0);
  requests[2].mutable_filter()->mutable_cone()->set_radius(4.5);
  requests[3].set_id(kFirstId + 20);
  requests[3].set_k(kGalaxies + 10);
  for (size_t r = 0; r < requests.size(); ++r) {
    v1::SimilarGalaxiesResponse flat, torch_flat;
    grpc::ClientContext c1, c2;
    ASSERT_TRUE(stub_->SimilarGalaxies(&c1, requests[r], &flat).ok()) << "request " << r;
    ASSERT_TRUE(torch_stub->SimilarGalaxies(&c2, requests[r], &torch_flat).ok()) << "request " << r;
    ASSERT_GT(flat.neighbors_size(), 0) << "request " << r;
    ASSERT_EQ(flat.neighbors_size(), torch_flat.neighbors_size()) << "request " << r;
    // The same galaxies with the same scores, rank by rank. Galaxies whose scores tie in exact
    // arithmetic (an upload of galaxy 12 is as near 10 as 14) may trade places: which comes
    // first depends on the last bit of each library's dot product (FAISS's own kernel against
    // the BLAS that LibTorch calls, which differ from one CPU to another).
    std::map<int64_t, float> flat_score;
    for (const v1::Neighbor& n : flat.neighbors()) flat_score[n.id()] = n.score();
    for (int i = 0; i < flat.neighbors_size(); ++i) {
      const v1::Neighbor& t = torch_flat.neighbors(i);
      EXPECT_NEAR(flat.neighbors(i).score(), t.score(), 1e-5) << "request " << r << " rank " << i;
      ASSERT_EQ(flat_score.count(t.id()), 1u) << "request " << r << ": " << t.id() << " is not in the flat answer";
      EXPECT_NEAR(flat_score[t.id()], t.score(), 1e-5) << "request " << r << " galaxy " << t.id();
      if (t.id() != flat.neighbors(i).id()) {
        EXPECT_NEAR(flat.neighbors(i).score(), flat_score[t.id()], 1e-6) << "request " << r << ": not a tie";
      }
    }
  }
}

}  // namespace
}  // namespace galaxy
