#include "server/search_service.h"

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/command_line.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "indexer/snapshot_builder.h"
#include "indexer/snapshot_dir.h"
#include "proto/rpc_status.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

RequestLimits LimitsOf(const ServerOptions& o) { return RequestLimits{o.max_k, o.max_batch, o.max_image_bytes}; }

BatcherOptions BatcherOf(const ServerOptions& o) {
  BatcherOptions b;
  b.enabled = o.batching;
  b.max_batch = o.batch_max_size;
  b.max_delay = absl::Microseconds(static_cast<int64_t>(o.batch_max_delay_ms * 1000));
  return b;
}

absl::StatusOr<std::shared_ptr<const ServingSnapshot>> LiveOrFail(const ServiceState& state) {
  std::shared_ptr<const ServingSnapshot> snap = state.live.Get();
  if (snap == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("no snapshot is loaded yet: publish one into ", state.options.snapshots_dir,
                     " (galaxy-index build, or the RebuildIndex RPC), then call ReloadSnapshot"));
  }
  return snap;
}

absl::Time DeadlineOf(const grpc::ServerContextBase* context) {
  const auto d = context->deadline();
  if (d == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  return absl::FromChrono(d);
}

// DEADLINE_EXCEEDED or CANCELLED when the caller no longer waits for the answer.
absl::Status StillWanted(grpc::ServerContextBase* context) {
  if (context->IsCancelled()) return absl::CancelledError("the call was cancelled by the client");
  if (absl::Now() >= DeadlineOf(context)) return absl::DeadlineExceededError("the call's deadline passed");
  return absl::OkStatus();
}

v1::ItemStatus ToItemStatus(const absl::Status& s) {
  v1::ItemStatus out;
  out.set_code(static_cast<int>(s.code()));
  out.set_message(std::string(s.message()));
  return out;
}

v1::IndexKind ToProtoKind(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return v1::INDEX_KIND_FLAT;
    case IndexKind::kHnsw: return v1::INDEX_KIND_HNSW;
    case IndexKind::kIvfPq: return v1::INDEX_KIND_IVFPQ;
  }
  return v1::INDEX_KIND_UNSPECIFIED;
}

// Answers the similarity queries `queries` (checked already; `statuses` holds each one's check)
// on `snap`: image queries are embedded together through the batcher, then each is searched.
void RunSimilar(ServiceState& state, const ServingSnapshot& snap, const std::vector<SimilarQuery>& queries,
                grpc::ServerContextBase* context, std::vector<absl::Status>* statuses,
                std::vector<v1::SimilarGalaxiesResponse*>* responses) {
  std::vector<const DecodedImage*> images;
  std::vector<size_t> image_query;
  for (size_t i = 0; i < queries.size(); ++i) {
    if ((*statuses)[i].ok() && queries[i].kind == SimilarQuery::Kind::kImage) {
      images.push_back(&queries[i].image);
      image_query.push_back(i);
    }
  }
  EmbedOutput embedded;
  if (!images.empty()) {
    absl::StatusOr<EmbedOutput> out = state.batcher.Run(snap.model(), images, DeadlineOf(context), /*redshift=*/false);
    if (!out.ok()) {
      for (size_t i : image_query) (*statuses)[i] = out.status();
    } else {
      embedded = std::move(*out);
    }
  }
  const int dim = snap.shape().dim;
  size_t next_image = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    const SimilarQuery& q = queries[i];
    if (q.kind == SimilarQuery::Kind::kImage && (*statuses)[i].ok()) ++next_image;
    if (!(*statuses)[i].ok()) continue;
    if (absl::Status s = StillWanted(context); !s.ok()) {
      (*statuses)[i] = s;
      continue;
    }
    std::vector<float> stored;
    const float* query = nullptr;
    std::optional<int64_t> self;
    switch (q.kind) {
      case SimilarQuery::Kind::kImage:
        query = embedded.embeddings.data() + (next_image - 1) * static_cast<size_t>(dim);
        break;
      case SimilarQuery::Kind::kVector:
        query = q.vector.data();
        break;
      case SimilarQuery::Kind::kId:
      case SimilarQuery::Kind::kPosition: {
        int64_t id = q.id;
        if (q.kind == SimilarQuery::Kind::kPosition) {
          absl::StatusOr<int64_t> matched = snap.MatchPosition(q.position);
          if (!matched.ok()) {
            (*statuses)[i] = matched.status();
            continue;
          }
          id = *matched;
        }
        absl::Status found = snap.StoredEmbedding(id, &stored);
        if (!found.ok()) {
          (*statuses)[i] = found;
          continue;
        }
        query = stored.data();
        self = id;
        break;
      }
    }
    (*statuses)[i] = snap.Similar(query, q, self, (*responses)[i]);
    if (self) (*responses)[i]->set_query_id(*self);
  }
}

}  // namespace

ServiceState::ServiceState(const ServerOptions& o)
    : options(o),
      limits(LimitsOf(o)),
      batcher(BatcherOf(o), [this](int n) { metrics.RecordBatch(n); }),
      // Enough waiting image queries to fill a batch.
      image_tasks(std::max(16, o.batch_max_size)) {}

TaskPool::TaskPool(int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      while (true) {
        std::function<void()> task;
        {
          absl::MutexLock lock(&mu_);
          mu_.Await(absl::Condition(
              +[](TaskPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->tasks_.empty(); },
              this));
          if (tasks_.empty()) return;  // stopping, and nothing left
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    });
  }
}

TaskPool::~TaskPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) t.join();
}

void TaskPool::Run(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  tasks_.push_back(std::move(task));
}

absl::Status ServiceState::SwapTo(const std::string& version, std::string* previous) {
  absl::MutexLock lock(&swap_mu);
  std::shared_ptr<const ServingSnapshot> old = live.Get();
  if (previous != nullptr) *previous = old ? old->version() : "";
  const absl::Time start = absl::Now();
  absl::StatusOr<std::shared_ptr<const ServingSnapshot>> next =
      ServingSnapshot::Open(options.snapshots_dir + "/" + version, options.device);
  if (!next.ok()) {
    log::Error("snapshot refused; the old one keeps serving",
               {{"version", version}, {"serving", old ? old->version() : "none"}, {"reason", next.status().message()}});
    return absl::FailedPreconditionError(absl::StrCat("snapshot ", version, " refused (", next.status().message(),
                                                      "); still serving ", old ? old->version() : "none"));
  }
  live.Swap(*next);
  metrics.SetSnapshot(version, (*next)->count());
  metrics.RecordSwap();
  if (on_serving) on_serving(true);
  log::Info("serving snapshot", {{"version", version},
                                 {"galaxies", absl::StrCat((*next)->count())},
                                 {"previous", old ? old->version() : "none"},
                                 {"load_seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  return absl::OkStatus();
}

grpc::Status ServiceState::Handle(const char* rpc, grpc::ServerContextBase* context, Role role,
                                  const std::function<absl::Status()>& body) {
  const absl::Time start = absl::Now();
  absl::Status status;
  if (auth) {
    const auto& md = context->client_metadata();
    auto it = md.find("authorization");
    const absl::string_view value = it == md.end() ? absl::string_view()
                                                   : absl::string_view(it->second.data(), it->second.size());
    status = auth->Check(value, role);
  }
  if (status.ok()) {
    try {
      status = body();
    } catch (const std::exception& e) {
      status = absl::InternalError(absl::StrCat(rpc, ": ", e.what()));
    }
  }
  const std::string code = absl::StatusCodeToString(status.code());
  metrics.RecordRequest(rpc, code, absl::ToDoubleSeconds(absl::Now() - start));
  if (!status.ok()) {
    const std::string peer = context->peer();
    const log::Fields fields = {{"rpc", rpc}, {"code", code}, {"error", status.message()}, {"peer", peer}};
    if (status.code() == absl::StatusCode::kInternal || status.code() == absl::StatusCode::kDataLoss) {
      log::Error("request failed", fields);
    } else {
      log::Info("request refused", fields);
    }
  }
  return ToGrpcStatus(status);
}

grpc::ServerUnaryReactor* SearchService::SimilarGalaxies(grpc::CallbackServerContext* context,
                                                         const v1::SimilarGalaxiesRequest* request,
                                                         v1::SimilarGalaxiesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto answer = [this, context, request, response, reactor] {
    reactor->Finish(state_->Handle("SimilarGalaxies", context, Role::kSearch, [&]() -> absl::Status {
      GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
      std::vector<SimilarQuery> queries(1);
      std::vector<absl::Status> statuses = {
          ValidateSimilarRequest(*request, snap->shape(), state_->limits, "", &queries[0])};
      GALAXY_RETURN_IF_ERROR(statuses[0]);
      std::vector<v1::SimilarGalaxiesResponse*> responses = {response};
      RunSimilar(*state_, *snap, queries, context, &statuses, &responses);
      return statuses[0];
    }));
  };
  if (request->has_image()) {
    state_->image_tasks.Run(answer);  // waits for the model: not on gRPC's threads
  } else {
    answer();
  }
  return reactor;
}

grpc::Status SearchService::BatchSimilarGalaxies(grpc::ServerContext* context,
                                                 const v1::BatchSimilarGalaxiesRequest* request,
                                                 v1::BatchSimilarGalaxiesResponse* response) {
  return state_->Handle("BatchSimilarGalaxies", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
    const int n = request->queries_size();
    GALAXY_RETURN_IF_ERROR(ValidateBatchSize(n, state_->limits, "queries"));
    std::vector<SimilarQuery> queries(static_cast<size_t>(n));
    std::vector<absl::Status> statuses(static_cast<size_t>(n));
    std::vector<v1::SimilarGalaxiesResponse*> responses;
    for (int i = 0; i < n; ++i) {
      statuses[static_cast<size_t>(i)] = ValidateSimilarRequest(request->queries(i), snap->shape(), state_->limits,
                                                                absl::StrCat("queries[", i, "]"),
                                                                &queries[static_cast<size_t>(i)]);
      responses.push_back(response->add_results()->mutable_response());
    }
    RunSimilar(*state_, *snap, queries, context, &statuses, &responses);
    for (int i = 0; i < n; ++i) {
      v1::SimilarGalaxiesResult* result = response->mutable_results(i);
      *result->mutable_status() = ToItemStatus(statuses[static_cast<size_t>(i)]);
      if (!statuses[static_cast<size_t>(i)].ok()) result->clear_response();
    }
    response->set_snapshot_version(snap->version());
    return absl::OkStatus();
  });
}

grpc::Status SearchService::PredictRedshift(grpc::ServerContext* context, const v1::PredictRedshiftRequest* request,
                                            v1::PredictRedshiftResponse* response) {
  return state_->Handle("PredictRedshift", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
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
    std::vector<DecodedImage> decoded(static_cast<size_t>(n));
    std::vector<const DecodedImage*> images;
    std::vector<int> image_item;
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
        } else if (request->include_pdf()) {
          s = snap->SourceImage(q.id(), record->source_row(), &decoded[static_cast<size_t>(i)]);
        } else {
          p->set_z_phot(record->zphot());
          p->set_z_phot_err(record->zphot_err());
        }
      } else if (q.query_case() == v1::RedshiftQuery::kImage) {
        s = DecodeImage(q.image(), snap->shape(), state_->limits, FieldPath(field, "image"),
                        &decoded[static_cast<size_t>(i)]);
      } else {
        s = absl::InvalidArgumentError(absl::StrCat(field, ".query: none set; give id or image"));
      }
      *p->mutable_status() = ToItemStatus(s);
      if (s.ok() && !decoded[static_cast<size_t>(i)].pixels.empty()) {
        images.push_back(&decoded[static_cast<size_t>(i)]);
        image_item.push_back(i);
      }
    }
    if (!images.empty()) {
      absl::StatusOr<EmbedOutput> out =
          state_->batcher.Run(snap->model(), images, DeadlineOf(context), /*redshift=*/true);
      for (size_t j = 0; j < image_item.size(); ++j) {
        v1::RedshiftPrediction* p = response->mutable_predictions(image_item[j]);
        if (!out.ok()) {
          *p->mutable_status() = ToItemStatus(out.status());
          continue;
        }
        p->set_z_phot(out->z_mean[j]);
        p->set_z_phot_err(out->z_sigma[j]);
        if (request->include_pdf()) {
          const size_t bins = static_cast<size_t>(m.redshift_bins);
          p->mutable_pdf()->Add(out->pdf.begin() + static_cast<ptrdiff_t>(j * bins),
                                out->pdf.begin() + static_cast<ptrdiff_t>((j + 1) * bins));
        }
      }
    }
    return absl::OkStatus();
  });
}

grpc::Status SearchService::ScoreAnomaly(grpc::ServerContext* context, const v1::ScoreAnomalyRequest* request,
                                         v1::ScoreAnomalyResponse* response) {
  return state_->Handle("ScoreAnomaly", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
    if (request->query_case() == v1::ScoreAnomalyRequest::kId) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord record, snap->Record(request->id(), true));
      response->set_score(record.anomaly_score());
      response->set_percentile(record.anomaly_percentile());
      response->set_k(static_cast<uint32_t>(std::min<int64_t>(snap->snapshot().manifest().anomaly_k, snap->count() - 1)));
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
    GALAXY_ASSIGN_OR_RETURN(EmbedOutput out,
                            state_->batcher.Run(snap->model(), {&image}, DeadlineOf(context), /*redshift=*/false));
    GALAXY_RETURN_IF_ERROR(StillWanted(context));
    return snap->ScoreEmbedding(out.embeddings.data(), response, request->include_neighbors());
  });
}

grpc::Status SearchService::ListAnomalies(grpc::ServerContext* context, const v1::ListAnomaliesRequest* request,
                                          v1::ListAnomaliesResponse* response) {
  return state_->Handle("ListAnomalies", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
    int page_size = 0;
    GALAXY_RETURN_IF_ERROR(ValidateListAnomalies(*request, &page_size));
    return snap->ListAnomalies(*request, page_size, response);
  });
}

grpc::Status SearchService::GetGalaxy(grpc::ServerContext* context, const v1::GetGalaxyRequest* request,
                                      v1::GalaxyRecord* response) {
  return state_->Handle("GetGalaxy", context, Role::kSearch, [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::shared_ptr<const ServingSnapshot> snap, LiveOrFail(*state_));
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
    response->set_server_version(std::string(Version()));
    v1::ServerLimits* limits = response->mutable_limits();
    limits->set_max_k(state_->options.max_k);
    limits->set_max_batch(state_->options.max_batch);
    limits->set_max_message_bytes(state_->options.max_message_bytes);
    limits->set_max_image_bytes(state_->options.max_image_bytes);
    std::shared_ptr<const ServingSnapshot> snap = state_->live.Get();
    if (snap == nullptr) return absl::OkStatus();  // snapshot_version stays empty, as the contract says
    const SnapshotManifest& m = snap->snapshot().manifest();
    response->set_snapshot_version(m.version);
    response->set_count(static_cast<uint64_t>(m.count));
    response->set_dimension(static_cast<uint32_t>(m.dimension));
    response->set_index_kind(ToProtoKind(m.index.kind));
    for (const auto& [key, value] : snap->snapshot().index().params().ToMap()) {
      (*response->mutable_index_params())[key] = value;
    }
    response->set_measured_recall_at_10(static_cast<float>(m.measured_recall_at_10));
    response->set_anomaly_k(static_cast<uint32_t>(m.anomaly_k));
    response->set_data_checksum(m.data_checksum);
    absl::Time built;
    std::string error;
    if (absl::ParseTime(absl::RFC3339_full, m.created_at, &built, &error)) {
      response->mutable_built_at()->set_seconds(absl::ToUnixSeconds(built));
    }
    v1::ModelInfo* model = response->mutable_model();
    const ModelMetadata& mm = snap->model().metadata();
    model->set_arch(mm.arch);
    model->set_stem(mm.stem);
    for (const std::string& b : mm.band_names) model->add_band_names(b);
    model->set_bands(static_cast<uint32_t>(mm.bands()));
    model->set_image_size(static_cast<uint32_t>(mm.image_size));
    model->set_embedding_dim(static_cast<uint32_t>(mm.embedding_dim));
    model->set_has_redshift_head(mm.has_redshift_head);
    model->set_checksum(m.model_checksum);
    model->set_training_data_checksum(mm.data_checksum);
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------------------------
// Admin
// ---------------------------------------------------------------------------------------------

void AdminService::Stop() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
}

grpc::Status AdminService::ReloadSnapshot(grpc::ServerContext* context, const v1::ReloadSnapshotRequest*,
                                          v1::ReloadSnapshotResponse* response) {
  return state_->Handle("ReloadSnapshot", context, Role::kAdmin, [&]() -> absl::Status {
    absl::StatusOr<std::string> current = ReadCurrent(state_->options.snapshots_dir);
    if (!current.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("cannot reload: ", current.status().message()));
    }
    std::shared_ptr<const ServingSnapshot> live = state_->live.Get();
    response->set_previous_version(live ? live->version() : "");
    if (live && live->version() == *current) {
      response->set_current_version(*current);
      response->set_changed(false);
      return absl::OkStatus();
    }
    std::string previous;
    GALAXY_RETURN_IF_ERROR(state_->SwapTo(*current, &previous));
    response->set_previous_version(previous);
    response->set_current_version(*current);
    response->set_changed(previous != *current);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::RebuildIndex(grpc::ServerContext* context, const v1::RebuildIndexRequest* request,
                                        v1::RebuildIndexResponse* response) {
  return state_->Handle("RebuildIndex", context, Role::kAdmin, [&]() -> absl::Status {
    std::shared_ptr<const ServingSnapshot> live = state_->live.Get();
    BuildOptions build;
    build.snapshots_dir = state_->options.snapshots_dir;
    build.device = state_->options.device;
    build.threads = state_->options.threads;
    build.cancel = &cancel_;
    build.data_path = request->data_path();
    if (build.data_path.empty()) return absl::InvalidArgumentError("data_path: required");
    std::error_code ec;
    if (!fs::is_regular_file(build.data_path, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("data_path: ", build.data_path, " is not a file on the server"));
    }
    build.model_path = request->model_path();
    if (build.model_path.empty()) {
      if (live == nullptr) return absl::InvalidArgumentError("model_path: required while no snapshot is loaded");
      build.model_path = live->snapshot().dir() + "/" + kModelFile;
    } else if (!fs::is_regular_file(build.model_path, ec)) {
      return absl::InvalidArgumentError(absl::StrCat("model_path: ", build.model_path, " is not a file on the server"));
    }
    switch (request->index_kind()) {
      case v1::INDEX_KIND_UNSPECIFIED:
        if (live) build.index.kind = live->snapshot().manifest().index.kind;
        break;
      case v1::INDEX_KIND_FLAT: build.index.kind = IndexKind::kFlat; break;
      case v1::INDEX_KIND_HNSW: build.index.kind = IndexKind::kHnsw; break;
      case v1::INDEX_KIND_IVFPQ: build.index.kind = IndexKind::kIvfPq; break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("index_kind: ", static_cast<int>(request->index_kind()),
                                                       " cannot be built by this server (flat, hnsw, ivfpq)"));
    }
    std::map<std::string, std::string> params(request->index_params().begin(), request->index_params().end());
    if (absl::Status s = build.index.Apply(params); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("index_params: ", s.message()));
    }
    const bool swap = !request->has_swap() || request->swap();

    absl::MutexLock lock(&mu_);
    if (running_) {
      return absl::FailedPreconditionError(absl::StrCat("rebuild ", latest_, " is still running"));
    }
    if (worker_.joinable()) worker_.join();  // the previous one has finished
    const std::string id = absl::StrCat("rebuild-", ++started_, "-", absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(),
                                                                                      absl::UTCTimeZone()));
    v1::RebuildStatus& status = rebuilds_[id];
    status.set_rebuild_id(id);
    status.set_state(v1::RebuildStatus::STATE_RUNNING);
    status.set_phase("starting");
    status.mutable_started_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
    latest_ = id;
    running_ = true;
    state_->metrics.SetRebuild("running", 0);
    log::Info("rebuild started", {{"rebuild_id", id}, {"data", build.data_path}, {"model", build.model_path},
                                  {"index", IndexKindName(build.index.kind)}});
    worker_ = std::thread([this, id, build, swap] {
      const absl::Time start = absl::Now();
      absl::Time phase_start = start;
      std::string phase;
      absl::StatusOr<BuildReport> report = BuildSnapshot(build, [&](const BuildProgress& p) {
        if (p.phase != phase) {
          phase = p.phase;
          phase_start = absl::Now();
        }
        const double fraction = p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0;
        const double elapsed = absl::ToDoubleSeconds(absl::Now() - phase_start);
        absl::MutexLock lock(&mu_);
        v1::RebuildStatus& s = rebuilds_[id];
        s.set_phase(p.phase);
        s.set_done(static_cast<uint64_t>(p.done));
        s.set_total(static_cast<uint64_t>(p.total));
        s.set_eta_seconds(fraction > 0 && fraction < 1 ? elapsed / fraction - elapsed : 0);
        state_->metrics.SetRebuild("running", fraction);
      });
      absl::Status outcome = report.status();
      if (outcome.ok() && swap) outcome = state_->SwapTo(report->version, nullptr);
      absl::MutexLock lock(&mu_);
      v1::RebuildStatus& s = rebuilds_[id];
      s.mutable_finished_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
      s.set_eta_seconds(0);
      if (report.ok()) s.set_snapshot_version(report->version);
      if (outcome.ok()) {
        s.set_state(v1::RebuildStatus::STATE_SUCCEEDED);
        s.set_phase("done");
        state_->metrics.SetRebuild("succeeded", 1);
        log::Info("rebuild succeeded", {{"rebuild_id", id}, {"version", report->version},
                                        {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
      } else {
        s.set_state(v1::RebuildStatus::STATE_FAILED);
        s.set_error(std::string(outcome.message()));
        state_->metrics.SetRebuild("failed", 0);
        log::Error("rebuild failed", {{"rebuild_id", id}, {"error", outcome.message()}});
      }
      running_ = false;
    });
    response->set_rebuild_id(id);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::GetRebuildStatus(grpc::ServerContext* context, const v1::GetRebuildStatusRequest* request,
                                            v1::RebuildStatus* response) {
  return state_->Handle("GetRebuildStatus", context, Role::kAdmin, [&]() -> absl::Status {
    absl::MutexLock lock(&mu_);
    const std::string id = request->rebuild_id().empty() ? latest_ : request->rebuild_id();
    if (id.empty()) {
      response->set_state(v1::RebuildStatus::STATE_IDLE);
      return absl::OkStatus();
    }
    auto it = rebuilds_.find(id);
    if (it == rebuilds_.end()) return absl::NotFoundError(absl::StrCat("rebuild_id: no rebuild '", id, "'"));
    *response = it->second;
    return absl::OkStatus();
  });
}

}  // namespace galaxy
