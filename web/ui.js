// Building blocks of the explorer's views. Every text from the server or the catalog goes into
// the page as a text node or an attribute value (never as HTML): catalog strings can hold
// anything.
import { ApiError, cutoutUrl } from './api.js';

// An element: h('a', {href: '#/x', class: 'c'}, 'text', child, ...). `on*` attributes become
// listeners; null and false children are skipped.
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked') element[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';

export function svg(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
  for (const child of children.flat(Infinity)) if (child) element.append(child);
  return element;
}

export function setStatus(message, isError) {
  const status = document.getElementById('status');
  status.textContent = message || '';
  status.className = isError ? 'error' : '';
}

// Shows an error; a missing or wrong token sends the focus to the token field.
export function report(error) {
  if (error instanceof ApiError && error.status === 401) {
    setStatus(`${error.message}: enter a token above`, true);
    document.getElementById('token').focus();
  } else {
    setStatus(error.message, true);
  }
}

export function fixed(value, digits) {
  return value === undefined || value === null || Number.isNaN(Number(value)) ? '–' : Number(value).toFixed(digits);
}

// The redshift fact shown for a catalog record: spectroscopic when known, else photometric.
export function redshiftFact(galaxy) {
  if (galaxy?.specz !== undefined) return ['spec z', fixed(galaxy.specz, 4)];
  if (galaxy?.zphot !== undefined) return ['photo z', fixed(galaxy.zphot, 3)];
  return ['z', '–'];
}

// An <img> that shows galaxy `id`'s cutout once fetched (an error note if it cannot be).
export function cutoutImage(id, options, alt) {
  const image = h('img', { alt: alt || `galaxy ${id}`, class: 'cutout', 'data-id': id });
  cutoutUrl(id, options).then(
    (url) => {
      image.src = url;
    },
    (error) => {
      image.replaceWith(h('div', { class: 'cutout noimage' }, `no image: ${error.message}`));
    },
  );
  return image;
}

// A grid tile: the cutout, a link to the galaxy's page, facts [[label, value]...]. `data`
// becomes data-* attributes (tests and the CSV read them).
export function tile(id, facts, data, extra) {
  const attributes = { class: 'tile', tabindex: 0, 'data-id': id };
  for (const [key, value] of Object.entries(data || {})) attributes['data-' + key] = value;
  return h('figure', attributes,
    h('a', { href: `#/galaxy/${encodeURIComponent(id)}`, tabindex: -1 }, cutoutImage(id, { size: 128 })),
    h('figcaption', {},
      h('a', { href: `#/galaxy/${encodeURIComponent(id)}`, class: 'id' }, id),
      h('dl', {}, facts.map(([label, value]) => [h('dt', {}, label), h('dd', {}, value)])),
      extra || null));
}

// Arrow keys (and h j k l) move the focus between a grid's tiles; Enter opens the focused
// galaxy; `keys` maps other keys to handlers of the focused tile.
export function keyboardGrid(grid, keys) {
  grid.addEventListener('keydown', (event) => {
    const tiles = [...grid.querySelectorAll('.tile')];
    const index = tiles.indexOf(document.activeElement);
    if (index < 0 || event.altKey || event.ctrlKey || event.metaKey) return;
    const columns = Math.max(1, Math.round(grid.clientWidth / tiles[0].offsetWidth));
    const moves = { ArrowRight: 1, l: 1, ArrowLeft: -1, h: -1, ArrowDown: columns, j: columns, ArrowUp: -columns, k: -columns };
    if (event.key in moves) {
      const next = tiles[Math.min(tiles.length - 1, Math.max(0, index + moves[event.key]))];
      next.focus();
      event.preventDefault();
    } else if (event.key === 'Enter') {
      location.hash = `#/galaxy/${encodeURIComponent(tiles[index].dataset.id)}`;
      event.preventDefault();
    } else if (keys && keys[event.key]) {
      keys[event.key](tiles[index]);
      event.preventDefault();
    }
  });
}

function csvField(value) {
  const text = value === undefined || value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// Offers `rows` (arrays; the first is the header) as a CSV file download.
export function downloadCsv(filename, rows) {
  const text = rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
  downloadText(filename, text, 'text/csv');
}

export function downloadText(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h('a', { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The CSV rows of a result grid: rank, ID, score, position, redshifts, anomaly percentile.
export function resultRows(items) {
  const rows = [['rank', 'id', 'score', 'ra', 'dec', 'specz', 'zphot', 'anomaly_percentile']];
  for (const item of items) {
    const g = item.galaxy || {};
    rows.push([item.rank, item.id, item.score, g.ra, g.dec, g.specz, g.zphot, g.anomalyPercentile]);
  }
  return rows;
}
