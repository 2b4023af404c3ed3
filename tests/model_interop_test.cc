// Models between PyTorch and galaxy-search (tests/model_interop.py is PyTorch's side, run with
// Debian's python3-torch and python3-torchvision): a torchvision ResNet saved with torch.save
// becomes a galaxy-search model with `galaxy-train import` and embeds the same images as PyTorch
// did; the imported checkpoint, and one of ours, load in PyTorch (galaxy_search.torch_model) and
// embed them as galaxy-search does. Bad state dicts are refused naming the tensor, writing nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "model/checkpoint.h"
#include "model/embedder.h"
#include "model/torch_save_file.h"
#include "tests/subprocess.h"
#include "tests/temp_dir.h"

namespace galaxy {
namespace {

namespace fs = std::filesystem;
constexpr int kSide = 72, kCount = 4;

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<float> v(static_cast<size_t>(fs::file_size(path)) / sizeof(float));
  in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  return v;
}

void WriteFloats(const std::string& path, const std::vector<float>& v) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

testutil::CommandResult Python(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/bin/python3", std::string(GALAXY_SOURCE_DIR) + "/tests/model_interop.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(argv, absl::Seconds(240));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : testutil::CommandResult{};
}

testutil::CommandResult Train(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testutil::BinDir() + "/galaxy-train"};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<testutil::CommandResult> r = testutil::RunCommand(argv, absl::Seconds(120));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : testutil::CommandResult{};
}

// The "max_diff NAME X" value model_interop.py printed, or infinity.
double MaxDiff(const std::string& out, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    const std::string prefix = absl::StrCat("max_diff ", name, " ");
    double v = 0;
    if (absl::StartsWith(line, prefix) && absl::SimpleAtod(line.substr(prefix.size()), &v)) return v;
  }
  ADD_FAILURE() << "no max_diff " << name << " in: " << out;
  return INFINITY;
}

// What galaxy-search's Embedder makes of DIR/images.f32 (e_bv zero unless DIR/e_bv.f32).
std::vector<float> Embed(const std::string& checkpoint, const std::string& dir, EmbeddingFeatures features,
                         bool redshift = false, std::vector<float>* z_mean = nullptr,
                         std::vector<float>* z_sigma = nullptr) {
  absl::StatusOr<std::unique_ptr<Embedder>> embedder = LoadEmbedder(checkpoint, "cpu", features);
  EXPECT_TRUE(embedder.ok()) << embedder.status();
  if (!embedder.ok()) return {};
  const std::vector<float> pixels = ReadFloats(dir + "/images.f32");
  std::vector<float> e_bv(kCount, 0.0f);
  if (fs::exists(dir + "/e_bv.f32")) e_bv = ReadFloats(dir + "/e_bv.f32");
  ImageBatch batch;
  batch.pixels = pixels.data();
  batch.e_bv = e_bv.data();
  batch.n = kCount;
  batch.height = batch.width = kSide;
  absl::StatusOr<EmbedOutput> out = (*embedder)->Embed(batch, EmbedParts{redshift});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  if (z_mean != nullptr) *z_mean = out->z_mean;
  if (z_sigma != nullptr) *z_sigma = out->z_sigma;
  return out->embeddings;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double d = a.size() == b.size() ? 0 : INFINITY;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
  return d;
}

// PyTorch -> galaxy-search -> PyTorch, for a MoCo v2 ResNet50 checkpoint (prefix found, the
// query encoder chosen, projection head kept) with the stem `stem`.
void RoundTripTorchvisionResNet50(const std::string& stem) {
  testutil::ScopedTempDir dir;
  const std::string d = dir.path().string();
  testutil::CommandResult made = Python({"torchvision", d, "--arch", "resnet50", "--stem", stem, "--moco"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::string model = d + "/imported.pt";
  testutil::CommandResult imported =
      Train({"import", "--state-dict", d + "/state.pt", "--out", model, "--arch", "resnet50", "--stem", stem});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_TRUE(absl::StrContains(imported.out, "under 'state_dict.module.encoder_q.'")) << imported.out;
  EXPECT_TRUE(absl::StrContains(imported.out, "with its projection head")) << imported.out;
  // galaxy-search embeds the images as PyTorch did (BatchNorm folded, float rounding apart).
  const double backbone = MaxAbsDiff(Embed(model, d, EmbeddingFeatures::kBackbone), ReadFloats(d + "/backbone.f32"));
  const double projection =
      MaxAbsDiff(Embed(model, d, EmbeddingFeatures::kProjection), ReadFloats(d + "/projection.f32"));
  // Back in PyTorch through galaxy_search.torch_model: the same again.
  testutil::CommandResult back = Python({"load", model, d});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  const double back_backbone = MaxDiff(back.out, "backbone");
  const double back_projection = MaxDiff(Python({"load", model, d, "--features", "projection"}).out, "projection");
  std::cout << stem << " stem: largest |difference| of embeddings, PyTorch vs galaxy-search: backbone " << backbone
            << ", projection " << projection << "; back in PyTorch: " << back_backbone << ", " << back_projection
            << "\n";
  EXPECT_LT(backbone, 1e-4);
  EXPECT_LT(projection, 1e-4);
  EXPECT_LT(back_backbone, 1e-4);
  EXPECT_LT(back_projection, 1e-4);
}

TEST(ModelInteropTest, ATorchvisionResNet50EmbedsAlikeInBothAndComesBack) { RoundTripTorchvisionResNet50("torchvision"); }

TEST(ModelInteropTest, APaperStemResNet50EmbedsAlikeInBothAndComesBack) { RoundTripTorchvisionResNet50("paper"); }

// galaxy-search -> PyTorch: a checkpoint of ours (input stretch, projection and redshift heads,
// BatchNorm statistics that matter) embeds and predicts in PyTorch as galaxy-search does.
TEST(ModelInteropNativeTest, OurCheckpointLoadsInPyTorchWithTheSameAnswers) {
  for (const char* stem : {"torchvision", "half", "paper"}) {
    SCOPED_TRACE(stem);
    testutil::ScopedTempDir dir;
    const std::string d = dir.path().string();
    torch::manual_seed(3);
    ModelMetadata m;
    m.kind = "finetuned";
    m.arch = "tiny";
    m.stem = stem;
    m.image_size = 64;
    m.input_softening = {0.1, 0.2, 0.3, 0.4, 0.5};
    ResNetConfig config = BackboneConfig(m);
    m.feature_dim = config.feature_dim();
    m.embedding_dim = 32;
    m.has_projection_head = true;
    m.has_redshift_head = true;
    m.redshift_head_norm = true;
    m.redshift_bins = 40;
    m.redshift_temperature = 1.7;  // calibrated pdfs: PyTorch must divide the logits as we do
    ResNet backbone(config);
    ProjectionHead projection(m.feature_dim, m.embedding_dim);
    RedshiftHead head(m.feature_dim, m.redshift_bins, /*input_norm=*/true);
    {
      torch::NoGradGuard no_grad;
      for (auto& item : backbone->named_buffers()) {
        if (absl::EndsWith(item.key(), "running_mean")) item.value().normal_(0, 0.1);
        if (absl::EndsWith(item.key(), "running_var")) item.value().uniform_(0.5, 1.5);
      }
      head->norm->running_var.uniform_(0.5, 1.5);
    }
    CheckpointWriter writer(m);
    writer.AddModule(kBackbonePart, *backbone);
    writer.AddModule(kProjectionPart, *projection);
    writer.AddModule(kRedshiftPart, *head);
    const std::string model = d + "/ours.pt";
    ASSERT_TRUE(writer.Save(model).ok());
    const torch::Tensor images = torch::rand({kCount, 5, kSide, kSide}) * 3;
    WriteFloats(d + "/images.f32", std::vector<float>(images.data_ptr<float>(), images.data_ptr<float>() + images.numel()));
    WriteFloats(d + "/e_bv.f32", {0.0f, 0.05f, 0.1f, 0.3f});
    std::vector<float> z_mean, z_sigma;
    WriteFloats(d + "/backbone.f32",
                Embed(model, d, EmbeddingFeatures::kBackbone, /*redshift=*/true, &z_mean, &z_sigma));
    WriteFloats(d + "/z_mean.f32", z_mean);
    WriteFloats(d + "/z_sigma.f32", z_sigma);
    WriteFloats(d + "/projection.f32", Embed(model, d, EmbeddingFeatures::kProjection));
    // Every stage's features, in one pass that also feeds the redshift head the last stage's.
    std::vector<float> stages_z_mean;
    const std::vector<float> stages = Embed(model, d, EmbeddingFeatures::kStages, /*redshift=*/true, &stages_z_mean);
    ASSERT_EQ(stages.size(), static_cast<size_t>(kCount * config.stage_features_dim()));
    EXPECT_LT(MaxAbsDiff(stages_z_mean, z_mean), 1e-6);
    WriteFloats(d + "/stages.f32", stages);
    testutil::CommandResult py = Python({"load", model, d, "--redshift"});
    ASSERT_EQ(py.exit_code, 0) << py.err;
    const double backbone_diff = MaxDiff(py.out, "backbone"), z_mean_diff = MaxDiff(py.out, "z_mean"),
                 z_sigma_diff = MaxDiff(py.out, "z_sigma");
    const double projection_diff =
        MaxDiff(Python({"load", model, d, "--features", "projection"}).out, "projection");
    const double stages_diff = MaxDiff(Python({"load", model, d, "--features", "stages"}).out, "stages");
    std::cout << stem << " stem, galaxy-search vs PyTorch: largest |difference| backbone " << backbone_diff
              << ", projection " << projection_diff << ", stages " << stages_diff << ", z_mean " << z_mean_diff
              << ", z_sigma " << z_sigma_diff << "\n";
    EXPECT_LT(backbone_diff, 1e-4);
    EXPECT_LT(z_mean_diff, 1e-4);
    EXPECT_LT(z_sigma_diff, 1e-4);
    EXPECT_LT(projection_diff, 1e-4);
    EXPECT_LT(stages_diff, 1e-4);
  }
}

// Another architecture, another band count, a legacy or truncated file: one line naming the
// first tensor (or the reason), and no checkpoint written.
TEST(ModelImportTest, MismatchesNameTheTensorAndWriteNothing) {
  testutil::ScopedTempDir dir;
  const std::string d = dir.path().string();
  ASSERT_EQ(Python({"torchvision", d + "/r18", "--arch", "resnet18", "--bands", "3"}).exit_code, 0);
  const std::string out = d + "/never.pt";
  const auto refused = [&](const std::vector<std::string>& args, const std::string& want) {
    std::vector<std::string> all = {"import", "--out", out};
    all.insert(all.end(), args.begin(), args.end());
    testutil::CommandResult r = Train(all);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_TRUE(absl::StrContains(r.err, want)) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(out));
  };
  refused({"--state-dict", d + "/r18/state.pt", "--arch", "resnet18"},
          "'conv1.weight' is [64, 3, 7, 7]; resnet18 (torchvision stem, 5 bands) needs [64, 5, 7, 7] (its "
          "stem_conv.weight)");
  refused({"--state-dict", d + "/r18/state.pt", "--arch", "resnet50", "--bands", "3", "--band-names", "g,r,z"},
          "'layer1.0.conv1.weight' is [64, 64, 3, 3]; resnet50 (torchvision stem, 3 bands) needs [64, 64, 1, 1]");
  refused({"--state-dict", d + "/r18/state.pt", "--arch", "tiny", "--bands", "3", "--band-names", "g,r,z"},
          "needs [16, 3, 7, 7]");
  refused({"--state-dict", d + "/r18/state.pt", "--bands", "3"}, "--bands 3: name them with --band-names");
  // The same file with its own shape imports.
  testutil::CommandResult ok = Train({"import", "--state-dict", d + "/r18/state.pt", "--out", d + "/r18.pt", "--arch",
                                      "resnet18", "--bands", "3", "--band-names", "g,r,z"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(absl::StrContains(ok.out, "512-d embedding")) << ok.out;
  // Legacy, truncated and foreign files.
  ASSERT_EQ(Python({"torchvision", d + "/old", "--arch", "resnet18", "--legacy"}).exit_code, 0);
  refused({"--state-dict", d + "/old/state.pt", "--arch", "resnet18"}, "legacy format");
  {
    std::ifstream in(d + "/r18/state.pt", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(d + "/cut.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  refused({"--state-dict", d + "/cut.pt", "--arch", "resnet18"}, "cut.pt: not a readable torch.save archive");
  refused({"--state-dict", d + "/missing.pt"}, "missing.pt: no such file");
}

// The reader itself, on a pickle torch.save's way (an OrderedDict with attributes, a tensor view
// with an offset) and on pickles that lie about their storages.
TEST(TorchSaveFileTest, ReadsViewsAndRefusesTensorsOutsideTheirStorage) {
  // {"w": tensor of storage "0" (6 floats) viewed as 2 x 2 from offset 1, strides (2, 1)}, as
  // protocol 2 writes it, with an OrderedDict and a BUILD of its _metadata attribute.
  using namespace std::string_literals;  // the pickle holds NUL bytes
  const std::string pickle = "\x80\x02"s + "ccollections\nOrderedDict\n" + "q\x00"s + ")R" + "q\x01" +
                             "X\x01\x00\x00\x00"s + "w" + "ctorch._utils\n_rebuild_tensor_v2\n" + "(" +
                             "(X\x07\x00\x00\x00"s + "storage" + "ctorch\nFloatStorage\n" + "X\x01\x00\x00\x00"s +
                             "0" + "X\x03\x00\x00\x00"s + "cpu" + "K\x06" + "tQ" + "K\x01" + "K\x02K\x02\x86" +
                             "K\x02K\x01\x86" + "\x89" + "ccollections\nOrderedDict\n)R" + "tR" + "s" + "}" +
                             "X\x09\x00\x00\x00"s + "_metadata" + "}sb" + ".";
  std::string storage(6 * sizeof(float), '\0');
  const float values[6] = {0, 1, 2, 3, 4, 5};
  std::memcpy(storage.data(), values, sizeof(values));
  const StorageReader read = [&](const std::string& key) -> absl::StatusOr<std::string> {
    if (key != "0") return absl::NotFoundError(key);
    return storage;
  };
  absl::StatusOr<TorchSaveTensors> t = UnpickleTensors(pickle, read);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->count("w"), 1u);
  EXPECT_TRUE(torch::equal(t->at("w"), torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).view({2, 2}))) << t->at("w");
  // Offset 3 reaches element 6 of 6; a storage of 5 elements' bytes for 6; a cut pickle.
  std::string beyond = pickle;
  beyond.replace(beyond.find("tQK\x01") + 3, 1, "\x03");
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(beyond, read).status().message(), "reaches element 6 of a storage of 6"));
  // Sizes and strides whose reach would overflow 64 bits, and an expanded view (stride 0) of more
  // elements than its storage: refused before anything is allocated for them.
  const std::string view = "K\x01"s + "K\x02K\x02\x86" + "K\x02K\x01\x86";
  const auto with_view = [&](const std::string& v) {
    return std::string(pickle).replace(pickle.find(view), view.size(), v);
  };
  const std::string big = "J\xff\xff\xff\x7f"s;  // 2^31 - 1
  const std::string huge = with_view("K\x00"s + big + big + big + "\x87" + big + big + big + "\x87");
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(huge, read).status().message(), "reaches element 4611686018427387904"));
  const std::string expanded = with_view("K\x00"s + "K\x04K\x02\x86" + "K\x00K\x01\x86"s);
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(expanded, read).status().message(),
                                "a tensor of 8 elements views a storage of 6"));
  // A list that holds itself, and lists that each hold the one before twice, 40 deep (2^40
  // paths): refused at once, not followed.
  const std::string cycle = "\x80\x02]q\x00(h\x00" "e."s;
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(cycle, read).status().message(), "deeper than 64"));
  std::string doubling = "\x80\x02]"s;
  for (int i = 0; i < 40; ++i) doubling += "q\x00" "0" "]" "(h\x00h\x00" "e"s;
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(doubling + ".", read).status().message(), "values shared far more"));
  // Dicts that each hold the one before twice, once under a 3,000-character key, 40 deep, with
  // the tensor at the bottom: within the visits allowed, hundreds of names 60 kB long on average.
  // Refused on the names' length before they add up (they once took the fuzzer past 2 GB).
  // The tensor is the one of `pickle` above, from its rebuild call to the REDUCE that ends it.
  const size_t tensor_at = pickle.find("ctorch._utils");
  const std::string tensor = pickle.substr(tensor_at, pickle.find("tR", tensor_at) + 2 - tensor_at);
  std::string long_names = "\x80\x02"s + tensor + "q\x01" + "0" + "X\xb8\x0b\x00\x00"s + std::string(3000, 'k') +
                           "q\x02" + "0" + "}(h\x02h\x01uq\x03";
  for (int level = 1; level <= 40; ++level) {
    const std::string before = "h"s + static_cast<char>(2 + level);
    long_names += "}(h\x02" + before + "X\x01\x00\x00\x00"s + "b" + before + "uq" + static_cast<char>(3 + level);
  }
  const absl::Status long_status = UnpickleTensors(long_names + ".", read).status();
  EXPECT_TRUE(absl::StrContains(long_status.message(), "tensor names far longer than a state dict's")) << long_status;
  // Globals named by globals (each DUP and STACK_GLOBAL would double the name).
  EXPECT_TRUE(absl::StrContains(UnpickleTensors("\x80\x02X\x01\x00\x00\x00" "a2\x93" "2\x93" "."s, read).status().message(),
                                "a global whose module or name is not a string"));
  storage.resize(5 * sizeof(float));
  EXPECT_TRUE(absl::StrContains(UnpickleTensors(pickle, read).status().message(), "holds 20 bytes, not 6 elements"));
  EXPECT_FALSE(UnpickleTensors(pickle.substr(0, 40), read).ok());
}

}  // namespace
}  // namespace galaxy
