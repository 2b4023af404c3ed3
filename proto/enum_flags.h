// Command-line names of the API's enum values, for clients that take them as flags and print
// them: the value's name in lower case, without the prefix its enum's zero value
// "<PREFIX>UNSPECIFIED" carries, '_' written '-' (INDEX_KIND_TORCH_FLAT is "torch-flat",
// EMBEDDING_FEATURES_STAGES "stages"). A value added to galaxy.proto then needs no client edit.
// Only for enums whose zero value is <PREFIX>UNSPECIFIED; that value has no flag name.
#ifndef GALAXY_PROTO_ENUM_FLAGS_H_
#define GALAXY_PROTO_ENUM_FLAGS_H_

#include <google/protobuf/descriptor.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace galaxy {

// The flag name of `value` of `type`; "" for the zero value and for numbers `type` does not name.
std::string EnumFlagName(const google::protobuf::EnumDescriptor& type, int value);

// Every flag name of `type`, in the order of galaxy.proto: "flat, hnsw, ivfpq or torch-flat".
std::string EnumFlagChoices(const google::protobuf::EnumDescriptor& type);

// The number of the value of `type` named `name`; InvalidArgument naming `flag`, `name` and the
// choices otherwise ("--index: 'ivf' is not flat, hnsw, ivfpq or torch-flat").
absl::StatusOr<int> ParseEnumFlag(const google::protobuf::EnumDescriptor& type, absl::string_view flag,
                                  absl::string_view name);

}  // namespace galaxy

#endif  // GALAXY_PROTO_ENUM_FLAGS_H_
