#include "model/moco.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <torch/torch.h>

namespace galaxy {
namespace {

Moco TinyMoco(double momentum, int64_t bn_splits = 1) {
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  MocoConfig moco_config;
  moco_config.queue = 32;
  moco_config.momentum = momentum;
  moco_config.bn_splits = bn_splits;
  return Moco(config, moco_config);
}

TEST(MocoTest, MomentumUpdateMovesEveryKeyWeightByExactlyOneMinusM) {
  torch::manual_seed(3);
  Moco moco = TinyMoco(0.9);
  std::vector<torch::Tensor> q = moco->encoder_q->parameters(), k = moco->encoder_k->parameters();
  for (const auto& p : moco->head_q->parameters()) q.push_back(p);
  for (const auto& p : moco->head_k->parameters()) k.push_back(p);
  ASSERT_EQ(q.size(), k.size());
  std::vector<torch::Tensor> expected;
  {
    torch::NoGradGuard no_grad;
    // Query weights away from the keys' (they start as copies), so the update has something to do.
    for (auto& p : q) p.add_(torch::randn_like(p));
    for (size_t i = 0; i < q.size(); ++i) expected.push_back(0.9 * k[i] + 0.1 * q[i]);
  }
  moco->MomentumUpdate();
  for (size_t i = 0; i < k.size(); ++i) {
    EXPECT_TRUE(torch::allclose(k[i], expected[i], 1e-5, 1e-6)) << "parameter " << i;
    EXPECT_FALSE(k[i].requires_grad() && k[i].grad().defined()) << "parameter " << i;
  }
}

TEST(MocoTest, EnqueueReplacesTheOldestBatchAndWraps) {
  Moco moco = TinyMoco(0.999);
  const int64_t dim = moco->queue.size(0);
  for (int64_t b = 0; b < 5; ++b) {  // 4 batches of 8 fill the queue of 32; the 5th wraps
    moco->Enqueue(torch::full({8, dim}, static_cast<float>(b + 1)));
  }
  EXPECT_EQ(moco->queue_ptr.item<int64_t>(), 8);
  EXPECT_EQ(moco->queue.index({0, 0}).item<float>(), 5.0f);
  EXPECT_EQ(moco->queue.index({0, 8}).item<float>(), 2.0f);
  EXPECT_EQ(moco->queue.index({0, 31}).item<float>(), 4.0f);
}

TEST(SplitBatchNormTest, EachSubBatchIsNormalisedWithItsOwnStatistics) {
  torch::manual_seed(5);
  ResNetConfig config;
  config.arch = "tiny";
  config.stem = "torchvision";
  ResNet split(config), whole(config);
  split->SetBatchNormSplits(4);
  {
    torch::NoGradGuard no_grad;
    auto from = split->parameters(), to = whole->parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  const torch::Tensor x = torch::randn({16, 5, 32, 32});
  const torch::Tensor y = split->forward(x);
  // Sub-batch 1 (images 1, 5, 9, 13) alone through plain BatchNorm gives the same features.
  const torch::Tensor members = torch::tensor({1, 5, 9, 13}, torch::kInt64);
  const torch::Tensor alone = whole->forward(x.index_select(0, members));
  EXPECT_TRUE(torch::allclose(y.index_select(0, members), alone, 1e-4, 1e-5));
  // Changing the images of the other sub-batches leaves these features as they were; with plain
  // BatchNorm it would not.
  torch::Tensor changed = x.clone();
  for (int64_t i : {0, 2, 3}) changed[i] = changed[i] * 3 + 1;
  EXPECT_TRUE(torch::allclose(split->forward(changed).index_select(0, members), y.index_select(0, members), 1e-4, 1e-5));
  EXPECT_FALSE(torch::allclose(whole->forward(changed).index_select(0, members),
                               whole->forward(x).index_select(0, members), 1e-4, 1e-5));
  // The running statistics are the mean of the sub-batches' and stay finite.
  for (const auto& buffer : split->named_buffers()) {
    EXPECT_TRUE(torch::isfinite(buffer.value()).all().item<bool>()) << buffer.key();
  }
  EXPECT_EQ(split->stem_bn->running_mean.size(0), 16);
}

TEST(MocoTest, ShuffledKeysComeBackInTheQueriesOrder) {
  torch::manual_seed(7);
  Moco moco = TinyMoco(0.999, /*bn_splits=*/4);
  moco->train();
  const torch::Tensor x = torch::randn({8, 5, 32, 32});
  namespace F = torch::nn::functional;
  // The permutation forward() draws (its only random draw), reproduced with the same seed.
  torch::manual_seed(11);
  const torch::Tensor order = torch::randperm(8, torch::kInt64);
  torch::Tensor expected, unshuffled;
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor shuffled = F::normalize(moco->head_k(moco->encoder_k(x.index_select(0, order))),
                                                F::NormalizeFuncOptions().dim(1));
    expected = torch::empty_like(shuffled);
    for (int64_t j = 0; j < 8; ++j) expected[order[j].item<int64_t>()] = shuffled[j];
    unshuffled = F::normalize(moco->head_k(moco->encoder_k(x)), F::NormalizeFuncOptions().dim(1));
  }
  torch::manual_seed(11);
  const MocoStep step = moco->forward(x, x);
  ASSERT_TRUE(torch::isfinite(step.loss).item<bool>());
  // Key i is image i's key, computed inside the shuffled batch's sub-batches ...
  EXPECT_TRUE(torch::allclose(moco->last_keys(), expected, 1e-4, 1e-5));
  // ... which differs from encoding the batch in its own order (the statistics differ).
  EXPECT_FALSE(torch::allclose(moco->last_keys(), unshuffled, 1e-3, 1e-4));
}

// A tiny MoCo in training mode, the same on every call (seed 5).
Moco SameTrainingMoco() {
  torch::manual_seed(5);
  Moco moco = TinyMoco(0.99);
  moco->train();
  return moco;
}

// Whether any parameter of the two encoders differs.
bool EncodersDiffer(Moco& a, Moco& b) {
  const std::vector<torch::Tensor> pa = a->encoder_q->parameters(), pb = b->encoder_q->parameters();
  bool differs = false;
  for (size_t i = 0; i < pa.size(); ++i) differs = differs || !torch::allclose(pa[i], pb[i], 1e-6, 1e-7);
  return differs;
}

TEST(MocoTest, AnAuxiliaryLossOnTheQueryFeaturesTrainsBesideInfoNce) {
  const torch::Tensor x = torch::randn({8, 5, 32, 32}, torch::TensorOptions().dtype(torch::kFloat32));
  Moco plain = SameTrainingMoco(), with_aux = SameTrainingMoco(), reference = SameTrainingMoco();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = reference->encoder_q(x).pow(2).mean() * 3;
  }
  torch::optim::SGD sgd_plain(plain->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  torch::optim::SGD sgd_aux(with_aux->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  const MocoStep a = MocoTrainStep(plain, sgd_plain, x, x, {}, false, false);
  const MocoStep b = MocoTrainStep(with_aux, sgd_aux, x, x, {}, false, false,
                                   [](const torch::Tensor& features) { return features.pow(2).mean() * 3; });
  EXPECT_FALSE(a.auxiliary.defined());
  ASSERT_TRUE(b.auxiliary.defined());
  // InfoNCE is the same; the auxiliary loss is the function of this step's query features ...
  EXPECT_NEAR(a.loss.item<double>(), b.loss.item<double>(), 1e-6);
  EXPECT_NEAR(b.auxiliary.item<double>(), expected.item<double>(), 1e-5 * (1 + expected.item<double>()));
  EXPECT_FALSE(b.auxiliary.requires_grad());
  // ... and its gradient moved the encoder further than InfoNCE's alone.
  EXPECT_TRUE(EncodersDiffer(plain, with_aux));
}

TEST(MocoTest, LocalViewsAreContrastedWithTheirImagesGlobalKeys) {
  const torch::Tensor x = torch::randn({8, 5, 32, 32}, torch::TensorOptions().dtype(torch::kFloat32));
  Moco plain = SameTrainingMoco(), with_local = SameTrainingMoco();
  torch::optim::SGD sgd_plain(plain->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  torch::optim::SGD sgd_local(with_local->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  const MocoStep a = MocoTrainStep(plain, sgd_plain, x, x, {}, false, false);
  // Two "local" views of every image that are the query view itself (row j * 8 + i is image i):
  // a batch of duplicates has the batch's own BatchNorm statistics, so each local query equals
  // its global one and the local loss must equal the global pair's.
  const MocoStep b = MocoTrainStep(with_local, sgd_local, x, x, {}, false, false, {}, x.repeat({2, 1, 1, 1}));
  EXPECT_FALSE(a.local.defined());
  ASSERT_TRUE(b.local.defined());
  EXPECT_FALSE(b.local.requires_grad());
  EXPECT_NEAR(a.loss.item<double>(), b.loss.item<double>(), 1e-6);
  EXPECT_NEAR(b.local.item<double>(), b.loss.item<double>(), 1e-4);
  // The local loss took part in the backward pass: the encoders moved apart.
  EXPECT_TRUE(EncodersDiffer(plain, with_local));

  // Smaller local views go through the same encoder; their loss differs from the global pair's.
  Moco smaller = SameTrainingMoco();
  torch::optim::SGD sgd_smaller(smaller->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  const torch::Tensor centre = x.slice(2, 8, 24).slice(3, 8, 24).repeat({2, 1, 1, 1});
  const MocoStep c = MocoTrainStep(smaller, sgd_smaller, x, x, {}, false, false, {}, centre);
  ASSERT_TRUE(c.local.defined());
  EXPECT_TRUE(std::isfinite(c.local.item<double>()));
  EXPECT_GT(std::abs(c.local.item<double>() - c.loss.item<double>()), 1e-4);

  // Local views that are not a whole number per image are refused.
  Moco odd = SameTrainingMoco();
  torch::optim::SGD sgd_odd(odd->encoder_q->parameters(), torch::optim::SGDOptions(0.1));
  EXPECT_THROW(MocoTrainStep(odd, sgd_odd, x, x, {}, false, false, {}, x.narrow(0, 0, 12)), c10::Error);
}

TEST(MocoTest, TheRecordedLossIsTheGlobalPairsAndNonFiniteWhenAnyLossWas) {
  MocoStep step;
  step.loss = torch::tensor(1.25f);
  EXPECT_EQ(RecordedLoss(step).item<float>(), 1.25f);
  step.auxiliary = torch::tensor(3.5f);
  step.local = torch::tensor(-7.0f);
  EXPECT_EQ(RecordedLoss(step).item<float>(), 1.25f);  // exactly: the record is the global pair's
  step.local = torch::tensor(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(RecordedLoss(step).item<float>()));
  step.local = torch::tensor(2.0f);
  step.auxiliary = torch::tensor(std::numeric_limits<float>::infinity());
  EXPECT_FALSE(std::isfinite(RecordedLoss(step).item<float>()));
}

}  // namespace
}  // namespace galaxy
