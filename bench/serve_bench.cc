#include "bench/serve_bench.h"

#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/index_bench.h"
#include "core/file_util.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "data/npy.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/metadata_store.h"
#include "indexer/shard.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"
#include "model/checkpoint.h"
#include "nlohmann/json.hpp"
#include "server/galaxy_server.h"

namespace fs = std::filesystem;

namespace galaxy {
namespace {

constexpr int kDim = 128;
constexpr int64_t kFirstId = kServeBenchFirstId;

// An untrained tiny model embedding into kDim dimensions.
absl::Status WriteTinyModel(const std::string& path) {
  ModelMetadata m;
  m.kind = "moco";
  m.arch = "tiny";
  m.stem = "torchvision";
  ResNetConfig config;
  config.arch = m.arch;
  config.stem = m.stem;
  config.in_channels = m.bands();
  m.feature_dim = config.feature_dim();
  m.embedding_dim = kDim;
  m.has_projection_head = true;
  m.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  torch::manual_seed(1);
  ResNet backbone(config);
  ProjectionHead head(config.feature_dim(), kDim);
  CheckpointWriter writer(m);
  writer.AddModule(kBackbonePart, *backbone);
  writer.AddModule(kProjectionPart, *head);
  return writer.Save(path);
}

// SNAPSHOTS/KIND, unless one is there already: a snapshot of `all` (total x kDim) with their
// records, or of the rows of shard `shard` of `shards` (indexer/shard.h) only.
absl::Status EnsureSnapshot(const std::string& snapshots, const std::string& kind, const std::vector<float>& all,
                            int64_t total, int shard = 0, int shards = 1) {
  const std::string dir = snapshots + "/" + kind;
  if (fs::exists(dir + "/" + kManifestFile)) return absl::OkStatus();
  const std::string tmp = snapshots + "/.building-" + kind;
  RemoveTree(tmp).IgnoreError();
  fs::create_directories(tmp);
  std::vector<int64_t> rows;  // the rows of the survey in this snapshot
  std::vector<float> subset;  // their vectors, when they are not all of them
  for (int64_t row = 0; row < total; ++row) {
    if (shards > 1 && ShardOf(kFirstId + row, shards) != shard) continue;
    rows.push_back(row);
    if (shards > 1) subset.insert(subset.end(), all.begin() + row * kDim, all.begin() + (row + 1) * kDim);
  }
  const std::vector<float>& vectors = shards > 1 ? subset : all;
  const int64_t n = static_cast<int64_t>(rows.size());
  const absl::Time start = absl::Now();
  log::Info("serve bench: building a snapshot", {{"kind", kind}, {"galaxies", absl::StrCat(n)}});
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<float> scores(static_cast<size_t>(n));
  for (auto& s : scores) s = static_cast<float>(0.05 + 0.3 * u(rng) * u(rng));
  std::vector<float> sorted = scores;
  std::sort(sorted.begin(), sorted.end());
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<MetadataStore> store, MetadataStore::Create(tmp + "/" + kMetadataDir));
  std::vector<v1::GalaxyRecord> records;
  for (int64_t first = 0; first < n; first += 20000) {
    const int64_t count = std::min<int64_t>(20000, n - first);
    records.assign(static_cast<size_t>(count), v1::GalaxyRecord());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t row = rows[static_cast<size_t>(first + i)];
      v1::GalaxyRecord& r = records[static_cast<size_t>(i)];
      r.set_id(kFirstId + row);
      r.set_ra(360 * u(rng));
      r.set_dec(-20 + 40 * u(rng));
      r.set_e_bv(static_cast<float>(0.1 * u(rng)));
      r.set_specz(static_cast<float>(0.4 * u(rng)));
      const float score = scores[static_cast<size_t>(first + i)];
      r.set_anomaly_score(score);
      r.set_anomaly_percentile(static_cast<float>(
          100.0 * static_cast<double>(std::lower_bound(sorted.begin(), sorted.end(), score) - sorted.begin()) /
          static_cast<double>(n)));
      r.mutable_embedding()->Add(all.begin() + row * kDim, all.begin() + (row + 1) * kDim);
      r.set_source_row(static_cast<uint64_t>(row));
    }
    GALAXY_RETURN_IF_ERROR(store->Put(records));
  }
  GALAXY_RETURN_IF_ERROR(store->Finish());
  store.reset();
  IndexParams params;
  GALAXY_ASSIGN_OR_RETURN(params.kind, ParseIndexKind(kind));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index, VectorIndex::Create(params, kDim, n));
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = kFirstId + rows[static_cast<size_t>(i)];
  GALAXY_RETURN_IF_ERROR(index->Add(vectors.data(), ids.data(), n));
  GALAXY_RETURN_IF_ERROR(index->Save(tmp + "/" + kIndexFile));
  GALAXY_RETURN_IF_ERROR(WriteTinyModel(tmp + "/" + kModelFile));
  GALAXY_RETURN_IF_ERROR(WriteNpy(tmp + "/" + kAnomalyScoresFile, "<f4", {n}, sorted.data(), n * 4));
  SnapshotManifest manifest;
  manifest.version = kind;
  manifest.created_at = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  manifest.count = n;
  manifest.shard = shard;
  manifest.shards = shards;
  manifest.dimension = kDim;
  manifest.features = EmbeddingFeatures::kProjection;  // the tiny model's head embeds in kDim
  manifest.index = index->params();
  manifest.data_path = "(synthetic vectors: the FAISS anchor's clustered unit vectors)";
  manifest.index_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  GALAXY_ASSIGN_OR_RETURN(manifest.files, DigestFiles(tmp));
  GALAXY_RETURN_IF_ERROR(WriteFileAtomically(tmp + "/" + kManifestFile, manifest.ToJson() + "\n"));
  fs::rename(tmp, dir);
  log::Info("serve bench: snapshot built", {{"kind", kind},
                                            {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  return absl::OkStatus();
}

// User + system CPU seconds of this process so far.
double ProcessCpuSeconds() {
  struct rusage u;
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// Runs `one(thread, i)` from `threads` threads for `seconds`; QPS and latency percentiles.
ServeBenchRow Drive(int threads, double seconds, const std::function<bool(int, int64_t)>& one) {
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(threads));
  std::atomic<int64_t> errors{0};
  std::vector<std::thread> pool;
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const absl::Time t0 = absl::Now();
        const bool ok = one(t, i);
        latencies[static_cast<size_t>(t)].push_back(absl::ToDoubleMilliseconds(absl::Now() - t0));
        if (!ok) ++errors;
      }
    });
  }
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - cpu0;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  ServeBenchRow row;
  row.requests = static_cast<int64_t>(all.size());
  row.errors = errors;
  row.qps = static_cast<double>(all.size()) / elapsed;
  row.cpu_cores = cpu / elapsed;
  if (!all.empty()) {
    row.p50_ms = all[all.size() / 2];
    row.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return row;
}

// Query-by-ID from `clients` chains of asynchronous calls (gRPC's callback API): each chain keeps
// one request in flight and sends the next from the previous one's completion, as a pipeline or a
// notebook fanning out requests would; no client thread blocks per call.
ServeBenchRow DriveAsync(int clients, double seconds, std::vector<std::unique_ptr<v1::GalaxySearch::Stub>>& stubs,
                         const std::vector<int64_t>& ids, int k) {
  // A chain ends when the last call object of it is destroyed, which gRPC does after the call's
  // callback has returned: only then may the caller tear the channels down.
  struct Chains {
    std::mutex mu;
    std::condition_variable idle;
    int active = 0;
  } chains;
  chains.active = clients;
  struct Call {
    explicit Call(Chains* c) : chains(c) {}
    ~Call() {
      if (!last) return;
      std::lock_guard<std::mutex> lock(chains->mu);
      if (--chains->active == 0) chains->idle.notify_all();
    }
    Chains* chains;
    bool last = false;
    grpc::ClientContext context;
    v1::SimilarGalaxiesRequest request;
    v1::SimilarGalaxiesResponse response;
    absl::Time sent;
  };
  std::atomic<bool> stop{false};
  std::atomic<int64_t> errors{0};
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::function<void(int, int64_t)> issue = [&](int t, int64_t i) {
    auto call = std::make_shared<Call>(&chains);
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    call->request.set_id(ids[static_cast<size_t>((t * 1031 + i) % static_cast<int64_t>(ids.size()))]);
    call->request.set_k(static_cast<uint32_t>(k));
    call->sent = absl::Now();
    Call* raw = call.get();
    stubs[static_cast<size_t>(t)]->async()->SimilarGalaxies(
        &raw->context, &raw->request, &raw->response, [&, t, i, call](grpc::Status status) {
          latencies[static_cast<size_t>(t)].push_back(absl::ToDoubleMilliseconds(absl::Now() - call->sent));
          if (!status.ok() || call->response.neighbors_size() != k) ++errors;
          if (stop.load()) {
            call->last = true;
          } else {
            issue(t, i + 1);
          }
        });
  };
  const double cpu0 = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  for (int t = 0; t < clients; ++t) issue(t, 0);
  absl::SleepFor(absl::Seconds(seconds));
  stop = true;
  const absl::Time end = absl::Now();
  const double cpu = ProcessCpuSeconds() - cpu0;
  {
    std::unique_lock<std::mutex> lock(chains.mu);
    chains.idle.wait(lock, [&] { return chains.active == 0; });
  }
  // gRPC 1.51 still touches a finished callback call on its own threads for a moment after the
  // callback's objects are gone; tearing the channels down in that window corrupted its
  // reference counts now and then (seen as "ref_counted.h: assertion failed: prior > 0" in 2 of
  // 18 runs). A short grace period before the caller destroys the channels avoids it.
  absl::SleepFor(absl::Milliseconds(250));
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const double elapsed = absl::ToDoubleSeconds(end - start);
  ServeBenchRow row;
  row.requests = static_cast<int64_t>(all.size());
  row.errors = errors;
  row.qps = static_cast<double>(all.size()) / absl::ToDoubleSeconds(absl::Now() - start);
  row.cpu_cores = cpu / elapsed;
  if (!all.empty()) {
    row.p50_ms = all[all.size() / 2];
    row.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return row;
}

// The mean of rows measured in several rounds (QPS and percentiles averaged, counts summed).
ServeBenchRow Mean(const std::vector<ServeBenchRow>& rows) {
  ServeBenchRow m = rows.front();
  m.qps = m.p50_ms = m.p99_ms = m.cpu_cores = 0;
  m.requests = m.errors = 0;
  for (const auto& r : rows) {
    m.qps += r.qps / static_cast<double>(rows.size());
    m.p50_ms += r.p50_ms / static_cast<double>(rows.size());
    m.p99_ms += r.p99_ms / static_cast<double>(rows.size());
    m.cpu_cores += r.cpu_cores / static_cast<double>(rows.size());
    m.requests += r.requests;
    m.errors += r.errors;
  }
  return m;
}

// Appends the mean of one mode's rounds, labelled with the index kind and the mode.
void AppendMean(const std::string& kind, const std::string& mode, const std::vector<ServeBenchRow>& rounds,
                std::vector<ServeBenchRow>* rows) {
  ServeBenchRow row = Mean(rounds);
  row.kind = kind;
  row.mode = mode;
  rows->push_back(row);
}

absl::StatusOr<std::unique_ptr<GalaxyServer>> StartServer(const std::string& snapshots, bool batching) {
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.snapshots_dir = snapshots;
  o.device = "cpu";
  o.batching = batching;
  return GalaxyServer::Start(o);
}

std::vector<std::unique_ptr<v1::GalaxySearch::Stub>> Stubs(int port, int n) {
  std::vector<std::unique_ptr<v1::GalaxySearch::Stub>> stubs;
  for (int t = 0; t < n; ++t) {
    grpc::ChannelArguments args;
    args.SetInt("galaxy.bench.client", t);  // a connection per client, as separate processes would have
    stubs.push_back(v1::GalaxySearch::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args)));
  }
  return stubs;
}

}  // namespace

absl::StatusOr<std::string> EnsureServeSnapshots(const std::string& scratch, int64_t count,
                                                 const std::vector<std::string>& kinds) {
  const std::string snapshots = absl::StrCat(scratch, "/", count);
  fs::create_directories(snapshots);
  std::vector<float> vectors;
  for (const std::string& kind : kinds) {
    if (fs::exists(snapshots + "/" + kind + "/" + kManifestFile)) continue;
    if (vectors.empty()) vectors = ClusteredUnitVectors(count, kDim);
    GALAXY_RETURN_IF_ERROR(EnsureSnapshot(snapshots, kind, vectors, count));
  }
  return snapshots;
}

absl::StatusOr<std::vector<ServeBenchRow>> RunServeBench(const ServeBenchOptions& o) {
  GALAXY_ASSIGN_OR_RETURN(const std::string snapshots, EnsureServeSnapshots(o.scratch, o.count, o.kinds));
  std::mt19937_64 rng(11);
  std::vector<int64_t> query_ids(4096);
  for (auto& id : query_ids) id = kFirstId + static_cast<int64_t>(rng() % static_cast<uint64_t>(o.count));

  std::vector<ServeBenchRow> rows;
  for (const std::string& kind : o.kinds) {
    GALAXY_RETURN_IF_ERROR(PublishCurrent(snapshots, kind));
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> local, Snapshot::Open(snapshots + "/" + kind));
    std::vector<float> queries;
    for (int64_t id : query_ids) {
      GALAXY_ASSIGN_OR_RETURN(v1::GalaxyRecord r, local->metadata().Get(id));
      queries.insert(queries.end(), r.embedding().begin(), r.embedding().end());
    }
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, StartServer(snapshots, true));
    auto stubs = Stubs(server->port(), o.clients);
    std::vector<ServeBenchRow> in_process, served;
    for (int round = 0; round < o.rounds; ++round) {
      // In process: the k+1 best (the query itself comes back first), as the server searches.
      in_process.push_back(Drive(o.clients, o.seconds, [&](int t, int64_t i) {
        std::vector<float> scores(static_cast<size_t>(o.k + 1));
        std::vector<int64_t> ids(static_cast<size_t>(o.k + 1));
        const size_t q = static_cast<size_t>((t * 1031 + i) % 4096);
        return local->index().Search(queries.data() + q * kDim, 1, o.k + 1, scores.data(), ids.data()).ok();
      }));
      served.push_back(DriveAsync(o.clients, o.seconds, stubs, query_ids, o.k));
      log::Info("serve bench round", {{"kind", kind},
                                      {"round", absl::StrCat(round + 1)},
                                      {"in_process_qps", absl::StrCat(in_process.back().qps)},
                                      {"served_qps", absl::StrCat(served.back().qps)}});
    }
    AppendMean(kind, "in-process", in_process, &rows);
    AppendMean(kind, "served by ID", served, &rows);
    if (kind == o.kinds.front()) {
      // The floor of any served call here: an RPC that does no work (gRPC, loopback, threads).
      ServeBenchRow ping = Drive(o.clients, o.seconds, [&](int t, int64_t) {
        v1::IndexInfo out;
        grpc::ClientContext c;
        return stubs[static_cast<size_t>(t)]->GetIndexInfo(&c, {}, &out).ok();
      });
      ping.kind = kind;
      ping.mode = "served GetIndexInfo";
      rows.push_back(ping);
    }
    if (o.images && kind == o.kinds.back()) {
      stubs.clear();
      server.reset();
      // Image queries: 5 x 64 x 64 float32 cutouts, one per client.
      std::vector<v1::SimilarGalaxiesRequest> requests(static_cast<size_t>(o.clients));
      std::normal_distribution<float> noise(0, 1);
      for (auto& r : requests) {
        std::vector<float> pixels(5 * 64 * 64);
        for (auto& p : pixels) p = std::abs(noise(rng));
        r.mutable_image()->set_bands(5);
        r.mutable_image()->set_height(64);
        r.mutable_image()->set_width(64);
        r.mutable_image()->set_data(std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size() * 4));
        r.set_k(static_cast<uint32_t>(o.k));
      }
      std::vector<ServeBenchRow> on, off;
      for (int round = 0; round < o.rounds; ++round) {
        for (bool batching : {true, false}) {
          GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> s, StartServer(snapshots, batching));
          auto image_stubs = Stubs(s->port(), o.clients);
          ServeBenchRow row = Drive(o.clients, o.seconds, [&](int t, int64_t) {
            v1::SimilarGalaxiesResponse out;
            grpc::ClientContext c;
            c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
            return image_stubs[static_cast<size_t>(t)]->SimilarGalaxies(&c, requests[static_cast<size_t>(t)], &out).ok();
          });
          (batching ? on : off).push_back(row);
        }
      }
      AppendMean(kind, "image, batcher on", on, &rows);
      AppendMean(kind, "image, batcher off", off, &rows);
    }
  }
  return rows;
}

std::string ServeBenchJson(const ServeBenchOptions& o, const std::vector<ServeBenchRow>& rows) {
  nlohmann::json j;
  j["count"] = o.count;
  j["clients"] = o.clients;
  j["seconds"] = o.seconds;
  j["rounds"] = o.rounds;
  j["k"] = o.k;
  for (const auto& r : rows) {
    j["rows"].push_back({{"kind", r.kind}, {"mode", r.mode}, {"qps", r.qps}, {"p50_ms", r.p50_ms},
                         {"p99_ms", r.p99_ms}, {"cpu_cores", r.cpu_cores}, {"requests", r.requests}, {"errors", r.errors}});
  }
  return j.dump(2);
}

absl::StatusOr<std::vector<ServeBenchRow>> RunRouterBench(const RouterBenchOptions& o) {
  GALAXY_ASSIGN_OR_RETURN(const std::string snapshots, EnsureServeSnapshots(o.scratch, o.count, {"flat"}));
  GALAXY_RETURN_IF_ERROR(PublishCurrent(snapshots, "flat"));
  std::vector<float> vectors;
  std::mt19937_64 rng(11);
  std::vector<int64_t> query_ids(4096);
  for (auto& id : query_ids) id = kFirstId + static_cast<int64_t>(rng() % static_cast<uint64_t>(o.count));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> whole, StartServer(snapshots, true));
  auto whole_stubs = Stubs(whole->port(), o.clients);
  std::vector<ServeBenchRow> rows;
  std::vector<ServeBenchRow> one;
  for (int shards : o.shards) {
    // SCRATCH/<count>/shards-S/<i>/flat: shard i of S, as galaxy-index build --shard would make it.
    std::vector<std::unique_ptr<GalaxyServer>> servers;
    std::string file;
    for (int shard = 0; shard < shards; ++shard) {
      const std::string dir = absl::StrCat(snapshots, "/shards-", shards, "/", shard);
      fs::create_directories(dir);
      if (!fs::exists(dir + "/flat/" + kManifestFile) && vectors.empty()) vectors = ClusteredUnitVectors(o.count, kDim);
      GALAXY_RETURN_IF_ERROR(EnsureSnapshot(dir, "flat", vectors, o.count, shard, shards));
      GALAXY_RETURN_IF_ERROR(PublishCurrent(dir, "flat"));
      GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, StartServer(dir, true));
      absl::StrAppend(&file, "127.0.0.1:", server->port(), "\n");
      servers.push_back(std::move(server));
    }
    const std::string shards_file = absl::StrCat(snapshots, "/shards-", shards, "/shards.txt");
    GALAXY_RETURN_IF_ERROR(WriteFileAtomically(shards_file, file));
    ServerOptions ro;
    ro.listen = "127.0.0.1:0";
    ro.shards_file = shards_file;
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> router, GalaxyServer::Start(ro));
    auto router_stubs = Stubs(router->port(), o.clients);
    std::vector<ServeBenchRow> routed;
    for (int round = 0; round < o.rounds; ++round) {
      one.push_back(DriveAsync(o.clients, o.seconds, whole_stubs, query_ids, o.k));
      routed.push_back(DriveAsync(o.clients, o.seconds, router_stubs, query_ids, o.k));
      log::Info("router bench round", {{"shards", absl::StrCat(shards)}, {"round", absl::StrCat(round + 1)},
                                       {"one_server_qps", absl::StrCat(one.back().qps)},
                                       {"router_qps", absl::StrCat(routed.back().qps)}});
    }
    AppendMean("flat", absl::StrCat("router, ", shards, " shard", shards > 1 ? "s" : ""), routed, &rows);
  }
  AppendMean("flat", "one server", one, &rows);
  std::rotate(rows.rbegin(), rows.rbegin() + 1, rows.rend());  // the reference first
  return rows;
}

}  // namespace galaxy
