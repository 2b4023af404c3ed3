// galaxy-data: create, convert, inspect and split survey datasets (native HDF5 layout).
#include "core/command_line.h"
#include "core/library_versions.h"
#include "core/status_macros.h"
#include "data/data_commands.h"
#include "data/data_versions.h"

int main(int argc, char** argv) {
  galaxy::CommandLine cli(
      "galaxy-data",
      "Survey datasets in the native HDF5 layout (images N x C x H x W float32 nanomaggies,\n"
      "specz_redshift, ra, dec, e_bv, ObjID): synthesise, convert, inspect and split them.");
  cli.SetVersionDetails([] { return galaxy::JoinVersions({galaxy::DataLibraryVersions(), galaxy::CoreLibraryVersions()}); });

  galaxy::SynthOptions synth;
  std::string synth_out;
  int threads = 0;
  CLI::App* synth_cmd = cli.AddCommand(
      "synth", "Write a physically grounded synthetic survey (truth columns included)",
      [&] { return galaxy::RunSynth(synth, synth_out, threads); });
  synth_cmd->add_option("--out", synth_out, "Output dataset (.h5)")->required();
  synth_cmd->add_option("--count", synth.count, "Number of galaxies")->capture_default_str();
  synth_cmd->add_option("--seed", synth.seed, "Random seed (same seed and count: same file)")
      ->capture_default_str();
  synth_cmd->add_option("--size", synth.image_size, "Cutout side, pixels (0.396\"/px)")
      ->capture_default_str();
  synth_cmd->add_option("--anomaly-fraction", synth.anomaly_fraction,
                        "Fraction of labelled anomalies (mergers, rings, stars, trails)")
      ->capture_default_str();
  synth_cmd->add_option("--r-limit", synth.r_limit, "Faint limit, dust-corrected r magnitude")
      ->capture_default_str();
  synth_cmd->add_option("--z-max", synth.z_max, "Largest redshift")->capture_default_str();
  synth_cmd->add_option("--seeing", synth.seeing_arcsec, "Median r-band seeing FWHM, arcsec")
      ->capture_default_str();
  synth_cmd->add_option("--spectral-scatter", synth.spectral_scatter,
                        "Spread of the spectral family (1: calibrated, colours as degenerate with z as "
                        "on the real sky; 0: one spectrum per type)")
      ->capture_default_str();
  synth_cmd->add_option("--bars", synth.bar_scale,
                        "Share of barred disks, times the default (0.25 S0, 0.45 Sab, 0.35 Scd); 0: none")
      ->capture_default_str();
  synth_cmd->add_option("--neighbours", synth.neighbour_scale,
                        "Density of other sources in the cutouts (physical neighbours, background "
                        "galaxies, stars), times the default; 0: isolated galaxies")
      ->capture_default_str();
  synth_cmd->add_option("--threads", threads, "Threads (0: every usable CPU)")
      ->capture_default_str();

  galaxy::InspectOptions inspect;
  CLI::App* inspect_cmd = cli.AddCommand(
      "inspect", "Counts, shapes, per-band flux statistics, NaN/Inf, redshift histogram",
      [&] { return galaxy::RunInspect(inspect); });
  inspect_cmd->add_option("file", inspect.path, "Dataset (.h5)")->required();
  inspect_cmd->add_option("--png", inspect.png_dir,
                          "Directory for colour composites of a sample (asinh i,r,g; Lupton 2004)");
  inspect_cmd->add_option("--samples", inspect.samples, "Galaxies in the PNG sample")
      ->capture_default_str();
  inspect_cmd->add_option("--bins", inspect.bins, "Redshift histogram bins")->capture_default_str();
  inspect_cmd->add_flag("--json", inspect.json, "JSON output");

  galaxy::SplitOptions split;
  std::string split_fractions = "0.8,0.1,0.1";
  CLI::App* split_cmd = cli.AddCommand(
      "split", "Deterministic train/validation/test split by ID hash -> DIR/{train,val,test}.h5",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(split.fractions, galaxy::ParseSplitFractions(split_fractions));
        return galaxy::RunSplit(split);
      });
  split_cmd->add_option("file", split.path, "Dataset (.h5)")->required();
  split_cmd->add_option("--out-dir", split.out_dir, "Output directory")->required();
  split_cmd->add_option("--fractions", split_fractions, "train,validation,test")
      ->capture_default_str();
  split_cmd->add_option("--seed", split.seed, "Hash seed")->capture_default_str();

  galaxy::BaselineOptions baseline;
  std::string baseline_fractions = "0.8,0.1,0.1";
  CLI::App* baseline_cmd = cli.AddCommand(
      "photoz-baseline",
      "Classical photo-z: kNN on de-reddened aperture colours; sigma_MAD, bias, outlier rate",
      [&]() -> absl::Status {
        GALAXY_ASSIGN_OR_RETURN(baseline.fractions, galaxy::ParseSplitFractions(baseline_fractions));
        return galaxy::RunPhotozBaseline(baseline);
      });
  baseline_cmd->add_option("file", baseline.path, "Dataset with specz_redshift (.h5)")->required();
  baseline_cmd->add_option("--k", baseline.k, "Neighbours")->capture_default_str();
  baseline_cmd->add_option("--colours", baseline.colours,
                           "aperture (measured on the images) | catalog (the mag_u..mag_z columns)")
      ->check(CLI::IsMember({"aperture", "catalog"}))
      ->capture_default_str();
  baseline_cmd->add_option("--fractions", baseline_fractions, "train,validation,test by ID hash")
      ->capture_default_str();
  baseline_cmd->add_option("--seed", baseline.seed, "Split hash seed")->capture_default_str();
  baseline_cmd->add_option("--json-out", baseline.json_path, "Also write the report as JSON here");
  baseline_cmd->add_flag("--json", baseline.json, "Print JSON instead of text");

  galaxy::IngestCommand ingest;
  CLI::App* ingest_cmd = cli.AddCommand(
      "ingest",
      "Convert an HDF5 file in another layout, a Pasquet-style .npz, a FITS cutout stack, a directory of\n"
      "single-galaxy FITS cutouts, or five SDSS frames cut at CSV positions, to the native HDF5 layout",
      [&] { return galaxy::RunIngest(ingest); });
  ingest_cmd->add_option("inputs", ingest.inputs,
                         "Input file(s): one .h5 or .npz, one FITS cutout stack, FITS cutouts (files or\n"
                         "directories; one galaxy each, named by ObjID, or one file per band with its\n"
                         "band a word of the name: ObjID-<band>.fits, <band>_ObjID.fits; or its directory's:\n"
                         "<band>/ObjID.fits, give the directory above; or in its header: FILTER), or the\n"
                         "five frame-{u,g,r,i,z}-RUN-CAMCOL-FIELD.fits[.bz2] (a FILTER card must agree)")
      ->required();
  ingest_cmd->add_option("--out", ingest.options.out, "Output dataset (.h5)")->required();
  ingest_cmd->add_option("--format", ingest.format, "auto | hdf5 | npz | fits | fits-cutouts | sdss-frames")
      ->capture_default_str();
  ingest_cmd->add_option("--positions", ingest.positions,
                         "SDSS frames: CSV with ra,dec (or r-frame pixel x,y) per galaxy, plus\n"
                         "optional ObjID, specz_redshift, e_bv and other numeric columns");
  ingest_cmd->add_option("--size", ingest.options.cutout_size, "SDSS frames: cutout side, pixels")
      ->capture_default_str();
  ingest_cmd->add_option("--bands", ingest.bands,
                         "Band names in order. FITS: where the header names its bands (BAND0.., BANDS,\n"
                         "FILTER), these are picked from them in this order; else the planes in file order")
      ->capture_default_str();
  ingest_cmd->add_option("--rename", ingest.renames,
                         "Map an input column to a native name, e.g. --rename zspec=specz_redshift");
  ingest_cmd->add_option("--catalog", ingest.catalog,
                         "FITS cutouts: CSV with an ObjID column (the IDs in the files' names) and\n"
                         "any numeric columns (ra, dec, specz_redshift, e_bv, ...)");
  ingest_cmd->add_option("--images-key", ingest.options.images_key,
                         "HDF5: the dataset of images (default: 'images', else the only 4-D one)");
  ingest_cmd->add_option("--non-finite", ingest.non_finite,
                         "A galaxy with NaN/Inf pixels (masked or missing data): skip (leave it out and list\n"
                         "it), zero (set those pixels to 0, counted in column non_finite_pixels) or fail")
      ->check(CLI::IsMember({"skip", "zero", "fail"}))
      ->capture_default_str();
  ingest_cmd->add_option("--id-base", ingest.options.id_base,
                         "Number rows from this ID when the input has no ID column");

  return cli.Run(argc, argv);
}
