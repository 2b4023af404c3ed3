// libFuzzer target: arbitrary bytes as the requests the server checks (a single similarity
// query, a batch, an anomaly listing). Parsing may fail; when it succeeds, validation must
// return a status (never crash, hang or read out of bounds) and an accepted image must decode
// to exactly bands x S x S finite values (the model's 5, also from an image of other bands that
// names them).
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "server/request_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace galaxy;
  const ModelShape shape{5, 16, 8, {"u", "g", "r", "i", "z"}};  // named: images that name their bands are picked too
  const RequestLimits limits{1000, 256, 1 << 20};
  v1::BatchSimilarGalaxiesRequest batch;
  if (batch.ParseFromArray(data, static_cast<int>(size))) {
    if (ValidateBatchSize(batch.queries_size(), limits, "queries").ok()) {
      for (const v1::SimilarGalaxiesRequest& r : batch.queries()) {
        SimilarQuery q;
        if (ValidateSimilarRequest(r, shape, limits, "queries[0]", &q).ok() &&
            q.kind == SimilarQuery::Kind::kImage) {
          if (q.image.height < 16 || q.image.width < 16 ||
              q.image.pixels.size() != 5u * static_cast<size_t>(q.image.height) * static_cast<size_t>(q.image.width)) {
            __builtin_trap();
          }
          for (float v : q.image.pixels) {
            if (!std::isfinite(v)) __builtin_trap();
          }
        }
      }
    }
  }
  v1::SimilarGalaxiesRequest single;
  if (single.ParseFromArray(data, static_cast<int>(size))) {
    SimilarQuery q;
    (void)ValidateSimilarRequest(single, shape, limits, "", &q);
  }
  v1::RecommendRequest recommend;
  if (recommend.ParseFromArray(data, static_cast<int>(size))) {
    RecommendQuery q;
    if (ValidateRecommendRequest(recommend, shape, limits, &q).ok()) {
      if (q.positives.empty() || q.positives.size() > kMaxExamples || q.negatives.size() > kMaxExamples) {
        __builtin_trap();
      }
      for (const auto* side : {&q.positives, &q.negatives}) {
        for (const RecommendQuery::Example& e : *side) {
          if (!(e.weight > 0 && e.weight <= kMaxExampleWeight)) __builtin_trap();
          if (e.kind == QueryItem::Kind::kVector && e.vector.size() != 8u) __builtin_trap();
        }
      }
    }
  }
  v1::RankByExamplesRequest rank;
  if (rank.ParseFromArray(data, static_cast<int>(size))) {
    RankQuery q;
    if (ValidateRankRequest(rank, shape, limits, &q).ok()) {
      // Examples chosen by label stand in for examples given.
      if ((q.positives.empty() && q.positive_labels.empty()) || q.positives.size() > kMaxRankExamples ||
          q.negatives.size() > kMaxRankExamples) {
        __builtin_trap();
      }
      if (q.negatives.empty() && q.negative_labels.empty() && q.random_negatives == 0) __builtin_trap();
      if (!(q.c > 0 && q.c <= kMaxRegularization) || q.page_size < 1 || q.page_size > static_cast<int>(kMaxPageSize)) {
        __builtin_trap();
      }
      if (q.min_probability && !(*q.min_probability >= 0 && *q.min_probability <= 1)) __builtin_trap();
      int images = 0;
      for (const auto* side : {&q.positives, &q.negatives}) {
        for (const RecommendQuery::Example& e : *side) {
          images += e.kind == QueryItem::Kind::kImage;
          if (e.kind == QueryItem::Kind::kVector && e.vector.size() != 8u) __builtin_trap();
        }
      }
      if (images > kMaxRankImages) __builtin_trap();
    }
  }
  v1::AddLabelsRequest add;
  if (add.ParseFromArray(data, static_cast<int>(size)) && ValidateAddLabels(add).ok()) {
    if (add.labels_size() < 1 || add.labels_size() > kMaxLabelsPerCall) __builtin_trap();
    for (const v1::Label& l : add.labels()) {
      if (l.class_name().size() > kMaxClassNameBytes || l.comment().size() > kMaxCommentBytes) __builtin_trap();
      for (char c : l.class_name()) {
        if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();
      }
    }
  }
  v1::DeleteLabelsRequest del;
  if (del.ParseFromArray(data, static_cast<int>(size))) (void)ValidateDeleteLabels(del);
  v1::ListLabelsRequest labels;
  if (labels.ParseFromArray(data, static_cast<int>(size))) {
    int page = 0;
    if (ValidateListLabels(labels, &page).ok() && (page < 1 || page > static_cast<int>(kMaxPageSize))) {
      __builtin_trap();
    }
  }
  v1::ListAnomaliesRequest list;
  if (list.ParseFromArray(data, static_cast<int>(size))) {
    int page = 0;
    (void)ValidateListAnomalies(list, &page);
  }
  return 0;
}
