#!/usr/bin/env python3
"""Readouts of a frozen representation written by `galaxy-train quality --embeddings`:
anomaly scores of one view, of its average over the eight turns and mirrors, and of both joined,
per anomaly kind; and a linear probe of type from a few labels on standardised or whitened
features. docs/SCIENCE.md, "Anomalies on one view and its turn average" and "Where type lives".

    galaxy-train quality --model M --data survey.h5 --features stages --embeddings one.npy
    galaxy-train quality --model M --data survey.h5 --features stages --dihedral --embeddings eight.npy
    python3 bench/representation_readouts.py --data survey.h5 --one one.npy --eight eight.npy [--probe]

The Mahalanobis distance is the indexer's (core/whitening/catalog_whitening.h): the covariance of
up to 20,000 evenly spaced galaxies, shrunk by --shrinkage of its mean variance. Prints markdown.
"""
import argparse

import h5py
import numpy as np
import torch

from type_information import fit_softmax  # the same probe as bench/type_information.py

KINDS = {1: "merger", 2: "ring", 3: "star", 4: "trail"}


def auc(score, positive, negative):
    s = np.concatenate([score[positive], score[negative]])
    ranks = s.argsort().argsort().astype(np.float64) + 1
    n1, n0 = positive.sum(), negative.sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    return (ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


def mahalanobis(x, shrinkage, rows=20000):
    n, d = x.shape
    rows = min(n, rows)
    sample = x[(np.arange(rows) * n) // rows].astype(np.float64)
    cov = np.cov(sample, rowvar=False)
    cov += shrinkage * np.trace(cov) / d * np.eye(d)
    z = np.linalg.solve(np.linalg.cholesky(cov), (x - sample.mean(0)).T.astype(np.float64))
    return (z ** 2).sum(0)


def anomaly_table(kinds, one, eight, shrinkage):
    normal = kinds == 0
    print("| Mahalanobis distance of | all kinds | " + " | ".join(KINDS.values()) + " |")
    print("| --- " * (2 + len(KINDS)) + "|")
    for name, x in [("one view", one), ("the eight-view average", eight),
                    ("one view minus the average", one - eight), ("[one view, the average]", np.hstack([one, eight]))]:
        s = mahalanobis(x, shrinkage)
        cells = [auc(s, kinds != 0, normal)] + [auc(s, kinds == k, normal) for k in KINDS]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |", flush=True)


def probe_table(types, features, labels, draws, test_count):
    rng = np.random.default_rng(0)
    order = rng.permutation(len(types))
    test, pool = order[:test_count], order[test_count:]
    classes = int(types.max()) + 1
    grid = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
    print(f"\n| features | scaling | type accuracy, {labels} labels (mean +- std over {draws} draws) |\n| --- | --- | --- |")
    for name, x in features.items():
        reference = x[pool[::2]]
        for scaling in ["standardised", "whitened 1", "whitened 0.1", "whitened 0.01"]:
            if scaling == "standardised":
                mean, std = reference.mean(0), reference.std(0) + 1e-6
                transform = lambda v: (v - mean) / std  # noqa: E731
            else:
                shrinkage = float(scaling.split()[1])
                cov = np.cov(reference, rowvar=False)
                cov += shrinkage * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
                factor, mean = np.linalg.cholesky(cov), reference.mean(0)
                transform = lambda v: np.linalg.solve(factor, (v - mean).T).T  # noqa: E731
            accuracies = []
            for draw in range(draws):
                labelled = np.random.default_rng(100 + draw).choice(pool, labels, replace=False)
                xl, yl, xt = transform(x[labelled]), types[labelled], transform(x[test])
                fold = np.arange(labels) % 5  # the penalty by 5-fold cross-validation
                def cross_validated(p):
                    predict = [fit_softmax(xl[fold != i], yl[fold != i], classes, p, max_iter=300) for i in range(5)]
                    return np.mean([(predict[i](xl[fold == i]) == yl[fold == i]).mean() for i in range(5)])

                best = max(grid, key=cross_validated)
                accuracies.append((fit_softmax(xl, yl, classes, best, max_iter=300)(xt) == types[test]).mean())
            print(f"| {name} | {scaling} | {np.mean(accuracies):.3f} +- {np.std(accuracies):.3f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the survey (.h5) the embeddings were written from")
    parser.add_argument("--one", required=True, help="one view per galaxy (.npy, galaxies x dimensions)")
    parser.add_argument("--eight", required=True, help="the eight-view average (.npy, the same galaxies)")
    parser.add_argument("--shrinkage", type=float, default=0.01, help="of the anomaly score's covariance")
    parser.add_argument("--probe", action="store_true", help="also the linear probe of type")
    parser.add_argument("--labels", type=int, default=426, help="labelled galaxies of the probe")
    parser.add_argument("--draws", type=int, default=3, help="random label sets of the probe")
    parser.add_argument("--test", type=int, default=5000, help="test galaxies of the probe")
    args = parser.parse_args()
    one, eight = np.load(args.one), np.load(args.eight)
    if one.shape != eight.shape:
        raise SystemExit(f"--one is {one.shape} but --eight is {eight.shape}: not the same galaxies")
    with h5py.File(args.data, "r") as f:
        kinds = f["anomaly_kind"][: len(one)].astype(int)
        types = f["type"][: len(one)].astype(int)
    anomaly_table(kinds, one, eight, args.shrinkage)
    if args.probe:
        torch.set_num_threads(1)
        probe_table(types, {"one view": one, "eight-view average": eight,
                            "both": np.hstack([one, eight])}, args.labels, args.draws, args.test)


if __name__ == "__main__":
    main()
