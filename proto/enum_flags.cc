#include "proto/enum_flags.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace galaxy {
namespace {

constexpr absl::string_view kUnspecified = "UNSPECIFIED";

// "INDEX_KIND_" for IndexKind (its zero value is INDEX_KIND_UNSPECIFIED); "" when the zero value
// is not <PREFIX>UNSPECIFIED.
absl::string_view Prefix(const google::protobuf::EnumDescriptor& type) {
  const google::protobuf::EnumValueDescriptor* zero = type.FindValueByNumber(0);
  if (zero == nullptr || !absl::EndsWith(zero->name(), kUnspecified)) return {};
  return absl::string_view(zero->name()).substr(0, zero->name().size() - kUnspecified.size());
}

std::vector<std::string> FlagNames(const google::protobuf::EnumDescriptor& type) {
  std::vector<std::string> names;
  for (int i = 0; i < type.value_count(); ++i) {
    if (type.value(i)->number() != 0) names.push_back(EnumFlagName(type, type.value(i)->number()));
  }
  return names;
}

}  // namespace

std::string EnumFlagName(const google::protobuf::EnumDescriptor& type, int value) {
  const google::protobuf::EnumValueDescriptor* v = type.FindValueByNumber(value);
  if (v == nullptr || value == 0) return "";
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, Prefix(type));
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

std::string EnumFlagChoices(const google::protobuf::EnumDescriptor& type) {
  std::vector<std::string> names = FlagNames(type);
  if (names.size() < 2) return absl::StrJoin(names, "");
  const std::string last = names.back();
  names.pop_back();
  return absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
}

absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor& type, absl::string_view flag,
                                  absl::string_view name) {
  for (int i = 0; i < type.value_count(); ++i) {
    const int number = type.value(i)->number();
    if (number != 0 && EnumFlagName(type, number) == name) return number;
  }
  return absl::InvalidArgumentError(absl::StrCat(flag, ": '", name, "' is not ", EnumFlagChoices(type)));
}

}  // namespace galaxy
