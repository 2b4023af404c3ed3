// What people type and upload, turned into API messages: sky positions (degrees or
// sexagesimal) and cutout files (.npy, FITS) as galaxy.v1.Image.

// Degrees of "150.1172", "10:00:28.13" or "10h00m28.13s" (hours when `hours`), "+02:12:21.5",
// "2d12m21.5s". NaN when it is none of those.
function angle(text, hours) {
  const t = text.trim();
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  const m = /^([+-]?)(\d+)[:hHdD°\s](\d+)[:mM'\s](\d+(?:\.\d*)?)[sS"]?$/.exec(t);
  if (!m) return NaN;
  const [a, b, c] = [Number(m[2]), Number(m[3]), Number(m[4])];
  if (b >= 60 || c >= 60) return NaN;
  const value = (a + b / 60 + c / 3600) * (hours ? 15 : 1);
  return m[1] === '-' ? -value : value;
}

// {ra, dec} in degrees from "RA Dec": "150.1172 2.2059", "150.1172, 2.2059",
// "10:00:28.13 +02:12:21.5", "10h00m28.13s +2d12m21.5s" or "10 00 28.13 +02 12 21.5"
// (sexagesimal RA in hours). Throws an Error naming what is wrong.
export function parsePosition(text) {
  const tokens = text.trim().split(/[\s,]+/).filter((s) => s.length > 0);
  let ra;
  let dec;
  if (tokens.length === 2) {
    ra = angle(tokens[0], /[:hH]/.test(tokens[0]));
    dec = angle(tokens[1], false);
  } else if (tokens.length === 6) {
    ra = angle(tokens.slice(0, 3).join(':'), true);
    dec = angle(tokens.slice(3).join(':'), false);
  } else {
    throw new Error(`position "${text}": give RA and Dec, in degrees or as h:m:s and d:m:s`);
  }
  if (!(ra >= 0 && ra < 360)) throw new Error(`position "${text}": RA is not an angle in [0, 360) degrees`);
  if (!(dec >= -90 && dec <= 90)) throw new Error(`position "${text}": Dec is not an angle in [-90, 90] degrees`);
  return { ra, dec };
}

// "hh:mm:ss.ss +dd:mm:ss.s" of a position in degrees.
export function sexagesimal(ra, dec) {
  const part = (value, decimals) => {
    const whole = Math.floor(value);
    const minutes = Math.floor((value - whole) * 60);
    const seconds = ((value - whole) * 60 - minutes) * 60;
    const s = seconds.toFixed(decimals).padStart(3 + decimals, '0');
    return `${String(whole).padStart(2, '0')}:${String(minutes).padStart(2, '0')}:${s}`;
  };
  return `${part(((ra % 360) + 360) % 360 / 15, 2)} ${dec < 0 ? '-' : '+'}${part(Math.abs(dec), 1)}`;
}

// The band of each plane as typed: "g,r,z" or "HSC-G, HSC-R, HSC-I" (commas), "g r z" (spaces)
// or "grz" (a letter a plane), as the clients' --bands and bands= read them; [] for nothing typed.
export function parseBandNames(text) {
  const t = text.trim();
  if (!t) return [];
  let names;
  if (t.includes(',')) names = t.split(',').map((s) => s.trim());
  else if (/\s/.test(t)) names = t.split(/\s+/);
  else names = [...t];
  if (names.some((s) => !s)) throw new Error(`bands "${text}": a name is empty (type "grz" or "g,r,z")`);
  return names;
}

// Which of `wanted` the band name `value` denotes, or -1 for none or more than one, by the
// server's rule (BandNamed, data/band_match.h): `value` equal to one ignoring case, or else
// exactly one band among its words, split at spaces and - _ . , : with trailing digits dropped
// ("HSC-G", "SDSS r", "g DECam SDSS c0001 4720.0 1520.0").
export function bandNamed(value, wanted) {
  const lower = wanted.map((w) => w.toLowerCase());
  const whole = lower.indexOf(value.toLowerCase());
  if (whole >= 0) return whole;
  let found = -1;
  for (let word of value.split(/[ \-_.,:]/).filter(Boolean)) {
    word = word.replace(/(?<=.)\d+$/, '').toLowerCase();
    lower.forEach((w, b) => {
      if (w !== word) return;
      found = found >= 0 && found !== b ? -2 : b;
    });
    if (found === -2) return -1;
  }
  return found;
}

// `image` (from `name`) with its planes named `names` (parseBandNames): as many as its planes, and
// the same bands as any its file gave (which it keeps), as galaxy-client's --bands.
export function nameBands(image, name, names) {
  if (!names.length) return image;
  if (names.length !== image.bands) {
    throw new Error(`bands ${names.join(', ')}: ${names.length} names for ${name}'s ${image.bands} planes`);
  }
  const own = image.bandNames;
  if (own && own.length) {
    const differ = own.findIndex((b, i) => bandNamed(names[i], [b]) !== 0 && bandNamed(b, [names[i]]) !== 0);
    if (differ >= 0) {
      throw new Error(`bands ${names.join(', ')}: plane ${differ} of ${name} is ${own[differ]} by the file's own ` +
        `names (${own.join(', ')}); clear the bands field`);
    }
    return image;
  }
  return { ...image, bandNames: names };
}

function base64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(text);
}

// The Image message of a bands x height x width float array (the first cutout of a stack), with
// the planes' band names when the file gives them (the server then picks the model's by name).
function toImage(name, shape, values, bandNames = []) {
  let dims = shape.slice();
  if (dims.length === 4) dims = dims.slice(1);
  if (dims.length === 2) dims = [1, ...dims];
  if (dims.length !== 3) {
    throw new Error(`${name}: an array of shape (${shape.join(', ')}) is not bands x height x width`);
  }
  const n = dims[0] * dims[1] * dims[2];
  const pixels = new Float32Array(n);
  for (let i = 0; i < n; ++i) pixels[i] = values(i);
  const image = {
    bands: dims[0], height: dims[1], width: dims[2], dtype: 'DTYPE_FLOAT32',
    data: base64(new Uint8Array(pixels.buffer)),
  };
  if (bandNames.length === dims[0]) image.bandNames = bandNames;
  return image;
}

const NPY_TYPES = {
  f4: [4, 'getFloat32'], f8: [8, 'getFloat64'], i2: [2, 'getInt16'], i4: [4, 'getInt32'],
  u1: [1, 'getUint8'], u2: [2, 'getUint16'],
};

// A .npy file (format 1-3, C order, float32/64 or integers) as an Image message.
export function parseNpy(name, buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(1, 6));
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new Error(`${name}: not a .npy file`);
  const view = new DataView(buffer);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([<>|=])([a-z]\d+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape) throw new Error(`${name}: unreadable .npy header`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${name}: Fortran-ordered arrays are not supported`);
  const type = NPY_TYPES[descr[2]];
  if (!type) throw new Error(`${name}: dtype ${descr[2]} is not a number type this page reads`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const little = descr[1] !== '>';
  const offset = start + headerLength;
  const count = dims.reduce((a, b) => a * b, 1);
  if (offset + count * type[0] > buffer.byteLength) {
    throw new Error(`${name}: truncated: ${count} values need ${offset + count * type[0]} bytes, the file has ${buffer.byteLength}`);
  }
  return toImage(name, dims, (i) => view[type[1]](offset + i * type[0], little));
}

const FITS_BLOCK = 2880;
const FITS_TYPES = { 8: [1, 'getUint8'], 16: [2, 'getInt16'], 32: [4, 'getInt32'], '-32': [4, 'getFloat32'], '-64': [8, 'getFloat64'] };

// The bands a FITS header's cards name for `planes` image planes, as galaxy-data ingest reads
// them: BAND0.. (or BAND1..), else BANDS ("grz" or "g,r,z"), else FILTER or BAND for one plane.
// [] when they name none.
export function fitsBandNames(cards, planes) {
  for (const first of [0, 1]) {
    const names = [];
    for (let b = 0; b < planes && cards['BAND' + (b + first)]; ++b) names.push(cards['BAND' + (b + first)]);
    if (names.length === planes) return names;
  }
  if (cards.BANDS) {
    let names = cards.BANDS.split(/[, ]+/).filter((s) => s.length > 0);
    if (names.length === 1 && planes > 1 && cards.BANDS.length === planes) names = [...cards.BANDS];
    if (names.length === planes) return names;
  }
  if (planes === 1) {
    for (const key of ['FILTER', 'BAND']) if (cards[key]) return [cards[key]];
  }
  return [];
}

// The first FITS image HDU with data (axes width, height[, bands[, stack]]) as an Image message,
// with the band names its header (or else the primary header) gives.
export function parseFits(name, buffer) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  if (bytes.length < FITS_BLOCK || String.fromCharCode(...bytes.subarray(0, 9)) !== 'SIMPLE  =') {
    throw new Error(`${name}: not a FITS file`);
  }
  let position = 0;
  let primary = {};
  while (position + FITS_BLOCK <= bytes.length) {
    const cards = {};
    let end = false;
    while (!end) {
      if (position + FITS_BLOCK > bytes.length) throw new Error(`${name}: truncated FITS header`);
      for (let i = 0; i < FITS_BLOCK; i += 80) {
        const card = String.fromCharCode(...bytes.subarray(position + i, position + i + 80));
        const key = card.slice(0, 8).trim();
        if (key === 'END') {
          end = true;
          break;
        }
        if (card[8] === '=') cards[key] = card.slice(10).split('/')[0].trim().replace(/^'|'$/g, '').trim();
      }
      position += FITS_BLOCK;
    }
    if (position === FITS_BLOCK && cards.SIMPLE !== 'T') throw new Error(`${name}: not a standard FITS file (SIMPLE = F)`);
    if (cards.SIMPLE !== undefined) primary = cards;
    const bitpix = Number(cards.BITPIX);
    const naxis = Number(cards.NAXIS || 0);
    const axes = [];
    for (let i = 1; i <= naxis; ++i) axes.push(Number(cards['NAXIS' + i]));
    const count = naxis === 0 ? 0 : axes.reduce((a, b) => a * b, 1);
    const size = (Math.abs(bitpix) / 8) * (Number(cards.GCOUNT || 1) * (count + Number(cards.PCOUNT || 0)));
    const isImage = position === FITS_BLOCK || cards.XTENSION === 'IMAGE';
    if (isImage && count > 0) {
      const type = FITS_TYPES[String(bitpix)];
      if (!type) throw new Error(`${name}: BITPIX ${bitpix} is not a FITS image type`);
      if (position + count * type[0] > bytes.length) throw new Error(`${name}: truncated FITS data`);
      const scale = Number(cards.BSCALE || 1);
      const zero = Number(cards.BZERO || 0);
      const start = position;
      const planes = naxis >= 3 ? axes[2] : 1;
      const named = fitsBandNames(cards, planes);
      return toImage(name, axes.slice().reverse(), (i) => view[type[1]](start + i * type[0], false) * scale + zero,
        named.length > 0 ? named : fitsBandNames(primary, planes));
    }
    position += Math.ceil(size / FITS_BLOCK) * FITS_BLOCK;
  }
  throw new Error(`${name}: no image HDU with data`);
}

// An uploaded File as an Image message, by its extension.
export async function parseImageFile(file) {
  const buffer = await file.arrayBuffer();
  const lower = file.name.toLowerCase();
  if (lower.endsWith('.npy')) return parseNpy(file.name, buffer);
  if (/\.(fits|fit|fts)$/.test(lower)) return parseFits(file.name, buffer);
  throw new Error(`${file.name}: give a .npy or .fits cutout (bands x height x width)`);
}
