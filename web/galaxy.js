// One galaxy: its cutout in a few stretches, its catalog record, the predicted redshift pdf
// with the spectroscopic value marked, its anomaly score, its labels and its neighbours.
import { call, indexInfo } from './api.js';
import { labelControls } from './anomalies.js';
import { sexagesimal } from './parse.js';
import { cutoutImage, fixed, h, keyboardGrid, redshiftFact, report, svg, tile } from './ui.js';

const STRETCHES = [
  { label: 'faint (stretch 0.05)', stretch: 0.05, q: 8 },
  { label: 'default (0.4)', stretch: 0.4, q: 8 },
  { label: 'bright core (2, Q 3)', stretch: 2, q: 3 },
];

function recordTable(g) {
  const rows = [
    ['catalog ID', g.id],
    ['RA, Dec (deg)', `${fixed(g.ra, 5)}, ${fixed(g.dec, 5)}`],
    ['RA, Dec', sexagesimal(Number(g.ra), Number(g.dec))],
    ['E(B−V)', fixed(g.eBv, 4)],
    ['spectroscopic z', g.specz === undefined ? '–' : fixed(g.specz, 5)],
    ['catalog photo-z', g.zphot === undefined ? '–' : `${fixed(g.zphot, 4)} ± ${fixed(g.zphotErr, 4)}`],
    ['anomaly score', fixed(g.anomalyScore, 4)],
    ['anomaly percentile', fixed(g.anomalyPercentile, 2)],
    ['dataset row', g.sourceRow],
  ];
  for (const [key, value] of Object.entries(g.extra || {}).sort()) {
    rows.push([key, Number.isInteger(value) ? String(value) : Number(value).toPrecision(6)]);
  }
  return h('table', { class: 'record', id: 'record' },
    h('tbody', {}, rows.map(([key, value]) => h('tr', {}, h('th', { scope: 'row' }, key), h('td', {}, value)))));
}

// An SVG plot of the redshift pdf over `binning`, with the photometric estimate (dashed) and
// the spectroscopic redshift (solid) marked.
function pdfPlot(prediction, binning, specz) {
  const width = 440;
  const height = 170;
  const left = 36;
  const bottom = 26;
  const pdf = prediction.pdf.map(Number);
  const zMin = Number(binning.zMin);
  const zMax = Number(binning.zMax);
  const peak = Math.max(...pdf, 1e-12);
  const x = (z) => left + ((z - zMin) / (zMax - zMin)) * (width - left - 20);
  const y = (p) => height - bottom - (p / peak) * (height - bottom - 10);
  const step = (zMax - zMin) / pdf.length;
  const points = pdf.map((p, i) => `${x(zMin + (i + 0.5) * step).toFixed(1)},${y(p).toFixed(1)}`).join(' ');
  const ticks = [];
  for (let i = 0; i <= 4; ++i) {
    const z = zMin + ((zMax - zMin) * i) / 4;
    ticks.push(svg('line', { x1: x(z), x2: x(z), y1: height - bottom, y2: height - bottom + 4, class: 'axis' }),
      svg('text', { x: x(z), y: height - 8, 'text-anchor': 'middle' }, document.createTextNode(z.toFixed(2))));
  }
  const marker = (z, cls, text) => (z === undefined || Number.isNaN(z) ? [] : [
    svg('line', { x1: x(z), x2: x(z), y1: 8, y2: height - bottom, class: cls }),
    svg('text', { x: x(z) + 4, y: 18, class: cls }, document.createTextNode(text)),
  ]);
  return svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'pdf', id: 'redshift-pdf', role: 'img',
    'aria-label': `redshift probability, photometric z ${fixed(prediction.zPhot, 3)}` },
  svg('line', { x1: left, x2: width - 20, y1: height - bottom, y2: height - bottom, class: 'axis' }),
  ticks,
  svg('polyline', { points, class: 'curve' }),
  marker(Number(prediction.zPhot), 'zphot', `photo-z ${fixed(prediction.zPhot, 3)}`),
  marker(specz === undefined ? undefined : Number(specz), 'specz', `spec-z ${fixed(specz, 3)}`));
}

// The redshift of one RedshiftQuery ({id} or {image}) with its pdf plotted; `specz` (or
// undefined) marked beside it.
export async function redshiftSection(query, specz) {
  const info = await indexInfo();
  if (!info.model?.hasRedshiftHead) return h('p', {}, 'This snapshot’s model has no redshift head.');
  const answer = await call('PredictRedshift', { queries: [query], includePdf: true });
  const prediction = answer.predictions[0];
  if (prediction.status && prediction.status.code) return h('p', { class: 'error' }, prediction.status.message);
  return h('div', {},
    h('p', { class: 'zphot' }, `photometric redshift ${fixed(prediction.zPhot, 4)} ± ${fixed(prediction.zPhotErr, 4)}`,
      specz === undefined ? '' : ` · spectroscopic ${fixed(specz, 4)}`),
    pdfPlot(prediction, answer.binning, specz));
}

export async function galaxyView(main, params, [id]) {
  if (!/^-?\d+$/.test(id || '')) throw new Error(`"${id}" is not a catalog ID`);
  const galaxy = await call('GetGalaxy', { id });
  const redshift = h('section', { id: 'redshift' }, h('h3', {}, 'Redshift'));
  const neighbours = h('section', { id: 'neighbours' }, h('h3', {}, 'Most similar'));
  main.append(
    h('h2', {}, `Galaxy ${galaxy.id}`),
    h('div', { class: 'galaxy' },
      h('div', {},
        h('div', { class: 'stretches' }, STRETCHES.map((s) => h('figure', {},
          cutoutImage(galaxy.id, { size: 192, stretch: s.stretch, q: s.q }, `galaxy ${galaxy.id}, ${s.label}`),
          h('figcaption', {}, s.label)))),
        redshift),
      h('div', {}, recordTable(galaxy),
        h('p', {}, h('a', { href: `#/search?id=${encodeURIComponent(galaxy.id)}` }, 'search like this'), ' · ',
          h('a', { href: `#/rank?mode=recommend&pos=${encodeURIComponent(galaxy.id)}` }, 'more like this')),
        labelControls(galaxy.id))),
    neighbours);
  redshiftSection({ id }, galaxy.specz).then((section) => redshift.append(section), report);
  const similar = await call('SimilarGalaxies', { id, k: 12, includeMetadata: true });
  const grid = h('div', { class: 'grid' }, (similar.neighbors || []).map((n) => tile(n.id, [
    ['similarity', fixed(n.score, 3)], redshiftFact(n.galaxy),
  ], { score: n.score })));
  keyboardGrid(grid);
  neighbours.append(grid);
}
