// Test helpers of the trainer's tests: a synthetic survey and the tiny network's pretraining and
// fine-tuning options, small enough for a CPU test (fixed seeds, two threads).
#ifndef GALAXY_TRAINER_TINY_RUNS_TEST_UTIL_H_
#define GALAXY_TRAINER_TINY_RUNS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "data/sim/synth_survey.h"
#include "tests/temp_dir.h"
#include "trainer/pretrain.h"
#include "trainer/redshift_training.h"

namespace galaxy::testutil {

// Writes `count` synthetic galaxies of survey seed `seed` to dir/survey.h5 and returns the path.
inline std::string Synth(const testutil::ScopedTempDir& dir, int64_t count, uint64_t seed) {
  SynthOptions o;
  o.count = count;
  o.seed = seed;
  const std::string path = dir.File("survey.h5");
  EXPECT_TRUE(WriteSyntheticSurvey(o, path, 0).ok());
  return path;
}

// The tiny network (torchvision stem) pretrained on the CPU: batch 64, queue 512, seed 7.
inline PretrainOptions Tiny(const std::string& data, const std::string& out) {
  PretrainOptions o;
  o.data_path = data;
  o.out_dir = out;
  o.arch = "tiny";
  o.stem = "torchvision";
  o.batch = 64;
  o.queue = 512;
  o.momentum = 0.99;
  o.lr_per_256 = 0.12;
  o.device = "cpu";
  o.seed = 7;
  o.threads = 2;
  return o;
}

// Fine-tuning `init` on the CPU, batch 64.
inline FinetuneOptions TinyFinetune(const std::string& data, const std::string& init, const std::string& out) {
  FinetuneOptions o;
  o.data_path = data;
  o.init_path = init;
  o.out_dir = out;
  o.batch = 64;
  o.device = "cpu";
  o.threads = 2;
  return o;
}

}  // namespace galaxy::testutil

#endif  // GALAXY_TRAINER_TINY_RUNS_TEST_UTIL_H_
