#include "bench/index_bench.h"

#include <cmath>
#include <filesystem>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/machine_info.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"

namespace galaxy {

std::vector<float> ClusteredUnitVectors(int64_t n, int d) {
  // The anchor's data: 2000 Gaussian centres, each vector a centre plus 0.5 noise, normalised.
  std::mt19937 g(1);
  std::normal_distribution<float> nd;
  std::vector<float> c(static_cast<size_t>(2000 * d));
  for (auto& v : c) v = nd(g);
  std::vector<float> x(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) {
    const int cc = static_cast<int>(g() % 2000);
    for (int j = 0; j < d; ++j) x[static_cast<size_t>(i * d + j)] = c[static_cast<size_t>(cc * d + j)] + 0.5f * nd(g);
  }
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += x[static_cast<size_t>(i * d + j)] * x[static_cast<size_t>(i * d + j)];
    const float inv = static_cast<float>(1 / std::sqrt(s));
    for (int j = 0; j < d; ++j) x[static_cast<size_t>(i * d + j)] *= inv;
  }
  return x;
}

absl::StatusOr<std::vector<IndexBenchRow>> RunIndexBench(int64_t n, const std::string& scratch_dir,
                                                         const std::string& torch_device) {
  const int d = 128, nq = 256, k = 10;
  if (n < nq) return absl::InvalidArgumentError(absl::StrCat("--count: at least ", nq));
  const std::vector<float> x = ClusteredUnitVectors(n, d);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = i;
  std::vector<float> scores(static_cast<size_t>(nq * k));
  std::vector<int64_t> truth(static_cast<size_t>(nq * k)), got(static_cast<size_t>(nq * k));
  std::filesystem::create_directories(scratch_dir);

  std::vector<IndexBenchRow> rows;
  struct Config {
    IndexParams params;
    std::string label;
  };
  std::vector<Config> configs;
  configs.push_back({IndexParams(), "flat"});
  {
    IndexParams p;
    p.kind = IndexKind::kTorchFlat;
    p.device = torch_device;
    configs.push_back({p, absl::StrCat("torch-flat (", torch_device, ")")});
  }
  for (int ef : {32, 64, 128}) {
    IndexParams p;
    p.kind = IndexKind::kHnsw;
    p.ef_search = ef;
    configs.push_back({p, absl::StrCat("hnsw efSearch=", ef)});
  }
  {
    IndexParams p;
    p.kind = IndexKind::kIvfPq;
    configs.push_back({p, "ivfpq (defaults)"});
  }
  bool hnsw_built = false;  // the graph is built once, then loaded for each efSearch
  for (const Config& config : configs) {
    IndexBenchRow row;
    row.kind = config.label;
    std::unique_ptr<VectorIndex> index;
    const bool reuse = config.params.kind == IndexKind::kHnsw && hnsw_built;
    absl::Time start = absl::Now();
    if (reuse) {
      const std::string path = scratch_dir + "/hnsw.faiss";
      GALAXY_ASSIGN_OR_RETURN(index, VectorIndex::Load(path, config.params));
      row.build_seconds = rows.back().build_seconds;
    } else {
      const int64_t before = CurrentRssBytes();
      const bool peak_reset = ResetPeakRss();
      GALAXY_ASSIGN_OR_RETURN(index, VectorIndex::Create(config.params, d, n));
      if (index->needs_training()) {
        const int64_t sample = std::min<int64_t>(n, 100000);
        GALAXY_RETURN_IF_ERROR(index->Train(x.data(), sample));
      }
      GALAXY_RETURN_IF_ERROR(index->Add(x.data(), ids.data(), n));
      row.build_seconds = absl::ToDoubleSeconds(absl::Now() - start);
      if (peak_reset) {
        row.build_peak_rss_bytes = PeakRssBytes();
        row.build_added_rss_bytes = std::max<int64_t>(0, row.build_peak_rss_bytes - before);
      }
    }
    const std::string path = scratch_dir + "/" + IndexKindName(config.params.kind) + ".faiss";
    if (!reuse) GALAXY_RETURN_IF_ERROR(index->Save(path));
    row.index_bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    if (config.params.kind == IndexKind::kHnsw) hnsw_built = true;
    for (const auto& [key, value] : index->params().ToMap()) absl::StrAppend(&row.params, row.params.empty() ? "" : " ", key, "=", value);
    // Single queries (as a server answers one request), then one batch of 256.
    const int singles = IsExactKind(config.params.kind) ? 16 : nq;
    start = absl::Now();
    for (int i = 0; i < singles; ++i) {
      GALAXY_RETURN_IF_ERROR(index->Search(x.data() + i * d, 1, k, scores.data() + i * k, got.data() + i * k));
    }
    row.single_query_ms = 1e3 * absl::ToDoubleSeconds(absl::Now() - start) / singles;
    start = absl::Now();
    GALAXY_RETURN_IF_ERROR(index->Search(x.data(), nq, k, scores.data(), got.data()));
    row.batch_qps = nq / absl::ToDoubleSeconds(absl::Now() - start);
    if (config.params.kind == IndexKind::kFlat) {
      truth = got;
    } else {
      int64_t hit = 0;
      for (int i = 0; i < nq; ++i) {
        std::set<int64_t> r(truth.begin() + i * k, truth.begin() + i * k + k);
        for (int j = 0; j < k; ++j) hit += r.count(got[static_cast<size_t>(i * k + j)]);
      }
      row.recall_at_10 = static_cast<double>(hit) / (nq * k);
    }
    rows.push_back(row);
  }
  return rows;
}

std::string IndexBenchJson(int64_t count, const std::vector<IndexBenchRow>& rows) {
  nlohmann::json j = {{"benchmark", "index"}, {"count", count}, {"dimension", 128}};
  for (const IndexBenchRow& r : rows) {
    j["rows"].push_back({{"kind", r.kind}, {"params", r.params}, {"build_seconds", r.build_seconds},
                         {"build_peak_rss_bytes", r.build_peak_rss_bytes}, {"build_added_rss_bytes", r.build_added_rss_bytes},
                         {"index_bytes", r.index_bytes}, {"single_query_ms", r.single_query_ms},
                         {"batch_qps", r.batch_qps}, {"recall_at_10", r.recall_at_10}});
  }
  return j.dump(2);
}

}  // namespace galaxy
