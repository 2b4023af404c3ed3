// The data the serving tests share: a synthetic survey, a briefly pretrained and fine-tuned tiny
// model, and a snapshots directory with v1 (flat, published as CURRENT) and v2 (hnsw, built but
// not published), both built from the survey at its final path (so the server can read cutouts
// from it). Made once per machine (ctest runs each binary's fixture test first) in directories
// published by rename; tests copy the snapshots before changing anything.
#ifndef GALAXY_TESTS_SERVING_FIXTURE_H_
#define GALAXY_TESTS_SERVING_FIXTURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "galaxy/v1/galaxy.pb.h"

namespace galaxy::testutil {

inline constexpr int kServingGalaxies = 1500;

struct ServingFixture {
  std::string survey, model, snapshots;
};

const ServingFixture& SharedServingFixture();

// Row `row` of the survey as an upload (float32, the full cutout, its E(B-V)); its ID in `id`.
v1::Image SurveyImage(int64_t row, int64_t* id = nullptr);
// The survey's IDs in row order.
const std::vector<int64_t>& SurveyIds();

}  // namespace galaxy::testutil

#endif  // GALAXY_TESTS_SERVING_FIXTURE_H_
