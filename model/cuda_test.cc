// CUDA checks, built only when LibTorch has CUDA and run on the GPU machine
// (bench/gpu_check.sh): the GPU computes what the CPU computes.
#include <gtest/gtest.h>

#include <cmath>

#include "data/sim/synth_survey.h"
#include "model/augment.h"
#include "model/moco.h"
#include "model/resnet.h"
#include "model/torch_compat.h"

namespace galaxy {
namespace {

torch::Tensor SyntheticImages(int64_t n, torch::Tensor* e_bv) {
  SynthOptions o;
  o.count = n;
  o.seed = 77;
  SurveyModel model(o);
  GalaxyBatch batch;
  SynthesizeBatch(model, 0, n, 0, &batch);
  *e_bv = torch::from_blob(batch.e_bv.data(), {n}, torch::kFloat32).clone();
  return torch::from_blob(batch.images.data(), {n, 5, 64, 64}, torch::kFloat32).clone();
}

TEST(CudaTest, AugmentationOnGpuEqualsCpuForTheSameDraws) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::Tensor ebv;
  const torch::Tensor images = SyntheticImages(32, &ebv);
  AugmentOptions o;
  o.band_noise = {0.05, 0.05, 0.05, 0.1, 0.2};
  const Augmenter augmenter(o, 5, 64);
  const AugmentDraws draws = augmenter.Draw(32, 3, 11);
  const torch::Tensor cpu = augmenter.Apply(images, ebv, draws);
  const torch::Tensor gpu = augmenter.Apply(images.cuda(), ebv.cuda(), draws).cpu();
  EXPECT_TRUE(torch::allclose(cpu, gpu, 1e-4, 1e-4)) << (cpu - gpu).abs().max().item<float>();
}

TEST(CudaTest, MocoStepsOnGpuGiveAFiniteFallingLoss) {
  torch::manual_seed(0);
  torch::Tensor ebv;
  const torch::Tensor images = SyntheticImages(256, &ebv).cuda();
  ebv = ebv.cuda();
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  MocoConfig mc;
  mc.queue = 256;
  mc.momentum = 0.99;
  Moco moco(config, mc);
  moco->to(torch::kCUDA);
  ToChannelsLast(*moco);
  std::vector<torch::Tensor> params = moco->encoder_q->parameters();
  for (const auto& p : moco->head_q->parameters()) params.push_back(p);
  torch::optim::SGD optimizer(params, torch::optim::SGDOptions(0.1).momentum(0.9));
  AugmentOptions o;
  const Augmenter augmenter(o, 5, 64);
  std::vector<double> losses;
  for (int step = 0; step < 60; ++step) {
    const torch::Tensor index = torch::randint(256, {64}, torch::TensorOptions().dtype(torch::kInt64).device(torch::kCUDA));
    const torch::Tensor x = images.index_select(0, index), e = ebv.index_select(0, index);
    MocoStep out;
    {
      CudaAutocast autocast(true);
      out = moco->forward(augmenter.Apply(x, e, augmenter.Draw(64, 1, 2 * step)).contiguous(torch::MemoryFormat::ChannelsLast),
                          augmenter.Apply(x, e, augmenter.Draw(64, 1, 2 * step + 1)).contiguous(torch::MemoryFormat::ChannelsLast));
    }
    optimizer.zero_grad();
    out.loss.backward();
    optimizer.step();
    moco->MomentumUpdate();
    moco->Enqueue(moco->last_keys());
    losses.push_back(out.loss.item<double>());
    ASSERT_TRUE(std::isfinite(losses.back())) << "step " << step;
  }
  double early = 0, late = 0;
  for (int i = 5; i < 15; ++i) early += losses[i] / 10;
  for (int i = 50; i < 60; ++i) late += losses[i] / 10;
  EXPECT_LT(late, early) << "early " << early << " late " << late;
}

TEST(CudaTest, GpuBf16EmbeddingsAgreeWithCpuFloat32) {
  torch::manual_seed(1);
  torch::Tensor ebv;
  const torch::Tensor images = SyntheticImages(64, &ebv);
  ResNetConfig config;
  config.arch = "resnet18";
  config.stem = "paper";
  ResNet net(config);
  net->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = PreprocessForModel(images, ebv, 64);
  const torch::Tensor cpu = torch::nn::functional::normalize(net(x), torch::nn::functional::NormalizeFuncOptions().dim(1));
  net->to(torch::kCUDA);
  ToChannelsLast(*net);
  torch::Tensor gpu;
  {
    CudaAutocast autocast(true);
    gpu = net(x.cuda().contiguous(torch::MemoryFormat::ChannelsLast)).to(torch::kFloat32);
  }
  gpu = torch::nn::functional::normalize(gpu, torch::nn::functional::NormalizeFuncOptions().dim(1)).cpu();
  const torch::Tensor cosine = (cpu * gpu).sum(1);
  EXPECT_GT(cosine.min().item<double>(), 0.99) << cosine;
}

}  // namespace
}  // namespace galaxy
