// Unit tests of the explorer's input parsing (web/parse.js) under Node: positions, .npy and FITS.
//   node --test tests/browser/parse_test.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bandNamed, fitsBandNames, nameBands, parseBandNames, parseFits, parseNpy, parsePosition, sexagesimal,
} from '../../web/parse.js';

function close(actual, expected, tolerance) {
  assert.ok(Math.abs(actual - expected) < tolerance, `${actual} is not within ${tolerance} of ${expected}`);
}

function floats(image) {
  const bytes = Buffer.from(image.data, 'base64');
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
}

test('positions in degrees and sexagesimal', () => {
  assert.deepEqual(parsePosition('150.1172 2.2059'), { ra: 150.1172, dec: 2.2059 });
  assert.deepEqual(parsePosition(' 150.1172, -2.2059 '), { ra: 150.1172, dec: -2.2059 });
  const p = parsePosition('10:00:28.13 +02:12:21.5');
  close(p.ra, (10 + 0 / 60 + 28.13 / 3600) * 15, 1e-9);
  close(p.dec, 2 + 12 / 60 + 21.5 / 3600, 1e-9);
  const q = parsePosition('10h00m28.13s -2d12m21.5s');
  close(q.ra, p.ra, 1e-9);
  close(q.dec, -p.dec, 1e-9);
  const r = parsePosition('10 00 28.13 -00 12 21.5');
  close(r.dec, -(12 / 60 + 21.5 / 3600), 1e-9);  // the sign of a zero degree still counts
  const back = parsePosition(sexagesimal(p.ra, p.dec));
  close(back.ra, p.ra, 0.01 * 15 / 3600);
  close(back.dec, p.dec, 0.1 / 3600);
});

test('positions that are not positions say why', () => {
  assert.throws(() => parsePosition('150'), /give RA and Dec/);
  assert.throws(() => parsePosition('361 0'), /RA is not an angle/);
  assert.throws(() => parsePosition('10 95'), /Dec is not an angle/);
  assert.throws(() => parsePosition('10:61:00 +02:00:00'), /RA is not an angle/);
  assert.throws(() => parsePosition('ten two'), /RA is not an angle/);
});

function npy(descr, shape, values, Type) {
  const header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')},), }`;
  const padded = header.padEnd(Math.ceil((10 + header.length + 1) / 64) * 64 - 10 - 1) + '\n';
  const head = Buffer.alloc(10);
  head[0] = 0x93;
  head.write('NUMPY', 1, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(padded.length, 8);
  const data = Buffer.from(new Type(values).buffer);
  return new Uint8Array(Buffer.concat([head, Buffer.from(padded, 'latin1'), data])).buffer;
}

test('.npy float32 and float64 cubes become float32 images', () => {
  const values = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 0.5 - 3);
  for (const [descr, Type] of [['<f4', Float32Array], ['<f8', Float64Array]]) {
    const image = parseNpy('cube.npy', npy(descr, [2, 3, 4], values, Type));
    assert.equal(image.bands, 2);
    assert.equal(image.height, 3);
    assert.equal(image.width, 4);
    assert.equal(image.dtype, 'DTYPE_FLOAT32');
    assert.deepEqual([...floats(image)], values);
  }
  const stack = parseNpy('stack.npy', npy('<f4', [2, 1, 2, 2], [1, 2, 3, 4, 5, 6, 7, 8], Float32Array));
  assert.deepEqual([stack.bands, stack.height, stack.width], [1, 2, 2]);
  assert.deepEqual([...floats(stack)], [1, 2, 3, 4]);  // the first cutout of a stack
});

test('bad .npy files say what is wrong', () => {
  assert.throws(() => parseNpy('x.npy', new Uint8Array(20).buffer), /not a .npy file/);
  const full = npy('<f4', [2, 3, 4], new Array(24).fill(1), Float32Array);
  assert.throws(() => parseNpy('cut.npy', full.slice(0, full.byteLength - 8)), /truncated/);
  assert.throws(() => parseNpy('s.npy', npy('<f4', [5], [1, 2, 3, 4, 5], Float32Array)), /not bands x height x width/);
  assert.throws(() => parseNpy('c.npy', npy('<c8', [1, 1, 1], [0, 0], Float32Array)), /dtype c8/);
});

function card(text) {
  return text.padEnd(80);
}

// `keys`: string keywords of the image's header, e.g. { BANDS: 'grz' }; `primaryKeys`: of an
// extension file's primary header.
function fits(bitpix, axes, values, extension, keys = {}, primaryKeys = {}) {
  const keyCards = (k) => Object.entries(k).map(([key, value]) => card(`${key.padEnd(8)}= '${value.padEnd(8)}'`));
  const header = (first) => {
    const cards = first ? [card('SIMPLE  =                    T')] : [card("XTENSION= 'IMAGE   '")];
    cards.push(card(`BITPIX  = ${String(bitpix).padStart(20)}`), card(`NAXIS   = ${String(axes.length).padStart(20)}`));
    axes.forEach((n, i) => cards.push(card(`NAXIS${i + 1}  = ${String(n).padStart(20)}`)));
    if (bitpix === 16) cards.push(card('BSCALE  =                  0.5'), card('BZERO   =                  1.0'));
    cards.push(...keyCards(keys));
    cards.push(card('END'));
    return Buffer.from(cards.join('').padEnd(Math.ceil(cards.length / 36) * 2880), 'latin1');
  };
  const size = Math.abs(bitpix) / 8;
  const data = Buffer.alloc(Math.ceil((values.length * size) / 2880) * 2880);
  values.forEach((v, i) => (bitpix === -32 ? data.writeFloatBE(v, i * 4) : data.writeInt16BE(v, i * 2)));
  const parts = extension
    ? [Buffer.from([card('SIMPLE  =                    T'), card('BITPIX  =                    8'), card('NAXIS   =                    0'),
      card('EXTEND  =                    T'), ...keyCards(primaryKeys), card('END')].join('').padEnd(2880), 'latin1'),
    header(false), data]
    : [header(true), data];
  return new Uint8Array(Buffer.concat(parts)).buffer;
}

test('FITS cubes (primary or image extension, float or scaled integers) become images', () => {
  const values = Array.from({ length: 3 * 2 * 2 }, (_, i) => i - 4.25);
  // FITS axes are width, height, bands: the data are bands x height x width in C order.
  const primary = parseFits('cube.fits', fits(-32, [2, 2, 3], values, false));
  assert.deepEqual([primary.bands, primary.height, primary.width], [3, 2, 2]);
  assert.deepEqual([...floats(primary)], values);
  const extension = parseFits('ext.fits', fits(-32, [2, 2, 3], values, true));
  assert.deepEqual([...floats(extension)], values);
  const scaled = parseFits('int.fits', fits(16, [2, 1, 1], [4, -2], false));
  assert.deepEqual([...floats(scaled)], [3, 0]);  // 0.5 * v + 1
});

test('FITS headers that name the bands send them, as the ingest reads them', () => {
  const values = new Array(3 * 4).fill(1);
  assert.equal(parseFits('plain.fits', fits(-32, [2, 2, 3], values, false)).bandNames, undefined);
  assert.deepEqual(parseFits('grz.fits', fits(-32, [2, 2, 3], values, false, { BANDS: 'grz' })).bandNames, ['g', 'r', 'z']);
  const legacy = { BAND0: 'z', BAND1: 'r', BAND2: 'g' };
  assert.deepEqual(parseFits('zrg.fits', fits(-32, [2, 2, 3], values, true, legacy)).bandNames, ['z', 'r', 'g']);
  const hsc = fits(-32, [2, 2], values.slice(0, 4), true, {}, { FILTER: 'HSC-G' });
  assert.deepEqual(parseFits('hsc.fits', hsc).bandNames, ['HSC-G']);  // from the primary header
  assert.equal(parseFits('two.fits', fits(-32, [2, 2, 3], values, false, { BANDS: 'g,r' })).bandNames, undefined);
  assert.deepEqual(fitsBandNames({ BAND1: 'g', BAND2: 'r' }, 2), ['g', 'r']);
  assert.deepEqual(fitsBandNames({ BAND: 'i' }, 1), ['i']);
  assert.deepEqual(fitsBandNames({ FILTER: 'r' }, 2), []);
});

test('bad FITS files say what is wrong', () => {
  assert.throws(() => parseFits('x.fits', new Uint8Array(2880).fill(32).buffer), /not a FITS file/);
  assert.throws(() => parseFits('short.fits', new Uint8Array(100).buffer), /not a FITS file/);
  const empty = fits(-32, [], [], false);
  assert.throws(() => parseFits('empty.fits', empty), /no image HDU with data/);
  const full = fits(-32, [4, 4, 5], new Array(80).fill(1), false);
  assert.throws(() => parseFits('cut.fits', full.slice(0, 2880 + 100)), /truncated FITS data/);
});

test('typed band names name the planes of a file that names none', () => {
  assert.deepEqual(parseBandNames(''), []);
  assert.deepEqual(parseBandNames('grz'), ['g', 'r', 'z']);
  assert.deepEqual(parseBandNames(' g r  z '), ['g', 'r', 'z']);
  assert.deepEqual(parseBandNames('HSC-G, HSC-R,HSC-I'), ['HSC-G', 'HSC-R', 'HSC-I']);
  assert.throws(() => parseBandNames('g,,z'), /a name is empty/);
  const image = parseNpy('cube.npy', npy('<f4', [3, 1, 1], [1, 2, 3], Float32Array));
  assert.equal(image.bandNames, undefined);
  assert.deepEqual(nameBands(image, 'cube.npy', ['g', 'r', 'z']).bandNames, ['g', 'r', 'z']);
  assert.equal(nameBands(image, 'cube.npy', []), image);
  assert.throws(() => nameBands(image, 'cube.npy', ['u', 'g', 'r', 'i', 'z']), /5 names for cube.npy's 3 planes/);
  // Typed names that agree with the file's own (by the server's rule) leave them; others are refused.
  const named = { ...image, bandNames: ['z', 'SDSS r', 'HSC-G'] };
  assert.equal(nameBands(named, 'c.fits', ['Z', 'r', 'g']), named);
  assert.throws(() => nameBands(named, 'c.fits', ['g', 'r', 'z']),
    /plane 0 of c.fits is z by the file's own names \(z, SDSS r, HSC-G\); clear the bands field/);
});

test('a band name denotes a band by the server\'s rule', () => {
  const ugriz = ['u', 'g', 'r', 'i', 'z'];
  assert.equal(bandNamed('g', ugriz), 1);
  assert.equal(bandNamed('Z', ugriz), 4);
  assert.equal(bandNamed('HSC-G', ugriz), 1);
  assert.equal(bandNamed('HSC-R2', ugriz), 2);
  assert.equal(bandNamed('g DECam SDSS c0001 4720.0 1520.0', ugriz), 1);
  assert.equal(bandNamed('i.00000', ugriz), 3);
  assert.equal(bandNamed('SDSS r', ugriz), 2);
  assert.equal(bandNamed('F606W', ugriz), -1);
  assert.equal(bandNamed('g-r', ugriz), -1); // two bands: none
  assert.equal(bandNamed('g g', ugriz), 1);
  assert.equal(bandNamed('F606W', ['F475W', 'F606W']), 1);
  assert.equal(bandNamed('7', ['7']), 0); // a lone digit is a word
});
