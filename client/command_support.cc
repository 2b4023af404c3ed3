#include "client/command_support.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "proto/enum_flags.h"
#include "proto/rpc_status.h"

namespace galaxy {

absl::StatusOr<std::unique_ptr<GalaxyClient>> Connect(const ClientFlags& flags) {
  if (!(flags.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--timeout: ", flags.timeout_seconds, " must be > 0 seconds"));
  }
  ClientOptions options = flags.connection;
  options.timeout = absl::Seconds(flags.timeout_seconds);
  return GalaxyClient::Connect(options);
}

absl::Status FromServer(const GalaxyClient& client, const grpc::Status& status) {
  return Annotate(FromGrpcStatus(status), absl::StrCat("server ", client.server()));
}

void PrintJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.always_print_primitive_fields = true;
  print.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print);
  std::cout << json << "\n";
}

absl::StatusOr<v1::Interest> ParseInterest(const std::string& text, const std::string& flag) {
  if (text.empty()) return v1::INTEREST_UNSPECIFIED;
  GALAXY_ASSIGN_OR_RETURN(int interest, ParseEnumFlag(*v1::Interest_descriptor(), flag, text));
  return static_cast<v1::Interest>(interest);
}

std::string Redshift(const v1::GalaxyRecord& g) {
  if (g.has_specz()) return absl::StrFormat("%.4f", g.specz());
  if (g.has_zphot()) return absl::StrFormat("%.4f±%.4f (phot)", g.zphot(), g.zphot_err());
  return "-";
}

absl::Status FillFilter(const SimilarFlags& s, v1::SearchFilter* filter) {
  if (s.z_min) filter->set_z_min(*s.z_min);
  if (s.z_max) filter->set_z_max(*s.z_max);
  if (s.z_source == "spec") {
    filter->set_z_source(v1::REDSHIFT_SOURCE_SPECTROSCOPIC);
  } else if (s.z_source == "phot") {
    filter->set_z_source(v1::REDSHIFT_SOURCE_PHOTOMETRIC);
  } else if (s.z_source != "best") {
    return absl::InvalidArgumentError(absl::StrCat("--z-source: '", s.z_source, "' is not best, spec or phot"));
  }
  const int cone_parts = (s.cone_ra ? 1 : 0) + (s.cone_dec ? 1 : 0) + (s.cone_radius ? 1 : 0);
  if (cone_parts != 0 && cone_parts != 3) {
    return absl::InvalidArgumentError("--cone-ra, --cone-dec, --cone-radius: give all three or none");
  }
  if (cone_parts == 3) {
    filter->mutable_cone()->set_ra(*s.cone_ra);
    filter->mutable_cone()->set_dec(*s.cone_dec);
    filter->mutable_cone()->set_radius(*s.cone_radius);
  }
  for (int64_t id : s.exclude) filter->add_exclude_ids(id);
  return absl::OkStatus();
}

void WarnIfPartial(const google::protobuf::RepeatedPtrField<std::string>& missing_shards) {
  if (missing_shards.empty()) return;
  std::cerr << "partial answer: no reply from shard " << absl::StrJoin(missing_shards, ", shard ") << "\n";
}

void PrintNeighbors(const v1::SimilarGalaxiesResponse& response) {
  WarnIfPartial(response.missing_shards());
  std::cout << absl::StrFormat("%4s  %-20s %7s %10s %9s  %-22s %8s\n", "rank", "id", "score", "ra", "dec", "z",
                               "anomaly%");
  for (const v1::Neighbor& n : response.neighbors()) {
    std::cout << absl::StrFormat("%4d  %-20d %7.4f %10.5f %9.5f  %-22s %8.1f\n", n.rank(), n.id(), n.score(),
                                 n.galaxy().ra(), n.galaxy().dec(), Redshift(n.galaxy()),
                                 n.galaxy().anomaly_percentile());
  }
}

GalleryTile RecordTile(GalaxyClient& client, int64_t id, const std::string& title,
                       std::vector<std::pair<std::string, std::string>> facts) {
  GalleryTile tile;
  tile.title = title;
  tile.facts = std::move(facts);
  v1::GetGalaxyRequest get;
  get.set_id(id);
  get.set_include_image(true);
  v1::GalaxyRecord record;
  grpc::Status status = client.search().GetGalaxy(client.NewContext().get(), get, &record);
  if (status.ok()) {
    tile.image = record.image();
    tile.facts.emplace_back("ra, dec", absl::StrFormat("%.5f, %.5f", record.ra(), record.dec()));
    tile.facts.emplace_back("z", Redshift(record));
  } else {
    tile.note = status.error_message();
  }
  return tile;
}

}  // namespace galaxy
