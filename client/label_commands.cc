// galaxy-client's label commands: label (write), labels (list), unlabel (delete), export-labels
// (CSV).
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "client/client_commands.h"
#include "client/command_support.h"

namespace galaxy {

namespace {

absl::StatusOr<v1::LabelFilter> FilterOf(const LabelFlags& f) {
  v1::LabelFilter filter;
  if (f.ids.size() > 1) return absl::InvalidArgumentError("--id: give at most one galaxy to filter by");
  if (!f.ids.empty()) filter.set_galaxy_id(f.ids[0]);
  if (!f.class_name.empty()) filter.set_class_name(f.class_name);
  if (!f.author.empty()) filter.set_author(f.author);
  GALAXY_ASSIGN_OR_RETURN(v1::Interest interest, ParseInterest(f.interest, "--interest"));
  filter.set_interest(interest);
  return filter;
}

const char* InterestWord(v1::Interest i) {
  return i == v1::INTEREST_INTERESTING ? "interesting" : i == v1::INTEREST_NOT_INTERESTING ? "not interesting" : "";
}

}  // namespace

absl::Status RunLabel(const ClientFlags& flags, const LabelFlags& f) {
  if (f.ids.empty()) return absl::InvalidArgumentError("give --id (one or more galaxies to label)");
  GALAXY_ASSIGN_OR_RETURN(v1::Interest interest, ParseInterest(f.interest, "--interest"));
  v1::AddLabelsRequest request;
  for (int64_t id : f.ids) {
    v1::Label* l = request.add_labels();
    l->set_galaxy_id(id);
    l->set_class_name(f.class_name);
    l->set_interest(interest);
    l->set_comment(f.comment);
  }
  request.set_author(f.author);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::AddLabelsResponse response;
  grpc::Status status = client->search().AddLabels(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
  } else {
    std::cout << absl::StrFormat("%d galaxies labelled by %s\n", response.labels_size(),
                                 response.labels_size() > 0 ? response.labels(0).author() : "");
  }
  return absl::OkStatus();
}

absl::Status RunLabels(const ClientFlags& flags, const LabelFlags& f) {
  v1::ListLabelsRequest request;
  GALAXY_ASSIGN_OR_RETURN(*request.mutable_filter(), FilterOf(f));
  request.set_page_size(1000);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::ListLabelsResponse all, page;
  do {
    page.Clear();
    grpc::Status status = client->search().ListLabels(client->NewContext().get(), request, &page);
    if (!status.ok()) return FromServer(*client, status);
    all.mutable_labels()->MergeFrom(page.labels());
    request.set_page_token(page.next_page_token());
  } while (!page.next_page_token().empty());
  if (flags.json) {
    PrintJson(all);
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("%d labels\n%-20s %-24s %-16s %-16s %-20s %s\n", all.labels_size(), "galaxy", "class",
                               "interest", "author", "written (UTC)", "comment");
  for (const v1::Label& l : all.labels()) {
    std::cout << absl::StrFormat("%-20d %-24s %-16s %-16s %-20s %s\n", l.galaxy_id(), l.class_name(),
                                 InterestWord(l.interest()), l.author(),
                                 absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(l.created_ms()),
                                                  absl::UTCTimeZone()),
                                 l.comment());
  }
  return absl::OkStatus();
}

absl::Status RunUnlabel(const ClientFlags& flags, const LabelFlags& f) {
  if (f.ids.empty()) return absl::InvalidArgumentError("give --id (one or more galaxies)");
  v1::DeleteLabelsRequest request;
  for (int64_t id : f.ids) {
    v1::Label* l = request.add_labels();
    l->set_galaxy_id(id);
    l->set_class_name(f.class_name);
    l->set_author(f.author);
  }
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::DeleteLabelsResponse response;
  grpc::Status status = client->search().DeleteLabels(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
  } else {
    std::cout << absl::StrFormat("%d labels deleted\n", response.deleted());
  }
  return absl::OkStatus();
}

absl::Status RunExportLabels(const ClientFlags& flags, const LabelFlags& f) {
  v1::ExportLabelsRequest request;
  GALAXY_ASSIGN_OR_RETURN(*request.mutable_filter(), FilterOf(f));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  std::unique_ptr<grpc::ClientContext> context = client->NewContext();
  auto reader = client->search().ExportLabels(context.get(), request);
  // Written to FILE.tmp and renamed: an interrupted export leaves no half file under the name.
  const bool to_stdout = f.out == "-";
  const std::string tmp = f.out + ".tmp";
  std::ofstream file;
  if (!to_stdout) {
    file.open(tmp, std::ios::binary);
    if (!file) return absl::InvalidArgumentError(absl::StrCat("--out: cannot write ", tmp));
  }
  std::ostream& out = to_stdout ? std::cout : file;
  v1::ExportLabelsChunk chunk;
  size_t bytes = 0;
  while (reader->Read(&chunk)) {
    out << chunk.csv();
    bytes += chunk.csv().size();
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) {
    if (!to_stdout) std::remove(tmp.c_str());
    return FromServer(*client, status);
  }
  if (!to_stdout) {
    file.close();
    if (!file || std::rename(tmp.c_str(), f.out.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("--out: cannot write ", f.out));
    }
    std::cerr << absl::StrFormat("wrote %s (%d bytes)\n", f.out, bytes);
  }
  return absl::OkStatus();
}

}  // namespace galaxy
