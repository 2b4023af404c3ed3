#include "proto/enum_flags.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {
namespace {

TEST(EnumFlagsTest, NamesDropTheEnumsPrefixAndUseDashes) {
  const auto& kinds = *v1::IndexKind_descriptor();
  EXPECT_EQ(EnumFlagName(kinds, v1::INDEX_KIND_TORCH_FLAT), "torch-flat");
  EXPECT_EQ(EnumFlagName(kinds, v1::INDEX_KIND_HNSW), "hnsw");
  EXPECT_EQ(EnumFlagName(kinds, v1::INDEX_KIND_UNSPECIFIED), "");
  EXPECT_EQ(EnumFlagName(kinds, 999), "");
  EXPECT_EQ(EnumFlagName(*v1::EmbeddingFeatures_descriptor(), v1::EMBEDDING_FEATURES_STAGES), "stages");
  EXPECT_EQ(EnumFlagName(*v1::Interest_descriptor(), v1::INTEREST_NOT_INTERESTING), "not-interesting");
}

TEST(EnumFlagsTest, ChoicesListEveryNamedValueInOrder) {
  EXPECT_EQ(EnumFlagChoices(*v1::IndexKind_descriptor()), "flat, hnsw, ivfpq or torch-flat");
  EXPECT_EQ(EnumFlagChoices(*v1::EmbeddingFeatures_descriptor()), "backbone, projection or stages");
}

TEST(EnumFlagsTest, ParsingRoundTripsEveryValueAndNamesWhatWasWrong) {
  for (const google::protobuf::EnumDescriptor* type :
       {v1::IndexKind_descriptor(), v1::EmbeddingFeatures_descriptor(), v1::Interest_descriptor()}) {
    for (int i = 0; i < type->value_count(); ++i) {
      const int number = type->value(i)->number();
      if (number == 0) continue;
      absl::StatusOr<int> parsed = ParseEnumFlag(*type, "--x", EnumFlagName(*type, number));
      ASSERT_TRUE(parsed.ok()) << parsed.status();
      EXPECT_EQ(*parsed, number);
    }
  }
  absl::StatusOr<int> bad = ParseEnumFlag(*v1::IndexKind_descriptor(), "--index", "ivf");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "--index: 'ivf' is not flat, hnsw, ivfpq or torch-flat");
  // The zero value is not a choice, by either spelling.
  EXPECT_FALSE(ParseEnumFlag(*v1::IndexKind_descriptor(), "--index", "unspecified").ok());
  EXPECT_FALSE(ParseEnumFlag(*v1::IndexKind_descriptor(), "--index", "").ok());
  EXPECT_FALSE(ParseEnumFlag(*v1::IndexKind_descriptor(), "--index", "TORCH_FLAT").ok());
}

}  // namespace
}  // namespace galaxy
