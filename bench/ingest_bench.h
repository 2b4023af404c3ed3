// Ingest throughput (`galaxy-bench ingest`): galaxies per second that `galaxy-data ingest` turns
// into the native layout from what users bring, on the same synthetic galaxies in each form:
//   - cutouts: a directory of single-galaxy FITS files named by ID (W x H x C, TAN WCS) plus a
//     catalog CSV joined by that ID (IngestFitsCutouts);
//   - stack:   one FITS file, a 4-D image HDU and a binary table (IngestFitsCube);
//   - hdf5:    another pipeline's HDF5, N x H x W x C float32 and 1-D columns (IngestHdf5);
//   - copy:    the native file read and written again (DatasetReader + DatasetWriter), the floor
//              every ingest pays (read the pixels once, write them once).
// Each figure is the median of three runs over inputs already in the page cache.
// bench/ingest_baseline.py times a Python script (astropy + h5py) on the same inputs
// (bench/ingest_ratio.sh runs both).
#ifndef GALAXY_BENCH_INGEST_BENCH_H_
#define GALAXY_BENCH_INGEST_BENCH_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace galaxy {

struct IngestBenchResult {
  int64_t count = 0;
  int side = 0, bands = 0;
  double input_mb = 0;  // pixels of one form, MB (10^6 bytes)
  double cutouts_per_s = 0;
  double stack_per_s = 0;
  double hdf5_per_s = 0;
  double copy_per_s = 0;
};

// Writes the inputs of `count` galaxies of side `side` under `dir` (created; kept: survey.h5,
// cutouts/, catalog.csv, stack.fits, foreign.h5) and times the four paths; outputs are removed.
absl::StatusOr<IngestBenchResult> RunIngestBench(int64_t count, int side, const std::string& dir);

std::string IngestBenchJson(const IngestBenchResult& r);

}  // namespace galaxy

#endif  // GALAXY_BENCH_INGEST_BENCH_H_
