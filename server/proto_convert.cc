#include "server/proto_convert.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/command_line.h"

namespace galaxy {

v1::ItemStatus ToItemStatus(const absl::Status& status) {
  v1::ItemStatus out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  return out;
}

v1::IndexKind ToProtoKind(IndexKind kind) {
  switch (kind) {
    case IndexKind::kFlat: return v1::INDEX_KIND_FLAT;
    case IndexKind::kHnsw: return v1::INDEX_KIND_HNSW;
    case IndexKind::kIvfPq: return v1::INDEX_KIND_IVFPQ;
    case IndexKind::kTorchFlat: return v1::INDEX_KIND_TORCH_FLAT;
  }
  return v1::INDEX_KIND_UNSPECIFIED;
}

absl::StatusOr<IndexKind> FromProtoKind(v1::IndexKind kind, IndexKind unspecified) {
  switch (kind) {
    case v1::INDEX_KIND_UNSPECIFIED: return unspecified;
    case v1::INDEX_KIND_FLAT: return IndexKind::kFlat;
    case v1::INDEX_KIND_HNSW: return IndexKind::kHnsw;
    case v1::INDEX_KIND_IVFPQ: return IndexKind::kIvfPq;
    case v1::INDEX_KIND_TORCH_FLAT: return IndexKind::kTorchFlat;
    default:
      return absl::InvalidArgumentError(absl::StrCat("index_kind: ", static_cast<int>(kind),
                                                     " cannot be built by this server (flat, hnsw, ivfpq, torch-flat)"));
  }
}

v1::EmbeddingFeatures ToProtoFeatures(EmbeddingFeatures features) {
  switch (features) {
    case EmbeddingFeatures::kBackbone: return v1::EMBEDDING_FEATURES_BACKBONE;
    case EmbeddingFeatures::kProjection: return v1::EMBEDDING_FEATURES_PROJECTION;
    case EmbeddingFeatures::kStages: return v1::EMBEDDING_FEATURES_STAGES;
  }
  return v1::EMBEDDING_FEATURES_UNSPECIFIED;
}

absl::StatusOr<EmbeddingFeatures> FromProtoFeatures(v1::EmbeddingFeatures features, EmbeddingFeatures unspecified) {
  switch (features) {
    case v1::EMBEDDING_FEATURES_UNSPECIFIED: return unspecified;
    case v1::EMBEDDING_FEATURES_BACKBONE: return EmbeddingFeatures::kBackbone;
    case v1::EMBEDDING_FEATURES_PROJECTION: return EmbeddingFeatures::kProjection;
    case v1::EMBEDDING_FEATURES_STAGES: return EmbeddingFeatures::kStages;
    default:
      return absl::InvalidArgumentError(absl::StrCat("features: unknown value ", static_cast<int>(features), " (",
                                                     kEmbeddingFeaturesNames, ")"));
  }
}

void FillIndexInfo(const ServerOptions& options, const ServingSnapshot* snap, v1::IndexInfo* out) {
  out->set_server_version(std::string(Version()));
  v1::ServerLimits* limits = out->mutable_limits();
  limits->set_max_k(options.max_k);
  limits->set_max_batch(options.max_batch);
  limits->set_max_message_bytes(options.max_message_bytes);
  limits->set_max_image_bytes(options.max_image_bytes);
  if (snap == nullptr) return;  // snapshot_version stays empty, as the contract says
  const SnapshotManifest& m = snap->snapshot().manifest();
  out->set_snapshot_version(m.version);
  out->set_count(static_cast<uint64_t>(m.count));
  out->set_shard(static_cast<uint32_t>(m.shard));
  out->set_shards(static_cast<uint32_t>(m.shards));
  out->set_dimension(static_cast<uint32_t>(m.dimension));
  out->set_index_kind(ToProtoKind(m.index.kind));
  for (const auto& [key, value] : snap->snapshot().index().params().ToMap()) {
    (*out->mutable_index_params())[key] = value;
  }
  out->set_measured_recall_at_10(static_cast<float>(m.measured_recall_at_10));
  out->set_anomaly_k(static_cast<uint32_t>(m.anomaly_k));
  out->set_anomaly_score(AnomalyScoreKindName(m.anomaly_score));
  out->set_data_checksum(m.data_checksum);
  absl::Time built;
  std::string error;
  if (absl::ParseTime(absl::RFC3339_full, m.created_at, &built, &error)) {
    out->mutable_built_at()->set_seconds(absl::ToUnixSeconds(built));
  }
  v1::ModelInfo* model = out->mutable_model();
  const ModelMetadata& mm = snap->model().metadata();
  model->set_arch(mm.arch);
  model->set_stem(mm.stem);
  for (const std::string& b : mm.band_names) model->add_band_names(b);
  model->set_bands(static_cast<uint32_t>(mm.bands()));
  model->set_image_size(static_cast<uint32_t>(mm.image_size));
  model->set_embedding_dim(static_cast<uint32_t>(m.dimension));
  model->set_features(ToProtoFeatures(m.features));
  model->set_has_redshift_head(mm.has_redshift_head);
  model->set_checksum(m.model_checksum);
  model->set_training_data_checksum(mm.data_checksum);
}

}  // namespace galaxy
