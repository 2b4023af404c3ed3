"""The ingest as a research script would do it: astropy and h5py on the inputs that
`galaxy-bench ingest --dir DIR` wrote, into the same native layout (images N x C x H x W float32,
ObjID, ra, dec, e_bv, specz_redshift), in blocks of 64 MB. Galaxies per second, the median of
three runs each, as JSON with the keys of `galaxy-bench ingest --json`.

    /usr/bin/python3 bench/ingest_baseline.py DIR

It checks nothing a file could get wrong (units, band order, NaN, duplicate IDs) and writes in
place: the figure is the cost of the I/O and the conversion alone.
"""
import csv
import json
import os
import statistics
import sys
import time

import h5py
import numpy as np
from astropy.io import fits


def write_native(path, count, shape, blocks):
    """Writes `blocks` (an iterable of (images, ids, ra, dec, e_bv, z) arrays) to a native file."""
    with h5py.File(path, "w") as f:
        images = f.create_dataset("images", (count,) + shape, dtype="<f4")
        columns = {name: f.create_dataset(name, (count,), dtype=dtype)
                   for name, dtype in (("ObjID", "<i8"), ("ra", "<f8"), ("dec", "<f8"), ("e_bv", "<f4"),
                                       ("specz_redshift", "<f4"))}
        start = 0
        for block in blocks:
            n = len(block[0])
            images[start:start + n] = block[0]
            for dataset, values in zip(columns.values(), block[1:]):
                dataset[start:start + n] = values
            start += n
    return start


def step_of(shape):
    return max(1, (64 << 20) // (4 * int(np.prod(shape))))


def copy(d, out):
    with h5py.File(f"{d}/survey.h5", "r") as f:
        images = f["images"]
        n, shape = images.shape[0], images.shape[1:]
        step = step_of(shape)
        blocks = ((images[s:s + step], f["ObjID"][s:s + step], f["ra"][s:s + step], f["dec"][s:s + step],
                   f["e_bv"][s:s + step], f["specz_redshift"][s:s + step]) for s in range(0, n, step))
        return write_native(out, n, shape, blocks)


def cutouts(d, out):
    with open(f"{d}/catalog.csv") as f:
        rows = {int(r["objid"]): r for r in csv.DictReader(f)}
    files = sorted(os.listdir(f"{d}/cutouts"))
    first = fits.getdata(f"{d}/cutouts/{files[0]}")
    step = step_of(first.shape)

    def blocks():
        for s in range(0, len(files), step):
            names = files[s:s + step]
            images = np.stack([fits.getdata(f"{d}/cutouts/{name}").astype("<f4") for name in names])
            ids = np.array([int(name.split(".")[0]) for name in names], dtype="<i8")
            cat = [rows[i] for i in ids]
            yield (images, ids, [float(r["ra"]) for r in cat], [float(r["dec"]) for r in cat],
                   [float(r["ebv"]) for r in cat], [float(r["z"]) for r in cat])
    return write_native(out, len(files), first.shape, blocks())


def stack(d, out):
    with fits.open(f"{d}/stack.fits", memmap=True) as hdus:
        cube, table = hdus[0].data, hdus[1].data
        n, shape = cube.shape[0], cube.shape[1:]
        step = step_of(shape)
        blocks = ((cube[s:s + step].astype("<f4"), table["ObjID"][s:s + step], table["RA"][s:s + step],
                   table["DEC"][s:s + step], table["EBV"][s:s + step], table["Z"][s:s + step])
                  for s in range(0, n, step))
        return write_native(out, n, shape, blocks)


def foreign(d, out):
    with h5py.File(f"{d}/foreign.h5", "r") as f:
        cube = f["cube"]
        n, shape = cube.shape[0], (cube.shape[3], cube.shape[1], cube.shape[2])
        step = step_of(shape)
        blocks = ((np.ascontiguousarray(cube[s:s + step].transpose(0, 3, 1, 2)), f["objid"][s:s + step],
                   f["ra"][s:s + step], f["dec"][s:s + step], f["ebv"][s:s + step], f["z"][s:s + step])
                  for s in range(0, n, step))
        return write_native(out, n, shape, blocks)


def median_rate(run, d):
    out = f"{d}/baseline_out.h5"
    rates = []
    for _ in range(3):
        start = time.perf_counter()
        n = run(d, out)
        rates.append(n / (time.perf_counter() - start))
    os.remove(out)
    return statistics.median(rates)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    d = sys.argv[1]
    result = {"benchmark": "ingest_baseline", "python": sys.version.split()[0], "h5py": h5py.__version__,
              "astropy": __import__("astropy").__version__}
    for key, run in (("copy_per_s", copy), ("cutouts_per_s", cutouts), ("stack_per_s", stack),
                     ("hdf5_per_s", foreign)):
        result[key] = round(median_rate(run, d), 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
