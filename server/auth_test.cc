#include "server/auth.h"

#include <gtest/gtest.h>

namespace galaxy {
namespace {

constexpr char kFile[] =
    "# tokens\n"
    "search  search-token-0123456789\n"
    "\n"
    "admin\tadmin-token-0123456789ab\n";

TEST(TokenAuthTest, RolesAreSeparate) {
  absl::StatusOr<TokenAuth> auth = TokenAuth::FromText(kFile, "tokens.txt");
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_TRUE(auth->Check("Bearer search-token-0123456789", Role::kSearch).ok());
  EXPECT_TRUE(auth->Check("Bearer admin-token-0123456789ab", Role::kSearch).ok());
  EXPECT_TRUE(auth->Check("Bearer admin-token-0123456789ab", Role::kAdmin).ok());
  absl::Status search_on_admin = auth->Check("Bearer search-token-0123456789", Role::kAdmin);
  EXPECT_EQ(search_on_admin.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(search_on_admin.message().find("admin token"), std::string::npos);
}

TEST(TokenAuthTest, MissingWrongOrMalformedTokensAreRefusedWithoutEchoingThem) {
  TokenAuth auth = *TokenAuth::FromText(kFile, "tokens.txt");
  for (const char* bad : {"", "search-token-0123456789", "Bearer wrong-token-0123456789",
                          "Bearer search-token-012345678", "Basic c2VhcmNo"}) {
    absl::Status s = auth.Check(bad, Role::kSearch);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << bad;
    EXPECT_EQ(s.message().find("token-0123"), std::string::npos) << "token echoed: " << s.message();
  }
}

TEST(TokenAuthTest, BadFilesNameTheLineNotTheToken) {
  absl::StatusOr<TokenAuth> short_token = TokenAuth::FromText("search short\nadmin admin-token-0123456789ab\n", "t");
  EXPECT_EQ(short_token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(short_token.status().message().find("t:1"), std::string::npos) << short_token.status();
  EXPECT_EQ(short_token.status().message().find("short\n"), std::string::npos);
  EXPECT_FALSE(TokenAuth::FromText("search search-token-0123456789\n", "t").ok());  // no admin token
  EXPECT_FALSE(TokenAuth::FromText("reader search-token-0123456789\n", "t").ok());
  EXPECT_EQ(TokenAuth::FromFile("/nonexistent/tokens").status().code(), absl::StatusCode::kNotFound);
}

TEST(TokenAuthTest, TokensNameTheirHolders) {
  TokenAuth auth = *TokenAuth::FromText(
      "search search-token-0123456789 ada\nsearch other-token-0123456789\nadmin admin-token-0123456789ab\n", "t");
  absl::StatusOr<Caller> ada = auth.Identify("Bearer search-token-0123456789");
  ASSERT_TRUE(ada.ok()) << ada.status();
  EXPECT_EQ(ada->name, "ada");
  EXPECT_EQ(ada->role, Role::kSearch);
  EXPECT_EQ(auth.Identify("Bearer other-token-0123456789")->name, "search-2");  // no name given
  EXPECT_EQ(auth.Identify("Bearer admin-token-0123456789ab")->name, "admin-1");
  EXPECT_EQ(auth.Identify("Bearer admin-token-0123456789ab")->role, Role::kAdmin);
  EXPECT_EQ(auth.Identify("Bearer nobody-token-0123456789").status().code(), absl::StatusCode::kUnauthenticated);
  absl::StatusOr<TokenAuth> bad_name =
      TokenAuth::FromText("search search-token-0123456789 a/b\nadmin admin-token-0123456789ab\n", "t");
  EXPECT_EQ(bad_name.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_name.status().message().find("t:1: the name: use only letters"), std::string::npos)
      << bad_name.status();
  EXPECT_FALSE(TokenAuth::FromText("search search-token-0123456789 a b\nadmin admin-token-0123456789ab\n", "t").ok());
}

}  // namespace
}  // namespace galaxy
