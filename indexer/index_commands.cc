#include "indexer/index_commands.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <queue>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "data/npy.h"
#include "data/table_file.h"
#include "indexer/anomaly_auc.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"
#include "nlohmann/json.hpp"

namespace galaxy {
namespace fs = std::filesystem;

absl::Status RunBuild(const BuildOptions& options) {
  std::unique_ptr<Progress> progress;
  std::string current_phase;
  int64_t last_done = 0;
  GALAXY_ASSIGN_OR_RETURN(BuildReport r, BuildSnapshot(options, [&](const BuildProgress& p) {
    if (p.phase != current_phase) {
      if (progress) progress->Finish(last_done);
      current_phase = p.phase;
      progress = std::make_unique<Progress>(p.phase, "galaxies", p.total);
    }
    last_done = p.done;
    progress->Update(p.done);
  }));
  if (progress) progress->Finish(last_done);
  std::cout << absl::StrFormat(
      "snapshot %s: %d galaxies%s, %s index, recall@10 %.3f\n"
      "  embedding %.1fs, indexing %.1fs, anomaly scores %.1fs, total %.1fs, peak memory %.0f MiB\n"
      "  %s%s\n",
      r.version, r.count,
      options.shards > 1 ? absl::StrCat(" (shard ", options.shard, " of ", options.shards, ")") : std::string(),
      IndexKindName(options.index.kind), r.recall_at_10, r.embed_seconds, r.index_seconds,
      r.anomaly_seconds, r.total_seconds, r.peak_rss_bytes / 1048576.0, r.snapshot_dir,
      options.publish ? " (published: CURRENT names it)" : " (not published)");
  return absl::OkStatus();
}

absl::Status RunInfo(const std::string& path, bool json) {
  GALAXY_ASSIGN_OR_RETURN(std::string dir, ResolveSnapshotDir(path));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> s, Snapshot::Open(dir));
  const SnapshotManifest& m = s->manifest();
  if (json) {
    std::cout << m.ToJson() << "\n";
    return absl::OkStatus();
  }
  std::string params;
  for (const auto& [k, v] : m.index.ToMap()) absl::StrAppend(&params, params.empty() ? "" : ", ", k, "=", v);
  std::cout << absl::StrFormat(
      "snapshot      %s (%s)\ncreated       %s\ngalaxies      %d\ndimension     %d (%s features)\n"
      "index         %s; recall@10 %.3f\n"
      "model         %s %s/%s, %d bands, redshift head: %s\nanomaly score %s (k %d)\ndata          %s\n"
      "build         embed %.1fs, index %.1fs, anomalies %.1fs, total %.1fs\n",
      m.version, dir, m.created_at, m.count, m.dimension, EmbeddingFeaturesName(m.features), params,
      m.measured_recall_at_10, m.model.kind,
      m.model.arch, m.model.stem, m.model.bands(), m.model.has_redshift_head ? "yes" : "no",
      AnomalyScoreKindName(m.anomaly_score), m.anomaly_k,
      m.data_path, m.embed_seconds, m.index_seconds, m.anomaly_seconds, m.total_seconds);
  if (m.shards > 1) {
    std::cout << absl::StrFormat("shard         %d of %d (the galaxies whose ID hashes to it)\n", m.shard, m.shards);
  }
  return absl::OkStatus();
}

absl::Status RunVerify(const std::string& path) {
  GALAXY_ASSIGN_OR_RETURN(std::string dir, ResolveSnapshotDir(path));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> s, Snapshot::Open(dir));
  GALAXY_RETURN_IF_ERROR(s->Verify());
  std::cout << absl::StrFormat("%s: OK (%d files match their checksums; %d galaxies in index and metadata)\n",
                               dir, s->manifest().files.size(), s->manifest().count);
  return absl::OkStatus();
}

absl::Status RunExport(const std::string& path, const std::string& npy_dir, const std::string& table_path) {
  if (npy_dir.empty() && table_path.empty()) return absl::InvalidArgumentError("give --npy DIR, --out FILE or both");
  GALAXY_ASSIGN_OR_RETURN(std::string dir, ResolveSnapshotDir(path));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> s, Snapshot::Open(dir));
  const int64_t n = s->manifest().count, d = s->manifest().dimension;
  std::unique_ptr<NpyWriter> ids_npy, embeddings_npy, score_npy, zphot_npy, zerr_npy;
  if (!npy_dir.empty()) {
    fs::create_directories(npy_dir);
    GALAXY_ASSIGN_OR_RETURN(ids_npy, NpyWriter::Create(npy_dir + "/ids.npy", "<i8", {n}, 8));
    GALAXY_ASSIGN_OR_RETURN(embeddings_npy, NpyWriter::Create(npy_dir + "/embeddings.npy", "<f4", {n, d}, 4));
    GALAXY_ASSIGN_OR_RETURN(score_npy, NpyWriter::Create(npy_dir + "/anomaly_score.npy", "<f4", {n}, 4));
    GALAXY_ASSIGN_OR_RETURN(zphot_npy, NpyWriter::Create(npy_dir + "/zphot.npy", "<f4", {n}, 4));
    GALAXY_ASSIGN_OR_RETURN(zerr_npy, NpyWriter::Create(npy_dir + "/zphot_err.npy", "<f4", {n}, 4));
  }
  // One table: what the .npy files hold, with positions, spectroscopic redshifts and percentiles.
  std::unique_ptr<TableFileWriter> table;
  if (!table_path.empty()) {
    GALAXY_ASSIGN_OR_RETURN(
        table, TableFileWriter::Create(table_path,
                                       {{"id", ColumnType::kInt64, 1, ""},
                                        {"ra", ColumnType::kFloat64, 1, "deg"},
                                        {"dec", ColumnType::kFloat64, 1, "deg"},
                                        {"specz", ColumnType::kFloat32, 1, ""},
                                        {"zphot", ColumnType::kFloat32, 1, ""},
                                        {"zphot_err", ColumnType::kFloat32, 1, ""},
                                        {"anomaly_score", ColumnType::kFloat32, 1, ""},
                                        {"anomaly_percentile", ColumnType::kFloat32, 1, ""},
                                        {"embedding", ColumnType::kFloat32, d, ""}},
                                       n));
  }
  // Columns gathered a block of galaxies at a time, then written to both.
  constexpr size_t kBlock = 4096;
  struct Block {
    std::vector<int64_t> ids;
    std::vector<double> ra, dec;
    std::vector<float> specz, zphot, zerr, score, percentile, embedding;
  } b;
  const auto flush = [&]() -> absl::Status {
    const int64_t rows = static_cast<int64_t>(b.ids.size());
    if (table) {
      GALAXY_RETURN_IF_ERROR(table->Append({b.ids.data(), b.ra.data(), b.dec.data(), b.specz.data(), b.zphot.data(),
                                            b.zerr.data(), b.score.data(), b.percentile.data(), b.embedding.data()},
                                           rows));
    }
    if (ids_npy) {
      GALAXY_RETURN_IF_ERROR(ids_npy->Append(b.ids.data(), 8 * rows));
      GALAXY_RETURN_IF_ERROR(embeddings_npy->Append(b.embedding.data(), 4 * rows * d));
      GALAXY_RETURN_IF_ERROR(score_npy->Append(b.score.data(), 4 * rows));
      GALAXY_RETURN_IF_ERROR(zphot_npy->Append(b.zphot.data(), 4 * rows));
      GALAXY_RETURN_IF_ERROR(zerr_npy->Append(b.zerr.data(), 4 * rows));
    }
    b = Block();
    return absl::OkStatus();
  };
  GALAXY_RETURN_IF_ERROR(s->metadata().ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
    if (r.embedding_size() != d) {
      return absl::DataLossError(
          absl::StrCat(dir, ": galaxy ", r.id(), " has ", r.embedding_size(), " values, not ", d));
    }
    b.ids.push_back(r.id());
    b.ra.push_back(r.ra());
    b.dec.push_back(r.dec());
    b.specz.push_back(r.has_specz() ? r.specz() : std::nanf(""));
    b.zphot.push_back(r.has_zphot() ? r.zphot() : std::nanf(""));
    b.zerr.push_back(r.has_zphot_err() ? r.zphot_err() : std::nanf(""));
    b.score.push_back(r.anomaly_score());
    b.percentile.push_back(r.anomaly_percentile());
    b.embedding.insert(b.embedding.end(), r.embedding().begin(), r.embedding().end());
    return b.ids.size() == kBlock ? flush() : absl::OkStatus();
  }));
  GALAXY_RETURN_IF_ERROR(flush());
  if (ids_npy) {
    for (NpyWriter* w : {ids_npy.get(), embeddings_npy.get(), score_npy.get(), zphot_npy.get(), zerr_npy.get()}) {
      GALAXY_RETURN_IF_ERROR(w->Commit());
    }
  }
  if (table) GALAXY_RETURN_IF_ERROR(table->Commit());
  if (ids_npy) {
    std::cout << absl::StrFormat("wrote %s/{ids,embeddings,anomaly_score,zphot,zphot_err}.npy: %d galaxies x %d\n",
                                 npy_dir, n, d);
  }
  if (table) {
    std::cout << absl::StrFormat("wrote %s: %d galaxies (id, ra, dec, specz, zphot, zphot_err, anomaly_score, "
                                 "anomaly_percentile, embedding of %d)\n",
                                 table_path, n, d);
  }
  return absl::OkStatus();
}

absl::Status RunListAnomalies(const std::string& path, int top, bool json) {
  if (top < 1) return absl::InvalidArgumentError("--top: must be >= 1");
  GALAXY_ASSIGN_OR_RETURN(std::string dir, ResolveSnapshotDir(path));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> s, Snapshot::Open(dir));
  using Entry = std::pair<float, v1::GalaxyRecord>;
  auto cmp = [](const Entry& a, const Entry& b) { return a.first > b.first; };
  std::priority_queue<Entry, std::vector<Entry>, decltype(cmp)> best(cmp);
  GALAXY_RETURN_IF_ERROR(s->metadata().ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
    if (static_cast<int>(best.size()) < top) {
      best.emplace(r.anomaly_score(), r);
    } else if (r.anomaly_score() > best.top().first) {
      best.pop();
      best.emplace(r.anomaly_score(), r);
    }
    return absl::OkStatus();
  }));
  std::vector<v1::GalaxyRecord> out;
  while (!best.empty()) {
    out.push_back(best.top().second);
    best.pop();
  }
  std::reverse(out.begin(), out.end());
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& r : out) {
      j.push_back({{"id", r.id()}, {"ra", r.ra()}, {"dec", r.dec()}, {"anomaly_score", r.anomaly_score()},
                   {"anomaly_percentile", r.anomaly_percentile()}});
    }
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("%4s %20s %10s %10s %8s %10s\n", "rank", "ObjID", "ra", "dec", "score", "percentile");
  int rank = 1;
  for (const auto& r : out) {
    std::cout << absl::StrFormat("%4d %20d %10.5f %+10.5f %8.4f %10.3f\n", rank++, r.id(), r.ra(), r.dec(),
                                 r.anomaly_score(), r.anomaly_percentile());
  }
  return absl::OkStatus();
}

absl::Status RunAnomalyAuc(const std::string& path, const std::string& data_path, const std::string& label_column,
                           bool json) {
  GALAXY_ASSIGN_OR_RETURN(AnomalyAuc r, ComputeAnomalyAuc(path, data_path, label_column));
  if (json) {
    nlohmann::json j = {{"auc", r.auc}, {"positives", r.positives}, {"negatives", r.negatives}};
    for (const auto& [k, v] : r.auc_by_kind) j["auc_by_kind"][absl::StrCat(k)] = v;
    std::cout << j.dump(2) << "\n";
    return absl::OkStatus();
  }
  std::cout << absl::StrFormat("ROC AUC of the anomaly score against '%s': %.3f (%d anomalies, %d normal)\n",
                               label_column, r.auc, r.positives, r.negatives);
  const char* names[] = {"none", "merger", "ring", "star", "trail"};
  for (const auto& [k, v] : r.auc_by_kind) {
    std::cout << absl::StrFormat("  kind %d %-8s AUC %.3f\n", k, k >= 0 && k < 5 ? names[k] : "?", v);
  }
  return absl::OkStatus();
}

}  // namespace galaxy
