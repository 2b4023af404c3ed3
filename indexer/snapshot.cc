#include "indexer/snapshot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "core/checksum.h"
#include "core/status_macros.h"
#include "core/whitening/catalog_whitening.h"
#include "data/npy.h"
#include "indexer/anomaly_score.h"
#include "nlohmann/json.hpp"

namespace galaxy {
namespace fs = std::filesystem;
namespace {

// kAnomalyWhiteningFile of a snapshot of `dim` dimensions.
absl::StatusOr<CatalogWhitening> ReadWhitening(const std::string& path, int dim) {
  GALAXY_ASSIGN_OR_RETURN(ByteSource source, FileByteSource(path));
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(source, path));
  const size_t d = static_cast<size_t>(dim);
  if (header.scalar.kind != 'f' || header.scalar.size != 8 || header.shape.size() != 2 ||
      header.shape[0] != dim + 1 || header.shape[1] != dim) {
    return absl::DataLossError(absl::StrCat(path, ": expected ", dim + 1, " x ", dim, " float64 (mean, factor)"));
  }
  std::vector<double> values((d + 1) * d);
  GALAXY_RETURN_IF_ERROR(
      ReadExactly(source, reinterpret_cast<char*>(values.data()), static_cast<int64_t>(values.size() * 8), path));
  CatalogWhitening w;
  w.dim = dim;
  w.shrinkage = kAnomalyShrinkage;
  w.mean.assign(values.begin(), values.begin() + static_cast<ptrdiff_t>(d));
  w.cholesky.assign(values.begin() + static_cast<ptrdiff_t>(d), values.end());
  for (size_t k = 0; k < d; ++k) {
    if (!(w.cholesky[k * d + k] > 0)) return absl::DataLossError(absl::StrCat(path, ": the factor is not positive definite"));
  }
  return w;
}

}  // namespace

absl::Status WriteWhitening(const std::string& path, const CatalogWhitening& w) {
  std::vector<double> values(w.mean);
  values.insert(values.end(), w.cholesky.begin(), w.cholesky.end());
  return WriteNpy(path, "<f8", {w.dim + 1, w.dim}, values.data(), static_cast<int64_t>(values.size() * 8));
}

std::string SnapshotManifest::ToJson() const {
  nlohmann::json files_json = nlohmann::json::object();
  for (const auto& [name, d] : files) files_json[name] = {{"sha256", d.sha256}, {"bytes", d.bytes}};
  nlohmann::json j = {{"format_version", format_version},
                      {"version", version},
                      {"created_at", created_at},
                      {"count", count},
                      {"dimension", dimension},
                      {"index", index.ToMap()},
                      {"measured_recall_at_10", measured_recall_at_10},
                      {"anomaly_k", anomaly_k},
                      {"anomaly_score", AnomalyScoreKindName(anomaly_score)},
                      {"neighbour_distance_median", neighbour_distance_median},
                      {"model", nlohmann::json::parse(model.ToJson())},
                      {"features", EmbeddingFeaturesName(features)},
                      {"model_checksum", model_checksum},
                      {"data_path", data_path},
                      {"data_checksum", data_checksum},
                      {"seconds", {{"embed", embed_seconds}, {"index", index_seconds},
                                   {"anomaly", anomaly_seconds}, {"total", total_seconds}}},
                      {"files", files_json}};
  if (shards > 1) j["shard"] = {{"index", shard}, {"of", shards}};
  return j.dump(2);
}

absl::StatusOr<SnapshotManifest> SnapshotManifest::FromJson(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return absl::DataLossError("manifest is not JSON");
  SnapshotManifest m;
  try {
    m.format_version = j.at("format_version").get<int>();
    if (m.format_version > 1) {
      return absl::FailedPreconditionError(absl::StrCat("snapshot format ", m.format_version, " is newer than this software"));
    }
    m.version = j.at("version").get<std::string>();
    m.created_at = j.value("created_at", "");
    m.count = j.at("count").get<int64_t>();
    m.dimension = j.at("dimension").get<int>();
    GALAXY_RETURN_IF_ERROR(m.index.Apply(j.at("index").get<std::map<std::string, std::string>>()));
    m.measured_recall_at_10 = j.value("measured_recall_at_10", 1.0);
    m.anomaly_k = j.value("anomaly_k", 10);
    if (j.contains("anomaly_score")) {
      absl::StatusOr<AnomalyScoreKind> kind = ParseAnomalyScoreKind(j["anomaly_score"].get<std::string>());
      if (!kind.ok()) return absl::DataLossError(absl::StrCat("manifest: ", kind.status().message()));
      m.anomaly_score = *kind;
    }
    m.neighbour_distance_median = j.value("neighbour_distance_median", 0.0);
    GALAXY_ASSIGN_OR_RETURN(m.model, ModelMetadata::FromJson(j.at("model").dump()));
    if (j.contains("features")) {
      absl::StatusOr<EmbeddingFeatures> features = ParseEmbeddingFeatures(j["features"].get<std::string>());
      if (!features.ok()) return absl::DataLossError(absl::StrCat("manifest: ", features.status().message()));
      m.features = *features;
    } else {
      m.features = m.model.has_projection_head ? EmbeddingFeatures::kProjection : EmbeddingFeatures::kBackbone;
    }
    m.model_checksum = j.value("model_checksum", "");
    m.data_path = j.value("data_path", "");
    m.data_checksum = j.value("data_checksum", "");
    if (j.contains("shard")) {
      m.shard = j["shard"].at("index").get<int>();
      m.shards = j["shard"].at("of").get<int>();
      if (m.shards < 1 || m.shard < 0 || m.shard >= m.shards) {
        return absl::DataLossError(absl::StrCat("manifest: shard ", m.shard, " of ", m.shards, " is not a shard"));
      }
    }
    if (j.contains("seconds")) {
      m.embed_seconds = j["seconds"].value("embed", 0.0);
      m.index_seconds = j["seconds"].value("index", 0.0);
      m.anomaly_seconds = j["seconds"].value("anomaly", 0.0);
      m.total_seconds = j["seconds"].value("total", 0.0);
    }
    for (const auto& [name, d] : j.at("files").items()) {
      m.files[name] = FileDigest{d.at("sha256").get<std::string>(), d.at("bytes").get<int64_t>()};
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("manifest: ", e.what()));
  }
  return m;
}

absl::StatusOr<std::map<std::string, FileDigest>> DigestFiles(const std::string& dir) {
  std::map<std::string, FileDigest> out;
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), dir).string();
    if (rel == kManifestFile || rel.find("/LOCK") != std::string::npos || rel == "LOCK") continue;
    // RocksDB's informational logs change on every open; they are not data.
    const std::string name = entry.path().filename().string();
    if (name.rfind("LOG", 0) == 0) continue;
    GALAXY_ASSIGN_OR_RETURN(std::string sha, Sha256File(entry.path().string()));
    out[rel] = FileDigest{sha, static_cast<int64_t>(entry.file_size())};
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", dir, ": ", ec.message()));
  return out;
}

absl::StatusOr<std::unique_ptr<Snapshot>> Snapshot::Open(const std::string& dir, const std::string& index_device) {
  std::unique_ptr<Snapshot> s(new Snapshot);
  s->dir_ = dir;
  const std::string manifest_path = dir + "/" + kManifestFile;
  std::ifstream in(manifest_path);
  if (!in) return absl::NotFoundError(absl::StrCat(manifest_path, ": missing (incomplete or not a snapshot)"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<SnapshotManifest> manifest = SnapshotManifest::FromJson(text.str());
  if (!manifest.ok()) return Annotate(manifest.status(), manifest_path);
  s->manifest_ = *manifest;
  // A size check before FAISS reads the index: a truncated file is named plainly, and FAISS
  // (which leaks the half-read index when it throws) never sees it.
  const std::string index_path = dir + "/" + kIndexFile;
  if (auto it = s->manifest_.files.find(kIndexFile); it != s->manifest_.files.end()) {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(index_path, error);
    if (!error && static_cast<int64_t>(bytes) != it->second.bytes) {
      return absl::DataLossError(absl::StrCat(index_path, ": ", bytes, " bytes, but the manifest says ",
                                              it->second.bytes, " (truncated or replaced?)"));
    }
  }
  IndexParams index_params = s->manifest_.index;
  index_params.device = index_device;
  GALAXY_ASSIGN_OR_RETURN(s->index_, VectorIndex::Load(index_path, index_params));
  if (s->index_->dim() != s->manifest_.dimension) {
    return absl::DataLossError(absl::StrCat(dir, ": index dimension ", s->index_->dim(), " but the manifest says ",
                                            s->manifest_.dimension));
  }
  GALAXY_ASSIGN_OR_RETURN(s->metadata_, MetadataStore::OpenReadOnly(dir + "/" + kMetadataDir));
  const std::string scores = dir + "/" + kAnomalyScoresFile;
  GALAXY_ASSIGN_OR_RETURN(ByteSource source, FileByteSource(scores));
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(source, scores));
  if (header.scalar.kind != 'f' || header.scalar.size != 4 || header.count() != s->manifest_.count) {
    return absl::DataLossError(absl::StrCat(scores, ": expected ", s->manifest_.count, " float32 scores"));
  }
  s->sorted_scores_.resize(static_cast<size_t>(header.count()));
  GALAXY_RETURN_IF_ERROR(ReadExactly(source, reinterpret_cast<char*>(s->sorted_scores_.data()),
                                     header.count() * 4, scores));
  if (IsMahalanobis(s->manifest_.anomaly_score)) {
    GALAXY_ASSIGN_OR_RETURN(CatalogWhitening w,
                            ReadWhitening(dir + "/" + kAnomalyWhiteningFile,
                                          ScoredDimension(s->manifest_.anomaly_score, s->manifest_.dimension)));
    s->anomaly_whitening_ = std::make_unique<CatalogWhitening>(std::move(w));
  }
  GALAXY_RETURN_IF_ERROR(s->OpenRedshiftPdfs());
  return s;
}

void QuantisePdf(const float* pdf, int bins, std::vector<uint16_t>* out) {
  for (int i = 0; i < bins; ++i) {
    const double p = std::clamp(static_cast<double>(pdf[i]), 0.0, 1.0);
    out->push_back(static_cast<uint16_t>(std::lround(p * 65535.0)));
  }
}

absl::Status Snapshot::OpenRedshiftPdfs() {
  const std::string path = dir_ + "/" + kRedshiftPdfsFile;
  std::error_code error;
  if (!fs::exists(path, error)) return absl::OkStatus();
  GALAXY_ASSIGN_OR_RETURN(ByteSource source, FileByteSource(path));
  int64_t header_bytes = 0;
  const ByteSource counted = [&](char* buffer, int64_t n) -> absl::StatusOr<int64_t> {
    absl::StatusOr<int64_t> got = source(buffer, n);
    if (got.ok()) header_bytes += *got;
    return got;
  };
  GALAXY_ASSIGN_OR_RETURN(NpyHeader header, ReadNpyHeader(counted, path));
  const int64_t bins = manifest_.model.redshift_bins;
  if (header.scalar.kind != 'u' || header.scalar.size != 2 || header.shape.size() != 2 ||
      header.shape[0] != manifest_.count || header.shape[1] != bins) {
    return absl::DataLossError(absl::StrCat(path, ": expected ", manifest_.count, " x ", bins, " uint16 pdfs"));
  }
  pdfs_.reset(std::fopen(path.c_str(), "rb"), [](std::FILE* f) {
    if (f != nullptr) std::fclose(f);
  });
  if (pdfs_ == nullptr) return absl::DataLossError(absl::StrCat(path, ": cannot be opened"));
  pdf_offset_ = header_bytes;
  pdf_bins_ = static_cast<int>(bins);
  return absl::OkStatus();
}

absl::Status Snapshot::RedshiftPdf(uint64_t row, std::vector<float>* out) const {
  if (pdfs_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "snapshot ", manifest_.version, " holds no redshift pdfs (",
        manifest_.model.has_redshift_head ? "built before snapshots stored them; rebuild it"
                                          : "its model has no redshift head",
        ")"));
  }
  if (row >= static_cast<uint64_t>(manifest_.count)) {
    return absl::DataLossError(absl::StrCat(dir_, "/", kRedshiftPdfsFile, ": no row ", row));
  }
  std::vector<uint16_t> stored(static_cast<size_t>(pdf_bins_));
  const int64_t bytes = static_cast<int64_t>(stored.size()) * 2;
  const ssize_t got = ::pread(::fileno(pdfs_.get()), stored.data(), static_cast<size_t>(bytes),
                              static_cast<off_t>(pdf_offset_ + static_cast<int64_t>(row) * bytes));
  if (got != bytes) {
    return absl::DataLossError(absl::StrCat(dir_, "/", kRedshiftPdfsFile, ": row ", row, " is truncated"));
  }
  double sum = 0;
  for (uint16_t q : stored) sum += q;
  out->resize(stored.size());
  for (size_t i = 0; i < stored.size(); ++i) out->at(i) = sum > 0 ? static_cast<float>(stored[i] / sum) : 0.0f;
  return absl::OkStatus();
}

double Snapshot::AnomalyPercentile(double score) const {
  return ScorePercentile(sorted_scores_, static_cast<float>(score));
}

absl::Status Snapshot::Verify(int sample) const {
  GALAXY_ASSIGN_OR_RETURN(auto files, DigestFiles(dir_));
  for (const auto& [name, want] : manifest_.files) {
    auto it = files.find(name);
    if (it == files.end()) return absl::DataLossError(absl::StrCat(dir_, ": ", name, " is missing"));
    if (it->second.bytes != want.bytes || it->second.sha256 != want.sha256) {
      return absl::DataLossError(absl::StrCat(dir_, ": ", name, " does not match its checksum in the manifest"));
    }
  }
  for (const auto& [name, digest] : files) {
    if (!manifest_.files.count(name)) {
      return absl::DataLossError(absl::StrCat(dir_, ": ", name, " is not in the manifest"));
    }
  }
  GALAXY_RETURN_IF_ERROR(metadata_->VerifyChecksums());
  if (index_->count() != manifest_.count) {
    return absl::DataLossError(absl::StrCat(dir_, ": the index holds ", index_->count(), " galaxies, the manifest ",
                                            manifest_.count));
  }
  int64_t records = 0, checked = 0, found = 0;
  const int64_t stride = std::max<int64_t>(1, manifest_.count / std::max(1, sample));
  std::vector<float> scores(10);
  std::vector<int64_t> ids(10);
  GALAXY_RETURN_IF_ERROR(metadata_->ForEach([&](const v1::GalaxyRecord& r) -> absl::Status {
    if (r.embedding_size() != manifest_.dimension) {
      return absl::DataLossError(absl::StrCat(dir_, ": galaxy ", r.id(), " has a ", r.embedding_size(),
                                              "-d embedding, the index ", manifest_.dimension));
    }
    if (records++ % stride == 0) {
      GALAXY_RETURN_IF_ERROR(index_->Search(r.embedding().data(), 1, 10, scores.data(), ids.data()));
      ++checked;
      found += std::find(ids.begin(), ids.end(), r.id()) != ids.end();
    }
    return absl::OkStatus();
  }));
  if (records != manifest_.count) {
    return absl::DataLossError(absl::StrCat(dir_, ": the metadata holds ", records, " galaxies, the manifest ",
                                            manifest_.count));
  }
  // Approximate indexes may miss a few; demand what the build measured, with margin.
  const double rate = checked ? static_cast<double>(found) / static_cast<double>(checked) : 1.0;
  if (rate < std::min(0.99, manifest_.measured_recall_at_10) - 0.1) {
    return absl::DataLossError(absl::StrCat(dir_, ": only ", found, " of ", checked,
                                            " sampled galaxies are found by their own embedding"));
  }
  return absl::OkStatus();
}

}  // namespace galaxy
