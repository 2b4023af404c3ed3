#!/usr/bin/env python3
"""bench/representation_readouts.py: its ROC AUC, its Mahalanobis distance (the indexer's
definition), and its tables on a small survey written here."""
import contextlib
import io
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import representation_readouts as rr  # noqa: E402


class ReadoutsTest(unittest.TestCase):
    def test_auc_is_the_share_of_pairs_ranked_right(self):
        score = np.array([0.1, 0.2, 0.3, 0.4, 0.35])
        positive = np.array([False, False, False, True, True])
        self.assertAlmostEqual(rr.auc(score, positive, ~positive), 1.0)
        self.assertAlmostEqual(rr.auc(-score, positive, ~positive), 0.0)
        mixed = np.array([False, True, False, True, False])
        # Positives 0.2 and 0.4 against negatives 0.1, 0.3, 0.35: 1 + 3 of 6 pairs.
        self.assertAlmostEqual(rr.auc(score, mixed, ~mixed), 4 / 6)

    def test_mahalanobis_scales_each_direction_by_its_spread(self):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(4000, 2)) * np.array([10.0, 0.1])
        d = rr.mahalanobis(np.vstack([x, [[10.0, 0.0], [0.0, 0.1]]]), shrinkage=1e-6)
        # One standard deviation along either axis is the same distance, ~1.
        self.assertAlmostEqual(d[-2], 1.0, delta=0.1)
        self.assertAlmostEqual(d[-1], 1.0, delta=0.1)
        self.assertAlmostEqual(np.median(d[:-2]), 2 * np.log(2), delta=0.1)  # chi-square, 2 dof

    def test_an_anomaly_in_either_part_stands_out_when_joined(self):
        rng = np.random.default_rng(1)
        n = 3000
        one = rng.normal(size=(n, 3)).astype(np.float32)
        eight = rng.normal(size=(n, 3)).astype(np.float32)
        kinds = np.zeros(n, dtype=int)
        kinds[:20], kinds[20:40] = 1, 2
        one[:20, 0] += 6  # kind 1 differs in the one view only
        eight[20:40, 1] += 6  # kind 2 in the average only
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rr.anomaly_table(kinds, one, eight, 0.01)
        rows = {line.split("|")[1].strip(): [float(c) for c in line.split("|")[2:-1]]
                for line in out.getvalue().splitlines()[2:]}
        self.assertGreater(rows["one view"][1], 0.95)  # merger column: kind 1
        self.assertLess(rows["one view"][2], 0.7)
        self.assertGreater(rows["the eight-view average"][2], 0.95)
        self.assertLess(rows["the eight-view average"][1], 0.7)
        self.assertGreater(min(rows["[one view, the average]"][1:3]), 0.95)
        self.assertTrue(np.isnan(rows["one view"][3]))  # no stars in this survey


if __name__ == "__main__":
    unittest.main()
