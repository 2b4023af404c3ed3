#include "core/file_util.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/temp_dir.h"

namespace galaxy {
namespace {

TEST(ReadBearerTokenTest, TakesATokenAloneOrTheTokenOfAServerTokenFileLine) {
  testutil::ScopedTempDir dir;
  const auto token_of = [&](const std::string& text) {
    std::ofstream(dir.File("t")) << text;
    return ReadBearerToken("--token-file", dir.File("t"));
  };
  EXPECT_EQ(*token_of("# mine\n\n  3f1c0123456789abcdef  \n"), "3f1c0123456789abcdef");
  EXPECT_EQ(*token_of("search 3f1c0123456789abcdef ada\nadmin 9b7e0123456789abcdef\n"), "3f1c0123456789abcdef");
  EXPECT_EQ(*token_of("admin\t9b7e0123456789abcdef\n"), "9b7e0123456789abcdef");
  EXPECT_EQ(token_of("# nothing\n").status().message(), "--token-file: " + dir.File("t") + " holds no token");
  EXPECT_EQ(token_of("reader abc def\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadBearerToken("--shard-token-file", dir.File("missing")).status().message(),
            "--shard-token-file: cannot read " + dir.File("missing"));
}

}  // namespace
}  // namespace galaxy
