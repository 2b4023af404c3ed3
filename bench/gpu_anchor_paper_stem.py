"""The PyTorch-eager anchor with our paper stem, for a like-for-like ratio.

../shared/device/anchors.py measures its "cifar" stem (3x3 stride 1, no max-pool) where
galaxy-search's paper stem is the published 7x7 stride 1 (no max-pool). This runs the same
anchor MoCo step and embedding with a 7x7 stride-1 first convolution, reusing anchors.py's own
functions (carried in .device/), and prints lines in its format with the stem named "paper7".
Run from the repository root on the GPU machine: python3 bench/gpu_anchor_paper_stem.py
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".device"))
import anchors  # noqa: E402
import torch.nn as nn  # noqa: E402

_resnet50 = anchors.resnet50


def resnet50(stem):
    if stem != "paper7":
        return _resnet50(stem)
    m = _resnet50("cifar")  # stride-1 stem, no max-pool
    m.conv1 = nn.Conv2d(5, 64, 7, 1, 3, bias=False)
    return m


anchors.resnet50 = resnet50  # the anchor's functions look it up at call time

if __name__ == "__main__":
    bs = 32 if anchors.SMALL else 256
    r = anchors.moco_step_rate("paper7", bs)
    print(f"moco v2 train step, resnet50 paper7 stem, bs {bs}: {r:,.0f} img/s", flush=True)
    e = anchors.embed_rate("paper7", 64 if anchors.SMALL else 1024)
    print(f"resnet50 paper7 stem embedding bf16: {e:,.0f} img/s", flush=True)
