// ScopedDatasetCache, apart from trainer/training_data.h so that code without LibTorch (the
// science report) can hold one; trainer/training_data.cc implements it.
#ifndef GALAXY_TRAINER_DATASET_CACHE_H_
#define GALAXY_TRAINER_DATASET_CACHE_H_

#include <cstdint>

namespace galaxy {

// While at least one of these lives, LoadTrainingData (trainer/training_data.h) reads a
// dataset's images whole, once, and serves every later selection of the same unchanged file
// (FileIdentity) from memory. The science report trains a dozen networks on one survey, and the
// parts of the ID-hash split are scattered through the file, where reading one row reads its whole HDF5 chunk (twelve 64 x 64
// images): a training's rows of a 50,000-galaxy survey took 32 s to load on 2 cores, 3 s from
// memory (100,000 galaxies on the GPU machine: ~16 s per training from the file).
// The cache holds one file, only when it takes at most half of the memory allowed to a load;
// it is dropped when the last of these goes. A load of every row shares the cache's images
// (a second copy could exhaust memory): nothing may write into a loaded TrainingData's images
// in place (no code does; index_select, augmentation and preprocessing make new tensors).
// Thread-safe; loads of other files pass through.
class ScopedDatasetCache {
 public:
  ScopedDatasetCache();
  ~ScopedDatasetCache();
  ScopedDatasetCache(const ScopedDatasetCache&) = delete;
  ScopedDatasetCache& operator=(const ScopedDatasetCache&) = delete;
  // Loads served from memory since the process started.
  static int64_t Hits();
};

}  // namespace galaxy

#endif  // GALAXY_TRAINER_DATASET_CACHE_H_
