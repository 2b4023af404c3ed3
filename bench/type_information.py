#!/usr/bin/env python3
"""Where the galaxy type of a synthetic survey lives: how well a linear classifier reads the type
from measurements made on the images themselves (aperture colours, simple morphology statistics,
a one-dimensional bulge + disk fit) and from the simulator's true bulge fraction.

A candidate pretext target for pretraining is worth trying only if it carries type information
that the representation lacks; this measures that without training a network
(docs/SCIENCE.md, "A photometric pretext").

    python3 bench/type_information.py --data survey.h5 [--labels 426,40000]

Prints a markdown table: test accuracy of a multinomial logistic regression (L2, standardised
features) trained on the first N galaxies of a seeded random split, tested on --test others.
"""
import argparse
import sys

import h5py
import numpy as np
import torch

CHUNK = 2000
PSF_SIGMA_PX = 1.5  # the simulator's median seeing, 1.4" FWHM at 0.396"/px
RING_EDGES = np.array([0, 1, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 16])  # px; every ring holds pixels


def grid(size):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    c = (size - 1) / 2
    return yy, xx, np.hypot(yy - c, xx - c)


def ring_masks(rr):
    """One mask per ring of RING_EDGES over the distances `rr` from the centre."""
    return np.stack([(rr >= a) & (rr < b) for a, b in zip(RING_EDGES[:-1], RING_EDGES[1:])])


def measurements(images):
    """Per galaxy: colours and r magnitude in apertures of 2, 4 and 8 px (15 values); and, on the
    g + r + i image, concentration 5 log10(r80 / r20), log half-light radius, ellipticity of the
    second moments, asymmetry under a half turn, smoothness, log flux (6 values); and the ring
    profile of the g + r + i image (mean surface brightness per ring)."""
    n, bands, size, _ = images.shape
    yy, xx, rr = grid(size)
    radii = np.arange(1, 17)
    discs = np.stack([rr <= r for r in radii]).astype(np.float32)
    gri = images[:, 1:4].sum(1)
    growth = np.einsum("nhw,rhw->nr", gri, discs)
    share = growth / np.maximum(growth[:, -1:], 1e-6)
    r20, r50, r80 = (radii[np.argmax(share >= q, axis=1)] for q in (0.2, 0.5, 0.8))
    inner = (rr <= 12).astype(np.float32)
    w = np.clip(gri, 0, None) * inner
    total = w.sum((1, 2)) + 1e-6
    mx = (w * xx).sum((1, 2)) / total
    my = (w * yy).sum((1, 2)) / total
    dx, dy = xx[None] - mx[:, None, None], yy[None] - my[:, None, None]
    ixx, iyy, ixy = ((w * a * b).sum((1, 2)) / total for a, b in ((dx, dx), (dy, dy), (dx, dy)))
    ellipticity = np.hypot(ixx - iyy, 2 * ixy) / (ixx + iyy + 1e-6)
    absolute = (np.abs(gri) * inner).sum((1, 2)) + 1e-6
    asymmetry = (np.abs(gri - gri[:, ::-1, ::-1]) * inner).sum((1, 2)) / (2 * absolute)
    smooth = torch.nn.functional.avg_pool2d(torch.from_numpy(gri)[:, None], 3, 1, 1)[:, 0].numpy()
    smoothness = (np.clip(gri - smooth, 0, None) * inner).sum((1, 2)) / absolute
    morphology = np.stack([5 * np.log10(r80 / r20), np.log(r50), ellipticity, asymmetry, smoothness,
                           np.log(np.clip(growth[:, -1], 1e-3, None))], 1)
    colours = []
    for r in (2, 4, 8):
        flux = np.einsum("nbhw,hw->nb", images, discs[r - 1])
        mag = -2.5 * np.log10(np.clip(flux, 1e-3, None))
        colours += [mag[:, 2:3], mag[:, :-1] - mag[:, 1:]]
    rings = ring_masks(rr).astype(np.float32)
    profile = np.einsum("nhw,rhw->nr", gri, rings) / rings.sum((1, 2))
    return np.concatenate(colours, 1), morphology, profile


def bulge_disk_templates(size):
    """Ring profiles of unit-flux de Vaucouleurs bulges and exponential disks on a grid of
    effective radii, blurred by the median PSF."""
    _, _, rr = grid(size)
    kernel = np.exp(-0.5 * ((np.arange(size) - (size - 1) / 2) / PSF_SIGMA_PX) ** 2)
    kernel = torch.tensor(kernel / kernel.sum())
    rings = ring_masks(rr).astype(np.float64)

    def ring_profile(image):
        t = torch.tensor(image / image[rr < 16].sum())[None, None]
        t = torch.nn.functional.conv2d(t, kernel.view(1, 1, 1, -1), padding=(0, size // 2))[..., :size]
        t = torch.nn.functional.conv2d(t, kernel.view(1, 1, -1, 1), padding=(size // 2, 0))[..., :size, :]
        return (rings * t[0, 0].numpy()).sum((1, 2)) / rings.sum((1, 2))

    bulges = np.stack([ring_profile(np.exp(-7.669 * ((rr / r) ** 0.25 - 1))) for r in np.geomspace(0.5, 8, 9)])
    disks = np.stack([ring_profile(np.exp(-1.678 * (rr / r - 1))) for r in np.geomspace(1.5, 16, 10)])
    return bulges, disks, rings.sum((1, 2))


def bulge_fraction_fit(profile, size):
    """Bulge fraction of the best non-negative bulge + disk fit to each ring profile (least
    squares weighted by ring area, over the template grid)."""
    bulges, disks, area = bulge_disk_templates(size)
    y = profile * np.sqrt(area)[None]
    best = np.full(len(y), np.inf)
    fraction = np.zeros(len(y))
    for b in bulges:
        for d in disks:
            a = np.stack([b, d], 1) * np.sqrt(area)[:, None]
            coef = np.clip(np.linalg.lstsq(a, y.T, rcond=None)[0], 0, None)
            residual = ((a @ coef - y.T) ** 2).sum(0)
            better = residual < best
            best[better] = residual[better]
            fraction[better] = (coef[0] / (coef.sum(0) + 1e-12))[better]
    return fraction


def standardise(x):
    x = np.where(np.isfinite(x), x, np.nan)
    median = np.nanmedian(x, 0)
    x = np.where(np.isnan(x), median, x)
    sigma = np.median(np.abs(x - median), 0) * 1.4826 + 1e-9
    return np.clip((x - median) / sigma, -5, 5)


def fit_softmax(x, y, classes, penalty, max_iter=500):
    """A multinomial logistic regression (L2 `penalty`) fitted by L-BFGS; returns the function that
    predicts the class of new rows."""
    a, b = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, bias], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(a @ w + bias, b) + penalty * (w ** 2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return lambda z: (torch.tensor(z, dtype=torch.float64) @ w + bias).argmax(1).numpy()


def accuracy(x, y, train, test, penalty):
    predict = fit_softmax(x[train], y[train], int(y.max()) + 1, penalty)
    return float((predict(x[test]) == y[test]).mean())


def type_information(path, counts, test_size=5000, seed=0):
    """The table's rows, [(features, [accuracy at each of `counts` labels])], and the correlation
    of the fitted bulge fraction with the true one. ValueError names what is wrong with the input."""
    with h5py.File(path, "r") as f:
        for column in ("images", "type", "bulge_fraction"):
            if column not in f:
                raise ValueError(f"{path}: no '{column}' column (a survey written by galaxy-data synth has it)")
        n, _, size, _ = f["images"].shape
        parts = [measurements(f["images"][s:s + CHUNK].astype(np.float32)) for s in range(0, n, CHUNK)]
        y = f["type"][:].astype(np.int64)
        true_bulge = f["bulge_fraction"][:].astype(np.float64)[:, None]
    order = np.random.default_rng(seed).permutation(n)
    test, pool = order[:test_size], order[test_size:]
    if max(counts) > len(pool):
        raise ValueError(f"{max(counts)} labels is more than the {len(pool)} galaxies outside the test part")
    colours, morphology, profile = (np.concatenate(p) for p in zip(*parts))
    fitted_bulge = bulge_fraction_fit(profile, size)[:, None]
    correlation = float(np.corrcoef(fitted_bulge[:, 0], true_bulge[:, 0])[0, 1])
    rows = []
    for name, blocks in [("aperture colours", [colours]),
                         ("colours + morphology statistics", [colours, morphology]),
                         ("colours + ring profile", [colours, profile]),
                         ("colours + fitted bulge fraction", [colours, fitted_bulge]),
                         ("colours + true bulge fraction (catalog)", [colours, true_bulge])]:
        x = standardise(np.concatenate(blocks, 1).astype(np.float64))
        rows.append((name, [accuracy(x, y, pool[:c], test, 1e-2 if c < 2000 else 1e-4) for c in counts]))
    return rows, correlation


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="an HDF5 survey with images, type and bulge_fraction")
    parser.add_argument("--labels", default="426,40000", help="training label counts, comma-separated")
    parser.add_argument("--test", type=int, default=5000, help="galaxies in the test part")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = [int(c) for c in args.labels.split(",")]
    try:
        rows, correlation = type_information(args.data, counts, args.test, args.seed)
    except (OSError, ValueError) as e:
        sys.exit(f"type_information: {e}")
    print(f"bulge fraction of the fit against the true one: correlation {correlation:.2f}", file=sys.stderr)
    print("| features | " + " | ".join(f"{c} labels" for c in counts) + " |")
    print("| --- |" + " --- |" * len(counts))
    for name, scores in rows:
        print(f"| {name} | " + " | ".join(f"{s:.3f}" for s in scores) + " |")


if __name__ == "__main__":
    main()
