// Conversions between the server's own types and galaxy.v1 messages.
#ifndef GALAXY_SERVER_PROTO_CONVERT_H_
#define GALAXY_SERVER_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "galaxy/v1/galaxy.pb.h"
#include "indexer/vector_index.h"
#include "model/embedder.h"
#include "server/server_options.h"
#include "server/serving_snapshot.h"

namespace galaxy {

// The per-item status of a batch answer.
v1::ItemStatus ToItemStatus(const absl::Status& status);

v1::IndexKind ToProtoKind(IndexKind kind);

// The index kind a RebuildIndex request asks for; `unspecified` when it names none.
// INVALID_ARGUMENT for a kind this server cannot build.
absl::StatusOr<IndexKind> FromProtoKind(v1::IndexKind kind, IndexKind unspecified);

v1::EmbeddingFeatures ToProtoFeatures(EmbeddingFeatures features);

// The features a RebuildIndex request asks for; `unspecified` when it names none.
// INVALID_ARGUMENT for a value this server does not know.
absl::StatusOr<EmbeddingFeatures> FromProtoFeatures(v1::EmbeddingFeatures features, EmbeddingFeatures unspecified);

// GetIndexInfo's answer: this server's version and limits, and what `snap` holds (nothing more
// when `snap` is null: no snapshot is loaded).
void FillIndexInfo(const ServerOptions& options, const ServingSnapshot* snap, v1::IndexInfo* out);

}  // namespace galaxy

#endif  // GALAXY_SERVER_PROTO_CONVERT_H_
