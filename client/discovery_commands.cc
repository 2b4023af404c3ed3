// galaxy-client's discovery commands: recommend (several examples, one search) and rank (a
// few-shot classifier over the whole catalog).
#include <fstream>
#include <iostream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/client_commands.h"
#include "client/command_support.h"
#include "client/image_file.h"

namespace galaxy {
namespace {

// Adds the examples of one side (IDs, then image files, their planes named `bands`) to `out`.
absl::Status AddExamples(const std::vector<int64_t>& ids, const std::vector<std::string>& files,
                         const std::vector<std::string>& bands, google::protobuf::RepeatedPtrField<v1::Example>* out) {
  for (int64_t id : ids) out->Add()->set_id(id);
  for (const std::string& file : files) {
    GALAXY_ASSIGN_OR_RETURN(*out->Add()->mutable_image(), ReadImageFile(file, 0, std::nullopt, bands));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RunRecommend(const ClientFlags& flags, const RecommendFlags& r) {
  v1::RecommendRequest request;
  GALAXY_ASSIGN_OR_RETURN(const std::vector<std::string> bands, OptionalBandNames(r.image_bands));
  for (const auto& [ids, files, weights, name, out] :
       {std::make_tuple(&r.positive, &r.positive_images, &r.positive_weights, "positive", request.mutable_positives()),
        std::make_tuple(&r.negative, &r.negative_images, &r.negative_weights, "negative",
                        request.mutable_negatives())}) {
    GALAXY_RETURN_IF_ERROR(AddExamples(*ids, *files, bands, out));
    if (!weights->empty()) {
      if (weights->size() != static_cast<size_t>(out->size())) {
        return absl::InvalidArgumentError(absl::StrCat("--", name, "-weight: ", weights->size(), " weights for ",
                                                       out->size(), " ", name, " examples (IDs first, then images)"));
      }
      for (int i = 0; i < out->size(); ++i) out->Mutable(i)->set_weight((*weights)[static_cast<size_t>(i)]);
    }
  }
  if (request.positives_size() == 0) return absl::InvalidArgumentError("give --positive and/or --positive-image");
  if (r.strategy == "best-score") {
    request.set_strategy(v1::RECOMMEND_STRATEGY_BEST_SCORE);
  } else if (r.strategy == "average") {
    request.set_strategy(v1::RECOMMEND_STRATEGY_AVERAGE_VECTOR);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("--strategy: '", r.strategy, "' is not average or best-score"));
  }
  request.set_k(r.search.k);
  request.set_include_metadata(true);
  GALAXY_RETURN_IF_ERROR(FillSearch(r.search, &request));
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  v1::SimilarGalaxiesResponse response;
  grpc::Status status = client->search().Recommend(client->NewContext().get(), request, &response);
  if (!status.ok()) return FromServer(*client, status);
  const std::string what = absl::StrCat(request.positives_size(), " positive and ", request.negatives_size(),
                                        " negative examples (", r.strategy, ")");
  if (flags.json) {
    PrintJson(response);
  } else {
    std::cout << absl::StrFormat("%d galaxies for %s (snapshot %s)%s\n", response.neighbors_size(), what,
                                 response.snapshot_version(), response.exhausted() ? ", no more pass the filters" : "");
    PrintNeighbors(response);
  }
  if (!r.search.html.empty()) {
    GalleryPage page;
    page.heading = absl::StrCat("Galaxies like ", what);
    page.subtitle = absl::StrCat(response.neighbors_size(), " galaxies; snapshot ", response.snapshot_version(),
                                 ", server ", client->server());
    for (const v1::Neighbor& n : response.neighbors()) {
      page.tiles.push_back(RecordTile(*client, n.id(), absl::StrCat("#", n.rank(), "  ", n.id()),
                                      {{"score", absl::StrFormat("%.4f", n.score())}}));
    }
    GALAXY_RETURN_IF_ERROR(WriteGallery(r.search.html, page));
    if (!flags.json) std::cout << "gallery: " << r.search.html << "\n";
  }
  return absl::OkStatus();
}

absl::Status RunRank(const ClientFlags& flags, const RankFlags& r) {
  v1::RankByExamplesRequest request;
  GALAXY_ASSIGN_OR_RETURN(const std::vector<std::string> bands, OptionalBandNames(r.image_bands));
  GALAXY_RETURN_IF_ERROR(AddExamples(r.positive, r.positive_images, bands, request.mutable_positives()));
  GALAXY_RETURN_IF_ERROR(AddExamples(r.negative, r.negative_images, bands, request.mutable_negatives()));
  for (const auto& [classes, interest, flag, out] :
       {std::make_tuple(&r.positive_labels, &r.positive_interest, "--positive-interest",
                        request.mutable_positive_labels()),
        std::make_tuple(&r.negative_labels, &r.negative_interest, "--negative-interest",
                        request.mutable_negative_labels())}) {
    for (const std::string& name : *classes) out->Add()->set_class_name(name);
    GALAXY_ASSIGN_OR_RETURN(v1::Interest i, ParseInterest(*interest, flag));
    if (i != v1::INTEREST_UNSPECIFIED) out->Add()->set_interest(i);
  }
  if (request.positives_size() == 0 && request.positive_labels_size() == 0) {
    return absl::InvalidArgumentError("give --positive, --positive-image, --positive-label or --positive-interest");
  }
  if (r.random_negatives) request.set_random_negatives(*r.random_negatives);
  request.set_seed(r.seed);
  if (r.regularization) request.set_regularization(*r.regularization);
  if (r.min_probability) request.set_min_probability(*r.min_probability);
  GALAXY_RETURN_IF_ERROR(FillFilter(r.search, request.mutable_filter()));
  request.set_include_metadata(true);
  // The ranking comes as a stream of pages of 1000 (the most a page holds), up to --top.
  request.set_page_size(1000);
  request.set_limit(r.top);
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyClient> client, Connect(flags));
  std::unique_ptr<grpc::ClientContext> context = client->NewContext();
  std::unique_ptr<grpc::ClientReader<v1::RankByExamplesResponse>> reader =
      client->search().StreamRankByExamples(context.get(), request);
  v1::RankByExamplesResponse all, page;
  while (reader->Read(&page)) {
    if (all.galaxies_size() == 0) {
      all = page;
    } else {
      all.mutable_galaxies()->MergeFrom(page.galaxies());
    }
    if (!flags.json && r.top > 10000) {
      std::cerr << absl::StrFormat("\rranked %d of %d", all.galaxies_size(), all.total_count()) << std::flush;
    }
  }
  if (!flags.json && r.top > 10000) std::cerr << "\n";
  grpc::Status status = reader->Finish();
  if (!status.ok()) return FromServer(*client, status);
  all.clear_next_page_token();
  const v1::FewShotClassifier& c = all.classifier();
  const std::string what = absl::StrCat("a classifier of ", c.positives(), " positive and ", c.negatives(),
                                        " negative examples");
  if (flags.json) {
    PrintJson(all);
  } else {
    std::cout << absl::StrFormat("%d of %d galaxies ranked by %s (training accuracy %.3f; snapshot %s)\n",
                                 all.galaxies_size(), all.total_count(), what, c.training_accuracy(),
                                 all.snapshot_version());
    std::cout << absl::StrFormat("%6s  %-20s %11s %10s %9s  %-22s %8s\n", "rank", "id", "probability", "ra", "dec",
                                 "z", "anomaly%");
    for (const v1::RankedGalaxy& g : all.galaxies()) {
      std::cout << absl::StrFormat("%6d  %-20d %11.4f %10.5f %9.5f  %-22s %8.1f\n", g.rank(), g.id(),
                                   g.probability(), g.galaxy().ra(), g.galaxy().dec(), Redshift(g.galaxy()),
                                   g.galaxy().anomaly_percentile());
    }
  }
  if (!r.csv.empty()) {
    std::ofstream csv(r.csv);
    csv << "rank,id,probability,ra,dec,specz,zphot,anomaly_percentile\n";
    for (const v1::RankedGalaxy& g : all.galaxies()) {
      const v1::GalaxyRecord& x = g.galaxy();
      csv << absl::StrFormat("%d,%d,%.6f,%.7f,%.7f,%s,%s,%.2f\n", g.rank(), g.id(), g.probability(), x.ra(), x.dec(),
                             x.has_specz() ? absl::StrFormat("%.5f", x.specz()) : "",
                             x.has_zphot() ? absl::StrFormat("%.5f", x.zphot()) : "", x.anomaly_percentile());
    }
    csv.close();
    if (!csv) return absl::InternalError(absl::StrCat("--csv: cannot write ", r.csv));
    if (!flags.json) std::cout << "csv: " << r.csv << "\n";
  }
  if (!r.search.html.empty()) {
    GalleryPage page;
    page.heading = absl::StrCat("Galaxies ranked by ", what);
    page.subtitle = absl::StrCat(all.galaxies_size(), " of ", all.total_count(), " galaxies; snapshot ",
                                 all.snapshot_version(), ", server ", client->server());
    for (const v1::RankedGalaxy& g : all.galaxies()) {
      if (page.tiles.size() >= 200) break;  // a page of cutouts, not a catalog
      page.tiles.push_back(RecordTile(*client, g.id(), absl::StrCat("#", g.rank(), "  ", g.id()),
                                      {{"probability", absl::StrFormat("%.4f", g.probability())}}));
    }
    GALAXY_RETURN_IF_ERROR(WriteGallery(r.search.html, page));
    if (!flags.json) std::cout << "gallery: " << r.search.html << "\n";
  }
  return absl::OkStatus();
}

}  // namespace galaxy
