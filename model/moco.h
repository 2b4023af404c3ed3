// MoCo v2 (He et al. 2020; Chen et al. 2020): a query encoder trained by InfoNCE against a
// momentum-updated key encoder and a queue of K negative keys. Include only from .cc files that
// already use LibTorch.
#ifndef GALAXY_MODEL_MOCO_H_
#define GALAXY_MODEL_MOCO_H_

#include <torch/torch.h>

#include <functional>

#include "model/heads.h"
#include "model/resnet.h"

namespace galaxy {

struct MocoConfig {
  // Negatives in the queue, K. Default 65536; must be a multiple of the batch size.
  int64_t queue = 65536;
  // Key-encoder momentum m (keys <- m * keys + (1 - m) * query). Default 0.999.
  double momentum = 0.999;
  // InfoNCE temperature. Default 0.2.
  double temperature = 0.2;
  // Projection dimension. Default 128.
  int64_t projection_dim = 128;
  // Shuffling BatchNorm (He et al. 2020, sec. 3.3) on one device: both encoders normalise each
  // of this many sub-batches with its own statistics, and the keys are shuffled across
  // sub-batches before the key encoder and put back after, so that a query and its positive
  // key are (in all but 1/bn_splits of cases) normalised with different statistics and the model
  // cannot find its positive through them. The batch must be a multiple. 1: plain BatchNorm.
  // Default 1 (the trainer's default is in PretrainOptions).
  int64_t bn_splits = 1;
};

struct MocoStep {
  torch::Tensor loss;      // scalar, InfoNCE
  torch::Tensor accuracy;  // scalar, fraction of queries whose positive key scores highest
  // The query encoder's backbone features (N x feature_dim, with their graph): what an
  // auxiliary loss reads (MocoTrainStep).
  torch::Tensor features;
  // The auxiliary loss MocoTrainStep added (scalar, no graph); undefined without one.
  torch::Tensor auxiliary;
  // The local views' InfoNCE loss MocoTrainStep added (scalar, no graph); undefined without
  // local views.
  torch::Tensor local;
};

// A loss computed from the query encoder's backbone features that MocoTrainStep adds to InfoNCE
// before the backward pass (PretrainOptions::photometry_weight); empty: none.
using AuxiliaryLoss = std::function<torch::Tensor(const torch::Tensor& features)>;

// The loss a step's backward pass takes: out->loss, plus `auxiliary` of the query `features`
// when set, whose value (without its graph) goes into out->auxiliary.
torch::Tensor LossWithAuxiliary(MocoStep* out, const torch::Tensor& features, const AuxiliaryLoss& auxiliary);

struct MocoImpl : torch::nn::Module {
  MocoImpl(const ResNetConfig& backbone, const MocoConfig& config);

  // One contrastive step's forward pass on two augmented views (N x C x 64 x 64 each): query
  // features from `query_view`, keys (no gradient) from `key_view` with the momentum encoder.
  // With shuffling BatchNorm (config.bn_splits > 1, training mode) the keys are encoded in the
  // order `key_order` (a permutation of 0..N-1, int64, any device; undefined: torch::randperm
  // from the global generator) and put back in the queries' order. Does not update the key
  // encoder or the queue: call MomentumUpdate() and Enqueue() after the optimizer step.
  MocoStep forward(const torch::Tensor& query_view, const torch::Tensor& key_view,
                   const torch::Tensor& key_order = {});

  // The pieces of forward(), for a caller that encodes the keys elsewhere (data-parallel
  // training shuffles them across processes): the L2-normalised projections of the query
  // encoder (with a graph) and of the key encoder (without, and without shuffling), and the
  // InfoNCE loss of queries q against their positive keys k and the queue.
  // `features`, when set, receives the backbone's output (with its graph).
  torch::Tensor EncodeQueries(const torch::Tensor& view, torch::Tensor* features = nullptr);
  torch::Tensor EncodeKeys(const torch::Tensor& view);
  MocoStep Contrast(const torch::Tensor& q, const torch::Tensor& k);

  // Makes `encoder` and `head` the query side (their own modules, not copies: training this MoCo
  // trains them) and the key side a copy of them, weights and BatchNorm statistics alike. The
  // architecture must be the one this MoCo was built with.
  void UseQueryEncoder(ResNet encoder, ProjectionHead head);

  // keys <- m * keys + (1 - m) * query, for every parameter (BatchNorm statistics stay the key
  // encoder's own).
  void MomentumUpdate();
  // Replaces the oldest batch of the queue with `keys` (N x projection_dim, normalised).
  void Enqueue(const torch::Tensor& keys);
  // The keys of the last forward(), for Enqueue().
  const torch::Tensor& last_keys() const { return last_keys_; }

  MocoConfig config;
  ResNet encoder_q{nullptr}, encoder_k{nullptr};
  ProjectionHead head_q{nullptr}, head_k{nullptr};
  torch::Tensor queue;      // projection_dim x K, columns L2-normalised
  torch::Tensor queue_ptr;  // int64 scalar

 private:
  // The key side <- the query side (parameters and buffers); the key side gets no gradient.
  void CopyQueriesToKeys();

  torch::Tensor last_keys_;
};
TORCH_MODULE(Moco);

// What follows a step's forward pass: the backward pass of `loss`, `after_backward` (when set:
// data-parallel training averages the gradients there), the optimizer's step
// (MultiTensorSgdStep with `multi_tensor_sgd`, a CUDA path), the key encoder's momentum update,
// and `keys` (the step's, normalised) into the queue.
void MocoUpdate(Moco& moco, torch::optim::SGD& optimizer, const torch::Tensor& loss, const torch::Tensor& keys,
                bool multi_tensor_sgd, const std::function<void()>& after_backward = {});

// Multi-crop (Caron et al. 2020, as PretrainOptions::local_crops): the InfoNCE loss of the
// query encoder's projections of `local_views` (L*N x C x s x s: view j of image i at row
// j*N + i, any side s) against the same images' global keys `keys` (N x projection_dim,
// normalised) and the queue, averaged over all L*N local views; its value (without its graph)
// goes into out->local. Returns the loss with its graph.
torch::Tensor LocalViewLoss(MocoImpl& moco, MocoStep* out, const torch::Tensor& local_views, const torch::Tensor& keys);

// What a training loop records and checks of a step: its loss (the global pair's InfoNCE),
// exactly, made non-finite when any other loss the step trained on (auxiliary, local) was, so
// that a check of the recorded loss stops a run before it saves weights such a loss produced.
torch::Tensor RecordedLoss(const MocoStep& step);

// One optimisation step of MoCo on two augmented views: the forward pass (under bf16 autocast
// with `autocast` on CUDA; keys in `key_order` as MocoImpl::forward), the backward pass, the
// optimizer's step (MultiTensorSgdStep with `multi_tensor_sgd`, a CUDA path), the key encoder's
// momentum update and the keys into the queue. The step pretraining runs and the training
// benchmark times. With `auxiliary`, its loss on the query features joins InfoNCE's in the
// backward pass (MocoStep::auxiliary); with `local_views` (defined), their LocalViewLoss joins
// it too (MocoStep::local). Returns the losses and accuracy as tensors on the device (not read
// back); MocoStep::loss and accuracy are the global pair's alone.
MocoStep MocoTrainStep(Moco& moco, torch::optim::SGD& optimizer, const torch::Tensor& query_view,
                       const torch::Tensor& key_view, const torch::Tensor& key_order, bool autocast,
                       bool multi_tensor_sgd, const AuxiliaryLoss& auxiliary = {},
                       const torch::Tensor& local_views = {});

}  // namespace galaxy

#endif  // GALAXY_MODEL_MOCO_H_
