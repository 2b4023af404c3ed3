// galaxy-data: create, convert, inspect and split survey datasets (native HDF5 layout).
#include "core/command_line.h"
#include "core/library_versions.h"

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-data",
      "Survey datasets in the native HDF5 layout (images N x C x H x W float32 nanomaggies,\n"
      "specz_redshift, ra, dec, e_bv, ObjID): synthesise, convert, inspect and split them.");
  cli.SetVersionDetails(galaxy::CoreLibraryVersions);

  CLI::App* synth = cli.AddPlannedCommand(
      "synth", "Write a physically grounded synthetic survey (truth columns included)");
  synth->add_option("--out", "Output dataset (.h5)");
  synth->add_option("--count", "Number of galaxies");
  synth->add_option("--seed", "Random seed (same seed and count: same file)");

  CLI::App* ingest = cli.AddPlannedCommand(
      "ingest", "Convert a Pasquet-style .npz, FITS cutout stacks or SDSS frames to HDF5");
  ingest->add_option("inputs", "Input files");
  ingest->add_option("--out", "Output dataset (.h5)");

  CLI::App* inspect = cli.AddPlannedCommand(
      "inspect", "Counts, shapes, per-band flux statistics, NaN/Inf, redshift histogram");
  inspect->add_option("file", "Dataset (.h5)");
  inspect->add_option("--png", "Directory for colour composites of a sample (asinh g,r,i)");

  CLI::App* split = cli.AddPlannedCommand(
      "split", "Deterministic train/validation/test split by ID hash");
  split->add_option("file", "Dataset (.h5)");

  return cli.Run(argc, argv);
}
