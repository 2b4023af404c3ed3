// The anomaly browser (paged, one-key labels), the label controls a galaxy page shows, and the
// label store's own view (list, delete, export).
import { call, exportLabels } from './api.js';
import { downloadText, fixed, h, keyboardGrid, redshiftFact, report, setStatus, tile } from './ui.js';

const INTEREST_TEXT = { INTEREST_INTERESTING: 'interesting', INTEREST_NOT_INTERESTING: 'not interesting' };

function labelText(label) {
  return [INTEREST_TEXT[label.interest], label.className].filter((s) => s).join(' · ');
}

// Fills `list` with galaxy `id`'s labels, as chips "interesting · ring (ada)".
async function showLabels(list, id) {
  const answer = await call('ListLabels', { filter: { galaxyId: id }, pageSize: 100 });
  list.replaceChildren(...(answer.labels || []).map((label) =>
    h('li', { class: 'label', title: label.comment || '' }, labelText(label), h('span', { class: 'author' }, ` (${label.author})`))));
}

async function addLabel(id, label, list) {
  await call('AddLabels', { labels: [Object.assign({ galaxyId: id }, label)] });
  setStatus(`labelled ${id}: ${labelText(label)}`);
  await showLabels(list, id);
}

// Asks for a class name in a modal dialog; resolves to it, or null when cancelled.
function askClassName(id) {
  return new Promise((resolve) => {
    const input = h('input', { name: 'class', required: true, maxlength: 64, autocomplete: 'off', 'aria-label': 'class name' });
    const dialog = h('dialog', { id: 'class-dialog' },
      h('form', { method: 'dialog' },
        h('label', {}, `Class of galaxy ${id} `, input),
        h('button', { value: 'ok' }, 'Label'), h('button', { value: 'cancel', formnovalidate: true }, 'Cancel')));
    dialog.addEventListener('close', () => {
      const name = dialog.returnValue === 'ok' ? input.value.trim() : '';
      dialog.remove();
      resolve(name || null);
    });
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}

function labelActions(id, list) {
  return {
    i: () => addLabel(id, { interest: 'INTEREST_INTERESTING' }, list).catch(report),
    n: () => addLabel(id, { interest: 'INTEREST_NOT_INTERESTING' }, list).catch(report),
    c: () => askClassName(id).then((name) => (name ? addLabel(id, { className: name }, list) : null)).catch(report),
  };
}

// Buttons and the label list of one galaxy (its page); the i, n and c keys work there too.
export function labelControls(id) {
  const list = h('ul', { class: 'labels', id: 'galaxy-labels' });
  const act = labelActions(id, list);
  const box = h('div', { class: 'label-controls' },
    h('button', { type: 'button', onclick: act.i, title: 'key i' }, 'Interesting'),
    h('button', { type: 'button', onclick: act.n, title: 'key n' }, 'Not interesting'),
    h('button', { type: 'button', onclick: act.c, title: 'key c' }, 'Class…'), list);
  showLabels(list, id).catch(report);
  const onKey = (event) => {
    if (!document.body.contains(box)) return document.removeEventListener('keydown', onKey);
    if (event.target.closest('input, textarea, select, dialog, .tile') || event.ctrlKey || event.metaKey || event.altKey) return;
    if (act[event.key]) {
      act[event.key]();
      event.preventDefault();
    }
  };
  document.addEventListener('keydown', onKey);
  return box;
}

export async function anomaliesView(main, params) {
  const rerank = params.get('rerank') === '1';
  const pageToken = params.get('page') || '';
  const answer = await call('ListAnomalies', { pageSize: 24, pageToken, rerankByLabels: rerank });
  const galaxies = answer.galaxies || [];
  const first = Number(answer.firstRank) - 1;  // ranks are 1-based
  const lists = new Map();
  const grid = h('div', { class: 'grid', id: 'anomalies' }, galaxies.map((g, i) => {
    const list = h('ul', { class: 'labels' });
    lists.set(g.id, list);
    const score = rerank ? answer.adjustedScores[i] : g.anomalyScore;
    return tile(g.id, [
      ['rank', first + i + 1], [rerank ? 'adjusted score' : 'score', fixed(score, 4)],
      ['percentile', fixed(g.anomalyPercentile, 2)], redshiftFact(g),
    ], { score, rank: first + i + 1 }, list);
  }));
  const page = (token) => {
    const next = new URLSearchParams();
    if (token) next.set('page', token);
    if (rerank) next.set('rerank', '1');
    location.hash = `#/anomalies?${next}`;
  };
  const keys = {
    ']': () => answer.nextPageToken && page(answer.nextPageToken),
    '[': () => pageToken && history.back(),
  };
  for (const key of ['i', 'n', 'c']) keys[key] = (figure) => labelActions(figure.dataset.id, lists.get(figure.dataset.id))[key]();
  keyboardGrid(grid, keys);
  main.append(
    h('h2', {}, 'Anomalies'),
    h('p', { class: 'summary' },
      `ranks ${first + 1}–${first + galaxies.length} of ${answer.totalCount} · `,
      'keys: arrows move, i interesting, n not interesting, c class name, [ ] pages · ',
      h('label', {}, h('input', { type: 'checkbox', id: 'rerank', checked: rerank,
        onchange: (event) => {
          const next = new URLSearchParams();
          if (event.target.checked) next.set('rerank', '1');
          location.hash = `#/anomalies?${next}`;
        } }), ' re-rank by my labels')),
    grid,
    h('div', { class: 'toolbar' },
      pageToken ? h('button', { type: 'button', onclick: () => history.back() }, 'Previous page') : null,
      answer.nextPageToken ? h('button', { type: 'button', id: 'next-page', onclick: () => page(answer.nextPageToken) },
        'Next page') : null));
  grid.querySelector('.tile')?.focus();
  await Promise.all([...lists].map(([id, list]) => showLabels(list, id)));
}

export async function labelsView(main) {
  const body = h('tbody');
  const load = async (pageToken) => {
    const answer = await call('ListLabels', { pageSize: 200, pageToken });
    for (const label of answer.labels || []) {
      const row = h('tr', {},
        h('td', {}, h('a', { href: `#/galaxy/${encodeURIComponent(label.galaxyId)}` }, label.galaxyId)),
        h('td', {}, INTEREST_TEXT[label.interest] || ''), h('td', {}, label.className || ''),
        h('td', {}, label.author), h('td', {}, new Date(Number(label.createdMs)).toISOString().slice(0, 16).replace('T', ' ')),
        h('td', {}, label.comment || ''),
        h('td', {}, h('button', { type: 'button', onclick: () => call('DeleteLabels', { labels: [label] })
          .then(() => row.remove(), report) }, 'Delete')));
      body.append(row);
    }
    more.hidden = !answer.nextPageToken;
    more.onclick = () => load(answer.nextPageToken).catch(report);
  };
  const more = h('button', { type: 'button', hidden: true }, 'More');
  main.append(
    h('h2', {}, 'Labels'),
    h('div', { class: 'toolbar' }, h('button', { type: 'button', id: 'export-labels',
      onclick: () => exportLabels({}).then((csv) => downloadText('labels.csv', csv, 'text/csv'), report) }, 'Export CSV')),
    h('table', { class: 'labels-table' },
      h('thead', {}, h('tr', {}, ['galaxy', 'interest', 'class', 'author', 'created (UTC)', 'comment', ''].map((t) =>
        h('th', { scope: 'col' }, t)))),
      body),
    more);
  await load('');
}
