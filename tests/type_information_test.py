#!/usr/bin/env python3
"""bench/type_information.py: its measurements, its bulge + disk fit, and the table on a small
survey written here."""
import os
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import type_information as ti  # noqa: E402


def sersic(size, radius, n, centre=None, ratio=1.0):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    cy, cx = centre if centre else ((size - 1) / 2, (size - 1) / 2)
    r = np.hypot((yy - cy) / ratio, xx - cx)
    b = 1.9992 * n - 0.3271
    return np.exp(-b * ((r / radius) ** (1 / n) - 1))


class MeasurementsTest(unittest.TestCase):
    def images(self, *planes):
        return np.stack([np.repeat(p[None], 5, 0) for p in planes]).astype(np.float32)

    def test_concentration_size_asymmetry_and_ellipticity_follow_the_image(self):
        compact = sersic(64, 2.0, 4)
        extended = sersic(64, 8.0, 1)
        lopsided = extended + 3 * sersic(64, 1.5, 1, centre=(31.5, 40.5))
        flat = sersic(64, 6.0, 1, ratio=0.4)
        _, morphology, _ = ti.measurements(self.images(compact, extended, lopsided, flat))
        concentration, log_radius, ellipticity, asymmetry = (morphology[:, i] for i in range(4))
        self.assertGreater(concentration[0], concentration[1])
        self.assertLess(log_radius[0], log_radius[1])
        self.assertLess(asymmetry[1], 0.01)  # point-symmetric
        self.assertGreater(asymmetry[2], 0.1)
        self.assertLess(ellipticity[1], 0.01)  # round
        self.assertGreater(ellipticity[3], 0.3)

    def test_colours_are_the_bands_magnitude_differences(self):
        plane = sersic(64, 4.0, 1)
        image = np.stack([plane * 10 ** (-0.4 * k) for k in range(5)])[None].astype(np.float32)
        colours, _, _ = ti.measurements(image)
        # Per aperture: r magnitude, then u-g, g-r, r-i, i-z (each -1 mag here).
        self.assertEqual(colours.shape, (1, 15))
        np.testing.assert_allclose(colours[0, 1:5], [-1, -1, -1, -1], atol=1e-4)


class BulgeDiskFitTest(unittest.TestCase):
    def test_recovers_the_bulge_fraction_of_a_profile_made_of_its_templates(self):
        bulges, disks, _ = ti.bulge_disk_templates(64)
        profiles = np.stack([f * bulges[3] + (1 - f) * disks[5] for f in (0.1, 0.4, 0.8)]) * 50
        np.testing.assert_allclose(ti.bulge_fraction_fit(profiles, 64), [0.1, 0.4, 0.8], atol=0.02)


class TableTest(unittest.TestCase):
    def survey(self, path, columns=("images", "type", "bulge_fraction")):
        rng = np.random.default_rng(3)
        n = 600
        kind = rng.integers(0, 2, n)
        plane = sersic(64, 3.0, 1)
        # Type 1 is bluer by 0.5 mag in every colour; noise makes it less than certain.
        images = np.stack([np.stack([plane * 10 ** (-0.4 * 0.5 * b * k) for b in range(5)]) for k in kind])
        images = images + rng.normal(0, 0.02, images.shape)
        with h5py.File(path, "w") as f:
            if "images" in columns:
                f["images"] = images.astype(np.float32)
            if "type" in columns:
                f["type"] = kind.astype(np.int32)
            if "bulge_fraction" in columns:
                f["bulge_fraction"] = (kind * 0.5 + rng.uniform(0, 0.1, n)).astype(np.float32)

    def test_colours_tell_the_types_apart(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "survey.h5")
            self.survey(path)
            rows, correlation = ti.type_information(path, [50, 400], test_size=150)
        self.assertEqual([name for name, _ in rows][0], "aperture colours")
        self.assertEqual(len(rows), 5)
        for name, scores in rows:
            self.assertEqual(len(scores), 2, name)
            self.assertGreater(scores[1], 0.9, name)
        self.assertTrue(-1 <= correlation <= 1)

    def test_names_what_is_missing(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "survey.h5")
            self.survey(path, columns=("images", "type"))
            with self.assertRaisesRegex(ValueError, "bulge_fraction"):
                ti.type_information(path, [50])
            self.survey(path)
            with self.assertRaisesRegex(ValueError, "more than the 450"):
                ti.type_information(path, [500], test_size=150)


if __name__ == "__main__":
    unittest.main()
