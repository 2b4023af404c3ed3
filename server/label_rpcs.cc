// The label RPCs of galaxy.v1.GalaxySearch (AddLabels, ListLabels, DeleteLabels, ExportLabels)
// over the server's LabelStore.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "server/search_service.h"

namespace galaxy {
namespace {

constexpr char kAnonymous[] = "anonymous";

// The author of a write: the caller's token name; without tokens the request's `author` (or
// "anonymous"). PERMISSION_DENIED when a token holder asks to write as someone else.
absl::StatusOr<std::string> AuthorOf(const ServiceState& state, grpc::ServerContextBase* context,
                                     const std::string& requested) {
  const std::optional<Caller> caller = state.CallerOf(context);
  if (!caller) return requested.empty() ? std::string(kAnonymous) : requested;
  if (!requested.empty() && requested != caller->name) {
    return absl::PermissionDeniedError(
        absl::StrCat("author: '", requested, "' is not the holder of this token ('", caller->name, "')"));
  }
  return caller->name;
}

// A CSV field (RFC 4180): quoted when it holds a comma, a quote, a line break or leading or
// trailing space, quotes doubled.
std::string CsvField(const std::string& text) {
  const bool quote = text.find_first_of(",\"\r\n") != std::string::npos ||
                     (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!quote) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

const char* InterestName(v1::Interest interest) {
  switch (interest) {
    case v1::INTEREST_INTERESTING: return "interesting";
    case v1::INTEREST_NOT_INTERESTING: return "not interesting";
    default: return "";
  }
}

}  // namespace

grpc::Status SearchService::AddLabels(grpc::ServerContext* context, const v1::AddLabelsRequest* request,
                                      v1::AddLabelsResponse* response) {
  return state_->Handle("AddLabels", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_RETURN_IF_ERROR(ValidateAddLabels(*request));
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    GALAXY_ASSIGN_OR_RETURN(const std::string author, AuthorOf(*state_, context, request->author()));
    const int64_t now = absl::ToUnixMillis(absl::Now());
    std::vector<v1::Label> labels;
    for (int i = 0; i < request->labels_size(); ++i) {
      const v1::Label& in = request->labels(i);
      if (!snap->RowOf(in.galaxy_id())) {
        return absl::NotFoundError(absl::StrCat("labels[", i, "]: galaxy ", in.galaxy_id(), " is not in snapshot ",
                                                snap->version()));
      }
      v1::Label& l = labels.emplace_back();
      l.set_galaxy_id(in.galaxy_id());
      l.set_class_name(in.class_name());
      l.set_interest(in.interest());
      l.set_comment(in.comment());
      l.set_author(author);
      l.set_created_ms(now);
    }
    GALAXY_RETURN_IF_ERROR(state_->labels->Put(labels));
    response->mutable_labels()->Add(labels.begin(), labels.end());
    return absl::OkStatus();
  });
}

grpc::Status SearchService::ListLabels(grpc::ServerContext* context, const v1::ListLabelsRequest* request,
                                       v1::ListLabelsResponse* response) {
  return state_->Handle("ListLabels", context, Role::kSearch, [&]() -> absl::Status {
    int page_size = 0;
    GALAXY_RETURN_IF_ERROR(ValidateListLabels(*request, &page_size));
    std::string after;
    if (!request->page_token().empty() && !absl::WebSafeBase64Unescape(request->page_token(), &after)) {
      return absl::InvalidArgumentError("page_token: not a token this server issued");
    }
    std::vector<v1::Label> labels;
    std::string next;
    GALAXY_RETURN_IF_ERROR(
        state_->labels->Scan(request->filter(), after, static_cast<size_t>(page_size), &labels, &next));
    response->mutable_labels()->Add(labels.begin(), labels.end());
    if (!next.empty()) response->set_next_page_token(absl::WebSafeBase64Escape(next));
    return absl::OkStatus();
  });
}

grpc::Status SearchService::DeleteLabels(grpc::ServerContext* context, const v1::DeleteLabelsRequest* request,
                                         v1::DeleteLabelsResponse* response) {
  return state_->Handle("DeleteLabels", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_RETURN_IF_ERROR(ValidateDeleteLabels(*request));
    const std::optional<Caller> caller = state_->CallerOf(context);
    std::vector<v1::Label> keys;
    for (int i = 0; i < request->labels_size(); ++i) {
      v1::Label key = request->labels(i);
      if (key.author().empty()) key.set_author(caller ? caller->name : kAnonymous);
      if (caller && caller->role != Role::kAdmin && key.author() != caller->name) {
        return absl::PermissionDeniedError(absl::StrCat("labels[", i, "]: deleting the labels of '", key.author(),
                                                        "' needs the admin token"));
      }
      keys.push_back(std::move(key));
    }
    GALAXY_ASSIGN_OR_RETURN(const int deleted, state_->labels->Delete(keys));
    response->set_deleted(static_cast<uint32_t>(deleted));
    return absl::OkStatus();
  });
}

grpc::Status SearchService::ExportLabels(grpc::ServerContext* context, const v1::ExportLabelsRequest* request,
                                         grpc::ServerWriter<v1::ExportLabelsChunk>* writer) {
  return state_->Handle("ExportLabels", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_RETURN_IF_ERROR(ValidateLabelFilter(request->filter(), "filter"));
    std::string csv = "galaxy_id,class_name,interest,author,created_utc,comment\r\n";
    const auto flush = [&]() -> absl::Status {
      v1::ExportLabelsChunk chunk;
      chunk.set_csv(std::move(csv));
      csv.clear();
      if (!writer->Write(chunk)) return absl::CancelledError("the client stopped reading the export");
      return StillWanted(context);
    };
    GALAXY_RETURN_IF_ERROR(state_->labels->ForEach(request->filter(), [&](const v1::Label& l) -> absl::Status {
      absl::StrAppend(&csv, l.galaxy_id(), ",", CsvField(l.class_name()), ",", InterestName(l.interest()), ",",
                      CsvField(l.author()), ",",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromUnixMillis(l.created_ms()),
                                       absl::UTCTimeZone()),
                      ",", CsvField(l.comment()), "\r\n");
      return csv.size() >= (64 << 10) ? flush() : absl::OkStatus();
    }));
    return flush();
  });
}

}  // namespace galaxy
