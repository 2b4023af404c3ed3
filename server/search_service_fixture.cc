#include "server/search_service_fixture.h"

#include <grpcpp/grpcpp.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "data/hdf5_dataset.h"
#include "indexer/snapshot_builder.h"

namespace galaxy {
namespace {

// Galaxy i: band 0 is cos t_i everywhere, band 1 sin t_i; E(B-V) 0.01 i.
std::vector<float> Pixels(int i) {
  std::vector<float> pixels(kSide * kSide, static_cast<float>(std::cos(Angle(i))));
  pixels.insert(pixels.end(), kSide * kSide, static_cast<float>(std::sin(Angle(i))));
  return pixels;
}

// Every snapshot the server opens gets an embedder that forwards to the one fake the test sees.
class ForwardingEmbedder : public Embedder {
 public:
  explicit ForwardingEmbedder(const FakeEmbedder* fake) : fake_(fake) {}
  const ModelMetadata& metadata() const override { return fake_->metadata(); }
  bool on_gpu() const override { return false; }
  EmbeddingFeatures features() const override { return fake_->features(); }
  int64_t embedding_dim() const override { return fake_->embedding_dim(); }
  absl::StatusOr<EmbedOutput> Embed(const ImageBatch& images, const EmbedParts& parts) const override {
    return fake_->Embed(images, parts);
  }

 private:
  const FakeEmbedder* fake_;
};

}  // namespace

double Angle(int i) { return 1.5 * i / (kGalaxies - 1); }

v1::Image Upload(int i) {
  const std::vector<float> pixels = Pixels(i);
  v1::Image image;
  image.set_bands(2);
  image.set_height(kSide);
  image.set_width(kSide);
  image.set_dtype(v1::DTYPE_FLOAT32);
  image.set_data(std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size() * sizeof(float)));
  image.set_e_bv(0.01f * static_cast<float>(i));
  return image;
}

std::vector<int64_t> Ids(const v1::SimilarGalaxiesResponse& response) {
  std::vector<int64_t> ids;
  for (const v1::Neighbor& n : response.neighbors()) ids.push_back(n.id() - kFirstId);
  return ids;
}

EmbedderLoader SearchServiceTest::FakeLoader() {
  return [](const std::string&, const std::string&, EmbeddingFeatures) -> absl::StatusOr<std::unique_ptr<Embedder>> {
    return std::make_unique<ForwardingEmbedder>(fake_);
  };
}

void SearchServiceTest::SetUpTestSuite() {
  dir_ = new testutil::ScopedTempDir();
  fake_ = new FakeEmbedder(/*bands=*/2, /*size=*/8);  // 8 px: the smallest a snapshot accepts
  const EmbedderLoader load = FakeLoader();
  DatasetLayout layout;
  layout.bands = 2;
  layout.band_names = {"g", "r"};
  layout.height = kSide;
  layout.width = kSide;
  GalaxyBatch batch;
  batch.Resize(layout, kGalaxies);
  batch.images.clear();
  for (int i = 0; i < kGalaxies; ++i) {
    const std::vector<float> pixels = Pixels(i);
    batch.images.insert(batch.images.end(), pixels.begin(), pixels.end());
    batch.ids[static_cast<size_t>(i)] = kFirstId + i;
    // Galaxy 29 sits 1 arcsec from galaxy 28: the same object detected twice.
    batch.ra[static_cast<size_t>(i)] = i == kGalaxies - 1 ? 10.0 + (kGalaxies - 2) + 1.0 / 3600 : 10.0 + i;
    batch.dec[static_cast<size_t>(i)] = 0;
    batch.e_bv[static_cast<size_t>(i)] = 0.01f * static_cast<float>(i);
    batch.redshift[static_cast<size_t>(i)] = std::numeric_limits<float>::quiet_NaN();
  }
  auto writer = DatasetWriter::Create(dir_->File("survey.h5"), layout);
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_TRUE((*writer)->Append(batch).ok());
  ASSERT_TRUE((*writer)->Commit().ok());
  {
    std::ofstream model(dir_->File("model.pt"));
    model << "the fake embedder never reads this";
  }
  absl::StatusOr<std::unique_ptr<GalaxyServer>> server = BuildAndServe(dir_->File("snapshots"), IndexKind::kFlat);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = server->release();
}

absl::StatusOr<std::unique_ptr<GalaxyServer>> SearchServiceTest::BuildAndServe(const std::string& snapshots_dir,
                                                                               IndexKind kind,
                                                                               AnomalyScoreKind anomaly_score) {
  BuildOptions build;
  build.data_path = dir_->File("survey.h5");
  build.model_path = dir_->File("model.pt");
  build.snapshots_dir = snapshots_dir;
  build.device = "cpu";
  build.anomaly_k = 3;
  build.index.kind = kind;
  build.anomaly_score = anomaly_score;
  build.load_embedder = FakeLoader();
  GALAXY_ASSIGN_OR_RETURN(BuildReport built, BuildSnapshot(build));
  ServerOptions options;
  options.listen = "127.0.0.1:0";
  options.snapshots_dir = snapshots_dir;
  options.device = "cpu";
  options.drain_seconds = 1;
  GALAXY_ASSIGN_OR_RETURN(std::unique_ptr<GalaxyServer> server, GalaxyServer::Start(options, FakeLoader()));
  if (server->snapshot_version() != built.version) {
    return absl::InternalError(absl::StrCat("serving ", server->snapshot_version(), ", built ", built.version));
  }
  return server;
}

void SearchServiceTest::TearDownTestSuite() {
  delete server_;
  delete fake_;
  delete dir_;
}

void SearchServiceTest::SetUp() {
  ASSERT_NE(server_, nullptr) << "the suite's snapshot or server did not start";
  stub_ = v1::GalaxySearch::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                                        grpc::InsecureChannelCredentials()));
  fake_->FailWith(absl::OkStatus());
  passes_before_ = fake_->calls().size();
}

std::vector<FakeEmbedder::Call> SearchServiceTest::Passes() const {
  std::vector<FakeEmbedder::Call> all = fake_->calls();
  return std::vector<FakeEmbedder::Call>(all.begin() + static_cast<ptrdiff_t>(passes_before_), all.end());
}

testutil::ScopedTempDir* SearchServiceTest::dir_ = nullptr;
FakeEmbedder* SearchServiceTest::fake_ = nullptr;
GalaxyServer* SearchServiceTest::server_ = nullptr;

}  // namespace galaxy
