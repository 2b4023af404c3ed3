// The commands of galaxy-client, one function each. Human-readable tables on stdout by default,
// the answer as JSON (proto3 JSON mapping) with --json. Every failure is one line on stderr with
// a non-zero exit (core/command_line.h), naming the server for errors that came from it.
#ifndef GALAXY_CLIENT_CLIENT_COMMANDS_H_
#define GALAXY_CLIENT_CLIENT_COMMANDS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "client/galaxy_client.h"

namespace galaxy {

struct ClientFlags {
  ClientOptions connection;
  double timeout_seconds = 30;
  bool json = false;
};

// A query galaxy: exactly one of an ID, an image file (with row and optional E(B-V)) or a sky
// position.
struct QueryFlags {
  std::optional<int64_t> id;
  std::string image;
  int64_t row = 0;
  std::optional<float> e_bv;
  std::string bands;  // --bands: names of the image's planes ("grz", "g,r,z"), for files that name none
  std::optional<double> ra, dec;
  double match_radius_arcsec = 0;
};

struct SimilarFlags {
  QueryFlags query;
  uint32_t k = 10;
  std::optional<float> z_min, z_max;
  std::string z_source = "best";
  std::optional<double> cone_ra, cone_dec, cone_radius;
  std::vector<int64_t> exclude;
  std::optional<float> min_score;
  std::optional<float> mmr_lambda, sky_duplicate_arcsec;
  // Through a router over shards: answer from the shards that answered.
  bool allow_partial = false;
  std::string html;
};

// Positive and negative examples (IDs, image files) and the answer's search flags (their query
// unused).
struct RecommendFlags {
  std::vector<int64_t> positive, negative;
  std::vector<std::string> positive_images, negative_images;
  std::string image_bands;  // --bands: names of every example image's planes, for files that name none
  std::vector<float> positive_weights, negative_weights;
  std::string strategy = "average";
  SimilarFlags search;
};

// The examples and options of a few-shot ranking (`rank`), its filter in `search`.
struct RankFlags {
  std::vector<int64_t> positive, negative;
  std::vector<std::string> positive_images, negative_images;
  std::string image_bands;  // as RecommendFlags'
  std::optional<uint32_t> random_negatives;
  uint64_t seed = 0;
  std::optional<float> regularization, min_probability;
  // Galaxies listed, from the top of the ranking (0: all of it).
  uint64_t top = 50;
  std::string csv;
  // Labelled galaxies as examples: class names, and an interest ("interesting" or
  // "not-interesting") for each side.
  std::vector<std::string> positive_labels, negative_labels;
  std::string positive_interest, negative_interest;
  SimilarFlags search;
};

// A label to write (`label`), a key to delete (`unlabel`), or a filter (`labels`,
// `export-labels`).
struct LabelFlags {
  std::vector<int64_t> ids;
  std::string class_name;
  std::string interest;  // "", interesting, not-interesting
  std::string comment;
  std::string author;
  std::string out;  // export-labels: the CSV file ("-": stdout)
};

absl::Status RunHealth(const ClientFlags& flags, const std::string& service);
absl::Status RunServices(const ClientFlags& flags);
absl::Status RunInfo(const ClientFlags& flags);
absl::Status RunSimilar(const ClientFlags& flags, const SimilarFlags& similar);
absl::Status RunRecommend(const ClientFlags& flags, const RecommendFlags& recommend);
absl::Status RunRank(const ClientFlags& flags, const RankFlags& rank);
absl::Status RunLabel(const ClientFlags& flags, const LabelFlags& label);
absl::Status RunLabels(const ClientFlags& flags, const LabelFlags& filter);
absl::Status RunUnlabel(const ClientFlags& flags, const LabelFlags& label);
absl::Status RunExportLabels(const ClientFlags& flags, const LabelFlags& filter);
absl::Status RunPredictZ(const ClientFlags& flags, const std::vector<int64_t>& ids, const QueryFlags& image,
                         bool pdf);
absl::Status RunAnomaly(const ClientFlags& flags, const QueryFlags& query, bool neighbors);
absl::Status RunListAnomalies(const ClientFlags& flags, int top, std::optional<float> min_percentile, bool rerank,
                              bool allow_partial, const std::string& html);
absl::Status RunGalaxy(const ClientFlags& flags, int64_t id, bool embedding);
// What `galaxy-client rebuild` asks for; empty strings leave the choice to the server.
struct RebuildFlags {
  std::string data, model, index, features;
  std::vector<std::string> params;
  bool no_swap = false, wait = false;
};
absl::Status RunRebuild(const ClientFlags& flags, const RebuildFlags& rebuild);
absl::Status RunRebuildStatus(const ClientFlags& flags, const std::string& id);
absl::Status RunReload(const ClientFlags& flags);

}  // namespace galaxy

#endif  // GALAXY_CLIENT_CLIENT_COMMANDS_H_
