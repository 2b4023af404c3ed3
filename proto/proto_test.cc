// The contract's messages survive serialisation unchanged, and the schema holds what the
// documentation promises (every RPC present, GalaxyRecord fields).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {
namespace {

using google::protobuf::util::MessageDifferencer;

template <typename T>
T RoundTrip(const T& message) {
  std::string bytes;
  EXPECT_TRUE(message.SerializeToString(&bytes));
  T parsed;
  EXPECT_TRUE(parsed.ParseFromString(bytes));
  return parsed;
}

TEST(ProtoTest, SimilarGalaxiesRequestWithImageRoundTrips) {
  v1::SimilarGalaxiesRequest request;
  v1::Image* image = request.mutable_image();
  image->set_bands(5);
  image->set_height(64);
  image->set_width(64);
  std::string pixels(5 * 64 * 64 * sizeof(float), '\0');
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<char>(i * 31);
  image->set_data(pixels);
  image->set_e_bv(0.031f);
  request.set_k(25);
  request.mutable_filter()->set_z_min(0.05f);
  request.mutable_filter()->set_z_max(0.2f);
  request.mutable_filter()->mutable_cone()->set_ra(185.0);
  request.mutable_filter()->mutable_cone()->set_dec(15.5);
  request.mutable_filter()->mutable_cone()->set_radius(2.0);
  request.mutable_filter()->add_exclude_ids(1237648720693755918LL);
  request.set_min_score(0.5f);
  request.set_include_metadata(true);

  v1::SimilarGalaxiesRequest parsed = RoundTrip(request);
  EXPECT_TRUE(MessageDifferencer::Equals(request, parsed));
  EXPECT_EQ(parsed.query_case(), v1::SimilarGalaxiesRequest::kImage);
  EXPECT_EQ(parsed.image().data(), pixels);
  ASSERT_TRUE(parsed.image().has_e_bv());
  EXPECT_FLOAT_EQ(parsed.image().e_bv(), 0.031f);
  EXPECT_EQ(parsed.filter().exclude_ids(0), 1237648720693755918LL);
}

TEST(ProtoTest, UnsetOptionalFieldsStayUnsetAfterRoundTrip) {
  v1::GalaxyRecord record;
  record.set_id(42);
  record.set_ra(10.5);
  v1::GalaxyRecord parsed = RoundTrip(record);
  EXPECT_FALSE(parsed.has_specz());
  EXPECT_FALSE(parsed.has_zphot());
  parsed.set_specz(0.0f);  // a real redshift of 0 is distinguishable from "unknown"
  EXPECT_TRUE(RoundTrip(parsed).has_specz());
}

TEST(ProtoTest, GalaxyRecordRoundTripsWithEmbeddingAndExtras) {
  v1::GalaxyRecord record;
  record.set_id(-7);  // IDs are signed int64, as in the dataset's ObjID column
  record.set_ra(359.999);
  record.set_dec(-89.5);
  record.set_e_bv(0.02f);
  record.set_specz(0.123f);
  record.set_zphot(0.118f);
  record.set_zphot_err(0.01f);
  record.set_anomaly_score(0.42f);
  record.set_anomaly_percentile(99.5f);
  for (int i = 0; i < 128; ++i) record.add_embedding(static_cast<float>(i) / 128.0f);
  record.set_source_row(123456789012ULL);
  (*record.mutable_extra())["petroMag_r"] = 17.2;
  v1::GalaxyRecord parsed = RoundTrip(record);
  EXPECT_TRUE(MessageDifferencer::Equals(record, parsed));
  EXPECT_EQ(parsed.embedding_size(), 128);
  EXPECT_DOUBLE_EQ(parsed.extra().at("petroMag_r"), 17.2);
}

TEST(ProtoTest, JsonFormUsesDocumentedFieldNames) {
  v1::RebuildStatus status;
  status.set_state(v1::RebuildStatus::STATE_RUNNING);
  status.set_phase("embedding");
  status.set_done(10);
  status.set_total(100);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(status, &json).ok());
  EXPECT_NE(json.find("\"state\":\"STATE_RUNNING\""), std::string::npos) << json;
  v1::RebuildStatus back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(status, back));
}

TEST(ProtoTest, EveryContractRpcExists) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  const auto* search = pool->FindServiceByName("galaxy.v1.GalaxySearch");
  const auto* admin = pool->FindServiceByName("galaxy.v1.GalaxyAdmin");
  ASSERT_NE(search, nullptr);
  ASSERT_NE(admin, nullptr);
  for (const char* rpc : {"SimilarGalaxies", "BatchSimilarGalaxies", "PredictRedshift",
                          "ScoreAnomaly", "ListAnomalies", "GetGalaxy", "GetIndexInfo"}) {
    EXPECT_NE(search->FindMethodByName(rpc), nullptr) << rpc;
  }
  for (const char* rpc : {"RebuildIndex", "GetRebuildStatus", "ReloadSnapshot"}) {
    EXPECT_NE(admin->FindMethodByName(rpc), nullptr) << rpc;
  }
}

TEST(ProtoTest, SimilarityQueryIsOneOfIdImageVectorPosition) {
  const auto* request = v1::SimilarGalaxiesRequest::descriptor();
  const auto* query = request->FindOneofByName("query");
  ASSERT_NE(query, nullptr);
  std::set<std::string> names;
  for (int i = 0; i < query->field_count(); ++i) names.insert(query->field(i)->name());
  EXPECT_EQ(names, (std::set<std::string>{"id", "image", "vector", "position"}));
}

TEST(ProtoTest, SettingOneQueryClearsTheOther) {
  v1::SimilarGalaxiesRequest request;
  request.set_id(5);
  request.mutable_vector()->add_values(1.0f);
  EXPECT_EQ(request.query_case(), v1::SimilarGalaxiesRequest::kVector);
  EXPECT_FALSE(request.has_id());
}

}  // namespace
}  // namespace galaxy
