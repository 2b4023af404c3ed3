"""Answers as astronomers use them: tables with units, numpy images and a gallery in notebooks.

Every answer of the client wraps the protobuf message the server sent (its fields stay readable
as attributes, e.g. `answer.neighbors`, and the message itself is `answer.message`) and adds

- `to_table()`: an astropy QTable, one row per galaxy, ra/dec in deg, e_bv in mag, the
  percentile in percent, the embedding as one (n, d) column, the dataset's extra columns;
  unset values (a galaxy without a spectroscopic redshift) are NaN;
- `to_pandas()`: the same columns as a pandas DataFrame (units in `DataFrame.attrs["units"]`);
- `to_skycoord()`: the rows' positions as an astropy SkyCoord (ICRS);
- `images()`: the galaxies' cutouts, numpy float32 arrays bands x height x width (fetched from
  the server, several at a time);
- `gallery()` and, in a notebook, the answer's own display (`_repr_html_`): colour composites of
  the galaxies with their rank, ID and score.

astropy, pandas and Pillow (the gallery's PNGs) are imported only when those are used.
"""

import base64
import html
import io

import numpy as np

from ._proto import galaxy_pb2

# Units of the answers' columns, by field name (astropy unit strings).
_UNITS = {"ra": "deg", "dec": "deg", "e_bv": "mag", "anomaly_percentile": "percent"}

# Fields that become columns of their own or are not columns at all.
_NOT_COLUMNS = {"image", "galaxy", "status", "missing_shards"}


def _field_columns(messages, skip=()):
    """{name: numpy array} of the messages' fields, in the proto's order: scalars (enums by name,
    unset optional fields as NaN), repeated numbers as an (n, d) array when every message has d of
    them, and map<string, double> fields as one column per key."""
    columns = {}
    if not messages:
        return columns
    for field in messages[0].DESCRIPTOR.fields:
        name = field.name
        if name in skip or name in _NOT_COLUMNS:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            keys = sorted({key for m in messages for key in getattr(m, name)})
            for key in keys:
                columns[key] = np.array([getattr(m, name).get(key, np.nan) for m in messages], dtype=np.float64)
            continue
        if field.message_type is not None:
            continue
        if field.label == field.LABEL_REPEATED:
            lengths = {len(getattr(m, name)) for m in messages}
            if lengths == {0}:
                continue
            if len(lengths) == 1:
                columns[name] = np.array([list(getattr(m, name)) for m in messages], dtype=np.float32)
            else:
                columns[name] = np.array([np.array(getattr(m, name), dtype=np.float32) for m in messages],
                                         dtype=object)
            continue
        if field.enum_type is not None:
            names = field.enum_type.values_by_number
            columns[name] = np.array([names[getattr(m, name)].name if getattr(m, name) in names
                                      else str(getattr(m, name)) for m in messages])
        elif getattr(field, "has_presence", False):
            columns[name] = np.array([getattr(m, name) if m.HasField(name) else np.nan for m in messages],
                                     dtype=np.float64)
        else:
            columns[name] = np.array([getattr(m, name) for m in messages])
    return columns


def _record_columns(holders):
    """The columns of the `galaxy` records of Neighbors or RankedGalaxies; none unless every one
    carries its record (asked with include_metadata or include_embeddings)."""
    if not holders or not all(h.HasField("galaxy") for h in holders):
        return {}
    return _field_columns([h.galaxy for h in holders], skip=("id",))


def _to_table(columns, meta):
    try:
        from astropy.table import QTable
        import astropy.units as u
    except ImportError as e:
        raise ImportError("to_table() needs astropy (Debian: python3-astropy)") from e
    table = QTable(meta=dict(meta))
    for name, values in columns.items():
        unit = _UNITS.get(name)
        table[name] = values * u.Unit(unit) if unit and values.dtype.kind == "f" else values
    return table


def _to_pandas(columns, meta):
    try:
        import pandas as pd
    except ImportError as e:
        raise ImportError("to_pandas() needs pandas (Debian: python3-pandas)") from e
    frame = pd.DataFrame({name: list(v) if v.ndim > 1 else v for name, v in columns.items()})
    frame.attrs["units"] = {name: _UNITS[name] for name in columns if name in _UNITS}
    frame.attrs.update(meta)
    return frame


def default_bands(bands):
    """The bands (indices) shown as red, green, blue: i, r, g of ugriz (and of any image of 4 or
    more bands, the 4th, 3rd and 2nd); the last three of fewer (one band: grey)."""
    if bands >= 4:
        return 3, 2, 1
    return bands - 1, max(0, bands - 2), max(0, bands - 3)


def composite(cube, bands=None, scales=None, q=8.0, stretch=0.4):
    """An 8-bit RGB colour composite (height x width x 3, north up) of a cutout (bands x height x
    width, nanomaggies): the asinh stretch of Lupton et al. (2004, PASP 116, 133), which keeps
    colours true from the faint outskirts to the bright core, as galaxy-search's gallery and web
    explorer draw it. bands: (red, green, blue) band indices (default: default_bands); scales:
    their flux multipliers (default 1, 1.3, 2 for ugriz, equal otherwise); q: the softening;
    stretch: the linear stretch, nanomaggies."""
    a = np.asarray(cube, dtype=np.float32)
    if a.ndim != 3:
        raise ValueError(f"a cutout is bands x height x width; got shape {a.shape}")
    red, green, blue = default_bands(a.shape[0]) if bands is None else bands
    for b in (red, green, blue):
        if not 0 <= b < a.shape[0]:
            raise ValueError(f"composite band {b} is outside the image's {a.shape[0]} bands")
    if scales is None:
        scales = (1.0, 1.3, 2.0) if a.shape[0] >= 4 else (1.0, 1.0, 1.0)
    rgb = np.stack([np.maximum(np.nan_to_num(a[b]) * s, 0) for b, s in zip((red, green, blue), scales)], axis=-1)
    intensity = rgb.mean(axis=-1)
    positive = intensity > 0
    safe = np.where(positive, intensity, 1.0)
    rgb *= np.where(positive, np.arcsinh(q * safe / stretch) / (q * safe), 0.0)[..., None]
    brightest = rgb.max(axis=-1, keepdims=True)
    rgb = np.where(brightest > 1, rgb / np.maximum(brightest, 1e-30), rgb)  # clip keeping the hue
    return np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)[::-1]  # rows top to bottom: north up


def composite_png(cube, **options):
    """PNG bytes of composite(cube, **options)."""
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("the gallery needs Pillow (Debian: python3-pil)") from e
    out = io.BytesIO()
    Image.fromarray(composite(cube, **options), "RGB").save(out, format="PNG")
    return out.getvalue()


class Gallery:
    """Colour composites of galaxies as HTML: shown by notebooks, `.html` for a page of your own."""

    def __init__(self, tiles, note="", size=128, **options):
        """tiles: (cutout or None, caption lines) pairs; size: each image's width on the page, px;
        options: for composite()."""
        parts = ['<div class="galaxy-search-gallery" style="display:flex;flex-wrap:wrap;gap:8px;'
                 'font:12px/1.3 sans-serif">']
        for cube, caption in tiles:
            text = "<br>".join(html.escape(line) for line in caption)
            if cube is None:
                image = (f'<div style="width:{size}px;height:{size}px;background:#ddd;display:flex;'
                         'align-items:center;justify-content:center">no image</div>')
            else:
                uri = "data:image/png;base64," + base64.b64encode(composite_png(cube, **options)).decode("ascii")
                image = (f'<img src="{uri}" width="{size}" height="{size * cube.shape[1] // cube.shape[2]}" '
                         f'alt="{html.escape(caption[0])}" style="image-rendering:pixelated;display:block">')
            parts.append(f'<figure style="margin:0;width:{size}px;text-align:center">{image}'
                         f'<figcaption style="font-size:10px;overflow-wrap:anywhere">{text}</figcaption></figure>')
        parts.append("</div>")
        if note:
            parts.append(f'<div style="font:12px sans-serif;color:#555">{html.escape(note)}</div>')
        self.html = "".join(parts)
        self.count = sum(cube is not None for cube, _ in tiles)

    def _repr_html_(self):
        return self.html


class Answer:
    """A server's answer: the protobuf `message` (its fields readable as attributes of the
    answer), its rows as a sequence (len, iteration, indexing), and the table, image and
    gallery views of the module's documentation."""

    _row_label = "score"

    def __init__(self, message, rows, client=None, query=None):
        self.message = message
        self._rows = list(rows)
        self._client = client
        self.query = query

    def __getattr__(self, name):
        if name.startswith("__") or name == "message":
            raise AttributeError(name)
        return getattr(self.message, name)

    def __len__(self):
        return len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    def __getitem__(self, i):
        return self._rows[i]

    def __repr__(self):
        head = f"<{type(self).__name__}: {len(self)} rows{self._describe()}>"
        try:
            return head + "\n" + self.to_pandas().to_string(max_rows=20, max_cols=12)
        except ImportError:
            return head

    def _describe(self):
        version = getattr(self.message, "snapshot_version", "") if self.message is not None else ""
        return f", snapshot {version}" if version else ""

    def _meta(self):
        meta = {}
        if self.message is not None and getattr(self.message, "snapshot_version", ""):
            meta["snapshot_version"] = self.message.snapshot_version
        if self.query is not None:
            meta["query"] = self.query
        return meta

    def columns(self):
        """{name: numpy array}: the columns to_table() and to_pandas() are made of."""
        raise NotImplementedError

    def ids(self):
        """The rows' catalog IDs, a numpy int64 array."""
        return np.array([row.id for row in self._rows], dtype=np.int64)

    def to_table(self):
        """The rows as an astropy QTable with units (ra, dec in deg); meta: the snapshot version."""
        return _to_table(self.columns(), self._meta())

    def to_pandas(self):
        """The rows as a pandas DataFrame (an embedding column holds one array per row)."""
        return _to_pandas(self.columns(), self._meta())

    def to_skycoord(self):
        """The rows' positions as an astropy SkyCoord (ICRS); needs the records' metadata."""
        columns = self.columns()
        if "ra" not in columns:
            raise ValueError("these rows carry no positions (asked with include_metadata=False?)")
        from astropy.coordinates import SkyCoord
        import astropy.units as u
        return SkyCoord(columns["ra"] * u.deg, columns["dec"] * u.deg, frame="icrs")

    def images(self, progress=False):
        """The rows' cutouts (numpy float32, bands x height x width), in row order, fetched with
        GetGalaxy(include_image) from the server that answered."""
        if self._client is None:
            raise ValueError("this answer has no client to fetch images with")
        return [g.image for g in self._client._image_fetcher()(list(self.ids()), progress)]

    def _captions(self):
        return [[f"#{i + 1} {row.id}"] for i, row in enumerate(self._rows)]

    def gallery(self, n=12, size=128, **options):
        """The first `n` rows (and the query galaxy, when the query was a catalog ID) as colour
        composites with their captions: a Gallery, which notebooks display. size: each image's
        width on the page, px; options: for composite() (bands, scales, q, stretch)."""
        if self._client is None:
            raise ValueError("this answer has no client to fetch images with")
        rows, captions = self._rows[:n], self._captions()[:n]
        ids = [row.id for row in rows]
        if isinstance(self.query, (int, np.integer)):
            ids.insert(0, int(self.query))
            captions.insert(0, ["query", str(self.query)])
        fetched = {g.id: g.image for g in self._client._image_fetcher()(ids, False)}
        tiles = [(fetched.get(i), caption) for i, caption in zip(ids, captions)]
        note = f"the first {len(rows)} of {len(self)}; to_table() has them all" if len(self) > len(rows) else ""
        return Gallery(tiles, note, size, **options)

    def _repr_html_(self):
        if self._client is None or len(self) == 0:
            return self._table_html()
        try:
            return self.gallery()._repr_html_()
        except Exception as e:  # a notebook's display must not raise; say why there is no gallery
            return f"<p>no gallery ({html.escape(str(e))})</p>" + self._table_html()

    def _table_html(self):
        try:
            return self.to_pandas().to_html(max_rows=20)
        except ImportError:
            return "<pre>" + html.escape(str(self.message)) + "</pre>"


def _z_text(record):
    if record.HasField("specz"):
        return f"z {record.specz:.3f}"
    if record.HasField("zphot"):
        return f"z_phot {record.zphot:.3f}"
    return ""


class _Ranked(Answer):
    """Rows that carry a rank, an id, a score of their own and maybe the galaxy's record."""

    def columns(self):
        columns = _field_columns(self._rows, skip=("galaxy",))
        out = {"rank": columns.pop("rank")} if "rank" in columns else {}
        out.update(columns)
        out.update(_record_columns(self._rows))
        return out


class Neighbors(_Ranked):
    """Galaxies ranked by similarity (SimilarGalaxies, Recommend, ScoreAnomaly's neighbours):
    columns rank, id, score (cosine similarity), then the neighbours' records."""

    def _captions(self):
        return [[f"#{n.rank} {n.id}", " ".join(filter(None, [f"score {n.score:.3f}", _z_text(n.galaxy)]))]
                for n in self._rows]


class Ranking(_Ranked):
    """A few-shot ranking (RankByExamples): columns rank, id, probability, then the records;
    `classifier` and `total_count` as the server gave them."""

    def _captions(self):
        return [[f"#{g.rank} {g.id}", " ".join(filter(None, [f"p {g.probability:.3f}", _z_text(g.galaxy)]))]
                for g in self._rows]


class Galaxy(Answer):
    """One galaxy's record (GetGalaxy): its fields as attributes, `image` as a numpy array
    (bands x height x width, float32; None unless asked for with include_image), a one-row
    table, and its cutout with its figures in a notebook."""

    def __init__(self, record, client=None):
        super().__init__(record, [record], client)

    @property
    def image(self):
        """The cutout as a numpy float32 array, bands x height x width (None when not fetched)."""
        if not self.message.HasField("image"):
            return None
        from .client import to_array
        return to_array(self.message.image)

    def _describe(self):
        return f", galaxy {self.message.id}"

    def columns(self):
        return _field_columns([self.message])

    def _repr_html_(self):
        cube = self.image
        caption = [str(self.message.id), f"ra {self.message.ra:.5f} dec {self.message.dec:.5f}", _z_text(self.message),
                   f"anomaly {self.message.anomaly_percentile:.1f} %"]
        if cube is None:
            return self._table_html()
        return Gallery([(cube, [line for line in caption if line])], size=160)._repr_html_()


class Galaxies(Answer):
    """Galaxy records in order (GetGalaxy for many IDs, ListAnomalies): each row a Galaxy
    (`answer[0].image`); columns rank (1-based), id and the records' fields, and for a listing
    re-ranked by labels, adjusted_score."""

    def __init__(self, message, records, client=None, adjusted_scores=()):
        super().__init__(message, [r if isinstance(r, Galaxy) else Galaxy(r, client) for r in records], client)
        self._adjusted = list(adjusted_scores)

    def columns(self):
        out = {"rank": np.arange(1, len(self) + 1), "id": self.ids()}
        out.update(_field_columns([g.message for g in self._rows], skip=("id",)))
        if len(self._adjusted) == len(self):
            out["adjusted_score"] = np.array(self._adjusted, dtype=np.float32)
        return out

    def images(self, progress=False):
        """The cutouts in row order: those fetched already, the rest from the server."""
        if all(g.image is not None for g in self._rows):
            return [g.image for g in self._rows]
        return super().images(progress)

    def _captions(self):
        return [[f"#{i + 1} {g.id}", " ".join(filter(None, [f"anomaly {g.anomaly_percentile:.1f} %", _z_text(g)]))]
                for i, g in enumerate(self._rows)]


class Redshifts(Answer):
    """Photometric redshifts (PredictRedshift): columns id, z_phot, z_phot_err, status_code,
    status_message and, when asked for, pdf (n x bins); `z_grid()` gives the pdf's bin centres."""

    def columns(self):
        out = _field_columns(self._rows)
        out["status_code"] = np.array([p.status.code for p in self._rows], dtype=np.int32)
        out["status_message"] = np.array([p.status.message for p in self._rows])
        if "pdf" in out:
            out["pdf"] = out.pop("pdf")
        return out

    def z_grid(self):
        """Centres of the pdf's bins (numpy)."""
        b = self.message.binning
        width = (b.z_max - b.z_min) / b.bins
        return b.z_min + width * (np.arange(b.bins) + 0.5)

    def _repr_html_(self):
        return self._table_html()


class Labels(Answer):
    """Labels (ListLabels, AddLabels): columns galaxy_id, class_name, interest, comment, author,
    created_ms (milliseconds since 1970, UTC) and created (a pandas-friendly datetime64)."""

    def ids(self):
        return np.array([label.galaxy_id for label in self._rows], dtype=np.int64)

    def columns(self):
        out = _field_columns(self._rows)
        if "created_ms" in out:
            out["created"] = out["created_ms"].astype("datetime64[ms]")
        return out

    def _repr_html_(self):
        return self._table_html()
