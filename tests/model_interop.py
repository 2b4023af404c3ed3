"""PyTorch's side of tests/model_interop_test.cc (Debian's python3-torch and python3-torchvision).

  model_interop.py torchvision DIR --arch resnet50 --stem torchvision|half|paper --bands 5 [--moco] [--legacy]
      A torchvision ResNet (first convolution for `bands` inputs; the paper stem: stride 1, no
      max-pool; half: stride 2, no max-pool) with random weights and BatchNorm statistics, saved
      with torch.save as DIR/state.pt (with --moco, as a MoCo v2 checkpoint: {"state_dict":
      OrderedDict("module.encoder_q."..., "module.encoder_k."...), "epoch", "arch"} with the MLP
      projection head fc.0/fc.2), random images DIR/images.f32 (4 x bands x 72 x 72) and what
      PyTorch makes of them (centre 64 x 64): DIR/backbone.f32 (L2-normalised pooled features)
      and, with --moco, DIR/projection.f32.
  model_interop.py load CHECKPOINT DIR [--features backbone|projection] [--redshift]
      galaxy_search.torch_model.load_model(CHECKPOINT) on DIR/images.f32 (with DIR/e_bv.f32 when
      there): prints "max_diff <features> X" against DIR/<features>.f32, and "max_diff z_mean X"
      against DIR/z_mean.f32 with --redshift.
"""

import argparse
import collections
import os
import sys

import numpy as np
import torch
import torchvision

SIDE, CROP, COUNT = 72, 64, 4


def randomise_batchnorm(model, generator):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=generator)
            m.bias.data = 0.1 * torch.randn(n, generator=generator)
            m.running_mean = 0.1 * torch.randn(n, generator=generator)
            m.running_var = 0.5 + torch.rand(n, generator=generator)


def write(path, tensor):
    tensor.detach().numpy().astype("<f4").tofile(path)


def torchvision_model(args):
    torch.manual_seed(7)
    g = torch.Generator().manual_seed(11)
    net = getattr(torchvision.models, args.arch)(weights=None)
    net.conv1 = torch.nn.Conv2d(args.bands, 64, 7, stride=1 if args.stem == "paper" else 2, padding=3,
                                bias=False)
    if args.stem != "torchvision":
        net.maxpool = torch.nn.Identity()
    randomise_batchnorm(net, g)
    features = net.fc.in_features
    net.fc = torch.nn.Sequential(torch.nn.Linear(features, features), torch.nn.ReLU(), torch.nn.Linear(features, 128))
    net.eval()
    images = 10 * torch.rand(COUNT, args.bands, SIDE, SIDE, generator=g)
    top = (SIDE - CROP) // 2
    x = images[:, :, top:top + CROP, top:top + CROP]
    head = net.fc
    net.fc = torch.nn.Identity()
    with torch.no_grad():
        f = net(x)
        p = head(f)
    net.fc = head
    os.makedirs(args.dir, exist_ok=True)
    write(os.path.join(args.dir, "images.f32"), images)
    write(os.path.join(args.dir, "backbone.f32"), torch.nn.functional.normalize(f, dim=1))
    state = net.state_dict()  # an OrderedDict, as PyTorch saves it
    if args.moco:
        write(os.path.join(args.dir, "projection.f32"), torch.nn.functional.normalize(p, dim=1))
        moco = collections.OrderedDict()
        for k, v in state.items():
            moco["module.encoder_q." + k] = v
        for k in ("conv1.weight", "layer1.0.conv1.weight"):  # enough of a key encoder to be found
            moco["module.encoder_k." + k] = state[k].clone()
        moco["module.queue"] = torch.randn(128, 16)
        saved = {"epoch": 200, "arch": args.arch, "state_dict": moco, "args": argparse.Namespace(lr=0.03)}
    else:
        saved = state  # with its _metadata attribute, as net.state_dict() makes it
        for k in [k for k in saved if k.startswith("fc.")]:
            del saved[k]
    path = os.path.join(args.dir, "state.pt")
    if args.legacy:
        torch.save(saved, path, _use_new_zipfile_serialization=False)
    else:
        torch.save(saved, path)
    print("wrote", path, len(state), "tensors")


def load(args):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client", "python"))
    from galaxy_search.torch_model import load_model  # noqa: E402  (the client package, from the tree)

    net = load_model(args.checkpoint)
    bands = len(net.metadata["band_names"])
    images = torch.from_numpy(np.fromfile(os.path.join(args.dir, "images.f32"), dtype="<f4")
                              .reshape(-1, bands, SIDE, SIDE))
    e_bv_path = os.path.join(args.dir, "e_bv.f32")
    e_bv = torch.from_numpy(np.fromfile(e_bv_path, dtype="<f4")) if os.path.exists(e_bv_path) else None
    with torch.no_grad():
        x = net.preprocess(images, e_bv)
        got = net.embed(x, features=args.features)
        want = np.fromfile(os.path.join(args.dir, args.features + ".f32"), dtype="<f4").reshape(got.shape)
        print("max_diff", args.features, float(np.abs(got.numpy() - want).max()))
        if args.redshift:
            _, mean, sigma = net.redshift(x)
            for name, got in (("z_mean", mean), ("z_sigma", sigma)):
                want = np.fromfile(os.path.join(args.dir, name + ".f32"), dtype="<f4")
                print("max_diff", name, float(np.abs(got.numpy() - want).max()))


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    tv = sub.add_parser("torchvision")
    tv.add_argument("dir")
    tv.add_argument("--arch", default="resnet50")
    tv.add_argument("--stem", default="torchvision")
    tv.add_argument("--bands", type=int, default=5)
    tv.add_argument("--moco", action="store_true")
    tv.add_argument("--legacy", action="store_true")
    ld = sub.add_parser("load")
    ld.add_argument("checkpoint")
    ld.add_argument("dir")
    ld.add_argument("--features", default="backbone")
    ld.add_argument("--redshift", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    if args.command == "torchvision":
        torchvision_model(args)
    else:
        load(args)


if __name__ == "__main__":
    main()
