"""Seed inputs for the file-reader fuzzers (deploy/fuzz.sh): small valid files as the readers
expect them, written without any FITS library (the format is 80-character header cards in
2880-byte blocks, big-endian data), except the tile-compressed ones (astropy).
    python3 data/fuzz_seeds/make_seeds.py npy DIR
    python3 data/fuzz_seeds/make_seeds.py fits DIR
    python3 data/fuzz_seeds/make_seeds.py pickle DIR   # data.pkl of torch.save files (needs torch)
"""
import io
import sys

import numpy as np


def npy(d):
    np.save(f"{d}/f4.npy", np.arange(60, dtype="<f4").reshape(3, 4, 5))
    np.save(f"{d}/f8.npy", np.arange(8, dtype="<f8"))
    np.save(f"{d}/i8.npy", np.array([1237648720693755918, -1], dtype="<i8"))
    np.save(f"{d}/rec.npy", np.zeros(2, dtype=[("objid", "<i8"), ("z", "<f4"), ("mag", "<f4", (5,))]))


def card(key, value=None):
    if value is None:
        text = key
    else:
        if isinstance(value, bool):
            v = "T" if value else "F"
        elif isinstance(value, str):
            v = "'" + value.ljust(8) + "'"
        else:
            v = str(value)
        text = key.ljust(8) + "= " + v.rjust(20)
    return text[:80].ljust(80).encode()


def padded(data, fill):
    return data + fill * (-len(data) % 2880)


def header(cards):
    return padded(b"".join(cards + [card("END")]), b" ")


def cube(n, bands=5, side=4, extend=True, keys=()):
    cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", 4), card("NAXIS1", side),
             card("NAXIS2", side), card("NAXIS3", bands), card("NAXIS4", n)]
    if extend:
        cards.append(card("EXTEND", True))
    cards += [card(k, v) for k, v in keys]
    return header(cards) + padded(np.arange(n * bands * side * side, dtype=">f4").tobytes(), b"\0")


def cutout(bands=5, side=4, keys=()):
    """One galaxy's cutout as a cutout service writes it: W x H x C (2 axes for one band), a TAN WCS,
    and `keys` (e.g. the bands' names)."""
    axes = [side, side] + ([bands] if bands > 1 else [])
    cards = [card("SIMPLE", True), card("BITPIX", -32), card("NAXIS", len(axes))]
    cards += [card(f"NAXIS{i}", a) for i, a in enumerate(axes, 1)]
    cards += [card("CTYPE1", "RA---TAN"), card("CTYPE2", "DEC--TAN"), card("CRVAL1", 150.1), card("CRVAL2", 2.2),
              card("CRPIX1", (side + 1) / 2), card("CRPIX2", (side + 1) / 2), card("CD1_1", -7.3e-5),
              card("CD2_2", 7.3e-5)]
    cards += [card(k, v) for k, v in keys]
    return header(cards) + padded(np.arange(bands * side * side, dtype=">f4").tobytes(), b"\0")


def table(n, tfields=None):
    rows = np.zeros(n, dtype=[("ObjID", ">i8"), ("z", ">f4"), ("ra", ">f8"), ("dec", ">f8"), ("mag", ">f4", (3,))])
    rows["ObjID"] = np.arange(n) + 1237648720693755918
    rows["z"], rows["ra"], rows["dec"] = 0.1, 180.0, 1.0
    forms = ["K", "E", "D", "D", "3E"]
    cards = [card("XTENSION", "BINTABLE"), card("BITPIX", 8), card("NAXIS", 2),
             card("NAXIS1", rows.dtype.itemsize), card("NAXIS2", n), card("PCOUNT", 0), card("GCOUNT", 1),
             card("TFIELDS", len(forms) if tfields is None else tfields)]
    for i, (name, form) in enumerate(zip(rows.dtype.names, forms), 1):
        cards += [card(f"TTYPE{i}", name), card(f"TFORM{i}", form)]
    return header(cards) + padded(rows.tobytes(), b"\0")


def fits(d):
    open(f"{d}/cube.fits", "wb").write(cube(3, extend=False))
    open(f"{d}/cube-table.fits", "wb").write(cube(3) + table(3))
    open(f"{d}/three-bands.fits", "wb").write(cube(2, bands=3) + table(2))
    open(f"{d}/cutout.fits", "wb").write(cutout())
    open(f"{d}/cutout-r.fits", "wb").write(cutout(bands=1))
    # Bands named in the header: reordered, picked, or checked against the name.
    reversed_names = [(f"BAND{i}", b) for i, b in enumerate("zirgu")]
    open(f"{d}/cube-named.fits", "wb").write(cube(2, keys=reversed_names) + table(2))
    open(f"{d}/cutout-named.fits", "wb").write(cutout(keys=[("BANDS", "zirgu")]))
    open(f"{d}/cutout-grz.fits", "wb").write(cutout(bands=3, keys=[(f"BAND{i}", b) for i, b in enumerate("grz", 1)]))
    open(f"{d}/cutout-filter-r.fits", "wb").write(cutout(bands=1, keys=[("FILTER", "SDSS-r")]))
    # Regressions from CI: a table declaring 110,000,000 columns (cfitsio filled 17.6 GB of column
    # descriptors while parsing its header; the fuzzer's out-of-memory stops in CI), and a good
    # stack and table followed by bytes that are no HDU (ingested: the walk stops at the table).
    open(f"{d}/regression-tfields.fits", "wb").write(cube(2) + table(2, tfields=110000000))
    open(f"{d}/regression-trailing.fits", "wb").write(cube(2) + table(2) + b"X" * 2880)
    # A table's NAXIS2 that is no integer, or has no value indicator, or a negative NAXIS1: cfitsio
    # sized its column descriptors from a count it had not read (9 x 10^13 columns).
    bad_rows = table(2).replace(card("NAXIS2", 2), card("NAXIS2", "mem://    2").replace(b"'", b" "))
    open(f"{d}/regression-naxis2.fits", "wb").write(cube(2) + bad_rows)
    no_indicator = table(2).replace(card("NAXIS2", 2), b"NAXIS2  2".ljust(80))
    open(f"{d}/regression-naxis2-no-value.fits", "wb").write(cube(2) + no_indicator)
    negative_width = table(2).replace(card("NAXIS1", 40), card("NAXIS1", -32))
    open(f"{d}/regression-table-naxis1.fits", "wb").write(cube(2) + negative_width)
    # Tile-compressed cutouts, as fpack writes survey images (.fits.fz); written with astropy.
    from astropy.io import fits as afits
    pixels = np.arange(5 * 8 * 8, dtype=np.float32).reshape(5, 8, 8)
    compressed = {}
    for kind in ("RICE_1", "GZIP_2"):
        hdu = afits.CompImageHDU(pixels, compression_type=kind)
        for key, value in [("CTYPE1", "RA---TAN"), ("CTYPE2", "DEC--TAN"), ("CRVAL1", 150.1), ("CRVAL2", 2.2),
                           ("CRPIX1", 4.5), ("CRPIX2", 4.5), ("CD1_1", -7.3e-5), ("CD2_2", 7.3e-5)]:
            hdu.header[key] = value
        out = io.BytesIO()
        afits.HDUList([afits.PrimaryHDU(), hdu]).writeto(out)
        compressed[kind] = out.getvalue()
        open(f"{d}/cutout-{kind.lower()}.fits", "wb").write(compressed[kind])
    # Regression: ZTILE1 = 0 (cfitsio divided by it: SIGFPE).
    tile0 = compressed["GZIP_2"].replace(card("ZTILE1", 8)[:30], card("ZTILE1", 0)[:30])  # value only
    assert tile0 != compressed["GZIP_2"]
    open(f"{d}/regression-ztile0.fits", "wb").write(tile0)
    # Regression: ZBITPIX = -64 over float32 tiles. cfitsio loses a tile buffer per tile
    # (deploy/lsan.supp names the leak; this seed makes every fuzz run check the suppression).
    zbitpix64 = compressed["RICE_1"].replace(card("ZBITPIX", -32)[:30], card("ZBITPIX", -64)[:30])
    assert zbitpix64 != compressed["RICE_1"]
    open(f"{d}/regression-zbitpix64.fits", "wb").write(zbitpix64)


def pickle(d):
    """The data.pkl of torch.save archives whose storages are 64 bytes each, as the unpickler's
    fuzzer (model/torch_pickle_fuzzer.cc) provides them: a state dict, a training checkpoint
    that holds one, a view with an offset, a parameter."""
    import collections
    import io
    import zipfile

    import torch

    state = collections.OrderedDict([("conv.weight", torch.randn(2, 2, 2, 2)), ("bn.running_mean", torch.zeros(16)),
                                     ("bn.num_batches_tracked", torch.arange(8)),
                                     ("fc.bias", torch.ones(8, dtype=torch.float64))])
    objects = {
        "state-dict": state,
        "checkpoint": {"state_dict": state, "epoch": 3, "arch": "resnet50",
                       "optimizer": {"state": {}, "param_groups": [{"lr": 0.03, "params": [0, 1]}]}},
        "view": {"v": torch.arange(16.0).view(4, 4)[1:, 1:]},
        "parameter": {"p": torch.nn.Parameter(torch.randn(16))},
    }
    for name, obj in objects.items():
        buffer = io.BytesIO()
        torch.save(obj, buffer)
        with zipfile.ZipFile(buffer) as archive:
            member = next(m for m in archive.namelist() if m.endswith("/data.pkl"))
            open(f"{d}/{name}.pkl", "wb").write(archive.read(member))


if __name__ == "__main__":
    {"npy": npy, "fits": fits, "pickle": pickle}[sys.argv[1]](sys.argv[2])
