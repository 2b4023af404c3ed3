// galaxy-index: embeds a survey into an immutable, published snapshot, and inspects it.
#include <iostream>

#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/status_macros.h"
#include "data/data_versions.h"
#include "indexer/index_commands.h"
#include "indexer/index_versions.h"
#include "indexer/snapshot_dir.h"
#include "model/torch_info.h"

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-index",
      "Builds immutable snapshots (FAISS inner-product index + RocksDB metadata + manifest)\n"
      "from a dataset and a trained model, publishes them by atomic rename of\n"
      "SNAPSHOTS_DIR/CURRENT, and inspects, verifies and exports them.");
  cli.SetVersionDetails([] {
    return galaxy::JoinVersions({galaxy::IndexLibraryVersions(), galaxy::TorchLibraryVersions(),
                                 galaxy::DataLibraryVersions(), galaxy::CoreLibraryVersions()});
  });

  galaxy::BuildOptions build;
  std::string index_kind = "flat";
  std::string features = "backbone";
  std::string anomaly_score = "mahalanobis";
  std::vector<std::string> index_params;
  bool no_publish = false;
  CLI::App* build_cmd = cli.AddCommand(
      "build", "Embed a dataset, build the index and anomaly scores, publish a snapshot", [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(build.index.kind, galaxy::ParseIndexKind(index_kind));
        GALAXY_ASSIGN_OR_RETURN(build.features, galaxy::ParseEmbeddingFeatures(features));
        GALAXY_ASSIGN_OR_RETURN(build.anomaly_score, galaxy::ParseAnomalyScoreKind(anomaly_score));
        std::map<std::string, std::string> overrides;
        for (const std::string& kv : index_params) {
          const size_t eq = kv.find('=');
          if (eq == std::string::npos) return absl::InvalidArgumentError("--param: expected KEY=VALUE, got '" + kv + "'");
          overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        GALAXY_RETURN_IF_ERROR(build.index.Apply(overrides));
        build.publish = !no_publish;
        return galaxy::RunBuild(build);
      });
  build_cmd->add_option("--data", build.data_path, "Dataset (.h5)")->required();
  build_cmd->add_option("--model", build.model_path, "Model checkpoint (galaxy-train)")->required();
  build_cmd->add_option("--out", build.snapshots_dir, "Snapshots directory")->required();
  build_cmd->add_option("--index", index_kind, "flat | hnsw | ivfpq | torch-flat (exact on LibTorch, on the server's --device)")->capture_default_str();
  build_cmd->add_option("--param", index_params,
                        "Index parameter KEY=VALUE: M, efConstruction, efSearch (hnsw); nlist, nprobe, pq_m, "
                        "refine_factor (ivfpq)");
  build_cmd->add_option("--features", features,
                        "What is indexed: backbone (the last stage's pooled features) | stages (every stage's, "
                        "concatenated: better anomaly scores, ~1.9x the memory) | projection (the MoCo head's output: "
                        "128 values, a 16th of ResNet50's 2048)")
      ->capture_default_str();
  build_cmd->add_option("--device", build.device, "cpu | cuda | auto")->capture_default_str();
  build_cmd->add_option("--batch", build.batch, "Galaxies embedded per batch")->capture_default_str();
  build_cmd->add_option("--anomaly-score", anomaly_score,
                        "mahalanobis (distance from the catalog's mean under its covariance; measured better on "
                        "every anomaly kind) | mahalanobis-turns (the same of the embedding joined with its average "
                        "over the image's turns and mirrors: better on mergers and rings together, eight times the "
                        "embedding work) | knn (mean cosine distance to the --anomaly-k nearest)")
      ->capture_default_str();
  build_cmd->add_option("--anomaly-k", build.anomaly_k,
                        "Neighbours of the knn anomaly score, and those ScoreAnomaly shows")
      ->capture_default_str();
  build_cmd->add_option("--version-name", build.version, "Snapshot version (default: timestamp)");
  build_cmd->add_option("--threads", build.threads, "CPU threads (0: all)")->capture_default_str();
  build_cmd->add_flag("--no-publish", no_publish, "Build but leave CURRENT as it is");
  build_cmd->add_option("--shard", build.shard,
                        "Index only shard I of --shards N: the galaxies whose ID hashes to I (0-based)")
      ->capture_default_str();
  build_cmd->add_option("--shards", build.shards, "How many shards the survey is split into")->capture_default_str();

  std::string snapshot;
  bool json = false;
  CLI::App* info = cli.AddCommand("info", "What a snapshot holds (manifest)", [&] { return galaxy::RunInfo(snapshot, json); });
  info->add_option("snapshot", snapshot, "Snapshot directory, or a snapshots directory (CURRENT)")->required();
  info->add_flag("--json", json, "The manifest as JSON");
  CLI::App* verify = cli.AddCommand("verify", "Check every file's checksum and that index and RocksDB agree",
                                    [&] { return galaxy::RunVerify(snapshot); });
  verify->add_option("snapshot", snapshot, "Snapshot directory, or a snapshots directory (CURRENT)")->required();
  std::string npy_dir, table_path;
  CLI::App* exp = cli.AddCommand(
      "export", "Write IDs, positions, redshifts, anomaly scores and embeddings as .npy files and/or one table",
      [&] { return galaxy::RunExport(snapshot, npy_dir, table_path); });
  exp->add_option("snapshot", snapshot, "Snapshot directory, or a snapshots directory (CURRENT)")->required();
  exp->add_option("--npy", npy_dir, "Output directory for ids.npy, embeddings.npy, anomaly_score.npy, zphot*.npy");
  exp->add_option("--out", table_path,
                  "One table, .h5/.hdf5 (dataset 'galaxies') or .fits (binary table), that astropy's Table.read "
                  "opens with units");
  int top = 20;
  CLI::App* anomalies = cli.AddCommand("list-anomalies", "The most anomalous galaxies of a snapshot",
                                       [&] { return galaxy::RunListAnomalies(snapshot, top, json); });
  anomalies->add_option("snapshot", snapshot, "Snapshot directory, or a snapshots directory (CURRENT)")->required();
  anomalies->add_option("--top", top, "How many")->capture_default_str();
  anomalies->add_flag("--json", json, "JSON output");
  std::string data, label = "is_anomaly";
  CLI::App* auc = cli.AddCommand("anomaly-auc", "ROC AUC of the anomaly scores against a dataset's label column",
                                 [&] { return galaxy::RunAnomalyAuc(snapshot, data, label, json); });
  auc->add_option("snapshot", snapshot, "Snapshot directory, or a snapshots directory (CURRENT)")->required();
  auc->add_option("--data", data, "Dataset with the labels (.h5)")->required();
  auc->add_option("--label", label, "0/1 label column")->capture_default_str();
  auc->add_flag("--json", json, "JSON output");
  std::string snapshots_dir;
  CLI::App* current = cli.AddCommand("current", "Print the version SNAPSHOTS_DIR/CURRENT names", [&]() -> absl::Status {
    GALAXY_ASSIGN_OR_RETURN(std::string version, galaxy::ReadCurrent(snapshots_dir));
    std::cout << version << "\n";
    return absl::OkStatus();
  });
  current->add_option("snapshots", snapshots_dir, "Snapshots directory")->required();
  return cli.Run(argc, argv);
}
