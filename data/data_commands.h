// The commands of galaxy-data (data/data_main.cc only parses flags and calls these).
#ifndef GALAXY_DATA_DATA_COMMANDS_H_
#define GALAXY_DATA_DATA_COMMANDS_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "data/dataset_split.h"
#include "data/ingest/ingest.h"
#include "data/sim/synth_population.h"

namespace galaxy {

// galaxy-data synth: writes a synthetic survey and prints a one-line summary.
absl::Status RunSynth(const SynthOptions& options, const std::string& out, int threads);

struct InspectOptions {
  std::string path;
  // Directory for colour composites of a sample (created); empty: none.
  std::string png_dir;
  // Galaxies in the PNG sample (evenly spaced rows). Default 16.
  int samples = 16;
  // JSON instead of text.
  bool json = false;
  // Redshift histogram bins. Default 20.
  int bins = 20;
};

// galaxy-data inspect: counts, shapes, bands, per-band statistics, non-finite pixels, redshift
// histogram; optionally PNG composites.
absl::Status RunInspect(const InspectOptions& options);

struct SplitOptions {
  std::string path;
  std::string out_dir;
  SplitFractions fractions;
  uint64_t seed = 0;
};

// galaxy-data split: writes out_dir/{train,val,test}.h5 by ID hash, streaming.
absl::Status RunSplit(const SplitOptions& options);

struct BaselineOptions {
  std::string path;
  int k = 20;
  // "aperture" (default): colours measured on the images; "catalog": the mag_u .. mag_z columns.
  std::string colours = "aperture";
  SplitFractions fractions;
  uint64_t seed = 0;
  std::string json_path;  // also write the JSON report here
  bool json = false;      // print JSON instead of text
};

// galaxy-data photoz-baseline: the kNN-on-colours photo-z baseline with its metrics.
absl::Status RunPhotozBaseline(const BaselineOptions& options);

struct IngestCommand {
  std::vector<std::string> inputs;
  std::string format = "auto";
  std::string positions;
  std::string catalog;  // fits-cutouts: CSV joined by the ID in each file's name
  std::string bands = "u,g,r,i,z";
  std::vector<std::string> renames;  // "from=to"
  std::string non_finite = "skip";   // skip | zero | fail
  IngestOptions options;
};

// galaxy-data ingest: converts the inputs and prints what was written, skipped and assumed.
absl::Status RunIngest(IngestCommand command);

}  // namespace galaxy

#endif  // GALAXY_DATA_DATA_COMMANDS_H_
