// Checks of every field a client sends, before any work is done. Each check returns
// INVALID_ARGUMENT (or RESOURCE_EXHAUSTED for oversized data) with a message that starts with the
// field's path in the request, e.g.
//   "queries[3].image.data: 81916 bytes; 5 bands x 64 x 64 float32 need 81920".
// No LibTorch, FAISS or RocksDB here: the libFuzzer target (server/request_fuzzer.cc) links only
// these checks (request_validation.cc, and label_validation.cc for the label calls) and the
// generated messages.
#ifndef GALAXY_SERVER_REQUEST_VALIDATION_H_
#define GALAXY_SERVER_REQUEST_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "galaxy/v1/galaxy.pb.h"

namespace galaxy {

// What the live snapshot's model accepts.
struct ModelShape {
  int bands = 5;
  // Side of the centre crop the model sees, pixels.
  int image_size = 64;
  // Embedding dimension.
  int dim = 128;
  // The model's band names, in order (an uploaded image's `band_names` are matched to them).
  std::vector<std::string> band_names;
};

// The limits a server enforces (ServerOptions holds the configured values).
struct RequestLimits {
  uint32_t max_k = 1000;
  uint32_t max_batch = 256;
  uint64_t max_image_bytes = 32ull << 20;
};

inline constexpr uint32_t kDefaultK = 10;
// Bands of an uploaded image that names them (Image.band_names), and the length of a name.
inline constexpr uint32_t kMaxImageBands = 16;
inline constexpr size_t kMaxBandNameLength = 64;
inline constexpr uint32_t kMaxImageSide = 512;
inline constexpr int kMaxExcludeIds = 10000;
inline constexpr uint32_t kDefaultPageSize = 50;
inline constexpr uint32_t kMaxPageSize = 1000;
inline constexpr double kDefaultMatchRadiusArcsec = 3.0;

// An uploaded image after its checks: float32, bands x height x width as sent (at least the
// model's image size each way; the model sees the centre crop, model/embedder.h), and the E(B-V)
// to correct for (0 when the request left it unset).
struct DecodedImage {
  std::vector<float> pixels;
  int height = 0, width = 0;
  float e_bv = 0;
};

// Checks bands, height, width, dtype and the byte length of `image`, that every value is finite,
// and e_bv; decodes it into `out`, in the model's bands: with `band_names`, the planes they name
// picked in `shape.band_names`' order (every band the model takes must be named, once).
absl::Status DecodeImage(const v1::Image& image, const ModelShape& shape, const RequestLimits& limits,
                         absl::string_view field, DecodedImage* out);

// k of a similarity query: 0 means kDefaultK; otherwise 1..limits.max_k.
absl::Status ValidateK(uint32_t k, const RequestLimits& limits, absl::string_view field, int* out);

// Redshift bounds (finite, z_min <= z_max), cone (ra in [0, 360), dec in [-90, 90], radius in
// (0, 180]), exclude_ids count.
absl::Status ValidateFilter(const v1::SearchFilter& filter, absl::string_view field);

// `dim` finite values, not all zero; L2-normalised into `out`.
absl::Status DecodeVector(const v1::Vector& vector, int dim, absl::string_view field, std::vector<float>* out);

// ra in [0, 360), dec in [-90, 90], match radius 0 (default) or (0, 60] arcsec.
absl::Status ValidateSkyPosition(const v1::SkyPosition& position, absl::string_view field);

// What a query or an example stands for, checked and decoded: a catalog ID, an image, a unit
// vector or a sky position.
struct QueryItem {
  enum class Kind { kId, kImage, kVector, kPosition };
  Kind kind = Kind::kId;
  int64_t id = 0;
  DecodedImage image;
  std::vector<float> vector;
  v1::SkyPosition position;
};

// One similarity query, checked and decoded.
struct SimilarQuery : QueryItem {
  int k = kDefaultK;
  v1::SearchFilter filter;
  std::optional<float> min_score;
  std::optional<float> duplicate_threshold;
  // Diversity: maximal marginal relevance's lambda, sky duplicates' radius (degrees).
  std::optional<float> mmr_lambda;
  std::optional<double> sky_duplicate_degrees;
  bool include_metadata = false;
  bool include_embeddings = false;
};

// Checks every field of `request`: exactly one query, its contents, k, the filter, min_score and
// duplicate_threshold in [-1, 1]. `field` prefixes messages ("" for a single query,
// "queries[3]" in a batch).
absl::Status ValidateSimilarRequest(const v1::SimilarGalaxiesRequest& request, const ModelShape& shape,
                                    const RequestLimits& limits, absl::string_view field, SimilarQuery* out);

// Most positive (and most negative) examples of one Recommend query.
inline constexpr int kMaxExamples = 64;
// Largest weight of one example.
inline constexpr float kMaxExampleWeight = 100;

// One Recommend query, checked and decoded.
struct RecommendQuery {
  struct Example : QueryItem {
    float weight = 1;
  };
  std::vector<Example> positives, negatives;
  bool best_score = false;  // RECOMMEND_STRATEGY_BEST_SCORE; else the average vector
  // k, filter, min_score and inclusions of the answer (its query item is unused).
  SimilarQuery search;
};

// Checks every field of `request`: 1..kMaxExamples positives and 0..kMaxExamples negatives,
// each one example with a weight in (0, kMaxExampleWeight] (0: 1), the strategy, k, the
// filter, and min_score on the strategy's scale.
absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request, const ModelShape& shape,
                                      const RequestLimits& limits, RecommendQuery* out);

// Limits of one RankByExamples query: examples per class, images among them, random negatives.
inline constexpr int kMaxRankExamples = 10000;
inline constexpr int kMaxRankImages = 64;
inline constexpr uint32_t kMaxRandomNegatives = 100000;
inline constexpr uint32_t kDefaultRandomNegatives = 1000;
inline constexpr double kMaxRegularization = 1e4;
// C of the few-shot classifier when a request leaves it unset (docs/SCIENCE.md, "Few-shot discovery").
inline constexpr double kDefaultRegularization = 0.01;

// One RankByExamples query, checked and decoded.
struct RankQuery {
  std::vector<RecommendQuery::Example> positives, negatives;  // weights unused (1)
  uint32_t random_negatives = 0;
  uint64_t seed = 0;
  double c = kDefaultRegularization;  // LIBLINEAR's C, in the catalog's whitened coordinates
  int page_size = kDefaultPageSize;
  std::string page_token;
  v1::SearchFilter filter;
  std::optional<float> min_probability;
  bool include_metadata = false;
  bool include_embeddings = false;
  uint64_t limit = 0;  // StreamRankByExamples
  // Labelled galaxies as further examples (resolved by the server against its label store).
  std::vector<v1::LabelSelector> positive_labels, negative_labels;
  // Of the request without page_token, page_size and limit: a page token is only good for the
  // ranking that issued it.
  uint64_t fingerprint = 0;
};

// Checks every field of `request`: 1..kMaxRankExamples positives (none when positive_labels
// are given), 0..kMaxRankExamples negatives, at most kMaxLabelSelectors selectors a side,
// each one example without a weight, at most kMaxRankImages images, random_negatives (unset: the
// default when no negatives are given), regularization in (0, kMaxRegularization], page_size,
// the filter and min_probability in [0, 1].
absl::Status ValidateRankRequest(const v1::RankByExamplesRequest& request, const ModelShape& shape,
                                 const RequestLimits& limits, RankQuery* out);

// Labels: per call, class name and comment lengths (bytes), label sets per ranking side.
inline constexpr int kMaxLabelsPerCall = 1000;
inline constexpr size_t kMaxClassNameBytes = 64;
inline constexpr size_t kMaxCommentBytes = 1000;
inline constexpr int kMaxLabelSelectors = 16;

// OK when `name` can name an author or a token holder: 1..64 of [A-Za-z0-9._@-].
absl::Status ValidateAuthorName(absl::string_view name, absl::string_view field);
// A class name: 1..kMaxClassNameBytes bytes, no control characters.
absl::Status ValidateClassName(absl::string_view name, absl::string_view field);
// 1..kMaxLabelsPerCall labels, each with a class name and/or an interest, a known interest, a
// comment of at most kMaxCommentBytes without control characters but tab; the author when set.
absl::Status ValidateAddLabels(const v1::AddLabelsRequest& request);
// The class name and author when set, a known interest.
absl::Status ValidateLabelFilter(const v1::LabelFilter& filter, absl::string_view field);
// 1..kMaxLabelsPerCall keys, each a class name (or empty) and an author (or empty).
absl::Status ValidateDeleteLabels(const v1::DeleteLabelsRequest& request);
// ListLabels: the filter and page_size (0 = default 50, else 1..1000).
absl::Status ValidateListLabels(const v1::ListLabelsRequest& request, int* page_size);
// A ranking side's label selectors: at most kMaxLabelSelectors, each exactly one of a class name
// or an interest (RankByExamples' positive_labels, negative_labels; `name` is the field).
absl::Status ValidateSelectors(const google::protobuf::RepeatedPtrField<v1::LabelSelector>& selectors,
                               absl::string_view name);
// A page size: 0 means kDefaultPageSize, else 1..kMaxPageSize.
absl::Status DecodePageSize(uint32_t page_size, int* out);

// Item count of a batched call: 1..limits.max_batch.
absl::Status ValidateBatchSize(int count, const RequestLimits& limits, absl::string_view field);

// page_size (0 = default 50, else 1..1000) and min_percentile in [0, 100].
absl::Status ValidateListAnomalies(const v1::ListAnomaliesRequest& request, int* page_size);

// "a.b" or "b" when a is empty.
std::string FieldPath(absl::string_view prefix, absl::string_view name);

}  // namespace galaxy

#endif  // GALAXY_SERVER_REQUEST_VALIDATION_H_
