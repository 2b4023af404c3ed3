// The checks of the label calls (AddLabels, DeleteLabels, ListLabels) and of the label selectors
// a ranking takes (server/request_validation.h declares them).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/request_validation.h"

namespace galaxy {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Control characters (tab allowed where `tab`) make labels unreadable in tables and CSV.
absl::Status NoControlCharacters(absl::string_view text, absl::string_view field, bool tab) {
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && !(tab && c == '\t')) || c == 0x7f) {
      return Invalid(field, absl::StrFormat("a control character (0x%02x) at byte %d", c, i));
    }
  }
  return absl::OkStatus();
}

// The label count of an AddLabels or DeleteLabels call: 1..kMaxLabelsPerCall.
absl::Status ValidateLabelCount(int count, absl::string_view what) {
  if (count == 0) return Invalid("labels", absl::StrCat("empty; give at least one ", what));
  if (count > kMaxLabelsPerCall) {
    return Invalid("labels", absl::StrCat(count, " labels exceeds the limit ", kMaxLabelsPerCall));
  }
  return absl::OkStatus();
}

absl::Status ValidateInterest(v1::Interest interest, absl::string_view field) {
  if (!v1::Interest_IsValid(interest)) {
    return Invalid(field, absl::StrCat(static_cast<int>(interest), " is not a known interest (1 interesting, ",
                                       "2 not interesting)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSelectors(const google::protobuf::RepeatedPtrField<v1::LabelSelector>& selectors,
                               absl::string_view name) {
  if (selectors.size() > kMaxLabelSelectors) {
    return Invalid(name, absl::StrCat(selectors.size(), " label sets exceeds the limit ", kMaxLabelSelectors));
  }
  for (int i = 0; i < selectors.size(); ++i) {
    const v1::LabelSelector& l = selectors.Get(i);
    const std::string field = absl::StrCat(name, "[", i, "]");
    if (l.class_name().empty() == (l.interest() == v1::INTEREST_UNSPECIFIED)) {
      return Invalid(field, "give exactly one of class_name or interest");
    }
    if (!l.class_name().empty()) {
      if (absl::Status s = ValidateClassName(l.class_name(), FieldPath(field, "class_name")); !s.ok()) return s;
    }
    if (absl::Status s = ValidateInterest(l.interest(), FieldPath(field, "interest")); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateAuthorName(absl::string_view name, absl::string_view field) {
  if (name.empty() || name.size() > 64) return Invalid(field, absl::StrCat(name.size(), " characters; use 1..64"));
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '@' || c == '-';
    if (!ok) return Invalid(field, "use only letters, digits and . _ @ -");
  }
  return absl::OkStatus();
}

absl::Status ValidateClassName(absl::string_view name, absl::string_view field) {
  if (name.empty() || name.size() > kMaxClassNameBytes) {
    return Invalid(field, absl::StrCat(name.size(), " bytes; use 1..", kMaxClassNameBytes));
  }
  return NoControlCharacters(name, field, /*tab=*/false);
}

absl::Status ValidateAddLabels(const v1::AddLabelsRequest& request) {
  if (absl::Status s = ValidateLabelCount(request.labels_size(), "label"); !s.ok()) return s;
  if (!request.author().empty()) {
    if (absl::Status s = ValidateAuthorName(request.author(), "author"); !s.ok()) return s;
  }
  for (int i = 0; i < request.labels_size(); ++i) {
    const v1::Label& l = request.labels(i);
    const std::string field = absl::StrCat("labels[", i, "]");
    if (l.class_name().empty() && l.interest() == v1::INTEREST_UNSPECIFIED) {
      return Invalid(field, "neither class_name nor interest; give at least one");
    }
    if (!l.class_name().empty()) {
      if (absl::Status s = ValidateClassName(l.class_name(), FieldPath(field, "class_name")); !s.ok()) return s;
    }
    if (absl::Status s = ValidateInterest(l.interest(), FieldPath(field, "interest")); !s.ok()) return s;
    if (l.comment().size() > kMaxCommentBytes) {
      return Invalid(FieldPath(field, "comment"),
                     absl::StrCat(l.comment().size(), " bytes exceeds the limit ", kMaxCommentBytes));
    }
    if (absl::Status s = NoControlCharacters(l.comment(), FieldPath(field, "comment"), /*tab=*/true); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelFilter(const v1::LabelFilter& filter, absl::string_view field) {
  if (filter.has_class_name() && !filter.class_name().empty()) {
    if (absl::Status s = ValidateClassName(filter.class_name(), FieldPath(field, "class_name")); !s.ok()) return s;
  }
  if (filter.has_author()) {
    if (absl::Status s = ValidateAuthorName(filter.author(), FieldPath(field, "author")); !s.ok()) return s;
  }
  return ValidateInterest(filter.interest(), FieldPath(field, "interest"));
}

absl::Status ValidateDeleteLabels(const v1::DeleteLabelsRequest& request) {
  if (absl::Status s = ValidateLabelCount(request.labels_size(), "label to delete"); !s.ok()) return s;
  for (int i = 0; i < request.labels_size(); ++i) {
    const v1::Label& l = request.labels(i);
    const std::string field = absl::StrCat("labels[", i, "]");
    if (!l.class_name().empty()) {
      if (absl::Status s = ValidateClassName(l.class_name(), FieldPath(field, "class_name")); !s.ok()) return s;
    }
    if (!l.author().empty()) {
      if (absl::Status s = ValidateAuthorName(l.author(), FieldPath(field, "author")); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListLabels(const v1::ListLabelsRequest& request, int* page_size) {
  if (absl::Status s = DecodePageSize(request.page_size(), page_size); !s.ok()) return s;
  return ValidateLabelFilter(request.filter(), "filter");
}


}  // namespace galaxy
