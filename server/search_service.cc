#include "server/search_service.h"

#include <cmath>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/random.h"
#include "core/status_macros.h"
#include "server/label_rerank.h"
#include "server/proto_convert.h"
#include "server/rank_by_examples.h"

namespace galaxy {
namespace {

// What the model made of the image items of one call.
struct ItemEmbeddings {
  // Why no image item has rows (the batch failed, the deadline passed); OK otherwise.
  absl::Status status;
  // One row per item that had an image, in item order.
  EmbedOutput out;
  // Item -> its row of `out`; -1 when the item had no image.
  std::vector<int> row;
  int dim = 0;

  const float* Embedding(size_t item) const {
    return out.embeddings.data() + static_cast<size_t>(row[item]) * static_cast<size_t>(dim);
  }
};

// The rows items[i] will have (null items: none) and the images to embed, in item order.
ItemEmbeddings RowsOf(const ServingSnapshot& snap, const std::vector<const DecodedImage*>& items,
                      std::vector<const DecodedImage*>* images) {
  ItemEmbeddings embedded;
  embedded.dim = snap.shape().dim;
  embedded.row.assign(items.size(), -1);
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i] == nullptr) continue;
    embedded.row[i] = static_cast<int>(images->size());
    images->push_back(items[i]);
  }
  return embedded;
}

// The model's answer, or its failure, into `embedded`.
void Fill(absl::StatusOr<EmbedOutput> out, ItemEmbeddings* embedded) {
  if (out.ok()) {
    embedded->out = std::move(*out);
  } else {
    embedded->status = out.status();
  }
}

// The one way a call's items reach the model: items[i] (null for items without an image, or
// whose checks failed) are embedded together through the batcher, with what `parts` asks besides
// the embeddings (redshift pdfs, turn-averaged embeddings); then `done` runs, on the batcher's
// thread (here, at once, when no item has an image). The images and `snap` must outlive `done`.
void EmbedItems(ServiceState& state, const ServingSnapshot& snap, const std::vector<const DecodedImage*>& items,
                absl::Time deadline, const EmbedParts& parts, std::function<void(ItemEmbeddings)> done) {
  std::vector<const DecodedImage*> images;
  ItemEmbeddings embedded = RowsOf(snap, items, &images);
  state.batcher.Submit(snap.model(), std::move(images), deadline, parts,
                       [embedded, done = std::move(done)](absl::StatusOr<EmbedOutput> out) mutable {
                         Fill(std::move(out), &embedded);
                         done(std::move(embedded));
                       });
}

// EmbedItems for a synchronous RPC, which owns its thread: waits for the model.
ItemEmbeddings EmbedItemsNow(ServiceState& state, const ServingSnapshot& snap,
                             const std::vector<const DecodedImage*>& items, absl::Time deadline, const EmbedParts& parts) {
  std::vector<const DecodedImage*> images;
  ItemEmbeddings embedded = RowsOf(snap, items, &images);
  Fill(state.batcher.Run(snap.model(), std::move(images), deadline, parts), &embedded);
  return embedded;
}

// One SimilarGalaxies or BatchSimilarGalaxies call: its checked queries (statuses[i] is query i's
// check, then its outcome) and where each answer goes.
struct SimilarCall {
  std::shared_ptr<const ServingSnapshot> snap;
  std::vector<SimilarQuery> queries;
  std::vector<absl::Status> statuses;
  std::vector<v1::SimilarGalaxiesResponse*> responses;

  // The image of each image query that passed its checks; null for the others.
  std::vector<const DecodedImage*> Images() const {
    std::vector<const DecodedImage*> images(queries.size(), nullptr);
    for (size_t i = 0; i < queries.size(); ++i) {
      if (statuses[i].ok() && queries[i].kind == SimilarQuery::Kind::kImage) images[i] = &queries[i].image;
    }
    return images;
  }

  // Searches every query that passed its checks: image queries with their rows of `embedded`,
  // by-ID and by-position ones with the stored embedding of their galaxy (itself excluded).
  void Answer(const ItemEmbeddings& embedded, grpc::ServerContextBase* context) {
    for (size_t i = 0; i < queries.size(); ++i) {
      if (!statuses[i].ok()) continue;
      statuses[i] = AnswerOne(i, embedded, context);
    }
  }

 private:
  absl::Status AnswerOne(size_t i, const ItemEmbeddings& embedded, grpc::ServerContextBase* context) {
    const SimilarQuery& q = queries[i];
    GALAXY_RETURN_IF_ERROR(StillWanted(context));
    std::vector<float> stored;
    const float* query = nullptr;
    std::optional<int64_t> self;
    switch (q.kind) {
      case SimilarQuery::Kind::kImage:
        GALAXY_RETURN_IF_ERROR(embedded.status);
        query = embedded.Embedding(i);
        break;
      case SimilarQuery::Kind::kVector:
        query = q.vector.data();
        break;
      case SimilarQuery::Kind::kId:
      case SimilarQuery::Kind::kPosition: {
        int64_t id = q.id;
        if (q.kind == SimilarQuery::Kind::kPosition) {
          GALAXY_ASSIGN_OR_RETURN(id, snap->MatchPosition(q.position));
        }
        GALAXY_RETURN_IF_ERROR(snap->StoredEmbedding(id, &stored));
        query = stored.data();
        self = id;
        break;
      }
    }
    GALAXY_RETURN_IF_ERROR(snap->Similar(query, q, self, responses[i]));
    if (self) responses[i]->set_query_id(*self);
    return absl::OkStatus();
  }
};

// Recommend's average-vector query: P (the positives' weighted mean), or 2P - N with negatives,
// normalised. INVALID_ARGUMENT when the examples cancel out.
absl::StatusOr<std::vector<float>> AverageVector(const std::vector<WeightedVector>& positives,
                                                 const std::vector<WeightedVector>& negatives) {
  const auto mean = [](const std::vector<WeightedVector>& examples) {
    std::vector<double> sum(examples.front().vector.size(), 0.0);
    double weights = 0;
    for (const WeightedVector& e : examples) {
      for (size_t d = 0; d < sum.size(); ++d) sum[d] += e.weight * e.vector[d];
      weights += e.weight;
    }
    for (double& v : sum) v /= weights;
    return sum;
  };
  std::vector<double> q = mean(positives);
  if (!negatives.empty()) {
    const std::vector<double> away = mean(negatives);
    for (size_t d = 0; d < q.size(); ++d) q[d] = 2 * q[d] - away[d];
  }
  double norm = 0;
  for (double v : q) norm += v * v;
  norm = std::sqrt(norm);
  if (!(norm > 1e-6)) {
    return absl::InvalidArgumentError("positives, negatives: the examples cancel out; no direction to search");
  }
  std::vector<float> out(q.size());
  for (size_t d = 0; d < q.size(); ++d) out[d] = static_cast<float>(q[d] / norm);
  return out;
}

// Every example of a Recommend or RankByExamples call as a unit vector with its weight: images
// embedded together through the batcher, catalog galaxies (by ID or sky position) read from the
// snapshot, their IDs appended to `catalog_ids`. Errors name the example ("negatives[2]: ...").
absl::Status ExampleVectors(ServiceState& state, const ServingSnapshot& snap,
                            const std::vector<RecommendQuery::Example>& positive_examples,
                            const std::vector<RecommendQuery::Example>& negative_examples,
                            grpc::ServerContextBase* context, std::vector<WeightedVector>* positives,
                            std::vector<WeightedVector>* negatives, std::vector<int64_t>* catalog_ids) {
  const size_t n_pos = positive_examples.size();
  const auto example = [&](size_t i) -> const RecommendQuery::Example& {
    return i < n_pos ? positive_examples[i] : negative_examples[i - n_pos];
  };
  const auto field = [&](size_t i) {
    return i < n_pos ? absl::StrCat("positives[", i, "]") : absl::StrCat("negatives[", i - n_pos, "]");
  };
  const size_t total = n_pos + negative_examples.size();
  std::vector<const DecodedImage*> images(total, nullptr);
  for (size_t i = 0; i < total; ++i) {
    if (example(i).kind == QueryItem::Kind::kImage) images[i] = &example(i).image;
  }
  const ItemEmbeddings embedded = EmbedItemsNow(state, snap, images, DeadlineOf(context), EmbedParts{});
  for (size_t i = 0; i < total; ++i) {
    const RecommendQuery::Example& e = example(i);
    WeightedVector v;
    v.weight = e.weight;
    switch (e.kind) {
      case QueryItem::Kind::kImage:
        if (!embedded.status.ok()) return Annotate(embedded.status, field(i));
        v.vector.assign(embedded.Embedding(i), embedded.Embedding(i) + embedded.dim);
        break;
      case QueryItem::Kind::kVector:
        v.vector = e.vector;
        break;
      case QueryItem::Kind::kId:
      case QueryItem::Kind::kPosition: {
        int64_t id = e.id;
        if (e.kind == QueryItem::Kind::kPosition) {
          absl::StatusOr<int64_t> matched = snap.MatchPosition(e.position);
          if (!matched.ok()) return Annotate(matched.status(), field(i));
          id = *matched;
        }
        if (absl::Status s = snap.StoredEmbedding(id, &v.vector); !s.ok()) return Annotate(s, field(i));
        catalog_ids->push_back(id);
        break;
      }
    }
    (i < n_pos ? positives : negatives)->push_back(std::move(v));
  }
  return absl::OkStatus();
}

// The galaxies of `snap` that carry the labels of q's positive_labels / negative_labels, added to
// its examples by ID (each galaxy once a side). The ranking then depends on the labels: their
// generation goes into the fingerprint its page tokens carry.
absl::Status AddLabelledExamples(const LabelStore& labels, const ServingSnapshot& snap, RankQuery* q) {
  if (q->positive_labels.empty() && q->negative_labels.empty()) return absl::OkStatus();
  for (const auto& [name, selectors, examples] :
       {std::make_tuple("positive_labels", &q->positive_labels, &q->positives),
        std::make_tuple("negative_labels", &q->negative_labels, &q->negatives)}) {
    std::set<int64_t> ids;
    for (const RecommendQuery::Example& e : *examples) {
      if (e.kind == QueryItem::Kind::kId) ids.insert(e.id);
    }
    for (const v1::LabelSelector& selector : *selectors) {
      v1::LabelFilter filter;
      if (!selector.class_name().empty()) filter.set_class_name(selector.class_name());
      filter.set_interest(selector.interest());
      GALAXY_RETURN_IF_ERROR(labels.ForEach(filter, [&](const v1::Label& l) -> absl::Status {
        if (!snap.RowOf(l.galaxy_id()) || !ids.insert(l.galaxy_id()).second) return absl::OkStatus();
        if (examples->size() >= static_cast<size_t>(kMaxRankExamples)) {
          return absl::InvalidArgumentError(absl::StrCat(name, ": with the examples, more than ", kMaxRankExamples,
                                                         " galaxies; choose fewer labels"));
        }
        RecommendQuery::Example e;
        e.id = l.galaxy_id();
        examples->push_back(std::move(e));
        return absl::OkStatus();
      }));
    }
  }
  if (q->positives.empty()) {
    return absl::NotFoundError(
        absl::StrCat("positive_labels: no galaxy of snapshot ", snap.version(), " carries these labels"));
  }
  q->fingerprint ^= Mix64(labels.generation());
  return absl::OkStatus();
}

// The few-shot ranking of `q`: labelled galaxies added to its examples, every example as a
// vector, then RankCatalog (`count` galaxies from the page token's offset on; 0: all).
absl::StatusOr<FewShotRanking> Rank(ServiceState& state, const ServingSnapshot& snap, RankQuery* q,
                                    grpc::ServerContextBase* context, uint64_t count) {
  GALAXY_RETURN_IF_ERROR(AddLabelledExamples(*state.labels, snap, q));
  std::vector<WeightedVector> positives, negatives;
  std::vector<int64_t> catalog_ids;
  GALAXY_RETURN_IF_ERROR(
      ExampleVectors(state, snap, q->positives, q->negatives, context, &positives, &negatives, &catalog_ids));
  GALAXY_RETURN_IF_ERROR(StillWanted(context));
  return RankCatalog(snap, *q, positives, negatives, catalog_ids, count);
}

}  // namespace

grpc::ServerUnaryReactor* SearchService::SimilarGalaxies(grpc::CallbackServerContext* context,
                                                         const v1::SimilarGalaxiesRequest* request,
                                                         v1::SimilarGalaxiesResponse* response) {
  static constexpr char kRpc[] = "SimilarGalaxies";
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  auto finish = [state = state_, context, reactor, start](const absl::Status& status) {
    reactor->Finish(state->Finish(kRpc, context, start, status));
  };
  auto call = std::make_shared<SimilarCall>();
  absl::Status checked = state_->Admit(context, Role::kSearch);
  if (checked.ok()) {
    checked = Guarded(kRpc, [&]() -> absl::Status {
      GALAXY_ASSIGN_OR_RETURN(call->snap, state_->Live());
      call->queries.resize(1);
      call->statuses = {ValidateSimilarRequest(*request, call->snap->shape(), state_->limits, "", &call->queries[0])};
      call->responses = {response};
      return call->statuses[0];
    });
  }
  if (!checked.ok()) {
    finish(checked);
    return reactor;
  }
  // Answered here for by-ID, vector and position queries; on the batcher's thread for images.
  EmbedItems(*state_, *call->snap, call->Images(), DeadlineOf(context), EmbedParts{},
             [call, context, finish](ItemEmbeddings embedded) {
               finish(Guarded(kRpc, [&] {
                 call->Answer(embedded, context);
                 return call->statuses[0];
               }));
             });
  return reactor;
}

grpc::Status SearchService::BatchSimilarGalaxies(grpc::ServerContext* context,
                                                 const v1::BatchSimilarGalaxiesRequest* request,
                                                 v1::BatchSimilarGalaxiesResponse* response) {
  return state_->Handle("BatchSimilarGalaxies", context, Role::kSearch, [&]() -> absl::Status {
    SimilarCall call;
    GALAXY_ASSIGN_OR_RETURN(call.snap, state_->Live());
    const int n = request->queries_size();
    GALAXY_RETURN_IF_ERROR(ValidateBatchSize(n, state_->limits, "queries"));
    call.queries.resize(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      call.statuses.push_back(ValidateSimilarRequest(request->queries(i), call.snap->shape(), state_->limits,
                                                     absl::StrCat("queries[", i, "]"),
                                                     &call.queries[static_cast<size_t>(i)]));
      call.responses.push_back(response->add_results()->mutable_response());
    }
    call.Answer(EmbedItemsNow(*state_, *call.snap, call.Images(), DeadlineOf(context), EmbedParts{}), context);
    for (int i = 0; i < n; ++i) {
      v1::SimilarGalaxiesResult* result = response->mutable_results(i);
      *result->mutable_status() = ToItemStatus(call.statuses[static_cast<size_t>(i)]);
      if (!call.statuses[static_cast<size_t>(i)].ok()) result->clear_response();
    }
    response->set_snapshot_version(call.snap->version());
    return absl::OkStatus();
  });
}

grpc::Status SearchService::Recommend(grpc::ServerContext* context, const v1::RecommendRequest* request,
                                      v1::SimilarGalaxiesResponse* response) {
  return state_->Handle("Recommend", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    RecommendQuery q;
    GALAXY_RETURN_IF_ERROR(ValidateRecommendRequest(*request, snap->shape(), state_->limits, &q));
    std::vector<WeightedVector> positives, negatives;
    std::vector<int64_t> catalog_ids;
    GALAXY_RETURN_IF_ERROR(
        ExampleVectors(*state_, *snap, q.positives, q.negatives, context, &positives, &negatives, &catalog_ids));
    for (int64_t id : catalog_ids) q.search.filter.add_exclude_ids(id);
    GALAXY_RETURN_IF_ERROR(StillWanted(context));
    if (q.best_score) return snap->RecommendBestScore(positives, negatives, q.search, response);
    GALAXY_ASSIGN_OR_RETURN(std::vector<float> query, AverageVector(positives, negatives));
    return snap->Similar(query.data(), q.search, std::nullopt, response);
  });
}

grpc::Status SearchService::RankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest* request,
                                           v1::RankByExamplesResponse* response) {
  return state_->Handle("RankByExamples", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    RankQuery q;
    GALAXY_RETURN_IF_ERROR(ValidateRankRequest(*request, snap->shape(), state_->limits, &q));
    GALAXY_ASSIGN_OR_RETURN(FewShotRanking ranking,
                            Rank(*state_, *snap, &q, context, static_cast<uint64_t>(q.page_size)));
    return FillRankPage(*snap, q, ranking, ranking.offset, response);
  });
}

grpc::Status SearchService::StreamRankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest* request,
                                                 grpc::ServerWriter<v1::RankByExamplesResponse>* writer) {
  return state_->Handle("StreamRankByExamples", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    RankQuery q;
    GALAXY_RETURN_IF_ERROR(ValidateRankRequest(*request, snap->shape(), state_->limits, &q));
    GALAXY_ASSIGN_OR_RETURN(FewShotRanking ranking, Rank(*state_, *snap, &q, context, q.limit));
    // One message per page; the last one says where the ranking (or the limit) ends.
    uint64_t offset = ranking.offset;
    do {
      GALAXY_RETURN_IF_ERROR(StillWanted(context));
      v1::RankByExamplesResponse page;
      GALAXY_RETURN_IF_ERROR(FillRankPage(*snap, q, ranking, offset, &page));
      if (!writer->Write(page)) return absl::CancelledError("the client stopped reading the ranking");
      offset += static_cast<uint64_t>(page.galaxies_size());
    } while (offset < ranking.top.size());
    return absl::OkStatus();
  });
}

grpc::Status SearchService::PredictRedshift(grpc::ServerContext* context, const v1::PredictRedshiftRequest* request,
                                            v1::PredictRedshiftResponse* response) {
  return state_->Handle("PredictRedshift", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    const int n = request->queries_size();
    GALAXY_RETURN_IF_ERROR(ValidateBatchSize(n, state_->limits, "queries"));
    const ModelMetadata& m = snap->model().metadata();
    if (!m.has_redshift_head) {
      return absl::FailedPreconditionError(absl::StrCat(
          "snapshot ", snap->version(), " was built with a model without a redshift head (kind '", m.kind,
          "'); rebuild it with a fine-tuned model (galaxy-train finetune)"));
    }
    response->set_snapshot_version(snap->version());
    response->mutable_binning()->set_z_min(static_cast<float>(m.z_min));
    response->mutable_binning()->set_z_max(static_cast<float>(m.z_max));
    response->mutable_binning()->set_bins(static_cast<uint32_t>(m.redshift_bins));
    // Galaxies of the catalog are answered from the snapshot; images go to the model.
    std::vector<DecodedImage> decoded(static_cast<size_t>(n));
    std::vector<const DecodedImage*> images(static_cast<size_t>(n), nullptr);
    for (int i = 0; i < n; ++i) {
      const v1::RedshiftQuery& q = request->queries(i);
      v1::RedshiftPrediction* p = response->add_predictions();
      const std::string field = absl::StrCat("queries[", i, "]");
      absl::Status s;
      if (q.query_case() == v1::RedshiftQuery::kId) {
        p->set_id(q.id());
        absl::StatusOr<v1::GalaxyRecord> record = snap->Record(q.id(), false);
        if (!record.ok()) {
          s = record.status();
        } else {
          p->set_z_phot(record->zphot());
          p->set_z_phot_err(record->zphot_err());
          if (request->include_pdf()) s = snap->StoredRedshiftPdf(*record, p->mutable_pdf());
        }
      } else if (q.query_case() == v1::RedshiftQuery::kImage) {
        s = DecodeImage(q.image(), snap->shape(), state_->limits, FieldPath(field, "image"),
                        &decoded[static_cast<size_t>(i)]);
        if (s.ok()) images[static_cast<size_t>(i)] = &decoded[static_cast<size_t>(i)];
      } else {
        s = absl::InvalidArgumentError(absl::StrCat(field, ".query: none set; give id or image"));
      }
      if (!s.ok()) p->clear_pdf();
      *p->mutable_status() = ToItemStatus(s);
    }
    const ItemEmbeddings embedded = EmbedItemsNow(*state_, *snap, images, DeadlineOf(context), EmbedParts{/*redshift=*/true});
    for (int i = 0; i < n; ++i) {
      const int row = embedded.row[static_cast<size_t>(i)];
      if (row < 0) continue;
      v1::RedshiftPrediction* p = response->mutable_predictions(i);
      if (!embedded.status.ok()) {
        *p->mutable_status() = ToItemStatus(embedded.status);
        continue;
      }
      p->set_z_phot(embedded.out.z_mean[static_cast<size_t>(row)]);
      p->set_z_phot_err(embedded.out.z_sigma[static_cast<size_t>(row)]);
      if (request->include_pdf()) {
        const auto first = embedded.out.pdf.begin() + static_cast<ptrdiff_t>(row * m.redshift_bins);
        p->mutable_pdf()->Add(first, first + static_cast<ptrdiff_t>(m.redshift_bins));
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status SearchService::ScoreAnomaly(grpc::ServerContext* context, const v1::ScoreAnomalyRequest* request,
                                         v1::ScoreAnomalyResponse* response) {
  return state_->Handle("ScoreAnomaly", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    if (request->query_case() == v1::ScoreAnomalyRequest::kId) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record, snap->Record(request->id(), true));
      response->set_score(record.anomaly_score());
      response->set_percentile(record.anomaly_percentile());
      const int64_t k = std::min<int64_t>(snap->snapshot().manifest().anomaly_k, snap->count() - 1);
      response->set_k(static_cast<uint32_t>(k));
      response->set_snapshot_version(snap->version());
      if (request->include_neighbors()) {
        SimilarQuery q;
        q.k = static_cast<int>(response->k());
        v1::SimilarGalaxiesResponse similar;
        GALAXY_RETURN_IF_ERROR(snap->Similar(record.embedding().data(), q, record.id(), &similar));
        *response->mutable_neighbors() = similar.neighbors();
      }
      return absl::OkStatus();
    }
    if (request->query_case() != v1::ScoreAnomalyRequest::kImage) {
      return absl::InvalidArgumentError("query: none set; give id or image");
    }
    DecodedImage image;
    GALAXY_RETURN_IF_ERROR(DecodeImage(request->image(), snap->shape(), state_->limits, "image", &image));
    // A snapshot that scores the turn average too embeds the image's eight turns and mirrors.
    EmbedParts parts;
    parts.turn_average = snap->ScoresTurnAverage();
    const ItemEmbeddings embedded = EmbedItemsNow(*state_, *snap, {&image}, DeadlineOf(context), parts);
    GALAXY_RETURN_IF_ERROR(embedded.status);
    GALAXY_RETURN_IF_ERROR(StillWanted(context));
    if (parts.turn_average && embedded.out.turn_averaged.size() != static_cast<size_t>(embedded.dim)) {
      return absl::InternalError("the model gave no turn-averaged embedding");
    }
    return snap->ScoreEmbedding(embedded.Embedding(0), parts.turn_average ? embedded.out.turn_averaged.data() : nullptr,
                                response, request->include_neighbors());
  });
}

grpc::Status SearchService::ListAnomalies(grpc::ServerContext* context, const v1::ListAnomaliesRequest* request,
                                          v1::ListAnomaliesResponse* response) {
  return state_->Handle("ListAnomalies", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    int page_size = 0;
    GALAXY_RETURN_IF_ERROR(ValidateListAnomalies(*request, &page_size));
    if (!request->rerank_by_labels()) return snap->ListAnomalies(*request, page_size, nullptr, response);
    GALAXY_ASSIGN_OR_RETURN(const AnomalyRerank rerank, RerankByLabels(*snap, *state_->labels));
    return snap->ListAnomalies(*request, page_size, &rerank, response);
  });
}

grpc::Status SearchService::GetGalaxy(grpc::ServerContext* context, const v1::GetGalaxyRequest* request,
                                      v1::GalaxyRecord* response) {
  return state_->Handle("GetGalaxy", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, state_->Live());
    GALAXY_ASSIGN_OR_RETURN(*response, snap->Record(request->id(), request->include_embedding()));
    if (request->include_image()) {
      GALAXY_RETURN_IF_ERROR(snap->SourceCutout(request->id(), response->source_row(), response->mutable_image()));
    }
    return absl::OkStatus();
  });
}

grpc::Status SearchService::GetIndexInfo(grpc::ServerContext* context, const v1::GetIndexInfoRequest*,
                                         v1::IndexInfo* response) {
  return state_->Handle("GetIndexInfo", context, Role::kSearch, [&]() -> absl::Status {
    FillIndexInfo(state_->options, state_->live.Get().get(), response);
    return absl::OkStatus();
  });
}

}  // namespace galaxy
