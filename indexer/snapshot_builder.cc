#include "indexer/snapshot_builder.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "core/checksum.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "data/npy.h"
#include "indexer/metadata_store.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"
#include "model/augment.h"
#include "model/checkpoint.h"
#include "model/torch_compat.h"
#include "model/torch_info.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
constexpr char kBuildPrefix[] = ".building-";

double Seconds(absl::Time since) { return absl::ToDoubleSeconds(absl::Now() - since); }

int64_t PeakRssBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

// Removes the build directory unless released (the published snapshot keeps it).
class BuildDirGuard {
 public:
  explicit BuildDirGuard(std::string dir) : dir_(std::move(dir)) {}
  ~BuildDirGuard() {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  void Release() { dir_.clear(); }

 private:
  std::string dir_;
};

// The scratch file of embeddings (n x dim float32, row order of the dataset).
class VectorScratch {
 public:
  VectorScratch(std::string path, int dim) : path_(std::move(path)), dim_(dim) {}
  absl::Status Append(const float* v, int64_t n) {
    if (!out_.is_open()) out_.open(path_, std::ios::binary | std::ios::trunc);
    out_.write(reinterpret_cast<const char*>(v), n * dim_ * 4);
    if (!out_) return absl::InternalError(absl::StrCat("writing ", path_, " failed (disk full?)"));
    rows_ += n;
    return absl::OkStatus();
  }
  absl::Status Close() {
    out_.close();
    if (out_.fail()) return absl::InternalError(absl::StrCat("closing ", path_, " failed (disk full?)"));
    return absl::OkStatus();
  }
  // Rows [start, start + n) into `out` (n x dim).
  absl::Status Read(int64_t start, int64_t n, std::vector<float>* out) const {
    std::ifstream in(path_, std::ios::binary);
    in.seekg(start * dim_ * 4);
    out->resize(static_cast<size_t>(n * dim_));
    in.read(reinterpret_cast<char*>(out->data()), n * dim_ * 4);
    if (!in) return absl::DataLossError(absl::StrCat("reading ", path_, " failed"));
    return absl::OkStatus();
  }
  int64_t rows() const { return rows_; }

 private:
  std::string path_;
  int dim_;
  std::ofstream out_;
  int64_t rows_ = 0;
};

absl::Status CheckInputs(const BuildOptions& o) {
  if (o.data_path.empty()) return absl::InvalidArgumentError("--data: required");
  if (o.model_path.empty()) return absl::InvalidArgumentError("--model: required");
  if (o.snapshots_dir.empty()) return absl::InvalidArgumentError("--out: required");
  if (!fs::exists(o.data_path)) return absl::NotFoundError(absl::StrCat(o.data_path, ": no such dataset"));
  if (!fs::exists(o.model_path)) return absl::NotFoundError(absl::StrCat(o.model_path, ": no such model"));
  if (o.batch < 1 || o.batch > 65536) return absl::InvalidArgumentError("--batch: outside 1..65536");
  if (o.anomaly_k < 1 || o.anomaly_k > 1000) return absl::InvalidArgumentError("--anomaly-k: outside 1..1000");
  return absl::OkStatus();
}

}  // namespace

int RemoveBuildDebris(const std::string& snapshots_dir) {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(snapshots_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (!absl::StartsWith(name, kBuildPrefix)) continue;
    int pid = 0;
    const std::string tail = name.substr(name.rfind('-') + 1);
    if (!absl::SimpleAtoi(tail, &pid) || pid <= 0) continue;
    if (pid != ::getpid() && ::kill(pid, 0) != 0 && errno != EPERM) {
      fs::remove_all(entry.path(), ec);
      if (!ec) {
        ++removed;
        log::Info("removed the debris of an interrupted build", {{"dir", entry.path().string()}});
      }
    }
  }
  // Temporary CURRENT files of interrupted publications.
  removed += RemoveStaleTemps(snapshots_dir + "/" + kCurrentFileName);
  return removed;
}

absl::StatusOr<BuildReport> BuildSnapshot(const BuildOptions& options, const ProgressCallback& progress) {
  const absl::Time start = absl::Now();
  GALAXY_RETURN_IF_ERROR(CheckInputs(options));
  auto report_progress = [&](const std::string& phase, int64_t done, int64_t total) -> absl::Status {
    if (progress) progress(BuildProgress{phase, done, total});
    if (options.cancel != nullptr && options.cancel->load()) {
      return absl::CancelledError(absl::StrCat("build cancelled while ", phase, "; nothing was published"));
    }
    return absl::OkStatus();
  };
  fs::create_directories(options.snapshots_dir);
  RemoveBuildDebris(options.snapshots_dir);
  BuildReport report;
  report.version = options.version.empty() ? NewVersionName(absl::Now()) : options.version;
  GALAXY_RETURN_IF_ERROR(ValidateVersionName(report.version));
  report.snapshot_dir = options.snapshots_dir + "/" + report.version;
  if (fs::exists(report.snapshot_dir)) {
    return absl::AlreadyExistsError(absl::StrCat(report.snapshot_dir, " already exists"));
  }
  const std::string build_dir =
      absl::StrCat(options.snapshots_dir, "/", kBuildPrefix, report.version, "-", ::getpid());
  fs::create_directories(build_dir);
  BuildDirGuard guard(build_dir);

  SetCpuThreads(options.threads);
  KeepFreedMemoryForReuse();
  GALAXY_ASSIGN_OR_RETURN(DeviceKind kind, ResolveDevice(options.device));
  const bool cuda = kind == DeviceKind::kCuda;
  const torch::Device device = cuda ? torch::kCUDA : torch::kCPU;
  GALAXY_ASSIGN_OR_RETURN(GalaxyNet net, LoadGalaxyNet(options.model_path, device));
  // Inference only: BatchNorm folded into the convolutions (the server does the same).
  net.backbone->FoldBatchNorm();
  if (cuda) {
    ToChannelsLast(*net.backbone);
  }
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, DatasetReader::Open(options.data_path));
  const DatasetLayout& layout = reader->layout();
  if (layout.bands != net.metadata.bands()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.data_path, " has ", layout.bands, " bands (", absl::StrJoin(layout.band_names, ","), "); ",
        options.model_path, " was trained on ", net.metadata.bands(), " (",
        absl::StrJoin(net.metadata.band_names, ","), ")"));
  }
  if (layout.height < net.metadata.image_size || layout.width < net.metadata.image_size) {
    return absl::InvalidArgumentError(absl::StrCat(options.data_path, ": images are ", layout.height, " x ",
                                                   layout.width, " px, smaller than the model's ",
                                                   net.metadata.image_size));
  }
  const int64_t n = reader->count();
  if (n < 2) return absl::InvalidArgumentError(absl::StrCat(options.data_path, ": needs at least 2 galaxies"));
  const int dim = static_cast<int>(net.metadata.embedding_dim);

  SnapshotManifest manifest;
  manifest.version = report.version;
  manifest.model = net.metadata;
  manifest.anomaly_k = options.anomaly_k;
  manifest.dimension = dim;
  manifest.data_path = options.data_path;
  GALAXY_ASSIGN_OR_RETURN(manifest.model_checksum, Sha256File(options.model_path));
  GALAXY_ASSIGN_OR_RETURN(manifest.data_checksum, Sha256File(options.data_path));

  // 1. Embedding.
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<MetadataStore> store,
                          MetadataStore::Create(build_dir + "/" + kMetadataDir));
  VectorScratch scratch(build_dir + "/vectors.f32", dim);
  std::vector<int64_t> ids;
  ids.reserve(static_cast<size_t>(n));
  std::unordered_set<int64_t> seen;
  seen.reserve(static_cast<size_t>(n));
  absl::Time phase = absl::Now();
  GalaxyBatch batch;
  std::vector<v1::GalaxyRecord> records;
  for (int64_t first = 0; first < n; first += options.batch) {
    const int64_t count = std::min<int64_t>(options.batch, n - first);
    GALAXY_RETURN_IF_ERROR(reader->Read(first, count, &batch));
    torch::Tensor embedding, z_mean, z_sigma;
    try {
      torch::NoGradGuard no_grad;
      const torch::Tensor images =
          torch::from_blob(batch.images.data(), {count, layout.bands, layout.height, layout.width}, torch::kFloat32);
      const torch::Tensor ebv = torch::from_blob(batch.e_bv.data(), {count}, torch::kFloat32);
      torch::Tensor x = PreprocessForModel(images.to(device), ebv.to(device), net.metadata.image_size);
      if (cuda) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
      CudaAutocast autocast(cuda);
      const torch::Tensor features = net.backbone(x);
      torch::Tensor e = net.projection ? net.projection(features) : features;
      embedding = torch::nn::functional::normalize(e.to(torch::kFloat32),
                                                   torch::nn::functional::NormalizeFuncOptions().dim(1))
                      .to(torch::kCPU)
                      .contiguous();
      if (net.redshift) {
        const RedshiftEstimate est = EstimateRedshift(net.redshift(features), net.bins);
        z_mean = est.mean.to(torch::kCPU).contiguous();
        z_sigma = est.sigma.to(torch::kCPU).contiguous();
      }
    } catch (const std::exception& e) {
      return StatusFromException(e, absl::StrCat("embedding rows ", first, "..", first + count));
    }
    const float* ev = embedding.data_ptr<float>();
    records.assign(static_cast<size_t>(count), v1::GalaxyRecord());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t id = batch.ids[static_cast<size_t>(i)];
      if (!seen.insert(id).second) {
        return absl::InvalidArgumentError(absl::StrCat(options.data_path, ": ObjID ", id,
                                                       " appears more than once (again at row ", first + i, ")"));
      }
      for (int d = 0; d < dim; ++d) {
        if (!std::isfinite(ev[i * dim + d])) {
          return absl::InvalidArgumentError(absl::StrCat(options.model_path, " gives a non-finite embedding for ObjID ",
                                                         id, " (row ", first + i, "); is the model corrupt?"));
        }
      }
      v1::GalaxyRecord& r = records[static_cast<size_t>(i)];
      r.set_id(id);
      r.set_ra(batch.ra[static_cast<size_t>(i)]);
      r.set_dec(batch.dec[static_cast<size_t>(i)]);
      r.set_e_bv(batch.e_bv[static_cast<size_t>(i)]);
      const float z = batch.redshift[static_cast<size_t>(i)];
      if (std::isfinite(z) && z >= 0) r.set_specz(z);
      if (z_mean.defined()) {
        r.set_zphot(z_mean.data_ptr<float>()[i]);
        r.set_zphot_err(z_sigma.data_ptr<float>()[i]);
      }
      r.mutable_embedding()->Add(ev + i * dim, ev + (i + 1) * dim);
      r.set_source_row(static_cast<uint64_t>(first + i));
      for (const auto& [name, values] : batch.extra) (*r.mutable_extra())[name] = values[static_cast<size_t>(i)];
      ids.push_back(id);
    }
    GALAXY_RETURN_IF_ERROR(store->Put(records));
    GALAXY_RETURN_IF_ERROR(scratch.Append(ev, count));
    GALAXY_RETURN_IF_ERROR(report_progress("embedding", first + count, n));
  }
  GALAXY_RETURN_IF_ERROR(scratch.Close());
  report.embed_seconds = Seconds(phase);

  // 2. Indexing.
  phase = absl::Now();
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, VectorIndex::Create(options.index, dim, n));
  constexpr int64_t kChunk = 65536;
  std::vector<float> chunk;
  if (index->needs_training()) {
    // A uniform sample of up to 100k vectors (at least 39 per list, FAISS's minimum advice).
    const int64_t want = std::min<int64_t>(n, std::max<int64_t>(100000, 39LL * index->params().ivf_lists));
    const int64_t stride = std::max<int64_t>(1, n / want);
    std::vector<float> sample, row;
    for (int64_t i = 0; i < n && static_cast<int64_t>(sample.size()) < want * dim; i += stride) {
      GALAXY_RETURN_IF_ERROR(scratch.Read(i, 1, &row));
      sample.insert(sample.end(), row.begin(), row.end());
    }
    GALAXY_RETURN_IF_ERROR(report_progress("training the index", 0, 1));
    GALAXY_RETURN_IF_ERROR(index->Train(sample.data(), static_cast<int64_t>(sample.size()) / dim));
  }
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    GALAXY_RETURN_IF_ERROR(scratch.Read(first, count, &chunk));
    GALAXY_RETURN_IF_ERROR(index->Add(chunk.data(), ids.data() + first, count));
    GALAXY_RETURN_IF_ERROR(report_progress("indexing", first + count, n));
  }
  report.index_seconds = Seconds(phase);

  // 3. Anomaly scores: mean cosine distance to the k nearest other galaxies. An exact index over
  //    a large catalog would take n^2 work: score with a graph index instead.
  phase = absl::Now();
  std::unique_ptr<VectorIndex> scoring_holder;
  const VectorIndex* scoring = index.get();
  if (options.index.kind == IndexKind::kFlat && n > 50000) {
    IndexParams hnsw;
    hnsw.kind = IndexKind::kHnsw;
    GALAXY_ASSIGN_OR_RETURN(scoring_holder, VectorIndex::Create(hnsw, dim, n));
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      GALAXY_RETURN_IF_ERROR(scratch.Read(first, count, &chunk));
      GALAXY_RETURN_IF_ERROR(scoring_holder->Add(chunk.data(), ids.data() + first, count));
    }
    scoring = scoring_holder.get();
  }
  const int k = static_cast<int>(std::min<int64_t>(options.anomaly_k, n - 1));
  const int fetch = k + 1;
  std::vector<float> scores(static_cast<size_t>(n));
  std::vector<float> sims;
  std::vector<int64_t> found;
  for (int64_t first = 0; first < n; first += 4096) {
    const int64_t count = std::min<int64_t>(4096, n - first);
    GALAXY_RETURN_IF_ERROR(scratch.Read(first, count, &chunk));
    sims.resize(static_cast<size_t>(count * fetch));
    found.resize(static_cast<size_t>(count * fetch));
    GALAXY_RETURN_IF_ERROR(scoring->Search(chunk.data(), count, fetch, sims.data(), found.data()));
    for (int64_t i = 0; i < count; ++i) {
      double sum = 0;
      int used = 0;
      for (int j = 0; j < fetch && used < k; ++j) {
        const int64_t other = found[static_cast<size_t>(i * fetch + j)];
        if (other < 0 || other == ids[static_cast<size_t>(first + i)]) continue;
        sum += 1.0 - sims[static_cast<size_t>(i * fetch + j)];
        ++used;
      }
      scores[static_cast<size_t>(first + i)] = used > 0 ? static_cast<float>(sum / used) : 2.0f;
    }
    GALAXY_RETURN_IF_ERROR(report_progress("scoring anomalies", first + count, n));
  }
  scoring_holder.reset();
  std::vector<float> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t first = 0; first < n; first += kChunk) {
    const int64_t count = std::min(kChunk, n - first);
    records.clear();
    for (int64_t i = first; i < first + count; ++i) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord r, store->Get(ids[static_cast<size_t>(i)]));
      const float score = scores[static_cast<size_t>(i)];
      const auto below = std::lower_bound(sorted.begin(), sorted.end(), score);
      r.set_anomaly_score(score);
      r.set_anomaly_percentile(static_cast<float>(100.0 * static_cast<double>(below - sorted.begin()) / static_cast<double>(n)));
      records.push_back(std::move(r));
    }
    GALAXY_RETURN_IF_ERROR(store->Put(records));
    GALAXY_RETURN_IF_ERROR(report_progress("writing anomaly scores", first + count, n));
  }
  report.anomaly_seconds = Seconds(phase);

  // 4. Recall@10 of approximate indexes against exact search.
  if (options.index.kind != IndexKind::kFlat) {
    const int64_t queries = std::min<int64_t>(options.recall_queries, n);
    IndexParams exact_params;
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> exact, VectorIndex::Create(exact_params, dim, n));
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      GALAXY_RETURN_IF_ERROR(scratch.Read(first, count, &chunk));
      GALAXY_RETURN_IF_ERROR(exact->Add(chunk.data(), ids.data() + first, count));
    }
    std::vector<float> q, row;
    const int64_t stride = std::max<int64_t>(1, n / queries);
    for (int64_t i = 0, taken = 0; i < n && taken < queries; i += stride, ++taken) {
      GALAXY_RETURN_IF_ERROR(scratch.Read(i, 1, &row));
      q.insert(q.end(), row.begin(), row.end());
    }
    const int64_t nq = static_cast<int64_t>(q.size()) / dim;
    const int kk = static_cast<int>(std::min<int64_t>(10, n));
    std::vector<float> s1(static_cast<size_t>(nq * kk)), s2(static_cast<size_t>(nq * kk));
    std::vector<int64_t> truth(static_cast<size_t>(nq * kk)), got(static_cast<size_t>(nq * kk));
    GALAXY_RETURN_IF_ERROR(exact->Search(q.data(), nq, kk, s1.data(), truth.data()));
    auto measure = [&]() -> absl::StatusOr<double> {
      GALAXY_RETURN_IF_ERROR(index->Search(q.data(), nq, kk, s2.data(), got.data()));
      int64_t hits = 0;
      for (int64_t i = 0; i < nq; ++i) {
        for (int a = 0; a < kk; ++a) {
          for (int b = 0; b < kk; ++b) hits += truth[static_cast<size_t>(i * kk + a)] == got[static_cast<size_t>(i * kk + b)];
        }
      }
      return static_cast<double>(hits) / static_cast<double>(nq * kk);
    };
    GALAXY_ASSIGN_OR_RETURN(report.recall_at_10, measure());
    // Below the target, search wider until it is met (or the search is exhaustive): how tightly
    // the embeddings cluster decides what an approximate index needs, and it is only known now.
    IndexParams tuned = index->params();
    while (report.recall_at_10 < options.target_recall) {
      const bool hnsw = tuned.kind == IndexKind::kHnsw;
      if (hnsw ? tuned.ef_search >= 4096 : (tuned.nprobe >= tuned.ivf_lists && tuned.refine_factor >= 64)) break;
      if (hnsw) {
        tuned.ef_search *= 2;
      } else {
        tuned.nprobe = std::min(tuned.ivf_lists, tuned.nprobe * 2);
        tuned.refine_factor = std::min(64, tuned.refine_factor * 2);
      }
      index->SetSearchParams(tuned);
      GALAXY_ASSIGN_OR_RETURN(report.recall_at_10, measure());
      log::Info("widened the search to reach the recall target",
                {{"recall_at_10", absl::StrCat(report.recall_at_10)},
                 {"efSearch", absl::StrCat(tuned.ef_search)}, {"nprobe", absl::StrCat(tuned.nprobe)},
                 {"refine_factor", absl::StrCat(tuned.refine_factor)}});
    }
    if (report.recall_at_10 < options.target_recall) {
      log::Warn(absl::StrCat("recall@10 ", report.recall_at_10, " stays below the target ", options.target_recall,
                             " even with the widest search: these embeddings are too tightly packed for ",
                             IndexKindName(options.index.kind), "; use hnsw or flat"));
    }
    GALAXY_RETURN_IF_ERROR(report_progress("measuring recall", 1, 1));
  }

  // 5. Files, manifest, publication.
  GALAXY_RETURN_IF_ERROR(report_progress("writing files", 0, 1));
  GALAXY_RETURN_IF_ERROR(index->Save(build_dir + "/" + kIndexFile));
  std::error_code ec;
  fs::copy_file(options.model_path, build_dir + "/" + kModelFile, ec);
  if (ec) return absl::InternalError(absl::StrCat("copying the model: ", ec.message()));
  GALAXY_RETURN_IF_ERROR(WriteNpy(build_dir + "/" + kAnomalyScoresFile, "<f4", {n}, sorted.data(), n * 4));
  GALAXY_RETURN_IF_ERROR(store->Finish());
  store.reset();
  fs::remove(build_dir + "/vectors.f32", ec);
  manifest.count = n;
  manifest.index = index->params();
  manifest.measured_recall_at_10 = report.recall_at_10;
  manifest.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  manifest.embed_seconds = report.embed_seconds;
  manifest.index_seconds = report.index_seconds;
  manifest.anomaly_seconds = report.anomaly_seconds;
  manifest.total_seconds = Seconds(start);
  GALAXY_ASSIGN_OR_RETURN(manifest.files, DigestFiles(build_dir));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(build_dir + "/" + kManifestFile, manifest.ToJson() + "\n"));
  for (const auto& [name, digest] : manifest.files) {
    // Data files must be on disk before the directory is renamed into place.
    if (absl::Status s = SyncDirectory(fs::path(build_dir + "/" + name).parent_path().string()); !s.ok()) return s;
  }
  fs::rename(build_dir, report.snapshot_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("renaming ", build_dir, " to ", report.snapshot_dir, ": ", ec.message()));
  guard.Release();
  GALAXY_RETURN_IF_ERROR(SyncDirectory(options.snapshots_dir));
  if (options.publish) GALAXY_RETURN_IF_ERROR(PublishCurrent(options.snapshots_dir, report.version));
  report.count = n;
  report.total_seconds = Seconds(start);
  report.peak_rss_bytes = PeakRssBytes();
  return report;
}

}  // namespace galaxy
