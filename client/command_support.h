// What the galaxy-client commands share: connecting, errors from the server, JSON and table
// output, the search flags as request fields, gallery tiles.
#ifndef GALAXY_CLIENT_COMMAND_SUPPORT_H_
#define GALAXY_CLIENT_COMMAND_SUPPORT_H_

#include <google/protobuf/message.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/client_commands.h"
#include "client/gallery.h"
#include "core/status_macros.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

absl::StatusOr<std::unique_ptr<GalaxyClient>> Connect(const ClientFlags& flags);

// A failed RPC as one line naming the server: "server 127.0.0.1:50051: NOT_FOUND: galaxy 42 ...".
absl::Status FromServer(const GalaxyClient& client, const grpc::Status& status);

// `message` as one line of JSON (proto3 mapping, field names as in the .proto) on stdout.
void PrintJson(const google::protobuf::Message& message);

// The galaxy's redshift for a table: spectroscopic, else photometric with its error, else "-".
std::string Redshift(const v1::GalaxyRecord& g);

// The search filter of `s`'s flags.
absl::Status FillFilter(const SimilarFlags& s, v1::SearchFilter* filter);

// Filter, score threshold and diversity of a SimilarGalaxies or Recommend request.
template <typename Request>
absl::Status FillSearch(const SimilarFlags& s, Request* request) {
  GALAXY_RETURN_IF_ERROR(FillFilter(s, request->mutable_filter()));
  if (s.min_score) request->set_min_score(*s.min_score);
  if (s.mmr_lambda) request->mutable_diversity()->set_mmr_lambda(*s.mmr_lambda);
  if (s.sky_duplicate_arcsec) request->mutable_diversity()->set_sky_duplicate_arcsec(*s.sky_duplicate_arcsec);
  request->set_allow_partial(s.allow_partial);
  return absl::OkStatus();
}

// A line on stderr when a router answered without some of its shards.
void WarnIfPartial(const google::protobuf::RepeatedPtrField<std::string>& missing_shards);

// Neighbours as a table: rank, ID, score, position, redshift, anomaly percentile.
void PrintNeighbors(const v1::SimilarGalaxiesResponse& response);

// "interesting" / "not-interesting" ("" : unspecified); INVALID_ARGUMENT naming `flag` otherwise.
absl::StatusOr<v1::Interest> ParseInterest(const std::string& text, const std::string& flag);

// The galaxy's tile for a gallery, with its cutout when the server can read it.
GalleryTile RecordTile(GalaxyClient& client, int64_t id, const std::string& title,
                       std::vector<std::pair<std::string, std::string>> facts);

}  // namespace galaxy

#endif  // GALAXY_CLIENT_COMMAND_SUPPORT_H_
