#include "bench/rank_bench.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/serve_bench.h"
#include "core/log.h"
#include "core/status_macros.h"
#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/snapshot.h"
#include "indexer/snapshot_dir.h"
#include "nlohmann/json.hpp"
#include "server/few_shot.h"
#include "server/galaxy_server.h"

namespace galaxy {
namespace {

// `calls` timings of `call` (false: an error), as one row.
RankBenchRow Time(int64_t count, const std::string& mode, int calls, const std::function<bool()>& call) {
  RankBenchRow row;
  row.count = count;
  row.mode = mode;
  std::vector<double> ms;
  for (int i = 0; i < calls; ++i) {
    const absl::Time start = absl::Now();
    if (!call()) ++row.errors;
    ms.push_back(absl::ToDoubleMilliseconds(absl::Now() - start));
  }
  row.calls = calls;
  std::sort(ms.begin(), ms.end());
  for (double m : ms) row.mean_ms += m / calls;
  row.p50_ms = ms[ms.size() / 2];
  row.p99_ms = ms[std::min(ms.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(ms.size())))];
  return row;
}

}  // namespace

absl::StatusOr<std::vector<RankBenchRow>> RunRankBench(const RankBenchOptions& o) {
  std::vector<RankBenchRow> rows;
  for (int64_t count : o.counts) {
    GALAXY_ASSIGN_OR_RETURN(const std::string snapshots, EnsureServeSnapshots(o.scratch, count, {"flat"}));
    GALAXY_RETURN_IF_ERROR(PublishCurrent(snapshots, "flat"));
    ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.snapshots_dir = snapshots;
    so.device = "cpu";
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, GalaxyServer::Start(so));
    auto stub = v1::GalaxySearch::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()), grpc::InsecureChannelCredentials()));
    // Each call its own positives (and so its own classifier); the first call warms the server up
    // (it maps the index's vectors for exact passes) and is not timed.
    std::mt19937_64 rng(5);
    const auto request = [&] {
      v1::RankByExamplesRequest r;
      for (int i = 0; i < o.positives; ++i) {
        r.add_positives()->set_id(kServeBenchFirstId + static_cast<int64_t>(rng() % static_cast<uint64_t>(count)));
      }
      r.set_random_negatives(o.random_negatives);
      r.set_seed(rng());
      r.set_page_size(static_cast<uint32_t>(o.page_size));
      return r;
    };
    v1::RankByExamplesResponse first;
    grpc::ClientContext warm;
    const grpc::Status status = stub->RankByExamples(&warm, request(), &first);
    if (!status.ok()) return absl::InternalError(absl::StrCat("RankByExamples: ", status.error_message()));
    log::Info("rank bench: measuring", {{"galaxies", absl::StrCat(count)}});
    rows.push_back(Time(count, "served", o.calls, [&] {
      v1::RankByExamplesResponse out;
      grpc::ClientContext context;
      return stub->RankByExamples(&context, request(), &out).ok() && out.galaxies_size() == o.page_size;
    }));
    // The pass alone, in process, with the first call's classifier, over the same vectors.
    GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<Snapshot> local, Snapshot::Open(snapshots + "/flat"));
    GALAXY_ASSIGN_OR_RETURN(VectorIndex::VectorView all, local->index().ExactVectors());
    LinearClassifier c;
    c.weights.assign(first.classifier().weights().begin(), first.classifier().weights().end());
    c.bias = first.classifier().bias();
    const int dim = static_cast<int>(c.weights.size());
    rows.push_back(Time(count, "in-process pass", o.calls, [&] {
      return RankRows(all.vectors, all.n, dim, c, static_cast<size_t>(o.page_size), -INFINITY, nullptr, o.threads)
                 .top.size() == static_cast<size_t>(o.page_size);
    }));
    std::vector<float> scores(static_cast<size_t>(o.page_size));
    std::vector<int64_t> ids(static_cast<size_t>(o.page_size));
    rows.push_back(Time(count, "FAISS flat search of w", o.calls, [&] {
      return local->index().Search(c.weights.data(), 1, o.page_size, scores.data(), ids.data()).ok();
    }));
  }
  return rows;
}

std::string RankBenchJson(const RankBenchOptions& o, const std::vector<RankBenchRow>& rows) {
  nlohmann::json out = {{"positives", o.positives}, {"random_negatives", o.random_negatives},
                        {"page_size", o.page_size}, {"calls", o.calls}, {"rows", nlohmann::json::array()}};
  for (const RankBenchRow& r : rows) {
    out["rows"].push_back({{"galaxies", r.count}, {"mode", r.mode}, {"mean_ms", r.mean_ms}, {"p50_ms", r.p50_ms},
                           {"p99_ms", r.p99_ms}, {"calls", r.calls}, {"errors", r.errors}});
  }
  return out.dump(2);
}

}  // namespace galaxy
