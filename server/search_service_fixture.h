// The fixture of the serving tests on a fake embedder (tests/fake_embedder.h): a snapshot built
// from a small hand-made survey through the real builder, served by a real GalaxyServer, queried
// over gRPC. No model is trained: the fake embeds galaxy i of the survey as (cos t_i, sin t_i),
// t_i = Angle(i), so every answer can be predicted, and it records each forward pass, so a test
// can tell when the model ran (image queries) and when it must not have (answers stored in the
// snapshot). Galaxy i has ID kFirstId + i and sits at ra 10 + i, dec 0, except galaxy 29, 1
// arcsec from galaxy 28 (the same object detected twice).
#ifndef GALAXY_SERVER_SEARCH_SERVICE_FIXTURE_H_
#define GALAXY_SERVER_SEARCH_SERVICE_FIXTURE_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "galaxy/v1/galaxy.grpc.pb.h"
#include "indexer/anomaly_score.h"
#include "indexer/vector_index.h"
#include "server/galaxy_server.h"
#include "tests/fake_embedder.h"
#include "tests/temp_dir.h"

namespace galaxy {

inline constexpr int kGalaxies = 30;
inline constexpr int kSide = 10;  // the fake model sees the centre 8 x 8
inline constexpr int64_t kFirstId = 1000;

double Angle(int i);
// Galaxy i's cutout as an upload.
v1::Image Upload(int i);
// The neighbours' galaxy numbers (ID - kFirstId), in order.
std::vector<int64_t> Ids(const v1::SimilarGalaxiesResponse& response);

class SearchServiceTest : public ::testing::Test {
 public:
  // Embedders that forward to the suite's fake, for further snapshots and servers.
  static EmbedderLoader FakeLoader();
  // A snapshot of the suite's survey with an index of `kind` in `snapshots_dir`, and a server on
  // it (the suite's own is the flat one in SnapshotsDir()).
  static absl::StatusOr<std::unique_ptr<GalaxyServer>> BuildAndServe(
      const std::string& snapshots_dir, IndexKind kind, AnomalyScoreKind anomaly_score = AnomalyScoreKind::kMahalanobis);

 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  // The suite's snapshots directory (its server's; its labels in .labels there).
  static std::string SnapshotsDir() { return dir_->File("snapshots"); }

  // Forward passes since the test started.
  std::vector<FakeEmbedder::Call> Passes() const;

  static testutil::ScopedTempDir* dir_;
  static FakeEmbedder* fake_;
  static GalaxyServer* server_;
  std::unique_ptr<v1::GalaxySearch::Stub> stub_;
  size_t passes_before_ = 0;
};

}  // namespace galaxy

#endif  // GALAXY_SERVER_SEARCH_SERVICE_FIXTURE_H_
