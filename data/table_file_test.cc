// The table writer's contract: rows up to the declared count, nothing under the final name until
// every row is written and committed, formats by extension. (What astropy reads back from both
// formats is checked end to end in tests/index_cli_test.cc.)
#include "data/table_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;

TEST(TableFileTest, WritesDeclaredRowsOnlyAndPublishesOnCommit) {
  testutil::ScopedTempDir dir;
  for (const std::string name : {"t.h5", "t.fits"}) {
    SCOPED_TRACE(name);
    const std::string path = dir.File(name);
    absl::StatusOr<std::unique_ptr<TableFileWriter>> w = TableFileWriter::Create(
        path, {{"id", ColumnType::kInt64}, {"ra", ColumnType::kFloat64, 1, "deg"}, {"v", ColumnType::kFloat32, 2}}, 3);
    ASSERT_TRUE(w.ok()) << w.status();
    const int64_t ids[3] = {7, 8, 9};
    const double ra[3] = {1.5, 2.5, 3.5};
    const float v[6] = {1, 2, 3, 4, 5, 6};
    ASSERT_TRUE((*w)->Append({ids, ra, v}, 2).ok());
    EXPECT_EQ((*w)->Append({ids, ra}, 1).code(), absl::StatusCode::kInvalidArgument);  // a column short
    const absl::Status too_many = (*w)->Append({ids, ra, v}, 2);
    EXPECT_TRUE(absl::StrContains(too_many.message(), "2 more rows after 2 of 3")) << too_many;
    EXPECT_EQ((*w)->Commit().code(), absl::StatusCode::kFailedPrecondition);  // a row missing
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists((*w)->temp_path()));
    ASSERT_TRUE((*w)->Append({ids + 2, ra + 2, v + 4}, 1).ok());
    ASSERT_TRUE((*w)->Commit().ok());
    EXPECT_TRUE(fs::exists(path));
    EXPECT_GT(fs::file_size(path), 3u * (8 + 8 + 8));
  }
}

TEST(TableFileTest, AnUncommittedWriterLeavesNothingAndBadSchemasAreRefused) {
  testutil::ScopedTempDir dir;
  std::string temp;
  {
    absl::StatusOr<std::unique_ptr<TableFileWriter>> w =
        TableFileWriter::Create(dir.File("gone.fits"), {{"id", ColumnType::kInt64}}, 10);
    ASSERT_TRUE(w.ok()) << w.status();
    temp = (*w)->temp_path();
    EXPECT_TRUE(fs::exists(temp));
  }
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(dir.File("gone.fits")));
  EXPECT_TRUE(absl::StrContains(TableFileWriter::Create(dir.File("t.csv"), {{"id"}}, 1).status().message(),
                                "expected a .h5, .hdf5, .fits or .fit file"));
  EXPECT_EQ(TableFileWriter::Create(dir.File("t.h5"), {{"a"}, {"a"}}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TableFileWriter::Create(dir.File("t.h5"), {{"a", ColumnType::kFloat32, 0}}, 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TableFormatOf("X.HDF5").value(), TableFormat::kHdf5);
  EXPECT_EQ(TableFormatOf("x.fit").value(), TableFormat::kFits);
}

}  // namespace
}  // namespace galaxy
