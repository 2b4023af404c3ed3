// galaxy-index: embeds a survey into an immutable, published snapshot.
#include <iostream>

#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/status_macros.h"
#include "indexer/index_versions.h"
#include "indexer/snapshot_dir.h"

namespace galaxy {
namespace {

absl::Status Current(const std::string& snapshots_dir) {
  GALAXY_ASSIGN_OR_RETURN(std::string version, ReadCurrent(snapshots_dir));
  std::cout << version << "\n";
  return absl::OkStatus();
}

}  // namespace
}  // namespace galaxy

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-index",
      "Builds immutable snapshots (FAISS inner-product index + RocksDB metadata + manifest)\n"
      "from a dataset and a trained model, publishes them by atomic rename of\n"
      "SNAPSHOTS_DIR/CURRENT, and inspects, verifies and exports them.");
  cli.SetVersionDetails([] {
    return galaxy::JoinVersions({galaxy::IndexLibraryVersions(), galaxy::CoreLibraryVersions()});
  });

  std::string snapshots_dir;
  CLI::App* current = cli.AddCommand("current", "Print the version SNAPSHOTS_DIR/CURRENT names",
                                     [&] { return galaxy::Current(snapshots_dir); });
  current->add_option("snapshots", snapshots_dir, "Snapshots directory")->required();

  CLI::App* build = cli.AddPlannedCommand("build", "Embed a dataset and publish a snapshot");
  build->add_option("--data", "Dataset (.h5)");
  build->add_option("--model", "Model checkpoint");
  build->add_option("--out", "Snapshots directory");
  build->add_option("--index", "flat | hnsw | ivfpq");
  build->add_option("--device", "cpu | cuda | auto");
  cli.AddPlannedCommand("info", "Manifest of a snapshot");
  cli.AddPlannedCommand("verify", "Check a snapshot's checksums and that index and RocksDB agree");
  cli.AddPlannedCommand("export", "Write embeddings and IDs as .npy");
  cli.AddPlannedCommand("list-anomalies", "The most anomalous galaxies of a snapshot");
  return cli.Run(argc, argv);
}
