#include "server/request_validation.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "data/band_match.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace galaxy {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool InRange(double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; }

template <typename T>
absl::Status ToFloats(const std::string& data, const v1::Image& image, absl::string_view field,
                      std::vector<float>* out) {
  const uint32_t height = image.height(), width = image.width();
  const size_t total = static_cast<size_t>(image.bands()) * height * width;
  out->resize(total);
  for (size_t i = 0; i < total; ++i) {
    T v;
    std::memcpy(&v, data.data() + i * sizeof(T), sizeof(T));
    if (!std::isfinite(v)) {  // a NaN anywhere, also outside what the model sees, is a broken upload
      const size_t b = i / (static_cast<size_t>(height) * width);
      const size_t y = (i / width) % height, x = i % width;
      return Invalid(FieldPath(field, "data"),
                     absl::StrCat(std::isnan(v) ? "NaN" : "Inf", " at band ", b, ", row ", y, ", column ", x));
    }
    (*out)[i] = static_cast<float>(v);
  }
  return absl::OkStatus();
}

}  // namespace

std::string FieldPath(absl::string_view prefix, absl::string_view name) {
  return prefix.empty() ? std::string(name) : absl::StrCat(prefix, ".", name);
}

absl::Status DecodeImage(const v1::Image& image, const ModelShape& shape, const RequestLimits& limits,
                         absl::string_view field, DecodedImage* out) {
  // The plane of each band the model takes, when the image names its bands.
  BandPlanes named;
  if (image.band_names_size() > 0) {
    const std::string names_field = FieldPath(field, "band_names");
    if (image.bands() < 1 || image.bands() > kMaxImageBands) {
      return Invalid(FieldPath(field, "bands"), absl::StrCat(image.bands(), " is outside 1 .. ", kMaxImageBands));
    }
    if (image.band_names_size() != static_cast<int>(image.bands())) {
      return Invalid(names_field, absl::StrCat(image.band_names_size(), " names for ", image.bands(), " bands"));
    }
    for (const std::string& name : image.band_names()) {
      if (name.empty() || name.size() > kMaxBandNameLength) {
        return Invalid(names_field, absl::StrCat("a name of ", name.size(), " characters; 1 .. ", kMaxBandNameLength));
      }
    }
    const std::vector<std::string> names(image.band_names().begin(), image.band_names().end());
    if (shape.band_names.empty()) {
      return Invalid(names_field, "the model's bands have no names to match them to; send its bands in its order");
    }
    named = MatchBands(names, shape.band_names);
    if (!named.twice.empty()) {
      return Invalid(names_field, absl::StrCat(absl::StrJoin(names, ", "), " name band ", named.twice, " twice"));
    }
    if (!named.missing.empty()) {
      return Invalid(names_field, absl::StrCat(absl::StrJoin(names, ", "), "; the model takes ",
                                               absl::StrJoin(shape.band_names, ", "), ", and ",
                                               absl::StrJoin(named.missing, ", "), " are not among them"));
    }
  } else if (image.bands() != static_cast<uint32_t>(shape.bands)) {
    return Invalid(FieldPath(field, "bands"),
                   absl::StrCat(image.bands(), "; the model takes ", shape.bands, " bands",
                                shape.band_names.empty() ? "" : absl::StrCat(" (", absl::StrJoin(shape.band_names, ", "),
                                                                             "; band_names picks them by name)")));
  }
  for (const auto& [name, value] : {std::pair<const char*, uint32_t>{"height", image.height()},
                                    std::pair<const char*, uint32_t>{"width", image.width()}}) {
    if (value < static_cast<uint32_t>(shape.image_size) || value > kMaxImageSide) {
      return Invalid(FieldPath(field, name), absl::StrCat(value, " px is outside ", shape.image_size, " (the model's ",
                                                          "input size) .. ", kMaxImageSide));
    }
  }
  size_t element = 0;
  const char* type = "";
  switch (image.dtype()) {
    case v1::DTYPE_FLOAT32: element = 4; type = "float32"; break;
    case v1::DTYPE_FLOAT64: element = 8; type = "float64"; break;
    default:
      return Invalid(FieldPath(field, "dtype"), absl::StrCat(static_cast<int>(image.dtype()),
                                                             " is not a known dtype (0 float32, 1 float64)"));
  }
  const uint64_t need = static_cast<uint64_t>(image.bands()) * image.height() * image.width() * element;
  if (image.data().size() > limits.max_image_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(FieldPath(field, "data"), ": ", image.data().size(),
                                                     " bytes exceeds the limit of ", limits.max_image_bytes));
  }
  if (image.data().size() != need) {
    return Invalid(FieldPath(field, "data"),
                   absl::StrCat(image.data().size(), " bytes; ", image.bands(), " bands x ", image.height(), " x ",
                                image.width(), " ", type, " need ", need));
  }
  out->e_bv = 0;
  if (image.has_e_bv()) {
    if (!InRange(image.e_bv(), 0, 5)) {
      return Invalid(FieldPath(field, "e_bv"), absl::StrCat(image.e_bv(), " is outside 0 .. 5 magnitudes"));
    }
    out->e_bv = image.e_bv();
  }
  out->height = static_cast<int>(image.height());
  out->width = static_cast<int>(image.width());
  absl::Status decoded = element == 4 ? ToFloats<float>(image.data(), image, field, &out->pixels)
                                      : ToFloats<double>(image.data(), image, field, &out->pixels);
  if (!decoded.ok() || image.band_names_size() == 0) return decoded;
  // Keep the model's bands, in its order.
  const int64_t plane = static_cast<int64_t>(image.height()) * image.width();
  std::vector<float> picked(named.planes.size() * static_cast<size_t>(plane));
  PickPlanes(out->pixels.data(), 1, image.bands(), plane, named.planes, picked.data());
  out->pixels = std::move(picked);
  return absl::OkStatus();
}

absl::Status ValidateK(uint32_t k, const RequestLimits& limits, absl::string_view field, int* out) {
  if (k == 0) {
    *out = static_cast<int>(kDefaultK);
    return absl::OkStatus();
  }
  if (k > limits.max_k) return Invalid(field, absl::StrCat(k, " exceeds the limit ", limits.max_k));
  *out = static_cast<int>(k);
  return absl::OkStatus();
}

absl::Status ValidateFilter(const v1::SearchFilter& filter, absl::string_view field) {
  if (filter.has_z_min() && !InRange(filter.z_min(), -1, 100)) {
    return Invalid(FieldPath(field, "z_min"), absl::StrCat(filter.z_min(), " is not a redshift in -1 .. 100"));
  }
  if (filter.has_z_max() && !InRange(filter.z_max(), -1, 100)) {
    return Invalid(FieldPath(field, "z_max"), absl::StrCat(filter.z_max(), " is not a redshift in -1 .. 100"));
  }
  if (filter.has_z_min() && filter.has_z_max() && filter.z_max() < filter.z_min()) {
    return Invalid(FieldPath(field, "z_max"),
                   absl::StrCat(filter.z_max(), " is below z_min ", filter.z_min()));
  }
  if (!v1::RedshiftSource_IsValid(filter.z_source())) {
    return Invalid(FieldPath(field, "z_source"), absl::StrCat(static_cast<int>(filter.z_source()),
                                                              " is not a known redshift source"));
  }
  if (filter.has_cone()) {
    const v1::SkyCone& c = filter.cone();
    const std::string cone = FieldPath(field, "cone");
    if (!(std::isfinite(c.ra()) && c.ra() >= 0 && c.ra() < 360)) {
      return Invalid(FieldPath(cone, "ra"), absl::StrCat(c.ra(), " is outside [0, 360) degrees"));
    }
    if (!InRange(c.dec(), -90, 90)) {
      return Invalid(FieldPath(cone, "dec"), absl::StrCat(c.dec(), " is outside [-90, 90] degrees"));
    }
    if (!(std::isfinite(c.radius()) && c.radius() > 0 && c.radius() <= 180)) {
      return Invalid(FieldPath(cone, "radius"), absl::StrCat(c.radius(), " is outside (0, 180] degrees"));
    }
  }
  if (filter.exclude_ids_size() > kMaxExcludeIds) {
    return Invalid(FieldPath(field, "exclude_ids"),
                   absl::StrCat(filter.exclude_ids_size(), " IDs exceeds the limit ", kMaxExcludeIds));
  }
  return absl::OkStatus();
}

absl::Status DecodeVector(const v1::Vector& vector, int dim, absl::string_view field, std::vector<float>* out) {
  const std::string values = FieldPath(field, "values");
  if (vector.values_size() != dim) {
    return Invalid(values, absl::StrCat(vector.values_size(), " values; the index has dimension ", dim));
  }
  double norm = 0;
  for (int i = 0; i < dim; ++i) {
    const float v = vector.values(i);
    if (!std::isfinite(v)) return Invalid(absl::StrCat(values, "[", i, "]"), "not a finite number");
    norm += static_cast<double>(v) * v;
  }
  if (!(norm > 0) || !std::isfinite(norm)) {
    return Invalid(values, "all zero (or too large to normalise); no direction to search");
  }
  const double inv = 1.0 / std::sqrt(norm);
  out->resize(static_cast<size_t>(dim));
  for (int i = 0; i < dim; ++i) (*out)[static_cast<size_t>(i)] = static_cast<float>(vector.values(i) * inv);
  return absl::OkStatus();
}

absl::Status ValidateSkyPosition(const v1::SkyPosition& p, absl::string_view field) {
  if (!(std::isfinite(p.ra()) && p.ra() >= 0 && p.ra() < 360)) {
    return Invalid(FieldPath(field, "ra"), absl::StrCat(p.ra(), " is outside [0, 360) degrees"));
  }
  if (!InRange(p.dec(), -90, 90)) {
    return Invalid(FieldPath(field, "dec"), absl::StrCat(p.dec(), " is outside [-90, 90] degrees"));
  }
  if (p.match_radius_arcsec() != 0 && !InRange(p.match_radius_arcsec(), 1e-9, 60)) {
    return Invalid(FieldPath(field, "match_radius_arcsec"),
                   absl::StrCat(p.match_radius_arcsec(), " is outside (0, 60] arcsec"));
  }
  return absl::OkStatus();
}

namespace {

// The one-of of a SimilarGalaxiesRequest (`query`) or an Example (`example`) into `out`; `what`
// names the one-of in the message when none is set.
template <typename M>
absl::Status DecodeQueryItem(const M& m, const ModelShape& shape, const RequestLimits& limits, absl::string_view field,
                             absl::string_view what, QueryItem* out) {
  if (m.has_id()) {
    out->kind = QueryItem::Kind::kId;
    out->id = m.id();
    return absl::OkStatus();
  }
  if (m.has_image()) {
    out->kind = QueryItem::Kind::kImage;
    return DecodeImage(m.image(), shape, limits, FieldPath(field, "image"), &out->image);
  }
  if (m.has_vector()) {
    out->kind = QueryItem::Kind::kVector;
    return DecodeVector(m.vector(), shape.dim, FieldPath(field, "vector"), &out->vector);
  }
  if (m.has_position()) {
    out->kind = QueryItem::Kind::kPosition;
    out->position = m.position();
    return ValidateSkyPosition(m.position(), FieldPath(field, "position"));
  }
  return Invalid(field.empty() ? std::string(what) : FieldPath(field, what),
                 "none set; give one of id, image, vector or position");
}

// The filter of `request` (cleared when unset), checked.
template <typename M>
absl::Status DecodeFilter(const M& request, absl::string_view field, v1::SearchFilter* out) {
  if (!request.has_filter()) {
    out->Clear();
    return absl::OkStatus();
  }
  if (absl::Status s = ValidateFilter(request.filter(), FieldPath(field, "filter")); !s.ok()) return s;
  *out = request.filter();
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodePageSize(uint32_t page_size, int* out) {
  if (page_size > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat(page_size, " exceeds the limit ", kMaxPageSize));
  }
  *out = static_cast<int>(page_size == 0 ? kDefaultPageSize : page_size);
  return absl::OkStatus();
}

namespace {

// One side's examples (Recommend, RankByExamples): at most `max`, each checked by `before` (when
// given), decoded, then checked by `after`; errors name "<name>[i]".
absl::Status DecodeExamples(
    const google::protobuf::RepeatedPtrField<v1::Example>& examples, const char* name, int max,
    const ModelShape& shape, const RequestLimits& limits,
    const std::function<absl::Status(const v1::Example&, const std::string&)>& before,
    const std::function<absl::Status(const v1::Example&, const std::string&, RecommendQuery::Example*)>& after,
    std::vector<RecommendQuery::Example>* out) {
  if (examples.size() > max) return Invalid(name, absl::StrCat(examples.size(), " examples exceeds the limit ", max));
  out->assign(static_cast<size_t>(examples.size()), RecommendQuery::Example());
  for (int i = 0; i < examples.size(); ++i) {
    const v1::Example& e = examples.Get(i);
    const std::string field = absl::StrCat(name, "[", i, "]");
    RecommendQuery::Example* d = &(*out)[static_cast<size_t>(i)];
    if (before) {
      if (absl::Status s = before(e, field); !s.ok()) return s;
    }
    if (absl::Status s = DecodeQueryItem(e, shape, limits, field, "example", d); !s.ok()) return s;
    if (absl::Status s = after(e, field, d); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// k, filter and inclusions shared by SimilarGalaxies and Recommend.
template <typename M>
absl::Status ValidateSearch(const M& request, const RequestLimits& limits, absl::string_view field,
                            SimilarQuery* out) {
  if (absl::Status s = ValidateK(request.k(), limits, FieldPath(field, "k"), &out->k); !s.ok()) return s;
  if (absl::Status s = DecodeFilter(request, field, &out->filter); !s.ok()) return s;
  out->include_metadata = request.include_metadata();
  out->include_embeddings = request.include_embeddings();
  out->mmr_lambda.reset();
  out->sky_duplicate_degrees.reset();
  const v1::Diversity& d = request.diversity();
  if (d.has_mmr_lambda()) {
    if (!InRange(d.mmr_lambda(), 0, 1)) {
      return Invalid(FieldPath(field, "diversity.mmr_lambda"), absl::StrCat(d.mmr_lambda(), " is outside [0, 1]"));
    }
    out->mmr_lambda = d.mmr_lambda();
  }
  if (d.has_sky_duplicate_arcsec()) {
    if (!(std::isfinite(d.sky_duplicate_arcsec()) && d.sky_duplicate_arcsec() > 0 && d.sky_duplicate_arcsec() <= 60)) {
      return Invalid(FieldPath(field, "diversity.sky_duplicate_arcsec"),
                     absl::StrCat(d.sky_duplicate_arcsec(), " is outside (0, 60] arcsec"));
    }
    out->sky_duplicate_degrees = d.sky_duplicate_arcsec() / 3600.0;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSimilarRequest(const v1::SimilarGalaxiesRequest& request, const ModelShape& shape,
                                    const RequestLimits& limits, absl::string_view field, SimilarQuery* out) {
  if (absl::Status s = DecodeQueryItem(request, shape, limits, field, "query", out); !s.ok()) return s;
  if (absl::Status s = ValidateSearch(request, limits, field, out); !s.ok()) return s;
  out->min_score.reset();
  if (request.has_min_score()) {
    if (!InRange(request.min_score(), -1, 1)) {
      return Invalid(FieldPath(field, "min_score"), absl::StrCat(request.min_score(), " is outside [-1, 1]"));
    }
    out->min_score = request.min_score();
  }
  out->duplicate_threshold.reset();
  if (request.has_duplicate_threshold()) {
    if (!InRange(request.duplicate_threshold(), -1, 1)) {
      return Invalid(FieldPath(field, "duplicate_threshold"),
                     absl::StrCat(request.duplicate_threshold(), " is outside [-1, 1]"));
    }
    out->duplicate_threshold = request.duplicate_threshold();
  }
  return absl::OkStatus();
}

absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request, const ModelShape& shape,
                                      const RequestLimits& limits, RecommendQuery* out) {
  if (request.positives_size() == 0) return Invalid("positives", "empty; give at least one example");
  const auto weigh = [](const v1::Example& e, const std::string& field, RecommendQuery::Example* d) {
    if (e.weight() != 0 && !(std::isfinite(e.weight()) && e.weight() > 0 && e.weight() <= kMaxExampleWeight)) {
      return Invalid(FieldPath(field, "weight"),
                     absl::StrCat(e.weight(), " is outside (0, ", kMaxExampleWeight, "]; 0 means 1"));
    }
    d->weight = e.weight() == 0 ? 1.0f : e.weight();
    return absl::OkStatus();
  };
  for (const auto& [name, examples, decoded] :
       {std::make_tuple("positives", &request.positives(), &out->positives),
        std::make_tuple("negatives", &request.negatives(), &out->negatives)}) {
    if (absl::Status s = DecodeExamples(*examples, name, kMaxExamples, shape, limits, nullptr, weigh, decoded); !s.ok()) {
      return s;
    }
  }
  switch (request.strategy()) {
    case v1::RECOMMEND_STRATEGY_UNSPECIFIED:
    case v1::RECOMMEND_STRATEGY_AVERAGE_VECTOR: out->best_score = false; break;
    case v1::RECOMMEND_STRATEGY_BEST_SCORE: out->best_score = true; break;
    default:
      return Invalid("strategy", absl::StrCat(static_cast<int>(request.strategy()),
                                              " is not a known strategy (1 average vector, 2 best score)"));
  }
  if (absl::Status s = ValidateSearch(request, limits, "", &out->search); !s.ok()) return s;
  out->search.min_score.reset();
  if (request.has_min_score()) {
    const double bound = out->best_score ? 2 * kMaxExampleWeight : 1;
    if (!InRange(request.min_score(), -bound, bound)) {
      return Invalid("min_score", absl::StrCat(request.min_score(), " is outside [", -bound, ", ", bound,
                                               "] (the strategy's scale)"));
    }
    out->search.min_score = request.min_score();
  }
  return absl::OkStatus();
}

absl::Status ValidateRankRequest(const v1::RankByExamplesRequest& request, const ModelShape& shape,
                                 const RequestLimits& limits, RankQuery* out) {
  if (absl::Status s = ValidateSelectors(request.positive_labels(), "positive_labels"); !s.ok()) return s;
  if (absl::Status s = ValidateSelectors(request.negative_labels(), "negative_labels"); !s.ok()) return s;
  out->positive_labels.assign(request.positive_labels().begin(), request.positive_labels().end());
  out->negative_labels.assign(request.negative_labels().begin(), request.negative_labels().end());
  if (request.positives_size() == 0 && request.positive_labels_size() == 0) {
    return Invalid("positives", "empty; give at least one example (or positive_labels)");
  }
  int images = 0;
  const auto count_images = [&images](const v1::Example& e, const std::string& field) {
    if (e.has_image() && ++images > kMaxRankImages) {
      return Invalid(field, absl::StrCat("more than ", kMaxRankImages, " images among the examples; give the others ",
                                         "as catalog IDs or vectors"));
    }
    return absl::OkStatus();
  };
  const auto unweighted = [](const v1::Example& e, const std::string& field, RecommendQuery::Example*) {
    if (e.weight() != 0) {
      return Invalid(FieldPath(field, "weight"), "not used by RankByExamples (every example counts alike); leave it unset");
    }
    return absl::OkStatus();
  };
  for (const auto& [name, examples, decoded] :
       {std::make_tuple("positives", &request.positives(), &out->positives),
        std::make_tuple("negatives", &request.negatives(), &out->negatives)}) {
    if (absl::Status s =
            DecodeExamples(*examples, name, kMaxRankExamples, shape, limits, count_images, unweighted, decoded);
        !s.ok()) {
      return s;
    }
  }
  const bool negatives = request.negatives_size() > 0 || request.negative_labels_size() > 0;
  out->random_negatives = negatives ? 0 : kDefaultRandomNegatives;
  if (request.has_random_negatives()) {
    if (request.random_negatives() > kMaxRandomNegatives) {
      return Invalid("random_negatives",
                     absl::StrCat(request.random_negatives(), " exceeds the limit ", kMaxRandomNegatives));
    }
    out->random_negatives = request.random_negatives();
  }
  if (request.negatives_size() == 0 && request.negative_labels_size() == 0 && out->random_negatives == 0) {
    return Invalid("random_negatives", "0 with no negatives: the classifier needs examples of what is not sought");
  }
  out->seed = request.seed();
  out->c = kDefaultRegularization;
  if (request.has_regularization()) {
    if (!(std::isfinite(request.regularization()) && request.regularization() > 0 &&
          request.regularization() <= kMaxRegularization)) {
      return Invalid("regularization",
                     absl::StrCat(request.regularization(), " is outside (0, ", kMaxRegularization, "]"));
    }
    out->c = request.regularization();
  }
  if (absl::Status s = DecodePageSize(request.page_size(), &out->page_size); !s.ok()) return s;
  out->page_token = request.page_token();
  if (absl::Status s = DecodeFilter(request, "", &out->filter); !s.ok()) return s;
  out->min_probability.reset();
  if (request.has_min_probability()) {
    if (!InRange(request.min_probability(), 0, 1)) {
      return Invalid("min_probability", absl::StrCat(request.min_probability(), " is outside [0, 1]"));
    }
    out->min_probability = request.min_probability();
  }
  out->include_metadata = request.include_metadata();
  out->include_embeddings = request.include_embeddings();
  out->limit = request.limit();
  // FNV-1a over the request's deterministic encoding, paging fields cleared.
  v1::RankByExamplesRequest ranking = request;
  ranking.clear_page_token();
  ranking.clear_page_size();
  ranking.clear_limit();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    ranking.SerializeToCodedStream(&coded);
  }
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ull;
  out->fingerprint = hash;
  return absl::OkStatus();
}

absl::Status ValidateBatchSize(int count, const RequestLimits& limits, absl::string_view field) {
  if (count == 0) return Invalid(field, "empty; give at least one query");
  if (static_cast<uint32_t>(count) > limits.max_batch) {
    return Invalid(field, absl::StrCat(count, " queries exceeds the limit ", limits.max_batch));
  }
  return absl::OkStatus();
}

absl::Status ValidateListAnomalies(const v1::ListAnomaliesRequest& request, int* page_size) {
  if (absl::Status s = DecodePageSize(request.page_size(), page_size); !s.ok()) return s;
  if (request.has_min_percentile() && !InRange(request.min_percentile(), 0, 100)) {
    return Invalid("min_percentile", absl::StrCat(request.min_percentile(), " is outside [0, 100]"));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
