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
#include "core/whitening/catalog_whitening.h"
#include "data/hdf5_dataset.h"
#include "data/npy.h"
#include "indexer/anomaly_score.h"
#include "indexer/catalog_anomaly_scores.h"
#include "indexer/metadata_store.h"
#include "indexer/snapshot.h"
#include "indexer/shard.h"
#include "indexer/snapshot_dir.h"
#include "indexer/vector_scratch.h"
#include "model/embedder.h"
#include "model/torch_info.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
constexpr char kBuildPrefix[] = ".building-";
// The build's scratch file of the vectors kMahalanobisTurns scores (removed before publishing).
constexpr char kScoredFile[] = "scored.f32";

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
    if (!dir_.empty()) RemoveTree(dir_).IgnoreError();
  }
  void Release() { dir_.clear(); }

 private:
  std::string dir_;
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
  // "<version>-<pid>" follows the prefix (the build directory's name).
  const auto pid_last = [](absl::string_view rest) {
    int pid = 0;
    return absl::SimpleAtoi(rest.substr(rest.rfind('-') + 1), &pid) ? pid : 0;
  };
  const std::vector<std::string> dirs = RemoveEntriesOfDeadProcesses(snapshots_dir, kBuildPrefix, pid_last);
  for (const std::string& dir : dirs) log::Info("removed the debris of an interrupted build", {{"dir", dir}});
  int removed = static_cast<int>(dirs.size());
  // Temporary CURRENT files of interrupted publications.
  removed += RemoveStaleTemps(snapshots_dir + "/" + kCurrentFileName);
  return removed;
}

namespace {

// One build, phase by phase (BuildSnapshot runs them in order); what a phase leaves for the
// next is a member. Destroyed on failure in reverse order: the metadata store closes before the
// guard removes the build directory.
class SnapshotBuild {
 public:
  SnapshotBuild(const BuildOptions& options, const ProgressCallback& progress)
      : options_(options), progress_(progress) {}

  absl::StatusOr<BuildReport> Run() {
    GALAXY_RETURN_IF_ERROR(Prepare());
    absl::Time phase = absl::Now();
    GALAXY_RETURN_IF_ERROR(Embed());
    report_.embed_seconds = Seconds(phase);
    phase = absl::Now();
    GALAXY_RETURN_IF_ERROR(Index());
    report_.index_seconds = Seconds(phase);
    phase = absl::Now();
    GALAXY_RETURN_IF_ERROR(ScoreAnomalies());
    report_.anomaly_seconds = Seconds(phase);
    GALAXY_RETURN_IF_ERROR(MeasureRecall());
    GALAXY_RETURN_IF_ERROR(Publish());
    report_.count = n_;
    report_.total_seconds = Seconds(start_);
    report_.peak_rss_bytes = PeakRssBytes();
    return report_;
  }

 private:
  static constexpr int64_t kChunk = 65536;

  // Tells the caller how far the build is; CANCELLED once options.cancel is set.
  absl::Status Progress(const std::string& phase, int64_t done, int64_t total) {
    if (progress_) progress_(BuildProgress{phase, done, total});
    if (options_.cancel != nullptr && options_.cancel->load()) {
      return absl::CancelledError(absl::StrCat("build cancelled while ", phase, "; nothing was published"));
    }
    return absl::OkStatus();
  }

  // The version and its build directory; the model and the dataset, checked against each other;
  // what the manifest says about its inputs.
  absl::Status Prepare() {
    GALAXY_RETURN_IF_ERROR(ValidateShard(options_.shard, options_.shards));
    GALAXY_RETURN_IF_ERROR(CheckInputs(options_));
    fs::create_directories(options_.snapshots_dir);
    RemoveBuildDebris(options_.snapshots_dir);
    report_.version = options_.version.empty() ? NewVersionName(absl::Now()) : options_.version;
    GALAXY_RETURN_IF_ERROR(ValidateVersionName(report_.version));
    report_.snapshot_dir = options_.snapshots_dir + "/" + report_.version;
    if (fs::exists(report_.snapshot_dir)) {
      return absl::AlreadyExistsError(absl::StrCat(report_.snapshot_dir, " already exists"));
    }
    build_dir_ = absl::StrCat(options_.snapshots_dir, "/", kBuildPrefix, report_.version, "-", ::getpid());
    fs::create_directories(build_dir_);
    guard_ = std::make_unique<BuildDirGuard>(build_dir_);

    SetCpuThreads(options_.threads);
    KeepFreedMemoryForReuse();
    const EmbedderLoader load = options_.load_embedder ? options_.load_embedder : LoadEmbedder;
    GALAXY_ASSIGN_OR_RETURN(embedder_, load(options_.model_path, options_.device, options_.features));
    const ModelMetadata& model = embedder_->metadata();
    GALAXY_ASSIGN_OR_RETURN(reader_, DatasetReader::Open(options_.data_path));
    const DatasetLayout& layout = reader_->layout();
    if (layout.bands != model.bands()) {
      return absl::InvalidArgumentError(absl::StrCat(
          options_.data_path, " has ", layout.bands, " bands (", absl::StrJoin(layout.band_names, ","), "); ",
          options_.model_path, " was trained on ", model.bands(), " (", absl::StrJoin(model.band_names, ","), ")"));
    }
    if (layout.height < model.image_size || layout.width < model.image_size) {
      return absl::InvalidArgumentError(absl::StrCat(options_.data_path, ": images are ", layout.height, " x ",
                                                     layout.width, " px, smaller than the model's ",
                                                     model.image_size));
    }
    n_ = reader_->count();
    if (options_.shards > 1) {
      GALAXY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, reader_->ReadIds());
      n_ = std::count_if(ids.begin(), ids.end(), [&](int64_t id) { return ShardOf(id, options_.shards) == options_.shard; });
      manifest_.shard = options_.shard;
      manifest_.shards = options_.shards;
    }
    if (n_ < 2) {
      return absl::InvalidArgumentError(absl::StrCat(options_.data_path, ": needs at least 2 galaxies",
                                                     options_.shards > 1 ? absl::StrCat(" in shard ", options_.shard, " of ",
                                                                                        options_.shards, " (has ", n_, ")")
                                                                         : ""));
    }
    dim_ = static_cast<int>(embedder_->embedding_dim());
    manifest_.version = report_.version;
    manifest_.model = model;
    manifest_.features = embedder_->features();
    manifest_.anomaly_k = options_.anomaly_k;
    manifest_.dimension = dim_;
    manifest_.data_path = options_.data_path;
    GALAXY_ASSIGN_OR_RETURN(manifest_.model_checksum, Sha256File(options_.model_path));
    GALAXY_ASSIGN_OR_RETURN(manifest_.data_checksum, Sha256File(options_.data_path));
    return absl::OkStatus();
  }

  // The next options_.batch galaxies of this build from dataset row *cursor on, into `batch`,
  // their dataset rows into `rows`: consecutive rows, or in a sharded build the rows of the
  // build's shard (read in blocks, the others dropped).
  absl::Status NextBatch(int64_t* cursor, GalaxyBatch* batch, std::vector<int64_t>* rows) {
    const int64_t total = reader_->count();
    rows->clear();
    if (options_.shards <= 1) {
      const int64_t count = std::min<int64_t>(options_.batch, total - *cursor);
      GALAXY_RETURN_IF_ERROR(reader_->Read(*cursor, count, batch));
      for (int64_t i = 0; i < count; ++i) rows->push_back(*cursor + i);
      *cursor += count;
      return absl::OkStatus();
    }
    const DatasetLayout& layout = reader_->layout();
    batch->Resize(layout, 0);
    while (static_cast<int64_t>(rows->size()) < options_.batch && *cursor < total) {
      const int64_t count = std::min<int64_t>(options_.batch, total - *cursor);
      GALAXY_RETURN_IF_ERROR(reader_->Read(*cursor, count, &block_));
      int64_t looked = 0;  // rows of the block looked at; the next call starts after them
      for (; looked < count && static_cast<int64_t>(rows->size()) < options_.batch; ++looked) {
        if (ShardOf(block_.ids[static_cast<size_t>(looked)], options_.shards) != options_.shard) continue;
        batch->AppendRows(block_, looked, 1, layout);
        rows->push_back(*cursor + looked);
      }
      *cursor += looked;
    }
    return absl::OkStatus();
  }

  // 1. Every galaxy's embedding (and redshift) into the scratch file and its record into the
  //    metadata store, in dataset order (of the build's shard); IDs must be unique.
  absl::Status Embed() {
    const int64_t n = n_;
    const int dim = dim_;
    const DatasetLayout& layout = reader_->layout();
    GALAXY_ASSIGN_OR_RETURN(store_, MetadataStore::Create(build_dir_ + "/" + kMetadataDir));
    scratch_ = std::make_unique<VectorScratch>(build_dir_ + "/vectors.f32", dim);
    // kMahalanobisTurns scores each embedding joined with its turn average: a second scratch file.
    EmbedParts parts;
    parts.redshift = true;
    parts.turn_average = NeedsTurnAverage(options_.anomaly_score);
    if (parts.turn_average) scored_ = std::make_unique<VectorScratch>(build_dir_ + "/" + kScoredFile, 2 * dim);
    std::vector<float> joined;
    // Every galaxy's redshift pdf, so that PredictRedshift answers catalog galaxies from the
    // snapshot alone.
    const ModelMetadata& model = embedder_->metadata();
    const int bins = model.has_redshift_head ? static_cast<int>(model.redshift_bins) : 0;
    std::unique_ptr<NpyWriter> pdfs;
    std::vector<uint16_t> quantised;
    if (bins > 0) {
      GALAXY_ASSIGN_OR_RETURN(pdfs, NpyWriter::Create(build_dir_ + "/" + kRedshiftPdfsFile, "<u2", {n, bins}, 2));
    }
    ids_.reserve(static_cast<size_t>(n));
    std::unordered_set<int64_t> seen;
    seen.reserve(static_cast<size_t>(n));
    GalaxyBatch batch;
    std::vector<v1::GalaxyRecord> records;
    std::vector<int64_t> rows;  // the dataset rows of `batch`
    int64_t cursor = 0;         // the next dataset row to look at
    for (int64_t first = 0; first < n; first += static_cast<int64_t>(rows.size())) {
      GALAXY_RETURN_IF_ERROR(NextBatch(&cursor, &batch, &rows));
      const int64_t count = static_cast<int64_t>(rows.size());
      if (count == 0) return absl::DataLossError(absl::StrCat(options_.data_path, " changed while it was read"));
      ImageBatch images;
      images.pixels = batch.images.data();
      images.e_bv = batch.e_bv.data();
      images.n = static_cast<int>(count);
      images.height = static_cast<int>(layout.height);
      images.width = static_cast<int>(layout.width);
      absl::StatusOr<EmbedOutput> embedded = embedder_->Embed(images, parts);
      if (!embedded.ok()) {
        return Annotate(embedded.status(), absl::StrCat("embedding rows ", rows.front(), "..", rows.back()));
      }
      const float* ev = embedded->embeddings.data();
      const int64_t non_finite = embedded->FirstNonFinite(static_cast<int>(count));  // -1: none
      records.assign(static_cast<size_t>(count), v1::GalaxyRecord());
      for (int64_t i = 0; i < count; ++i) {
        const int64_t id = batch.ids[static_cast<size_t>(i)];
        if (!seen.insert(id).second) {
          return absl::InvalidArgumentError(absl::StrCat(options_.data_path, ": ObjID ", id,
                                                         " appears more than once (again at row ", rows[i], ")"));
        }
        if (i == non_finite) {
          return absl::InvalidArgumentError(absl::StrCat(options_.model_path, " gives a non-finite embedding for ObjID ",
                                                         id, " (row ", rows[i], "); is the model corrupt?"));
        }
        v1::GalaxyRecord& r = records[static_cast<size_t>(i)];
        r.set_id(id);
        r.set_ra(batch.ra[static_cast<size_t>(i)]);
        r.set_dec(batch.dec[static_cast<size_t>(i)]);
        r.set_e_bv(batch.e_bv[static_cast<size_t>(i)]);
        const float z = batch.redshift[static_cast<size_t>(i)];
        if (std::isfinite(z) && z >= 0) r.set_specz(z);
        if (!embedded->z_mean.empty()) {
          r.set_zphot(embedded->z_mean[static_cast<size_t>(i)]);
          r.set_zphot_err(embedded->z_sigma[static_cast<size_t>(i)]);
        }
        r.mutable_embedding()->Add(ev + i * dim, ev + (i + 1) * dim);
        r.set_source_row(static_cast<uint64_t>(rows[i]));
        for (const auto& [name, values] : batch.extra) (*r.mutable_extra())[name] = values[static_cast<size_t>(i)];
        ids_.push_back(id);
      }
      GALAXY_RETURN_IF_ERROR(store_->Put(records));
      GALAXY_RETURN_IF_ERROR(scratch_->Append(ev, count));
      if (scored_ != nullptr) {
        if (embedded->turn_averaged.size() != static_cast<size_t>(count * dim)) {
          return absl::InternalError(absl::StrCat(options_.model_path, " gave ", embedded->turn_averaged.size(),
                                                  " turn-averaged values for ", count, " galaxies of ", dim,
                                                  " dimensions"));
        }
        joined.clear();
        for (int64_t i = 0; i < count; ++i) {
          const std::vector<float> row = JoinTurnAverage(ev + i * dim, embedded->turn_averaged.data() + i * dim, dim);
          joined.insert(joined.end(), row.begin(), row.end());
        }
        GALAXY_RETURN_IF_ERROR(scored_->Append(joined.data(), count));
      }
      if (pdfs != nullptr) {
        if (embedded->pdf.size() != static_cast<size_t>(count * bins)) {
          return absl::InternalError(absl::StrCat(options_.model_path, " gave ", embedded->pdf.size(),
                                                  " redshift probabilities for ", count, " galaxies of ", bins,
                                                  " bins"));
        }
        quantised.clear();
        QuantisePdf(embedded->pdf.data(), static_cast<int>(count) * bins, &quantised);
        GALAXY_RETURN_IF_ERROR(pdfs->Append(quantised.data(), static_cast<int64_t>(quantised.size()) * 2));
      }
      GALAXY_RETURN_IF_ERROR(Progress("embedding", first + count, n));
    }
    block_ = GalaxyBatch();
    if (pdfs != nullptr) GALAXY_RETURN_IF_ERROR(pdfs->Commit());
    if (scored_ != nullptr) GALAXY_RETURN_IF_ERROR(scored_->Close());
    return scratch_->Close();
  }

  // 2. The search index over the scratch file's vectors (trained first when it needs it).
  absl::Status Index() {
    const int64_t n = n_;
    const int dim = dim_;
    GALAXY_ASSIGN_OR_RETURN(index_, VectorIndex::Create(options_.index, dim, n));
    std::vector<float> chunk;
    if (index_->needs_training()) {
      // A uniform sample of up to 100k vectors (at least 39 per list, FAISS's minimum advice).
      const int64_t want = std::min<int64_t>(n, std::max<int64_t>(100000, 39LL * index_->params().ivf_lists));
      const int64_t stride = std::max<int64_t>(1, n / want);
      std::vector<float> sample, row;
      for (int64_t i = 0; i < n && static_cast<int64_t>(sample.size()) < want * dim; i += stride) {
        GALAXY_RETURN_IF_ERROR(scratch_->Read(i, 1, &row));
        sample.insert(sample.end(), row.begin(), row.end());
      }
      GALAXY_RETURN_IF_ERROR(Progress("training the index", 0, 1));
      GALAXY_RETURN_IF_ERROR(index_->Train(sample.data(), static_cast<int64_t>(sample.size()) / dim));
    }
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      GALAXY_RETURN_IF_ERROR(scratch_->Read(first, count, &chunk));
      GALAXY_RETURN_IF_ERROR(index_->Add(chunk.data(), ids_.data() + first, count));
      GALAXY_RETURN_IF_ERROR(Progress("indexing", first + count, n));
    }
    return absl::OkStatus();
  }

  // 3. Anomaly scores (indexer/anomaly_score.h) of every galaxy, with their percentiles, into
  //    the records.
  absl::Status ScoreAnomalies() {
    const int64_t n = n_;
    const ScoredCatalog catalog{*scratch_, ids_, *index_, n, dim_, scored_.get()};
    GALAXY_ASSIGN_OR_RETURN(
        CatalogScores scored,
        ScoreCatalog(catalog, options_.anomaly_score, options_.anomaly_k,
                     [this](const std::string& phase, int64_t done, int64_t total) {
                       return Progress(phase, done, total);
                     }));
    const std::vector<float>& scores = scored.scores;
    manifest_.neighbour_distance_median = scored.neighbour_distance_median;
    whitening_ = std::move(scored.whitening);
    manifest_.anomaly_score = options_.anomaly_score;
    sorted_scores_ = scores;
    std::sort(sorted_scores_.begin(), sorted_scores_.end());
    std::vector<v1::GalaxyRecord> records;
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      records.clear();
      for (int64_t i = first; i < first + count; ++i) {
        GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord r, store_->Get(ids_[static_cast<size_t>(i)]));
        const float score = scores[static_cast<size_t>(i)];
        r.set_anomaly_score(score);
        r.set_anomaly_percentile(static_cast<float>(ScorePercentile(sorted_scores_, score)));
        records.push_back(std::move(r));
      }
      GALAXY_RETURN_IF_ERROR(store_->Put(records));
      GALAXY_RETURN_IF_ERROR(Progress("writing anomaly scores", first + count, n));
    }
    return absl::OkStatus();
  }

  // 4. Recall@10 of an approximate index against exact search, widening the search until it
  //    meets the target (or cannot widen further).
  absl::Status MeasureRecall() {
    const int64_t n = n_;
    const int dim = dim_;
    if (IsExactKind(options_.index.kind)) return absl::OkStatus();  // exact: recall 1
    std::vector<float> chunk;
    const int64_t queries = std::min<int64_t>(options_.recall_queries, n);
    IndexParams exact_params;
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> exact, VectorIndex::Create(exact_params, dim, n));
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t count = std::min(kChunk, n - first);
      GALAXY_RETURN_IF_ERROR(scratch_->Read(first, count, &chunk));
      GALAXY_RETURN_IF_ERROR(exact->Add(chunk.data(), ids_.data() + first, count));
    }
    std::vector<float> q, row;
    const int64_t stride = std::max<int64_t>(1, n / queries);
    for (int64_t i = 0, taken = 0; i < n && taken < queries; i += stride, ++taken) {
      GALAXY_RETURN_IF_ERROR(scratch_->Read(i, 1, &row));
      q.insert(q.end(), row.begin(), row.end());
    }
    const int64_t nq = static_cast<int64_t>(q.size()) / dim;
    const int kk = static_cast<int>(std::min<int64_t>(10, n));
    std::vector<float> s1(static_cast<size_t>(nq * kk)), s2(static_cast<size_t>(nq * kk));
    std::vector<int64_t> truth(static_cast<size_t>(nq * kk)), got(static_cast<size_t>(nq * kk));
    GALAXY_RETURN_IF_ERROR(exact->Search(q.data(), nq, kk, s1.data(), truth.data()));
    auto measure = [&]() -> absl::StatusOr<double> {
      GALAXY_RETURN_IF_ERROR(index_->Search(q.data(), nq, kk, s2.data(), got.data()));
      int64_t hits = 0;
      for (int64_t i = 0; i < nq; ++i) {
        for (int a = 0; a < kk; ++a) {
          for (int b = 0; b < kk; ++b) hits += truth[static_cast<size_t>(i * kk + a)] == got[static_cast<size_t>(i * kk + b)];
        }
      }
      return static_cast<double>(hits) / static_cast<double>(nq * kk);
    };
    GALAXY_ASSIGN_OR_RETURN(report_.recall_at_10, measure());
    // Below the target, search wider until it is met (or the search is exhaustive): how tightly
    // the embeddings cluster decides what an approximate index needs, and it is only known now.
    IndexParams tuned = index_->params();
    while (report_.recall_at_10 < options_.target_recall) {
      const bool hnsw = tuned.kind == IndexKind::kHnsw;
      if (hnsw ? tuned.ef_search >= 4096 : (tuned.nprobe >= tuned.ivf_lists && tuned.refine_factor >= 64)) break;
      if (hnsw) {
        tuned.ef_search *= 2;
      } else {
        tuned.nprobe = std::min(tuned.ivf_lists, tuned.nprobe * 2);
        tuned.refine_factor = std::min(64, tuned.refine_factor * 2);
      }
      index_->SetSearchParams(tuned);
      GALAXY_ASSIGN_OR_RETURN(report_.recall_at_10, measure());
      log::Info("widened the search to reach the recall target",
                {{"recall_at_10", absl::StrCat(report_.recall_at_10)},
                 {"efSearch", absl::StrCat(tuned.ef_search)}, {"nprobe", absl::StrCat(tuned.nprobe)},
                 {"refine_factor", absl::StrCat(tuned.refine_factor)}});
    }
    if (report_.recall_at_10 < options_.target_recall) {
      log::Warn(absl::StrCat("recall@10 ", report_.recall_at_10, " stays below the target ", options_.target_recall,
                             " even with the widest search: these embeddings are too tightly packed for ",
                             IndexKindName(options_.index.kind), "; use hnsw or flat"));
    }
    GALAXY_RETURN_IF_ERROR(Progress("measuring recall", 1, 1));
    return absl::OkStatus();
  }

  // 5. Files and manifest, then the build directory renamed into place and published.
  absl::Status Publish() {
    const int64_t n = n_;
    GALAXY_RETURN_IF_ERROR(Progress("writing files", 0, 1));
    GALAXY_RETURN_IF_ERROR(index_->Save(build_dir_ + "/" + kIndexFile));
    std::error_code ec;
    fs::copy_file(options_.model_path, build_dir_ + "/" + kModelFile, ec);
    if (ec) return absl::InternalError(absl::StrCat("copying the model: ", ec.message()));
    GALAXY_RETURN_IF_ERROR(WriteNpy(build_dir_ + "/" + kAnomalyScoresFile, "<f4", {n}, sorted_scores_.data(), n * 4));
    if (whitening_ != nullptr) GALAXY_RETURN_IF_ERROR(WriteWhitening(build_dir_ + "/" + kAnomalyWhiteningFile, *whitening_));
    GALAXY_RETURN_IF_ERROR(store_->Finish());
    store_.reset();
    fs::remove(build_dir_ + "/vectors.f32", ec);
    fs::remove(build_dir_ + "/" + kScoredFile, ec);
    manifest_.count = n;
    manifest_.index = index_->params();
    manifest_.measured_recall_at_10 = report_.recall_at_10;
    manifest_.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
    manifest_.embed_seconds = report_.embed_seconds;
    manifest_.index_seconds = report_.index_seconds;
    manifest_.anomaly_seconds = report_.anomaly_seconds;
    manifest_.total_seconds = Seconds(start_);
    GALAXY_ASSIGN_OR_RETURN(manifest_.files, DigestFiles(build_dir_));
    GALAXY_RETURN_IF_ERROR(WriteFileAtomically(build_dir_ + "/" + kManifestFile, manifest_.ToJson() + "\n"));
    for (const auto& [name, digest] : manifest_.files) {
      // Data files must be on disk before the directory is renamed into place.
      if (absl::Status s = SyncDirectory(fs::path(build_dir_ + "/" + name).parent_path().string()); !s.ok()) return s;
    }
    fs::rename(build_dir_, report_.snapshot_dir, ec);
    if (ec) return absl::InternalError(absl::StrCat("renaming ", build_dir_, " to ", report_.snapshot_dir, ": ", ec.message()));
    guard_->Release();
    GALAXY_RETURN_IF_ERROR(SyncDirectory(options_.snapshots_dir));
    if (options_.publish) GALAXY_RETURN_IF_ERROR(PublishCurrent(options_.snapshots_dir, report_.version));
    return absl::OkStatus();
  }

  const BuildOptions& options_;
  const ProgressCallback& progress_;
  const absl::Time start_ = absl::Now();
  BuildReport report_;
  std::string build_dir_;
  std::unique_ptr<BuildDirGuard> guard_;
  std::unique_ptr<Embedder> embedder_;
  std::unique_ptr<DatasetReader> reader_;
  GalaxyBatch block_;  // rows read by NextBatch in a sharded build
  int64_t n_ = 0;
  int dim_ = 0;
  SnapshotManifest manifest_;
  std::unique_ptr<MetadataStore> store_;
  std::unique_ptr<VectorScratch> scratch_;
  std::unique_ptr<VectorScratch> scored_;  // kMahalanobisTurns: [embedding, turn average] per galaxy
  std::vector<int64_t> ids_;
  std::unique_ptr<VectorIndex> index_;
  std::vector<float> sorted_scores_;  // every galaxy's anomaly score, ascending
  std::unique_ptr<CatalogWhitening> whitening_;  // Mahalanobis scores: the catalog's whitening
};

}  // namespace

absl::StatusOr<BuildReport> BuildSnapshot(const BuildOptions& options, const ProgressCallback& progress) {
  SnapshotBuild build(options, progress);
  return build.Run();
}

}  // namespace galaxy
