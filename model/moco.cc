#include "model/moco.h"

#include "model/torch_compat.h"

namespace galaxy {

MocoImpl::MocoImpl(const ResNetConfig& backbone, const MocoConfig& config_) : config(config_) {
  encoder_q = register_module("encoder_q", ResNet(backbone));
  encoder_k = register_module("encoder_k", ResNet(backbone));
  const int64_t dim = backbone.feature_dim();
  head_q = register_module("head_q", ProjectionHead(dim, config.projection_dim));
  head_k = register_module("head_k", ProjectionHead(dim, config.projection_dim));
  encoder_q->SetBatchNormSplits(config.bn_splits);
  encoder_k->SetBatchNormSplits(config.bn_splits);
  queue = register_buffer(
      "queue", torch::nn::functional::normalize(torch::randn({config.projection_dim, config.queue}),
                                                torch::nn::functional::NormalizeFuncOptions().dim(0)));
  queue_ptr = register_buffer("queue_ptr", torch::zeros({}, torch::kInt64));
  // The key encoder starts as a copy of the query encoder and never receives gradients.
  CopyQueriesToKeys();
}

void MocoImpl::CopyQueriesToKeys() {
  torch::NoGradGuard no_grad;
  auto copy = [](const torch::OrderedDict<std::string, torch::Tensor>& from,
                 torch::OrderedDict<std::string, torch::Tensor> to) {
    TORCH_CHECK(from.size() == to.size(), "MoCo: the key side has ", to.size(), " tensors, the query side ",
                from.size());
    for (const auto& item : from) {
      torch::Tensor* t = to.find(item.key());
      TORCH_CHECK(t != nullptr && t->sizes() == item.value().sizes(), "MoCo: the key side's ", item.key(),
                  " does not match the query side's");
      t->copy_(item.value());
    }
  };
  for (auto [q, k] : {std::pair<torch::nn::Module*, torch::nn::Module*>{encoder_q.get(), encoder_k.get()},
                      {head_q.get(), head_k.get()}}) {
    copy(q->named_parameters(), k->named_parameters());
    copy(q->named_buffers(), k->named_buffers());
    for (torch::Tensor& p : k->parameters()) p.set_requires_grad(false);
  }
}

void MocoImpl::UseQueryEncoder(ResNet encoder, ProjectionHead head) {
  encoder_q = replace_module("encoder_q", std::move(encoder));
  head_q = replace_module("head_q", std::move(head));
  CopyQueriesToKeys();
}

torch::Tensor MocoImpl::EncodeQueries(const torch::Tensor& view, torch::Tensor* features) {
  namespace F = torch::nn::functional;
  const torch::Tensor f = encoder_q(view);
  if (features != nullptr) *features = f;
  return F::normalize(head_q(f), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor MocoImpl::EncodeKeys(const torch::Tensor& view) {
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  return F::normalize(head_k(encoder_k(view)), F::NormalizeFuncOptions().dim(1));
}

MocoStep MocoImpl::Contrast(const torch::Tensor& q, const torch::Tensor& k) {
  // Logits: the positive pair first, then the queue's negatives.
  const torch::Tensor positive = (q * k).sum(1, /*keepdim=*/true).to(torch::kFloat32);
  const torch::Tensor negative = torch::mm(q, queue.clone().detach().to(q.dtype())).to(torch::kFloat32);
  const torch::Tensor logits = torch::cat({positive, negative}, 1) / config.temperature;
  const torch::Tensor labels = torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kInt64).device(q.device()));
  MocoStep step;
  step.loss = torch::nn::functional::cross_entropy(logits, labels);
  step.accuracy = (logits.argmax(1) == 0).to(torch::kFloat32).mean();
  return step;
}

MocoStep MocoImpl::forward(const torch::Tensor& query_view, const torch::Tensor& key_view,
                           const torch::Tensor& key_order) {
  torch::Tensor features;
  const torch::Tensor q = EncodeQueries(query_view, &features);
  torch::Tensor k;
  if (config.bn_splits > 1 && is_training()) {
    // Shuffle the keys across sub-batches, encode, and put them back in the queries' order.
    const torch::Tensor order =
        key_order.defined()
            ? key_order.to(key_view.device(), torch::kInt64)
            : torch::randperm(key_view.size(0), torch::TensorOptions().dtype(torch::kInt64).device(key_view.device()));
    const torch::Tensor shuffled = EncodeKeys(key_view.index_select(0, order));
    k = torch::empty_like(shuffled).index_copy_(0, order, shuffled);
  } else {
    k = EncodeKeys(key_view);
  }
  last_keys_ = k.detach();
  MocoStep step = Contrast(q, k);
  step.features = features;
  return step;
}

void MocoImpl::MomentumUpdate() {
  torch::NoGradGuard no_grad;
  const double m = config.momentum;
  auto update = [m](const std::vector<torch::Tensor>& from, std::vector<torch::Tensor> to) {
    if (!to.empty() && to[0].is_cuda()) {
      // On a GPU, two multi-tensor kernels over all weights instead of one launch per tensor.
      at::_foreach_mul_(to, m);
      at::_foreach_add_(to, from, 1 - m);
      return;
    }
    // k = m k + (1 - m) q as one pass over each tensor (mul_ then add_ would read and write the
    // key weights twice: on the CPU this update is a few percent of a ResNet18 step).
    for (size_t i = 0; i < from.size(); ++i) to[i].lerp_(from[i], 1 - m);
  };
  update(encoder_q->parameters(), encoder_k->parameters());
  update(head_q->parameters(), head_k->parameters());
  // Buffers (BatchNorm statistics) are not copied: the key encoder keeps its own, from its own
  // forward passes, as in the reference implementation.
}

void MocoImpl::Enqueue(const torch::Tensor& keys) {
  torch::NoGradGuard no_grad;
  const int64_t n = keys.size(0), k = queue.size(1);
  TORCH_CHECK(k % n == 0, "queue length ", k, " is not a multiple of the batch ", n);
  // The write position stays on the queue's device: reading it back each step would make the
  // host wait for the GPU to finish the step, so it could not queue the next one meanwhile.
  const torch::Tensor slots = (queue_ptr + torch::arange(n, queue_ptr.options())).remainder(k);
  queue.index_copy_(1, slots, keys.t().to(queue.dtype()));
  queue_ptr.add_(n).remainder_(k);
}

void MocoUpdate(Moco& moco, torch::optim::SGD& optimizer, const torch::Tensor& loss, const torch::Tensor& keys,
                bool multi_tensor_sgd, const std::function<void()>& after_backward) {
  DropGradients(optimizer);
  loss.backward();
  if (after_backward) after_backward();
  if (multi_tensor_sgd) {
    MultiTensorSgdStep(optimizer);
  } else {
    optimizer.step();
  }
  moco->MomentumUpdate();
  moco->Enqueue(keys);
}

torch::Tensor LossWithAuxiliary(MocoStep* out, const torch::Tensor& features, const AuxiliaryLoss& auxiliary) {
  if (!auxiliary) return out->loss;
  const torch::Tensor extra = auxiliary(features).to(torch::kFloat32);
  out->auxiliary = extra.detach();
  return out->loss + extra;
}

torch::Tensor LocalViewLoss(MocoImpl& moco, MocoStep* out, const torch::Tensor& local_views, const torch::Tensor& keys) {
  const int64_t n = keys.size(0);
  TORCH_CHECK(n > 0 && local_views.size(0) % n == 0, "MoCo: ", local_views.size(0),
              " local views are not a whole number of views of the ", n, " images");
  const MocoStep local = moco.Contrast(moco.EncodeQueries(local_views), keys.repeat({local_views.size(0) / n, 1}));
  out->local = local.loss.detach();
  return local.loss;
}

torch::Tensor RecordedLoss(const MocoStep& step) {
  // x + 0 * y is x for a finite y and NaN for any other.
  torch::Tensor loss = step.loss.detach();
  for (const torch::Tensor& other : {step.auxiliary, step.local}) {
    if (other.defined()) loss = loss + 0 * other.to(loss.dtype());
  }
  return loss;
}

MocoStep MocoTrainStep(Moco& moco, torch::optim::SGD& optimizer, const torch::Tensor& query_view,
                       const torch::Tensor& key_view, const torch::Tensor& key_order, bool autocast,
                       bool multi_tensor_sgd, const AuxiliaryLoss& auxiliary, const torch::Tensor& local_views) {
  MocoStep out;
  torch::Tensor total;
  {
    CudaAutocast scope(autocast);
    out = moco->forward(query_view, key_view, key_order);
    total = LossWithAuxiliary(&out, out.features, auxiliary);
    if (local_views.defined()) total = total + LocalViewLoss(*moco, &out, local_views, moco->last_keys());
  }
  MocoUpdate(moco, optimizer, total, moco->last_keys(), multi_tensor_sgd);
  out.features = torch::Tensor();  // its graph is spent
  return out;
}

}  // namespace galaxy
