#include "client/client_commands.h"

#include <grpcpp/grpcpp.h>

#include <iostream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "client/command_support.h"
#include "client/gallery.h"
#include "client/image_file.h"
#include "core/status_macros.h"
#include "proto/enum_flags.h"
#include "proto/rpc_status.h"

namespace galaxy {
namespace {

// Fills the one-of query of a request from the flags: an ID, an image file or a position.
struct ResolvedQuery {
  enum class Kind { kId, kImage, kPosition } kind = Kind::kId;
  int64_t id = 0;
  v1::Image image;
  v1::SkyPosition position;
};

// The image file of `q`, its planes named by --bands when given.
absl::StatusOr<v1::Image> ReadQueryImage(const QueryFlags& q) {
  GALAXY_ASSIGN_OR_RETURN(const std::vector<std::string> names, OptionalBandNames(q.bands));
  return ReadImageFile(q.image, q.row, q.e_bv, names);
}

absl::StatusOr<ResolvedQuery> Resolve(const QueryFlags& q, bool allow_position) {
  const int given = (q.id ? 1 : 0) + (q.image.empty() ? 0 : 1) + (q.ra || q.dec ? 1 : 0);
  const std::string choices = allow_position ? "--id, --image or --ra with --dec" : "--id or --image";
  if (given != 1) return absl::InvalidArgumentError(absl::StrCat("give exactly one of ", choices));
  ResolvedQuery r;
  if (q.id) {
    r.id = *q.id;
    return r;
  }
  if (!q.image.empty()) {
    r.kind = ResolvedQuery::Kind::kImage;
    GALAXY_ASSIGN_OR_RETURN(r.image, ReadQueryImage(q));
    return r;
  }
  if (!allow_position) return absl::InvalidArgumentError(absl::StrCat("give exactly one of ", choices));
  if (!q.ra || !q.dec) return absl::InvalidArgumentError("--ra and --dec: give both");
  r.kind = ResolvedQuery::Kind::kPosition;
  r.position.set_ra(*q.ra);
  r.position.set_dec(*q.dec);
  r.position.set_match_radius_arcsec(q.match_radius_arcsec);
  return r;
}

// What the server's anomaly scores are, in words: IndexInfo.anomaly_score names the kind ("knn"
// for servers older than the field, which scored only that way) and anomaly_k its k. Empty when
// the server does not say (GetIndexInfo failed) or names a kind this client does not know.
std::string AnomalyScoreMeaning(GalaxyClient& client) {
  absl::StatusOr<v1::IndexInfo> info = client.GetIndexInfo();
  if (!info.ok()) return "";
  const std::string& kind = info->anomaly_score();
  if (kind == "mahalanobis") return "squared Mahalanobis distance from the catalog's mean";
  if (kind == "mahalanobis-turns") {
    return "squared Mahalanobis distance from the catalog's mean, with the image's turn average";
  }
  if (kind == "knn" || kind.empty()) return absl::StrCat("mean cosine distance to the ", info->anomaly_k(), " nearest");
  return "";
}

}  // namespace

absl::Status RunHealth(const ClientFlags& flags, const std::string& service) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<std::string> status = client->Health(service);
  if (!status.ok()) return Annotate(status.status(), absl::StrCat("server ", client->server()));
  const std::string name = service.empty() ? "(server)" : service;
  if (flags.json) {
    std::cout << "{\"service\":\"" << service << "\",\"status\":\"" << *status << "\"}\n";
  } else {
    std::cout << name << ": " << *status << "\n";
  }
  if (*status != "SERVING") return absl::UnavailableError(absl::StrCat(name, " is ", *status));
  return absl::OkStatus();
}

absl::Status RunServices(const ClientFlags& flags) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<std::vector<std::string>> services = client->ListServices();
  if (!services.ok()) return Annotate(services.status(), absl::StrCat("server ", client->server()));
  for (const std::string& service : *services) {
    absl::StatusOr<std::vector<std::string>> methods = client->ListMethods(service);
    std::cout << service;
    if (methods.ok()) std::cout << ": " << absl::StrJoin(*methods, ", ");
    std::cout << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunInfo(const ClientFlags& flags) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  absl::StatusOr<v1::IndexInfo> info = client->GetIndexInfo();
  if (!info.ok()) return Annotate(info.status(), absl::StrCat("server ", client->server()));
  if (flags.json) {
    PrintJson(*info);
    return absl::OkStatus();
  }
  std::vector<std::string> params;
  for (const auto& [k, v] : std::map<std::string, std::string>(info->index_params().begin(), info->index_params().end())) {
    params.push_back(absl::StrCat(k, "=", v));
  }
  const std::string features = EnumFlagName(*v1::EmbeddingFeatures_descriptor(), info->model().features());
  // The name `rebuild --index` takes ("flat", "torch-flat"); the zero value means no snapshot yet.
  const std::string index_kind = EnumFlagName(*v1::IndexKind_descriptor(), info->index_kind());
  std::cout << "server version     " << info->server_version() << "\n"
            << "snapshot           " << (info->snapshot_version().empty() ? "(none loaded)" : info->snapshot_version())
            << "\n"
            << "galaxies           " << info->count() << "\n"
            << "dimension          " << info->dimension()
            << (features.empty() ? "" : absl::StrCat(" (", features, " features)")) << "\n"
            << "index kind         " << (index_kind.empty() ? "(none)" : index_kind) << "\n";
  if (!info->snapshot_version().empty()) {
    std::cout << "index parameters   " << absl::StrJoin(params, " ") << "\n"
              << "recall@10          " << absl::StrFormat("%.3f", info->measured_recall_at_10()) << "\n"
              << "model              " << info->model().arch() << " (" << info->model().stem() << " stem), bands "
              << absl::StrJoin(info->model().band_names(), "") << ", " << info->model().image_size() << " px, "
              << (info->model().has_redshift_head() ? "with" : "without") << " redshift head\n"
              << "anomaly k          " << info->anomaly_k() << "\n"
              << "anomaly score      " << info->anomaly_score() << "\n";
  }
  if (info->shard_status_size() > 0) {
    std::cout << "router over        " << info->shards() << " shards\n";
    for (const v1::ShardStatus& s : info->shard_status()) {
      std::cout << absl::StrFormat("  shard %-3d %-22s %s\n", s.shard(), s.address(),
                                   s.serving() ? absl::StrCat("serving ", s.snapshot_version(), ", ", s.count(), " galaxies")
                                               : absl::StrCat("NOT SERVING: ", s.error()));
    }
  } else if (info->shards() > 1) {
    std::cout << "shard              " << info->shard() << " of " << info->shards() << "\n";
  }
  std::cout << "limits             max_k " << info->limits().max_k() << ", max_batch " << info->limits().max_batch()
            << ", max_message_bytes " << info->limits().max_message_bytes() << "\n";
  return absl::OkStatus();
}

absl::Status RunSimilar(const ClientFlags& flags, const SimilarFlags& s) {
  GALAXY_ASSIGN_OR_RETURN(ResolvedQuery q, Resolve(s.query, /*allow_position=*/true));
  v1::SimilarGalaxiesRequest request;
  switch (q.kind) {
    case ResolvedQuery::Kind::kId: request.set_id(q.id); break;
    case ResolvedQuery::Kind::kImage: *request.mutable_image() = q.image; break;
    case ResolvedQuery::Kind::kPosition: *request.mutable_position() = q.position; break;
  }
  request.set_k(s.k);
  request.set_include_metadata(true);
  GALAXY_RETURN_IF_ERROR(FillSearch(s, &request));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::SimilarGalaxiesResponse response;
  grpc::Status status = client->search().SimilarGalaxies(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
  } else {
    std::cout << absl::StrFormat("%d neighbours of %s (snapshot %s)%s\n", response.neighbors_size(),
                                 q.kind == ResolvedQuery::Kind::kImage ? s.query.image
                                                                       : absl::StrCat("galaxy ", response.query_id()),
                                 response.snapshot_version(), response.exhausted() ? ", no more pass the filters" : "");
    PrintNeighbors(response);
  }
  if (!s.html.empty()) {
    GalleryPage page;
    page.heading = q.kind == ResolvedQuery::Kind::kImage ? absl::StrCat("Galaxies like ", s.query.image)
                                                          : absl::StrCat("Galaxies like ", response.query_id());
    page.subtitle = absl::StrCat(response.neighbors_size(), " most similar galaxies by cosine similarity of their "
                                 "embeddings; snapshot ", response.snapshot_version(), ", server ", client->server());
    if (q.kind == ResolvedQuery::Kind::kImage) {
      GalleryTile query;
      query.title = "query (uploaded)";
      query.image = q.image;
      query.facts.emplace_back("file", s.query.image);
      page.query = query;
    } else {
      page.query = RecordTile(*client, response.query_id(), absl::StrCat("query ", response.query_id()), {});
    }
    for (const v1::Neighbor& n : response.neighbors()) {
      page.tiles.push_back(RecordTile(*client, n.id(), absl::StrCat("#", n.rank(), "  ", n.id()),
                                      {{"similarity", absl::StrFormat("%.4f", n.score())}}));
    }
    GALAXY_RETURN_IF_ERROR(WriteGallery(s.html, page));
    if (!flags.json) std::cout << "gallery: " << s.html << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunPredictZ(const ClientFlags& flags, const std::vector<int64_t>& ids, const QueryFlags& image,
                         bool pdf) {
  v1::PredictRedshiftRequest request;
  for (int64_t id : ids) request.add_queries()->set_id(id);
  if (!image.image.empty()) {
    GALAXY_ASSIGN_OR_RETURN(*request.add_queries()->mutable_image(), ReadQueryImage(image));
  }
  if (request.queries_size() == 0) return absl::InvalidArgumentError("give --id (one or more) and/or --image");
  request.set_include_pdf(pdf);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::PredictRedshiftResponse response;
  grpc::Status status = client->search().PredictRedshift(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
  } else {
    std::cout << absl::StrFormat("%-24s %8s %8s  %s\n", "galaxy", "z_phot", "error", pdf ? "pdf peak" : "");
    for (int i = 0; i < response.predictions_size(); ++i) {
      const v1::RedshiftPrediction& p = response.predictions(i);
      const std::string who = request.queries(i).has_image() ? image.image : absl::StrCat(p.id());
      if (p.status().code() != 0) {
        std::cout << absl::StrFormat("%-24s error: %s\n", who, p.status().message());
        continue;
      }
      std::string peak;
      if (p.pdf_size() > 0) {
        int best = 0;
        for (int b = 1; b < p.pdf_size(); ++b) {
          if (p.pdf(b) > p.pdf(best)) best = b;
        }
        const v1::RedshiftBinning& bin = response.binning();
        peak = absl::StrFormat("%.4f", bin.z_min() + (best + 0.5) * (bin.z_max() - bin.z_min()) / bin.bins());
      }
      std::cout << absl::StrFormat("%-24s %8.4f %8.4f  %s\n", who, p.z_phot(), p.z_phot_err(), peak);
    }
  }
  for (const v1::RedshiftPrediction& p : response.predictions()) {
    if (p.status().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(p.status().code()),
                          absl::StrCat("some predictions failed; first: ", p.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status RunAnomaly(const ClientFlags& flags, const QueryFlags& query, bool neighbors) {
  GALAXY_ASSIGN_OR_RETURN(ResolvedQuery q, Resolve(query, /*allow_position=*/false));
  v1::ScoreAnomalyRequest request;
  if (q.kind == ResolvedQuery::Kind::kId) {
    request.set_id(q.id);
  } else {
    *request.mutable_image() = q.image;
  }
  request.set_include_neighbors(neighbors);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::ScoreAnomalyResponse response;
  grpc::Status status = client->search().ScoreAnomaly(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
    return absl::OkStatus();
  }
  const std::string meaning = AnomalyScoreMeaning(*client);
  std::cout << absl::StrFormat("anomaly score %.5f%s, percentile %.2f\n", response.score(),
                               meaning.empty() ? "" : absl::StrCat(" (", meaning, ")"), response.percentile());
  if (!response.neighbors().empty()) std::cout << absl::StrFormat("its %d nearest:\n", response.k());
  for (const v1::Neighbor& n : response.neighbors()) {
    std::cout << absl::StrFormat("  %3d  %-20d %.4f\n", n.rank(), n.id(), n.score());
  }
  return absl::OkStatus();
}

absl::Status RunListAnomalies(const ClientFlags& flags, int top, std::optional<float> min_percentile,
                              bool rerank, bool allow_partial, const std::string& html) {
  if (top < 1) return absl::InvalidArgumentError(absl::StrCat("--top: ", top, " must be at least 1"));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::ListAnomaliesResponse all;
  v1::ListAnomaliesRequest request;
  request.set_page_size(static_cast<uint32_t>(std::min(top, 1000)));
  if (min_percentile) request.set_min_percentile(*min_percentile);
  request.set_rerank_by_labels(rerank);
  request.set_allow_partial(allow_partial);
  while (all.galaxies_size() < top) {
    v1::ListAnomaliesResponse page;
    grpc::Status status = client->search().ListAnomalies(client->NewContext().get(), request, &page);
    if (!status.ok()) return FromServer(*client, status);
    for (int i = 0; i < page.galaxies_size() && all.galaxies_size() < top; ++i) {
      *all.add_galaxies() = page.galaxies(i);
      if (rerank) all.add_adjusted_scores(page.adjusted_scores(i));
    }
    all.set_total_count(page.total_count());
    all.set_snapshot_version(page.snapshot_version());
    all.set_first_rank(1);
    *all.mutable_missing_shards() = page.missing_shards();
    if (page.next_page_token().empty()) break;
    request.set_page_token(page.next_page_token());
  }
  if (flags.json) {
    PrintJson(all);
  } else {
    WarnIfPartial(all.missing_shards());
    std::cout << absl::StrFormat("the %d most anomalous of %d galaxies (snapshot %s)%s\n", all.galaxies_size(),
                                 all.total_count(), all.snapshot_version(), rerank ? ", re-ranked by labels" : "");
    std::cout << absl::StrFormat("%4s  %-20s %12s %9s %10s %9s  %-22s %s\n", "rank", "id", "score", "pctile", "ra", "dec",
                                 "z", rerank ? "after labels" : "");
    for (int i = 0; i < all.galaxies_size(); ++i) {
      const v1::GalaxyRecord& g = all.galaxies(i);
      // Mahalanobis scores run to thousands, kNN ones lie in [0, 2]: room for both.
      std::cout << absl::StrFormat("%4d  %-20d %12.5f %9.3f %10.5f %9.5f  %-22s %s\n", i + 1, g.id(), g.anomaly_score(),
                                   g.anomaly_percentile(), g.ra(), g.dec(), Redshift(g),
                                   rerank ? absl::StrFormat("%.5f", all.adjusted_scores(i)) : "");
    }
  }
  if (!html.empty()) {
    GalleryPage page;
    page.heading = "The most anomalous galaxies";
    const std::string meaning = AnomalyScoreMeaning(*client);
    page.subtitle = absl::StrCat("Ranked by anomaly score", meaning.empty() ? "" : absl::StrCat(" (", meaning, ")"),
                                 "; snapshot ", all.snapshot_version(), " of ", all.total_count(),
                                 " galaxies, server ", client->server());
    int rank = 0;
    for (const v1::GalaxyRecord& g : all.galaxies()) {
      page.tiles.push_back(RecordTile(*client, g.id(), absl::StrCat("#", ++rank, "  ", g.id()),
                                      {{"anomaly", absl::StrFormat("%.5f (%.2f%%)", g.anomaly_score(),
                                                                   g.anomaly_percentile())}}));
    }
    GALAXY_RETURN_IF_ERROR(WriteGallery(html, page));
    if (!flags.json) std::cout << "gallery: " << html << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunGalaxy(const ClientFlags& flags, int64_t id, bool embedding) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::GetGalaxyRequest request;
  request.set_id(id);
  request.set_include_embedding(embedding);
  v1::GalaxyRecord record;
  grpc::Status status = client->search().GetGalaxy(client->NewContext().get(), request, &record);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(record);
    return absl::OkStatus();
  }
  std::cout << "id                 " << record.id() << "\n"
            << "ra, dec            " << absl::StrFormat("%.6f, %.6f", record.ra(), record.dec()) << "\n"
            << "E(B-V)             " << absl::StrFormat("%.4f", record.e_bv()) << "\n"
            << "spectroscopic z    " << (record.has_specz() ? absl::StrFormat("%.4f", record.specz()) : "-") << "\n"
            << "photometric z      "
            << (record.has_zphot() ? absl::StrFormat("%.4f ± %.4f", record.zphot(), record.zphot_err()) : "-") << "\n"
            << "anomaly            " << absl::StrFormat("%.5f (percentile %.2f)", record.anomaly_score(),
                                                        record.anomaly_percentile())
            << "\n"
            << "dataset row        " << record.source_row() << "\n";
  for (const auto& [name, value] : std::map<std::string, double>(record.extra().begin(), record.extra().end())) {
    std::cout << absl::StrFormat("%-18s %g\n", name, value);
  }
  if (embedding) {
    std::cout << "embedding          [" << absl::StrJoin(record.embedding(), ", ") << "]\n";
  }
  return absl::OkStatus();
}

namespace {

void PrintRebuild(const v1::RebuildStatus& s) {
  std::cout << absl::StrFormat("%s  %s  %s %d/%d", s.rebuild_id(), v1::RebuildStatus::State_Name(s.state()), s.phase(),
                               s.done(), s.total());
  if (s.eta_seconds() > 0) std::cout << absl::StrFormat("  ETA %.0f s", s.eta_seconds());
  if (!s.snapshot_version().empty()) std::cout << "  snapshot " << s.snapshot_version();
  if (!s.error().empty()) std::cout << "  error: " << s.error();
  std::cout << "\n";
}

}  // namespace

absl::Status RunRebuild(const ClientFlags& flags, const RebuildFlags& rebuild) {
  v1::RebuildIndexRequest request;
  request.set_data_path(rebuild.data);
  request.set_model_path(rebuild.model);
  if (!rebuild.index.empty()) {
    GALAXY_ASSIGN_OR_RETURN(int kind, ParseEnumFlag(*v1::IndexKind_descriptor(), "--index", rebuild.index));
    request.set_index_kind(static_cast<v1::IndexKind>(kind));
  }
  if (!rebuild.features.empty()) {
    GALAXY_ASSIGN_OR_RETURN(int features,
                            ParseEnumFlag(*v1::EmbeddingFeatures_descriptor(), "--features", rebuild.features));
    request.set_features(static_cast<v1::EmbeddingFeatures>(features));
  }
  for (const std::string& p : rebuild.params) {
    std::pair<std::string, std::string> kv = absl::StrSplit(p, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("--param: '", p, "' is not key=value"));
    }
    (*request.mutable_index_params())[kv.first] = kv.second;
  }
  if (rebuild.no_swap) request.set_swap(false);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::RebuildIndexResponse response;
  grpc::Status status = client->admin().RebuildIndex(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (!rebuild.wait) {
    if (flags.json) {
      PrintJson(response);
    } else {
      std::cout << "rebuild started: " << response.rebuild_id() << "\n";
    }
    return absl::OkStatus();
  }
  v1::RebuildStatus last;
  std::string last_line;
  while (true) {
    v1::GetRebuildStatusRequest q;
    q.set_rebuild_id(response.rebuild_id());
    v1::RebuildStatus s;
    grpc::Status st = client->admin().GetRebuildStatus(client->NewContext().get(), q, &s);
    if (!st.ok()) return FromServer(*client, st);
    const std::string line = absl::StrCat(s.phase(), s.done() * 10 / std::max<uint64_t>(1, s.total()));
    if (!flags.json && line != last_line) PrintRebuild(s);
    last_line = line;
    last = s;
    if (s.state() != v1::RebuildStatus::STATE_RUNNING) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  if (flags.json) PrintJson(last);
  if (last.state() == v1::RebuildStatus::STATE_FAILED) {
    return absl::AbortedError(absl::StrCat("rebuild ", last.rebuild_id(), " failed: ", last.error()));
  }
  return absl::OkStatus();
}

absl::Status RunRebuildStatus(const ClientFlags& flags, const std::string& id) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::GetRebuildStatusRequest request;
  request.set_rebuild_id(id);
  v1::RebuildStatus s;
  grpc::Status status = client->admin().GetRebuildStatus(client->NewContext().get(), request, &s);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(s);
  } else if (s.rebuild_id().empty()) {
    std::cout << "no rebuild has run since the server started\n";
  } else {
    PrintRebuild(s);
  }
  return absl::OkStatus();
}

absl::Status RunReload(const ClientFlags& flags) {
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::ReloadSnapshotResponse response;
  grpc::Status status = client->admin().ReloadSnapshot(client->NewContext().get(), {}, &response);
  if (!status.ok()) return FromServer(*client, status);
  if (flags.json) {
    PrintJson(response);
  } else if (response.changed()) {
    std::cout << "now serving " << response.current_version() << " (was "
              << (response.previous_version().empty() ? "none" : response.previous_version()) << ")\n";
  } else {
    std::cout << "already serving " << response.current_version() << "\n";
  }
  return absl::OkStatus();
}

}  // namespace galaxy
