#include "server/router_service.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/status_macros.h"
#include "indexer/shard.h"
#include "proto/rpc_status.h"
#include "server/proto_convert.h"
#include "server/service_state.h"
#include "server/serving_snapshot.h"

namespace galaxy {
namespace {

// A shard that is down, or did not answer in time: missing from the answer, not wrong about it.
bool Unanswered(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
         s.error_code() == grpc::StatusCode::CANCELLED;
}

absl::Status NotThroughARouter(const char* what) {
  return absl::UnimplementedError(absl::StrCat(what, " is not served through a router over shards yet: call a shard "
                                                     "server, or a server over an unsharded snapshot"));
}

bool ByScore(const v1::Neighbor& a, const v1::Neighbor& b) {
  return a.score() != b.score() ? a.score() > b.score() : a.id() < b.id();
}

}  // namespace

// One routed call: how shards are called for it, and which of them did not answer.
struct RouterService::Call {
  ShardSet* shards = nullptr;
  ShardCallOptions options;
  bool allow_partial = false;
  std::vector<int> missing;

  std::vector<int> All() const {
    std::vector<int> all(static_cast<size_t>(shards->size()));
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
    return all;
  }

  // The same request to every shard.
  template <typename Request, typename Response>
  std::vector<ShardReply<Response>> Everywhere(
      const Request& request,
      void (v1::GalaxySearch::Stub::async::*method)(grpc::ClientContext*, const Request*, Response*,
                                                    std::function<void(grpc::Status)>)) const {
    const std::vector<int> all = All();
    return shards->Call(all, std::vector<const Request*>(all.size(), &request), method, options);
  }

  // Keeps the replies of the shards that answered from a snapshot the router vouches for
  // (ShardSet::Vouch: in agreement with the others). A shard that did not answer, or whose
  // answer cannot be merged, is recorded as missing, or fails the call without allow_partial; a
  // shard's error about the request is the call's error; no answer at all is UNAVAILABLE.
  template <typename Response>
  absl::Status Gather(std::vector<ShardReply<Response>>* replies) {
    std::vector<ShardReply<Response>> answered;
    std::string first_problem;
    for (ShardReply<Response>& r : *replies) {
      if (r.status.ok()) {
        const absl::Status vouched = shards->Vouch(r.shard, r.response.snapshot_version());
        if (vouched.ok()) {
          answered.push_back(std::move(r));
          continue;
        }
        r.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(vouched.message()));
      }
      if (!Unanswered(r.status)) return FromGrpcStatus(r.status);
      const std::string problem = absl::StrCat(shards->Name(r.shard), " did not answer (", r.status.error_message(), ")");
      if (!allow_partial) return absl::UnavailableError(absl::StrCat(problem, "; allow_partial answers from the others"));
      if (first_problem.empty()) first_problem = problem;
      missing.push_back(r.shard);
    }
    if (answered.empty()) return absl::UnavailableError(absl::StrCat("no shard answered: ", first_problem));
    *replies = std::move(answered);
    return absl::OkStatus();
  }

  std::vector<std::string> MissingNames() const {
    std::vector<std::string> names;
    for (int shard : missing) names.push_back(absl::StrCat(shard, " at ", shards->address(shard)));
    return names;
  }

  // "v1+v1+-": each shard's snapshot version, "-" for one that did not answer.
  template <typename Response>
  std::string Versions(const std::vector<ShardReply<Response>>& replies) const {
    std::vector<std::string> versions(static_cast<size_t>(shards->size()), "-");
    for (const auto& r : replies) versions[static_cast<size_t>(r.shard)] = r.response.snapshot_version();
    return absl::StrJoin(versions, "+");
  }

  // `method` of the shard that holds galaxy `id`, with `request`.
  template <typename Request, typename Response>
  absl::StatusOr<Response> Owner(int64_t id, const Request& request,
                                 void (v1::GalaxySearch::Stub::async::*method)(grpc::ClientContext*, const Request*,
                                                                               Response*,
                                                                               std::function<void(grpc::Status)>)) const {
    const int owner = ShardOf(id, shards->size());
    auto replies = shards->Call({owner}, {&request}, method, options);
    if (Unanswered(replies[0].status)) {
      return absl::UnavailableError(absl::StrCat("the shard that holds galaxy ", id, " (", shards->Name(owner),
                                                 ") did not answer: ", replies[0].status.error_message()));
    }
    if (!replies[0].status.ok()) return FromGrpcStatus(replies[0].status);
    return std::move(replies[0].response);
  }

  // Galaxy `id`'s record from the shard that holds it (with its embedding when asked).
  absl::StatusOr<v1::GalaxyRecord> Owned(int64_t id, bool embedding) const {
    v1::GetGalaxyRequest request;
    request.set_id(id);
    request.set_include_embedding(embedding);
    return Owner(id, request, &v1::GalaxySearch::Stub::async::GetGalaxy);
  }

  // The galaxy nearest `position` within its match radius, over every shard, with its embedding.
  absl::StatusOr<v1::GalaxyRecord> Nearest(const v1::SkyPosition& position) {
    v1::SimilarGalaxiesRequest match;
    *match.mutable_position() = position;
    match.set_k(1);
    auto replies = Everywhere(match, &v1::GalaxySearch::Stub::async::SimilarGalaxies);
    std::vector<ShardReply<v1::SimilarGalaxiesResponse>> found;
    std::string not_found;
    for (auto& r : replies) {
      if (r.status.error_code() == grpc::StatusCode::NOT_FOUND) {
        not_found = r.status.error_message();
      } else {
        found.push_back(std::move(r));
      }
    }
    if (found.empty()) return absl::NotFoundError(not_found);
    GALAXY_RETURN_IF_ERROR(Gather(&found));
    std::optional<v1::GalaxyRecord> best;
    double best_distance = 0;
    for (const auto& r : found) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record, Owned(r.response.query_id(), /*embedding=*/true));
      const double d = AngularSeparationDegrees(position.ra(), position.dec(), record.ra(), record.dec());
      if (!best || d < best_distance || (d == best_distance && record.id() < best->id())) {
        best = std::move(record);
        best_distance = d;
      }
    }
    return *std::move(best);
  }

  // A query vector read from galaxy `id`'s record is in its shard's space. If gathering the
  // answers left that shard out (it was rebuilt in another space meanwhile), the others were
  // searched with a vector they cannot compare: UNAVAILABLE, even with allow_partial.
  absl::Status FromAgreeingShard(int64_t id) const {
    const int owner = ShardOf(id, shards->size());
    const std::string why = shards->LeftOut()[static_cast<size_t>(owner)];
    if (why.empty()) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("galaxy ", id, " is held by ", shards->Name(owner),
                                               ", left out by the router (", why, "): its vector is not comparable"));
  }

  // The record (with its embedding) a query by catalog ID or sky position stands for.
  absl::StatusOr<v1::GalaxyRecord> Resolve(bool by_position, int64_t id, const v1::SkyPosition& position) {
    if (by_position) return Nearest(position);
    return Owned(id, /*embedding=*/true);
  }
};

namespace {

void SetVector(const v1::GalaxyRecord& record, v1::Vector* vector) {
  vector->mutable_values()->Assign(record.embedding().begin(), record.embedding().end());
}

// The k best neighbours of all the shards' answers, ranked again.
void MergeNeighbours(std::vector<ShardReply<v1::SimilarGalaxiesResponse>>* replies, uint32_t k,
                     v1::SimilarGalaxiesResponse* out) {
  std::vector<v1::Neighbor> all;
  for (auto& r : *replies) {
    for (v1::Neighbor& n : *r.response.mutable_neighbors()) all.push_back(std::move(n));
  }
  std::sort(all.begin(), all.end(), ByScore);
  if (all.size() > k) all.resize(k);
  out->set_exhausted(all.size() < k);
  for (size_t i = 0; i < all.size(); ++i) {
    all[i].set_rank(static_cast<uint32_t>(i + 1));
    *out->add_neighbors() = std::move(all[i]);
  }
}

absl::Status Unrouted(const v1::Diversity& diversity, bool has_diversity, bool duplicate_threshold) {
  if (has_diversity && (diversity.has_mmr_lambda() || diversity.has_sky_duplicate_arcsec())) {
    return NotThroughARouter("diversity");
  }
  if (duplicate_threshold) return NotThroughARouter("duplicate_threshold");
  return absl::OkStatus();
}

}  // namespace

RouterService::RouterService(ServiceState* state, ShardSet* shards, absl::Duration shard_timeout)
    : state_(state), shards_(shards), shard_timeout_(shard_timeout) {}

namespace {

// The call's options: the caller's token passed on; the earlier of its deadline and the shard
// timeout.
RouterService::Call* NewCall(RouterService::Call* call, ShardSet* shards, grpc::ServerContext* context,
                             absl::Duration timeout, bool allow_partial) {
  call->shards = shards;
  call->options.authorization = std::string(AuthorizationOf(context));
  call->options.deadline = std::min(DeadlineOf(context), absl::Now() + timeout);
  call->allow_partial = allow_partial;
  return call;
}

}  // namespace

// SimilarGalaxies without the RPC frame: also each item of BatchSimilarGalaxies.
static absl::Status RouteSimilar(RouterService::Call& call, const v1::SimilarGalaxiesRequest& request,
                                 v1::SimilarGalaxiesResponse* response) {
  GALAXY_RETURN_IF_ERROR(Unrouted(request.diversity(), request.has_diversity(), request.has_duplicate_threshold()));
  v1::SimilarGalaxiesRequest shard_request = request;
  shard_request.clear_allow_partial();
  int64_t query_id = 0;
  // A query by catalog ID or position searches with its galaxy's vector, read from its shard.
  const bool by_record = request.query_case() == v1::SimilarGalaxiesRequest::kId ||
                         request.query_case() == v1::SimilarGalaxiesRequest::kPosition;
  if (by_record) {
    GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record,
                            call.Resolve(request.query_case() == v1::SimilarGalaxiesRequest::kPosition, request.id(),
                                         request.position()));
    query_id = record.id();
    SetVector(record, shard_request.mutable_vector());
    shard_request.mutable_filter()->add_exclude_ids(query_id);
  }
  auto replies = call.Everywhere(shard_request, &v1::GalaxySearch::Stub::async::SimilarGalaxies);
  GALAXY_RETURN_IF_ERROR(call.Gather(&replies));
  if (by_record) GALAXY_RETURN_IF_ERROR(call.FromAgreeingShard(query_id));
  response->set_snapshot_version(call.Versions(replies));
  MergeNeighbours(&replies, request.k(), response);
  response->set_query_id(query_id);
  for (const std::string& name : call.MissingNames()) response->add_missing_shards(name);
  return absl::OkStatus();
}

grpc::Status RouterService::SimilarGalaxies(grpc::ServerContext* context, const v1::SimilarGalaxiesRequest* request,
                                            v1::SimilarGalaxiesResponse* response) {
  return state_->Handle("SimilarGalaxies", context, Role::kSearch, [&]() -> absl::Status {
    Call call;
    return RouteSimilar(*NewCall(&call, shards_, context, shard_timeout_, request->allow_partial()), *request,
                        response);
  });
}

grpc::Status RouterService::BatchSimilarGalaxies(grpc::ServerContext* context,
                                                 const v1::BatchSimilarGalaxiesRequest* request,
                                                 v1::BatchSimilarGalaxiesResponse* response) {
  return state_->Handle("BatchSimilarGalaxies", context, Role::kSearch, [&]() -> absl::Status {
    const int n = request->queries_size();
    if (n < 1 || n > static_cast<int>(state_->options.max_batch)) {
      return absl::InvalidArgumentError(
          absl::StrCat("queries: ", n, " queries; give 1 .. ", state_->options.max_batch));
    }
    std::vector<v1::SimilarGalaxiesResult> results(static_cast<size_t>(n));
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < std::min(n, 16); ++w) {
      workers.emplace_back([&] {
        for (int i = next++; i < n; i = next++) {
          Call call;
          const v1::SimilarGalaxiesRequest& query = request->queries(i);
          NewCall(&call, shards_, context, shard_timeout_, query.allow_partial());
          v1::SimilarGalaxiesResult& result = results[static_cast<size_t>(i)];
          const absl::Status status = RouteSimilar(call, query, result.mutable_response());
          *result.mutable_status() = ToItemStatus(status);
          if (!status.ok()) result.clear_response();
        }
      });
    }
    for (std::thread& t : workers) t.join();
    for (v1::SimilarGalaxiesResult& r : results) {
      if (response->snapshot_version().empty()) response->set_snapshot_version(r.response().snapshot_version());
      *response->add_results() = std::move(r);
    }
    return absl::OkStatus();
  });
}

grpc::Status RouterService::Recommend(grpc::ServerContext* context, const v1::RecommendRequest* request,
                                      v1::SimilarGalaxiesResponse* response) {
  return state_->Handle("Recommend", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_RETURN_IF_ERROR(Unrouted(request->diversity(), request->has_diversity(), false));
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, request->allow_partial());
    v1::RecommendRequest shard_request = *request;
    shard_request.clear_allow_partial();
    // Examples by catalog ID or position become their galaxy's vector, and the galaxy is kept out
    // of the answer (as a server over one snapshot does).
    std::vector<int64_t> resolved;
    for (auto* examples : {shard_request.mutable_positives(), shard_request.mutable_negatives()}) {
      for (v1::Example& example : *examples) {
        if (example.example_case() != v1::Example::kId && example.example_case() != v1::Example::kPosition) continue;
        GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record,
                                call.Resolve(example.example_case() == v1::Example::kPosition, example.id(),
                                             example.position()));
        SetVector(record, example.mutable_vector());
        shard_request.mutable_filter()->add_exclude_ids(record.id());
        resolved.push_back(record.id());
      }
    }
    auto replies = call.Everywhere(shard_request, &v1::GalaxySearch::Stub::async::Recommend);
    GALAXY_RETURN_IF_ERROR(call.Gather(&replies));
    for (int64_t id : resolved) GALAXY_RETURN_IF_ERROR(call.FromAgreeingShard(id));
    response->set_snapshot_version(call.Versions(replies));
    MergeNeighbours(&replies, request->k(), response);
    for (const std::string& name : call.MissingNames()) response->add_missing_shards(name);
    return absl::OkStatus();
  });
}

grpc::Status RouterService::GetGalaxy(grpc::ServerContext* context, const v1::GetGalaxyRequest* request,
                                      v1::GalaxyRecord* response) {
  return state_->Handle("GetGalaxy", context, Role::kSearch, [&]() -> absl::Status {
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, false);
    GALAXY_ASSIGN_OR_RETURN(*response, call.Owner(request->id(), *request, &v1::GalaxySearch::Stub::async::GetGalaxy));
    return absl::OkStatus();
  });
}

// A shard for a query that any shard can answer (an image): the serving ones in turn.
static int AnyShard(const ShardSet& shards) {
  static std::atomic<uint64_t> turn{0};
  std::vector<int> serving;
  for (const v1::ShardStatus& s : shards.Status()) {
    if (s.serving()) serving.push_back(static_cast<int>(s.shard()));
  }
  const uint64_t t = turn++;
  return serving.empty() ? static_cast<int>(t % static_cast<uint64_t>(shards.size()))
                         : serving[static_cast<size_t>(t % serving.size())];
}

grpc::Status RouterService::PredictRedshift(grpc::ServerContext* context, const v1::PredictRedshiftRequest* request,
                                            v1::PredictRedshiftResponse* response) {
  return state_->Handle("PredictRedshift", context, Role::kSearch, [&]() -> absl::Status {
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, true);
    // Each query to its shard (the owner of an ID, any shard for an image), in one request per
    // shard; the answers put back in the order asked. A shard that does not answer fails its
    // own items only, as any per-item failure of a batched call.
    std::map<int, v1::PredictRedshiftRequest> per_shard;
    std::vector<std::pair<int, int>> where;  // query -> (shard, index in its request)
    for (const v1::RedshiftQuery& q : request->queries()) {
      const int shard = q.query_case() == v1::RedshiftQuery::kId ? ShardOf(q.id(), shards_->size()) : AnyShard(*shards_);
      v1::PredictRedshiftRequest& sub = per_shard[shard];
      sub.set_include_pdf(request->include_pdf());
      where.emplace_back(shard, sub.queries_size());
      *sub.add_queries() = q;
    }
    if (per_shard.empty()) per_shard[0] = *request;  // let a shard say what is wrong with no queries
    std::vector<int> shards;
    std::vector<const v1::PredictRedshiftRequest*> requests;
    for (const auto& [shard, sub] : per_shard) {
      shards.push_back(shard);
      requests.push_back(&sub);
    }
    auto replies = shards_->Call(shards, requests, &v1::GalaxySearch::Stub::async::PredictRedshift, call.options);
    std::map<int, const ShardReply<v1::PredictRedshiftResponse>*> by_shard;
    for (const auto& r : replies) {
      if (!r.status.ok() && !Unanswered(r.status)) return FromGrpcStatus(r.status);
      by_shard[r.shard] = &r;
      if (r.status.ok() && !response->has_binning()) *response->mutable_binning() = r.response.binning();
    }
    for (const auto& [shard, index] : where) {
      const auto* reply = by_shard[shard];
      v1::RedshiftPrediction* p = response->add_predictions();
      if (reply->status.ok()) {
        *p = reply->response.predictions(index);
      } else {
        *p->mutable_status() = ToItemStatus(absl::UnavailableError(
            absl::StrCat(shards_->Name(shard), " did not answer: ", reply->status.error_message())));
      }
    }
    response->set_snapshot_version(call.Versions(replies));
    return absl::OkStatus();
  });
}

grpc::Status RouterService::ScoreAnomaly(grpc::ServerContext* context, const v1::ScoreAnomalyRequest* request,
                                         v1::ScoreAnomalyResponse* response) {
  return state_->Handle("ScoreAnomaly", context, Role::kSearch, [&]() -> absl::Status {
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, false);
    if (request->query_case() == v1::ScoreAnomalyRequest::kId) {
      GALAXY_ASSIGN_OR_RETURN(*response,
                              call.Owner(request->id(), *request, &v1::GalaxySearch::Stub::async::ScoreAnomaly));
      return absl::OkStatus();
    }
    auto replies = shards_->Call({AnyShard(*shards_)}, {request}, &v1::GalaxySearch::Stub::async::ScoreAnomaly,
                                 call.options);
    GALAXY_RETURN_IF_ERROR(call.Gather(&replies));
    *response = std::move(replies[0].response);
    return absl::OkStatus();
  });
}

namespace {

constexpr uint32_t kDefaultAnomalyPage = 50;
constexpr uint32_t kMostAnomalyPage = 1000;

// Page tokens of a merged anomaly listing: "SNAPSHOT-VERSIONS/OFFSET".
std::string AnomalyToken(const std::string& versions, uint64_t offset) { return absl::StrCat(versions, "/", offset); }

absl::StatusOr<uint64_t> AnomalyOffset(const std::string& token, const std::string& versions) {
  if (token.empty()) return 0;
  const size_t slash = token.rfind('/');
  uint64_t offset = 0;
  if (slash == std::string::npos || !absl::SimpleAtoi(token.substr(slash + 1), &offset)) {
    return absl::InvalidArgumentError("page_token: not a token of this router's ListAnomalies");
  }
  if (token.substr(0, slash) != versions) {
    return absl::FailedPreconditionError(absl::StrCat("page_token: issued over shard snapshots ", token.substr(0, slash),
                                                      "; they are now ", versions, "; restart the listing"));
  }
  return offset;
}

}  // namespace

grpc::Status RouterService::ListAnomalies(grpc::ServerContext* context, const v1::ListAnomaliesRequest* request,
                                          v1::ListAnomaliesResponse* response) {
  return state_->Handle("ListAnomalies", context, Role::kSearch, [&]() -> absl::Status {
    if (request->rerank_by_labels()) return NotThroughARouter("rerank_by_labels");
    const uint32_t page = request->page_size() == 0 ? kDefaultAnomalyPage : request->page_size();
    if (page > kMostAnomalyPage) {
      return absl::InvalidArgumentError(absl::StrCat("page_size: ", page, " exceeds the limit ", kMostAnomalyPage));
    }
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, request->allow_partial());
    // Every shard's ranking down to offset + page (the merged page can come from any of them),
    // read in pages of up to 1000.
    v1::ListAnomaliesRequest first = *request;
    first.clear_page_token();
    first.clear_allow_partial();
    first.set_page_size(kMostAnomalyPage);
    auto replies = call.Everywhere(first, &v1::GalaxySearch::Stub::async::ListAnomalies);
    GALAXY_RETURN_IF_ERROR(call.Gather(&replies));
    const std::string versions = call.Versions(replies);
    GALAXY_ASSIGN_OR_RETURN(const uint64_t offset, AnomalyOffset(request->page_token(), versions));
    const uint64_t want = offset + page;
    uint64_t total = 0;
    std::vector<v1::GalaxyRecord> all;
    for (auto& r : replies) {
      total += r.response.total_count();
      v1::ListAnomaliesResponse* shard = &r.response;
      uint64_t taken = 0;
      while (true) {
        for (v1::GalaxyRecord& g : *shard->mutable_galaxies()) all.push_back(std::move(g));
        taken += static_cast<uint64_t>(shard->galaxies_size());
        if (taken >= want || shard->next_page_token().empty()) break;
        v1::ListAnomaliesRequest more = first;
        more.set_page_token(shard->next_page_token());
        auto next = shards_->Call({r.shard}, {&more}, &v1::GalaxySearch::Stub::async::ListAnomalies, call.options);
        if (!next[0].status.ok()) return FromGrpcStatus(next[0].status);
        r.response = std::move(next[0].response);
        shard = &r.response;
      }
    }
    std::sort(all.begin(), all.end(), [](const v1::GalaxyRecord& a, const v1::GalaxyRecord& b) {
      return a.anomaly_score() != b.anomaly_score() ? a.anomaly_score() > b.anomaly_score() : a.id() < b.id();
    });
    for (uint64_t i = offset; i < std::min<uint64_t>(want, all.size()); ++i) *response->add_galaxies() = std::move(all[i]);
    response->set_first_rank(offset + 1);
    response->set_total_count(total);
    response->set_snapshot_version(versions);
    if (want < total) response->set_next_page_token(AnomalyToken(versions, want));
    for (const std::string& name : call.MissingNames()) response->add_missing_shards(name);
    return absl::OkStatus();
  });
}

grpc::Status RouterService::GetIndexInfo(grpc::ServerContext* context, const v1::GetIndexInfoRequest* request,
                                         v1::IndexInfo* response) {
  return state_->Handle("GetIndexInfo", context, Role::kSearch, [&]() -> absl::Status {
    Call call;
    NewCall(&call, shards_, context, shard_timeout_, true);
    call.options.include_left_out = true;  // judged afresh here
    auto replies = call.Everywhere(*request, &v1::GalaxySearch::Stub::async::GetIndexInfo);
    FillIndexInfo(state_->options, nullptr, response);
    response->set_shards(static_cast<uint32_t>(shards_->size()));
    std::vector<v1::ShardStatus> status;
    std::vector<const v1::IndexInfo*> infos;
    for (const auto& r : replies) {
      status.push_back(JudgeShard(r.shard, shards_->size(), shards_->address(r.shard), r.status, r.response));
      infos.push_back(&r.response);
    }
    JudgeAgreement(&status, infos);
    uint64_t count = 0;
    std::vector<std::string> versions;
    for (size_t i = 0; i < replies.size(); ++i) {
      const auto& r = replies[i];
      v1::ShardStatus* s = response->add_shard_status();
      *s = status[i];
      if (s->serving()) {
        count += s->count();
        if (!response->has_model()) {
          // The survey-wide facts, from the first serving shard (the serving ones embed alike).
          v1::IndexInfo whole = r.response;
          whole.clear_limits();
          whole.clear_server_version();
          whole.clear_shard_status();
          response->MergeFrom(whole);
        }
      }
      versions.push_back(s->serving() ? s->snapshot_version() : "-");
    }
    response->set_count(count);
    response->set_shard(0);
    response->set_shards(static_cast<uint32_t>(shards_->size()));
    response->set_snapshot_version(count > 0 ? absl::StrJoin(versions, "+") : "");
    return absl::OkStatus();
  });
}

grpc::Status RouterService::RankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest*,
                                           v1::RankByExamplesResponse*) {
  return state_->Handle("RankByExamples", context, Role::kSearch, [] { return NotThroughARouter("RankByExamples"); });
}

grpc::Status RouterService::StreamRankByExamples(grpc::ServerContext* context, const v1::RankByExamplesRequest*,
                                                 grpc::ServerWriter<v1::RankByExamplesResponse>*) {
  return state_->Handle("StreamRankByExamples", context, Role::kSearch,
                        [] { return NotThroughARouter("StreamRankByExamples"); });
}

grpc::Status RouterService::AddLabels(grpc::ServerContext* context, const v1::AddLabelsRequest*,
                                      v1::AddLabelsResponse*) {
  return state_->Handle("AddLabels", context, Role::kSearch, [] { return NotThroughARouter("AddLabels"); });
}

grpc::Status RouterService::ListLabels(grpc::ServerContext* context, const v1::ListLabelsRequest*,
                                       v1::ListLabelsResponse*) {
  return state_->Handle("ListLabels", context, Role::kSearch, [] { return NotThroughARouter("ListLabels"); });
}

grpc::Status RouterService::DeleteLabels(grpc::ServerContext* context, const v1::DeleteLabelsRequest*,
                                         v1::DeleteLabelsResponse*) {
  return state_->Handle("DeleteLabels", context, Role::kSearch, [] { return NotThroughARouter("DeleteLabels"); });
}

grpc::Status RouterService::ExportLabels(grpc::ServerContext* context, const v1::ExportLabelsRequest*,
                                         grpc::ServerWriter<v1::ExportLabelsChunk>*) {
  return state_->Handle("ExportLabels", context, Role::kSearch, [] { return NotThroughARouter("ExportLabels"); });
}

}  // namespace galaxy
