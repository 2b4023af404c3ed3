// galaxy-client: talks to a galaxy-server from the command line.
#include "client/client_commands.h"
#include "core/command_line.h"
#include "core/library_versions.h"
#include "galaxy/v1/galaxy.pb.h"
#include "proto/enum_flags.h"
#include "proto/rpc_versions.h"

namespace {

// --image / --row / --e-bv / --bands on `command`.
void AddImageOptions(CLI::App* command, galaxy::QueryFlags& q) {
  command->add_option("--image", q.image, "Image file: native HDF5 (row --row), FITS cube or .npy (bands x H x W)");
  command->add_option("--row", q.row, "Row of the image in the file (HDF5, 4-axis FITS or .npy)")
      ->capture_default_str();
  command->add_option("--e-bv", q.e_bv, "Galactic E(B-V) of the image, magnitudes (HDF5 rows carry their own)");
  command->add_option("--bands", q.bands,
                      "Band of each plane of --image, \"grz\" or \"g,r,z\", for files that name none (.npy; FITS "
                      "headers and our HDF5 files name theirs): the server picks the model's bands by name. "
                      "Without names the planes are the model's bands in its order");
}

constexpr char kExampleBandsHelp[] =
    "Band of each plane of every --positive-image and --negative-image, \"grz\" or \"g,r,z\", for files that "
    "name none (.npy): the server picks the model's bands by name";

// --id / --image / --row / --e-bv / --bands (and --ra / --dec when `position`) on `command`.
void AddQueryOptions(CLI::App* command, galaxy::QueryFlags& q, bool position) {
  command->add_option("--id", q.id, "Catalog ID of the query galaxy");
  AddImageOptions(command, q);
  if (position) {
    command->add_option("--ra", q.ra, "Right ascension of the query galaxy, degrees (with --dec)");
    command->add_option("--dec", q.dec, "Declination of the query galaxy, degrees (with --ra)");
    command->add_option("--match-radius", q.match_radius_arcsec, "Largest separation for the match, arcsec (0: 3)")
        ->capture_default_str();
  }
}

// k, filters, threshold and gallery of a search's answer.
// Conditions on the answer, and its gallery page.
void AddFilterOptions(CLI::App* command, galaxy::SimilarFlags& s) {
  command->add_option("--z-min", s.z_min, "Only galaxies at redshift >= this");
  command->add_option("--z-max", s.z_max, "Only galaxies at redshift <= this");
  command->add_option("--z-source", s.z_source, "Redshift the bounds compare: best, spec or phot")
      ->capture_default_str();
  command->add_option("--cone-ra", s.cone_ra, "Only galaxies inside a cone: centre ra, degrees");
  command->add_option("--cone-dec", s.cone_dec, "... centre dec, degrees");
  command->add_option("--cone-radius", s.cone_radius, "... radius, degrees");
  command->add_option("--exclude", s.exclude, "IDs never to return (repeatable)");
  command->add_option("--html", s.html, "Also write a gallery page of the answer");
}

void AddSearchOptions(CLI::App* command, galaxy::SimilarFlags& s) {
  command->add_option("--k", s.k, "Number of galaxies wanted")->capture_default_str();
  AddFilterOptions(command, s);
  command->add_option("--min-score", s.min_score, "Drop galaxies scoring below this");
  command->add_option("--mmr", s.mmr_lambda,
                      "Diversify by maximal marginal relevance: lambda in [0, 1] (1 plain ranking, 0.5 balanced)");
  command->add_option("--sky-duplicates", s.sky_duplicate_arcsec,
                      "Drop galaxies within this many arcsec of a better-ranked one (the same object twice)");
  command->add_flag("--allow-partial", s.allow_partial,
                    "Through a router over shards: answer from the shards that answered (the others are named)");
}

}  // namespace

int main(int argc, char** argv) {
  galaxy::CommandLine cli("galaxy-client",
                          "Queries a galaxy-search server: similar galaxies, redshifts, anomalies,\n"
                          "records, index information and administration. Tables by default, --json\n"
                          "for scripts, --html for a gallery page of colour images.");
  cli.SetVersionDetails(galaxy::RpcLibraryVersions);
  galaxy::ClientFlags flags;
  CLI::App& app = cli.app();
  app.add_option("--server", flags.connection.server, "Server host:port")
      ->capture_default_str()->envname("GALAXY_SERVER");
  app.add_option("--timeout", flags.timeout_seconds, "Deadline of each call, seconds")->capture_default_str();
  app.add_option("--token-file", flags.connection.token_file,
                 "File with the bearer token (first token line; a server token file's 'search|admin TOKEN' works)")
      ->envname("GALAXY_TOKEN_FILE");
  app.add_option("--tls-ca", flags.connection.tls_ca, "CA of the server's certificate (PEM): use TLS")
      ->envname("GALAXY_TLS_CA");
  app.add_option("--tls-cert", flags.connection.tls_cert, "Client certificate (PEM), for mutual TLS");
  app.add_option("--tls-key", flags.connection.tls_key, "Client private key (PEM), for mutual TLS");
  app.add_flag("--json", flags.json, "Machine-readable JSON output");

  std::string service;
  CLI::App* health = cli.AddCommand("health", "Ask the standard health service; exit 0 only when SERVING",
                                    [&] { return galaxy::RunHealth(flags, service); });
  health->add_option("--service", service,
                     "Service to ask about; \"\" for the server as a whole. "
                     "galaxy.v1.GalaxySearch is SERVING once a snapshot is loaded");
  cli.AddCommand("services", "List the server's services and methods (server reflection)",
                 [&] { return galaxy::RunServices(flags); });
  cli.AddCommand("info", "Snapshot, model, index and limits of the server", [&] { return galaxy::RunInfo(flags); });

  galaxy::SimilarFlags similar;
  CLI::App* similar_cmd = cli.AddCommand("similar", "Galaxies most similar to a query (by ID, image or sky position)",
                                         [&] { return galaxy::RunSimilar(flags, similar); });
  AddQueryOptions(similar_cmd, similar.query, /*position=*/true);
  AddSearchOptions(similar_cmd, similar);

  galaxy::RecommendFlags recommend;
  CLI::App* recommend_cmd = cli.AddCommand(
      "recommend", "Galaxies like several examples and unlike others (IDs and/or image files)",
      [&] { return galaxy::RunRecommend(flags, recommend); });
  recommend_cmd->add_option("--positive", recommend.positive, "Catalog IDs of positive examples (repeatable)");
  recommend_cmd->add_option("--negative", recommend.negative, "Catalog IDs of negative examples (repeatable)");
  recommend_cmd->add_option("--positive-image", recommend.positive_images,
                            "Image files of positive examples: FITS cube, .npy, or row 0 of a native HDF5");
  recommend_cmd->add_option("--negative-image", recommend.negative_images, "Image files of negative examples");
  recommend_cmd->add_option("--bands", recommend.image_bands, kExampleBandsHelp);
  recommend_cmd->add_option("--positive-weight", recommend.positive_weights,
                            "Weights of the positive examples in (0, 100], IDs first, then images (default 1 each)");
  recommend_cmd->add_option("--negative-weight", recommend.negative_weights, "Weights of the negative examples");
  recommend_cmd->add_option("--strategy", recommend.strategy,
                            "average (one blended query vector) or best-score (like any one positive, unlike "
                            "every negative)")
      ->capture_default_str();
  AddSearchOptions(recommend_cmd, recommend.search);

  galaxy::RankFlags rank;
  CLI::App* rank_cmd = cli.AddCommand(
      "rank",
      "Few-shot search: a classifier trained on examples (and random galaxies as negatives) ranks\n"
      "the whole catalog",
      [&] { return galaxy::RunRank(flags, rank); });
  rank_cmd->add_option("--positive", rank.positive, "Catalog IDs of galaxies of the kind sought (repeatable)");
  rank_cmd->add_option("--negative", rank.negative, "Catalog IDs of galaxies not of that kind (repeatable)");
  rank_cmd->add_option("--positive-image", rank.positive_images,
                       "Image files of positive examples: FITS cube, .npy, or row 0 of a native HDF5");
  rank_cmd->add_option("--negative-image", rank.negative_images, "Image files of negative examples");
  rank_cmd->add_option("--bands", rank.image_bands, kExampleBandsHelp);
  rank_cmd->add_option("--random-negatives", rank.random_negatives,
                       "Random catalog galaxies used as negatives (default 1000 without --negative, else 0)");
  rank_cmd->add_option("--seed", rank.seed, "Seed of the random negatives")->capture_default_str();
  rank_cmd->add_option("--regularization", rank.regularization,
                       "C of the logistic regression in the catalog's whitened coordinates, in (0, 1e4] "
                       "(default 0.01; smaller trusts the examples less)");
  rank_cmd->add_option("--min-probability", rank.min_probability, "Only galaxies at or above this probability");
  rank_cmd->add_option("--top", rank.top, "Galaxies to list from the top of the ranking (0: all)")
      ->capture_default_str();
  rank_cmd->add_option("--csv", rank.csv, "Also write the listed galaxies to this CSV file");
  rank_cmd->add_option("--positive-label", rank.positive_labels,
                       "Galaxies labelled with this class (any author) as positives (repeatable)");
  rank_cmd->add_option("--negative-label", rank.negative_labels, "... as negatives (repeatable)");
  rank_cmd->add_option("--positive-interest", rank.positive_interest,
                       "Galaxies labelled interesting or not-interesting as positives");
  rank_cmd->add_option("--negative-interest", rank.negative_interest, "... as negatives");
  AddFilterOptions(rank_cmd, rank.search);

  galaxy::LabelFlags label;
  CLI::App* label_cmd = cli.AddCommand(
      "label", "Label galaxies: a class name and/or interesting / not-interesting, kept by the server",
      [&] { return galaxy::RunLabel(flags, label); });
  label_cmd->add_option("--id", label.ids, "Catalog IDs to label (repeatable)");
  label_cmd->add_option("--class", label.class_name, "Class name (1..64 characters)");
  label_cmd->add_option("--interest", label.interest, "interesting or not-interesting");
  label_cmd->add_option("--comment", label.comment, "Free text (up to 1000 characters)");
  label_cmd->add_option("--author", label.author, "Author name when the server has no tokens (default anonymous)");
  galaxy::LabelFlags filter;
  const auto add_filter = [&filter](CLI::App* command) {
    command->add_option("--id", filter.ids, "Only the labels of this galaxy");
    command->add_option("--class", filter.class_name, "Only labels of this class");
    command->add_option("--interest", filter.interest, "Only interesting or not-interesting labels");
    command->add_option("--author", filter.author, "Only this author's labels");
  };
  CLI::App* labels_cmd = cli.AddCommand("labels", "List labels (all, or those matching the filters)",
                                        [&] { return galaxy::RunLabels(flags, filter); });
  add_filter(labels_cmd);
  CLI::App* export_cmd = cli.AddCommand("export-labels", "Write labels as CSV (all, or those matching the filters)",
                                        [&] { return galaxy::RunExportLabels(flags, filter); });
  add_filter(export_cmd);
  export_cmd->add_option("--out", filter.out, "CSV file ('-': standard output)")->required();
  galaxy::LabelFlags unlabel;
  CLI::App* unlabel_cmd = cli.AddCommand("unlabel", "Delete labels (yours; another author's needs the admin token)",
                                         [&] { return galaxy::RunUnlabel(flags, unlabel); });
  unlabel_cmd->add_option("--id", unlabel.ids, "Catalog IDs (repeatable)");
  unlabel_cmd->add_option("--class", unlabel.class_name, "The label's class name (empty: the interest-only label)");
  unlabel_cmd->add_option("--author", unlabel.author, "The label's author (default: yours)");

  std::vector<int64_t> z_ids;
  galaxy::QueryFlags z_image;
  bool pdf = false;
  CLI::App* z_cmd = cli.AddCommand("predict-z", "Photometric redshift of galaxies (by IDs and/or an image)",
                                   [&] { return galaxy::RunPredictZ(flags, z_ids, z_image, pdf); });
  z_cmd->add_option("--id", z_ids, "Catalog IDs (repeatable)");
  AddImageOptions(z_cmd, z_image);
  z_cmd->add_flag("--pdf", pdf, "Also return the binned probability density (its peak in the table)");

  galaxy::QueryFlags anomaly;
  bool neighbors = false;
  CLI::App* anomaly_cmd = cli.AddCommand("anomaly", "Anomaly score and percentile of a galaxy (by ID or image)",
                                         [&] { return galaxy::RunAnomaly(flags, anomaly, neighbors); });
  AddQueryOptions(anomaly_cmd, anomaly, /*position=*/false);
  anomaly_cmd->add_flag("--neighbors", neighbors, "Also list the neighbours the score comes from");

  int top = 20;
  std::optional<float> min_percentile;
  std::string anomalies_html;
  bool rerank = false, anomalies_partial = false;
  CLI::App* list_cmd = cli.AddCommand(
      "list-anomalies", "The most anomalous galaxies of the snapshot",
      [&] { return galaxy::RunListAnomalies(flags, top, min_percentile, rerank, anomalies_partial, anomalies_html); });
  list_cmd->add_flag("--allow-partial", anomalies_partial,
                     "Through a router over shards: list the galaxies of the shards that answered");
  list_cmd->add_flag("--rerank-by-labels", rerank,
                     "Re-rank by the interest labels: near interesting galaxies up, near not-interesting ones down");
  list_cmd->add_option("--top", top, "How many")->capture_default_str();
  list_cmd->add_option("--min-percentile", min_percentile, "Only galaxies at or above this anomaly percentile");
  list_cmd->add_option("--html", anomalies_html, "Also write a gallery page of them");

  int64_t galaxy_id = 0;
  bool embedding = false;
  CLI::App* galaxy_cmd = cli.AddCommand("galaxy", "The stored record of one galaxy",
                                        [&] { return galaxy::RunGalaxy(flags, galaxy_id, embedding); });
  galaxy_cmd->add_option("--id", galaxy_id, "Catalog ID")->required();
  galaxy_cmd->add_flag("--embedding", embedding, "Also print its embedding");

  galaxy::RebuildFlags rebuild;
  std::string rebuild_id;
  CLI::App* rebuild_cmd = cli.AddCommand(
      "rebuild", "Rebuild the index from a dataset on the server, publish and swap (admin token)",
      [&] { return galaxy::RunRebuild(flags, rebuild); });
  rebuild_cmd->add_option("--data", rebuild.data, "Dataset path on the server (native HDF5)")->required();
  rebuild_cmd->add_option("--model", rebuild.model,
                          "Checkpoint path on the server (default: the live snapshot's model)");
  rebuild_cmd->add_option(
      "--index", rebuild.index,
      galaxy::EnumFlagChoices(*galaxy::v1::IndexKind_descriptor()) + " (default: the live snapshot's kind)");
  rebuild_cmd->add_option("--features", rebuild.features,
                          galaxy::EnumFlagChoices(*galaxy::v1::EmbeddingFeatures_descriptor()) +
                              ": which of the model's outputs to index (default: the live snapshot's with its model, "
                              "else backbone)");
  rebuild_cmd->add_option("--param", rebuild.params, "Index parameter key=value (repeatable), e.g. efSearch=256");
  rebuild_cmd->add_flag("--no-swap", rebuild.no_swap, "Only build and publish; a later reload switches");
  rebuild_cmd->add_flag("--wait", rebuild.wait, "Follow the rebuild's progress until it ends");
  CLI::App* status_cmd = cli.AddCommand("rebuild-status", "Progress of the current or a given rebuild (admin token)",
                                        [&] { return galaxy::RunRebuildStatus(flags, rebuild_id); });
  status_cmd->add_option("--id", rebuild_id, "Rebuild ID (default: the latest)");
  cli.AddCommand("reload", "Switch the server to the snapshot CURRENT names (admin token)",
                 [&] { return galaxy::RunReload(flags); });
  return cli.Run(argc, argv);
}
