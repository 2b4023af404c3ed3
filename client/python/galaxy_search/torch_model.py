"""galaxy-search models in PyTorch: a checkpoint as a torch.nn.Module.

    from galaxy_search.torch_model import load_model
    net = load_model("runs/pretrain/model.pt")          # eval mode, on the CPU
    x = net.preprocess(images, e_bv)                     # N x bands x H x W nanomaggies -> model input
    features = net.features(x)                           # N x feature_dim (the backbone)
    embedding = net.embed(x)                             # L2-normalised, as the index stores it
    pdf, z_mean, z_sigma = net.redshift(x)               # models with a redshift head

The module holds the checkpoint's own weights under the names galaxy-search gives them (its
`state_dict()` is the checkpoint's), so a notebook can probe or fine-tune it and
`torch.save(net.state_dict(), ...)` keeps them. The network is the one galaxy-search runs: the
same stems, blocks and heads, the input stretch stored with the weights, and the same
preprocessing (`preprocess`: de-reddening with the SDSS coefficients for 5 bands and the centre
crop). A model that came from PyTorch (`galaxy-train import`) loads the same way.

Needs PyTorch (Debian: python3-torch); the rest of galaxy_search does not import it.
"""

import json

import torch
from torch import nn

__all__ = ["GalaxyNet", "load_model", "EXTINCTION_SDSS"]

# Galactic extinction coefficients R_b of the SDSS u, g, r, i, z bands (the de-reddening of
# 5-band inputs; other band counts are not de-reddened).
EXTINCTION_SDSS = (4.239, 3.303, 2.285, 1.698, 1.263)

# Blocks per stage, stage widths, bottleneck blocks, stem width: galaxy-search's architectures.
_PLANS = {
    "resnet50": ((3, 4, 6, 3), (64, 128, 256, 512), True, 64),
    "resnet18": ((2, 2, 2, 2), (64, 128, 256, 512), False, 64),
    "small": ((1, 1, 1, 1), (32, 64, 128, 256), False, 32),
    "tiny": ((1, 1, 1, 1), (16, 32, 64, 128), False, 16),
}


def _conv(cin, cout, kernel, stride, padding):
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)


class _Block(nn.Module):
    """A basic (two 3x3) or bottleneck (1x1, 3x3, 1x1, 4x expansion) residual block."""

    def __init__(self, cin, width, stride, bottleneck):
        super().__init__()
        self.bottleneck = bottleneck
        out = width * 4 if bottleneck else width
        if bottleneck:
            self.conv1 = _conv(cin, width, 1, 1, 0)
            self.conv2 = _conv(width, width, 3, stride, 1)
            self.conv3 = _conv(width, out, 1, 1, 0)
        else:
            self.conv1 = _conv(cin, width, 3, stride, 1)
            self.conv2 = _conv(width, width, 3, 1, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.bn2 = nn.BatchNorm2d(width)
        if bottleneck:
            self.bn3 = nn.BatchNorm2d(out)
        self.downsample = (nn.Sequential(_conv(cin, out, 1, stride, 0), nn.BatchNorm2d(out))
                           if stride != 1 or cin != out else None)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        if self.bottleneck:
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
        else:
            y = self.bn2(self.conv2(y))
        return torch.relu(y + (self.downsample(x) if self.downsample is not None else x))


class _ResNet(nn.Module):
    def __init__(self, arch, stem, bands, input_softening):
        super().__init__()
        if arch not in _PLANS:
            raise ValueError(f"arch {arch!r}: expected one of {', '.join(_PLANS)}")
        if stem not in ("paper", "half", "torchvision"):
            raise ValueError(f"stem {stem!r}: expected paper, half or torchvision")
        blocks, widths, bottleneck, stem_width = _PLANS[arch]
        self.stem = stem
        self.stem_conv = _conv(bands, stem_width, 7, 1 if stem == "paper" else 2, 3)
        self.stem_bn = nn.BatchNorm2d(stem_width)
        if input_softening:
            self.register_buffer("input_softening", torch.tensor(input_softening, dtype=torch.float32)
                                 .view(1, bands, 1, 1))
        else:
            self.input_softening = None
        layers, cin = [], stem_width
        for stage, (count, width) in enumerate(zip(blocks, widths)):
            for b in range(count):
                layers.append(_Block(cin, width, 2 if stage > 0 and b == 0 else 1, bottleneck))
                cin = width * (4 if bottleneck else 1)
        self.layers = nn.Sequential(*layers)
        self.feature_dim = cin

    def _stem(self, x):
        if self.input_softening is not None:
            x = torch.asinh(x / self.input_softening)
        x = torch.relu(self.stem_bn(self.stem_conv(x)))
        if self.stem == "torchvision":
            x = torch.max_pool2d(x, kernel_size=3, stride=2, padding=1)
        return x

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.layers(self._stem(x)), 1), 1)

    def stage_features(self, x):
        """Every stage's pooled output, concatenated in order of depth (the last is forward's):
        N x (the sum of the stages' widths, 240 for tiny)."""
        x, pooled, width = self._stem(x), [], None
        for block in self.layers:
            x = block(x)
            p = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
            if x.shape[1] == width:
                pooled[-1] = p  # a stage's later block replaces its earlier one
            else:
                pooled.append(p)
            width = x.shape[1]
        return torch.cat(pooled, 1)


class _ProjectionHead(nn.Module):
    def __init__(self, cin, out):
        super().__init__()
        self.fc1 = nn.Linear(cin, cin)
        self.fc2 = nn.Linear(cin, out)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


class _RedshiftHead(nn.Module):
    def __init__(self, cin, bins, input_norm):
        super().__init__()
        hidden = max(cin // 2, 32)
        self.fc1 = nn.Linear(cin, hidden)
        self.fc2 = nn.Linear(hidden, bins)
        self.norm = nn.BatchNorm1d(cin) if input_norm else None

    def forward(self, x):
        if self.norm is not None:
            x = self.norm(x)
        return self.fc2(torch.relu(self.fc1(x)))


class GalaxyNet(nn.Module):
    """A galaxy-search network: `backbone`, and `projection` / `redshift_head` when the
    checkpoint has them. `metadata` is the checkpoint's own description (a dict: arch, stem,
    band_names, image_size, feature_dim, embedding_dim, redshift binning, training data...)."""

    def __init__(self, metadata):
        super().__init__()
        self.metadata = dict(metadata)
        bands = len(metadata["band_names"])
        self.backbone = _ResNet(metadata["arch"], metadata["stem"], bands, metadata.get("input_softening") or [])
        features = self.backbone.feature_dim
        self.projection = (_ProjectionHead(features, metadata["embedding_dim"])
                           if metadata.get("has_projection_head") else None)
        self.redshift_head = (_RedshiftHead(features, metadata["redshift_bins"],
                                            metadata.get("redshift_head_norm", False))
                              if metadata.get("has_redshift_head") else None)

    def preprocess(self, images, e_bv=None):
        """Raw fluxes (N x bands x H x W, nanomaggies; H, W >= image_size) -> the model's input:
        de-reddened by each galaxy's E(B-V) (N; 5-band models, SDSS coefficients) and
        centre-cropped to image_size, as galaxy-search does before the network."""
        images = torch.as_tensor(images, dtype=torch.float32)
        if images.dim() != 4 or images.shape[1] != len(self.metadata["band_names"]):
            raise ValueError(f"images of shape {tuple(images.shape)}: expected N x "
                             f"{len(self.metadata['band_names'])} x H x W")
        size = int(self.metadata["image_size"])
        h, w = images.shape[2], images.shape[3]
        if h < size or w < size:
            raise ValueError(f"images are {h} x {w} px, smaller than the model's {size}")
        if e_bv is not None and images.shape[1] == len(EXTINCTION_SDSS):
            e_bv = torch.as_tensor(e_bv, dtype=torch.float32).view(-1, 1)
            coeff = torch.tensor(EXTINCTION_SDSS, dtype=torch.float32).view(1, -1)
            images = images * torch.pow(10.0, e_bv * coeff * 0.4).view(-1, images.shape[1], 1, 1)
        top, left = (h - size) // 2, (w - size) // 2
        return images[:, :, top:top + size, left:left + size]

    def features(self, x):
        """The backbone's pooled features of preprocessed images: N x feature_dim."""
        return self.backbone(x)

    def embed(self, x, features="backbone"):
        """L2-normalised embeddings as a snapshot stores them: the backbone's features
        ("backbone", the indexer's default), every stage's concatenated ("stages") or the
        projection head's output ("projection")."""
        if features == "stages":
            f = self.backbone.stage_features(x)
        elif features == "projection":
            if self.projection is None:
                raise ValueError("this model has no projection head")
            f = self.projection(self.backbone(x))
        elif features == "backbone":
            f = self.backbone(x)
        else:
            raise ValueError(f"features {features!r}: expected backbone, stages or projection")
        return nn.functional.normalize(f, dim=1)

    def forward(self, x):
        return self.embed(x)

    def redshift(self, x):
        """(pdf N x bins, mean N, sigma N) of the redshift head, as the server answers."""
        if self.redshift_head is None:
            raise ValueError("this model has no redshift head")
        m = self.metadata
        logits = self.redshift_head(self.backbone(x))
        width = (m["z_max"] - m["z_min"]) / m["redshift_bins"]
        centres = m["z_min"] + (torch.arange(m["redshift_bins"], dtype=torch.float32) + 0.5) * width
        # The point estimate is the mean of the head's own pdf; the pdf and sigma (its rms distance
        # from the estimate) are calibrated by the checkpoint's redshift_temperature (1 for older models).
        mean = (torch.softmax(logits, dim=1) * centres).sum(1)
        pdf = torch.softmax(logits / float(m.get("redshift_temperature", 1.0)), dim=1)
        sigma = (pdf * (centres - mean.unsqueeze(1)) ** 2).sum(1).clamp_min(0).sqrt()
        return pdf, mean, sigma


def _state(module, prefix):
    """Parameters and buffers of a TorchScript submodule (how the checkpoint stores a part)."""
    out = {}
    for name, p in module.named_parameters():
        out[prefix + name] = p.detach()
    for name, b in module.named_buffers():
        out[prefix + name] = b.detach()
    return out


def load_model(path, device="cpu"):
    """The network of galaxy-search checkpoint `path` as a GalaxyNet in eval mode on `device`.
    Raises ValueError naming what does not fit when the file is not a galaxy-search checkpoint."""
    archive = torch.jit.load(str(path), map_location=device)
    try:
        metadata = json.loads(getattr(archive, "galaxy_metadata"))
    except AttributeError:
        raise ValueError(f"{path}: not a galaxy-search checkpoint (no metadata)") from None
    net = GalaxyNet(metadata)
    state = _state(archive.backbone, "backbone.")
    if net.projection is not None:
        state.update(_state(archive.projection, "projection."))
    if net.redshift_head is not None:
        state.update(_state(archive.redshift_head, "redshift_head."))
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: the checkpoint does not fit its own description "
                         f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return net.to(device).eval()
