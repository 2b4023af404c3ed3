// Similarity search (by catalog ID, sky position or uploaded cutout) and the examples queries:
// "more like these / not like those" (Recommend) and the few-shot ranking (RankByExamples), whose
// examples are catalog IDs and uploaded cutouts.
import { call } from './api.js';
import { redshiftSection } from './galaxy.js';
import { nameBands, parseBandNames, parseImageFile, parsePosition } from './parse.js';
import { downloadCsv, fixed, h, keyboardGrid, redshiftFact, report, resultRows, setStatus, tile } from './ui.js';

// Galaxies marked "like" (+) or "not like" (-) in result grids, kept for this tab.
const MARKS_KEY = 'galaxy-search-marks';

function marks() {
  return new Map(JSON.parse(sessionStorage.getItem(MARKS_KEY) || '[]'));
}

function setMark(id, mark) {
  const all = marks();
  if (mark) all.set(id, mark);
  else all.delete(id);
  sessionStorage.setItem(MARKS_KEY, JSON.stringify([...all]));
}

function markedIds(mark) {
  return [...marks()].filter(([, m]) => m === mark).map(([id]) => id);
}

function showMark(figure) {
  const mark = marks().get(figure.dataset.id) || '';
  figure.dataset.mark = mark;
  for (const button of figure.querySelectorAll('button.mark')) {
    button.setAttribute('aria-pressed', String(button.dataset.value === mark));
  }
}

function markButtons(id) {
  const toggle = (value) => (event) => {
    const figure = event.target.closest('.tile');
    setMark(id, marks().get(id) === value ? '' : value);
    showMark(figure);
    updateMarkCount();
  };
  return h('span', { class: 'marks' },
    h('button', { type: 'button', class: 'mark', 'data-value': '+', title: 'more like this (+)', onclick: toggle('+') }, '+ like'),
    h('button', { type: 'button', class: 'mark', 'data-value': '-', title: 'not like this (-)', onclick: toggle('-') }, '− not'));
}

function updateMarkCount() {
  const count = document.getElementById('mark-count');
  if (count) count.textContent = `${markedIds('+').length} like, ${markedIds('-').length} not like`;
}

const markKeys = {
  '+': (figure) => figure.querySelector('button.mark[data-value="+"]').click(),
  '=': (figure) => figure.querySelector('button.mark[data-value="+"]').click(),
  '-': (figure) => figure.querySelector('button.mark[data-value="-"]').click(),
  '0': (figure) => {
    setMark(figure.dataset.id, '');
    showMark(figure);
    updateMarkCount();
  },
};

// A grid of result items ({id, score|probability, rank, galaxy}).
function resultGrid(items, scoreLabel, scoreOf) {
  const grid = h('div', { class: 'grid', id: 'results' },
    items.map((item) => tile(item.id, [
      [scoreLabel, fixed(scoreOf(item), 3)],
      redshiftFact(item.galaxy),
      ['anomaly pct', fixed(item.galaxy?.anomalyPercentile, 1)],
    ], { score: scoreOf(item), rank: item.rank }, markButtons(item.id))));
  for (const figure of grid.children) showMark(figure);
  keyboardGrid(grid, markKeys);
  return grid;
}

function toolbar(items, filename) {
  return h('div', { class: 'toolbar' },
    h('button', { type: 'button', id: 'download-csv', onclick: () => downloadCsv(filename, resultRows(items)) }, 'Download CSV'),
    h('span', { id: 'mark-count' }),
    h('button', { type: 'button', id: 'more-like', onclick: () => goRank('recommend') }, 'More like the marked'),
    h('button', { type: 'button', id: 'rank-marked', onclick: () => goRank('rank') }, 'Rank the survey by the marked'));
}

function goRank(mode) {
  const params = new URLSearchParams({ mode, pos: markedIds('+').join(','), neg: markedIds('-').join(',') });
  location.hash = `#/rank?${params}`;
}

function field(label, input) {
  return h('label', {}, h('span', {}, label), input);
}

// The files an upload takes, and the field that names their planes when they name none.
const CUTOUT_FILES = '.npy,.fits,.fit,.fts';

function bandsField(title) {
  return field('bands', h('input', { name: 'bands', size: 9, autocomplete: 'off', placeholder: 'from file', title }));
}

// An uploaded cutout file as an Image message, its planes named by `names` (the bands field's)
// when the file names none.
async function uploadedImage(file, names) {
  return nameBands(await parseImageFile(file), file.name, names);
}

// The SearchFilter of the form's filter fields (undefined when none is set).
function filterOf(form) {
  const filter = {};
  const value = (name) => form.elements[name].value.trim();
  if (value('zmin')) filter.zMin = Number(value('zmin'));
  if (value('zmax')) filter.zMax = Number(value('zmax'));
  if (value('cone')) {
    const centre = parsePosition(value('cone'));
    const radius = Number(value('radius') || '1');
    if (!(radius > 0 && radius <= 180)) throw new Error(`cone radius ${value('radius')}: give degrees in (0, 180]`);
    filter.cone = { ra: centre.ra, dec: centre.dec, radius };
  }
  return Object.keys(filter).length ? filter : undefined;
}

function searchForm(params, onSubmit) {
  const mode = params.get('pos') ? 'position' : 'id';
  const radio = (value, label) => h('label', { class: 'radio' },
    h('input', { type: 'radio', name: 'mode', value, checked: value === mode }), label);
  const choose = (value) => () => {
    form.elements.mode.value = value;
  };
  const form = h('form', { id: 'search-form', class: 'search', novalidate: true },
    h('fieldset', {}, h('legend', {}, 'Find galaxies like'),
      radio('id', 'catalog ID'),
      h('input', { id: 'query-id', name: 'id', inputmode: 'numeric', autocomplete: 'off', placeholder: '1237648720693755918',
        value: params.get('id') || '', onfocus: choose('id'), 'aria-label': 'catalog ID' }),
      radio('position', 'sky position'),
      h('input', { id: 'query-position', name: 'position', autocomplete: 'off', placeholder: '150.1172 2.2059 or 10:00:28.1 +02:12:21',
        value: params.get('pos') || '', onfocus: choose('position'), 'aria-label': 'sky position (RA Dec)' }),
      radio('file', 'an uploaded cutout'),
      h('input', { id: 'query-file', name: 'file', type: 'file', accept: CUTOUT_FILES, onfocus: choose('file'),
        onchange: choose('file'), 'aria-label': 'cutout file (.npy or FITS)' }),
      field('E(B−V)', h('input', { name: 'ebv', size: 5, inputmode: 'decimal', placeholder: 'none' })),
      bandsField('the band of each plane, as grz or g,r,z, for a file that names none (.npy): the model\'s are picked by name')),
    h('fieldset', {}, h('legend', {}, 'Filters'),
      field('k', h('select', { id: 'k', name: 'k' }, [12, 24, 48, 100].map((k) =>
        h('option', { value: k, selected: String(k) === (params.get('k') || '24') }, k)))),
      field('z from', h('input', { name: 'zmin', size: 6, inputmode: 'decimal', value: params.get('zmin') || '' })),
      field('to', h('input', { name: 'zmax', size: 6, inputmode: 'decimal', value: params.get('zmax') || '' })),
      field('within', h('input', { name: 'radius', size: 4, inputmode: 'decimal', value: params.get('radius') || '', placeholder: '1' })),
      field('degrees of', h('input', { name: 'cone', size: 22, autocomplete: 'off', value: params.get('cone') || '', placeholder: 'RA Dec' }))),
    h('button', { type: 'submit', id: 'search-button' }, 'Search'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    onSubmit(form).catch(report);
  });
  return form;
}

async function requestOf(form) {
  const mode = form.elements.mode.value;
  const request = { k: Number(form.elements.k.value), includeMetadata: true, filter: filterOf(form) };
  if (mode === 'id') {
    const id = form.elements.id.value.trim();
    if (!/^-?\d+$/.test(id)) throw new Error(`catalog ID "${id}" is not an integer`);
    request.id = id;
  } else if (mode === 'position') {
    request.position = parsePosition(form.elements.position.value);
  } else {
    const file = form.elements.file.files[0];
    if (!file) throw new Error('choose a .npy or FITS cutout to upload');
    const names = parseBandNames(form.elements.bands.value);
    request.image = await uploadedImage(file, names);
    const ebv = form.elements.ebv.value.trim();
    if (ebv) request.image.eBv = Number(ebv);
  }
  return request;
}

// Keeps the query in the address (not uploads), so that it can be reloaded and shared.
function remember(form) {
  const params = new URLSearchParams();
  const mode = form.elements.mode.value;
  if (mode === 'file') return;
  if (mode === 'id') params.set('id', form.elements.id.value.trim());
  else params.set('pos', form.elements.position.value.trim());
  for (const name of ['k', 'zmin', 'zmax', 'cone', 'radius']) {
    const value = form.elements[name].value.trim();
    if (value && !(name === 'k' && value === '24')) params.set(name, value);
  }
  history.replaceState(null, '', `#/search?${params}`);
}

// What the server makes of an uploaded cutout itself: its anomaly score against the catalog's
// and its redshift pdf, filled in as the answers come.
function uploadFacts(image) {
  const anomaly = h('p', { class: 'anomaly' }, 'anomaly score…');
  const redshift = h('div', {});
  call('ScoreAnomaly', { image }).then((answer) => {
    anomaly.textContent = `anomaly score ${fixed(answer.score, 4)}, percentile ${fixed(answer.percentile, 1)} ` +
      'of the catalog\'s';
  }, (error) => {
    anomaly.textContent = '';
    report(error);
  });
  redshiftSection({ image }, undefined).then((section) => redshift.append(section), report);
  return h('section', { id: 'upload-facts' }, h('h3', {}, 'The uploaded cutout'), anomaly, redshift);
}

export async function searchView(main, params) {
  const results = h('section', { id: 'search-results', 'aria-live': 'polite' });
  const run = async (form) => {
    // Cleared before reading an uploaded file: the last answer never stands for this one.
    results.replaceChildren();
    setStatus('searching…');
    const request = await requestOf(form);
    remember(form);
    const answer = await call('SimilarGalaxies', request);
    const items = answer.neighbors || [];
    const what = request.id ? `ID ${request.id}` : request.position ? 'that position' : 'the uploaded cutout';
    results.replaceChildren(...[
      h('p', { class: 'summary' }, `${items.length} galaxies like ${what}`,
        answer.queryId && answer.queryId !== '0' && !request.id ? ` (galaxy ${answer.queryId})` : '',
        ` · snapshot ${answer.snapshotVersion}`),
      request.image ? uploadFacts(request.image) : null,
      toolbar(items, 'similar-galaxies.csv'),
      resultGrid(items, 'similarity', (item) => item.score)].filter((child) => child));
    updateMarkCount();
    setStatus('');
  };
  const form = searchForm(params, run);
  main.append(h('h2', {}, 'Similarity search'), form, results);
  if (params.get('id') || params.get('pos')) await run(form);
  else form.elements.id.focus();
}

function idList(text) {
  const ids = text.split(/[\s,]+/).filter((s) => s);
  for (const id of ids) if (!/^-?\d+$/.test(id)) throw new Error(`"${id}" is not a catalog ID`);
  return ids.map((id) => ({ id }));
}

// The Example messages of an ID list and of the cutout files chosen beside it; `names` (the bands
// field) names the planes of every file that names none, as the clients' --bands and bands= do.
async function examplesOf(text, input, names) {
  const examples = idList(text);
  for (const file of input.files) examples.push({ image: await uploadedImage(file, names) });
  return examples;
}

function cutoutsInput(id, label) {
  return h('input', { id, type: 'file', multiple: true, accept: CUTOUT_FILES, 'aria-label': label });
}

function labelSelectors(text) {
  return text.split(',').map((s) => s.trim()).filter((s) => s).map((name) =>
    (name === 'interesting' ? { interest: 'INTEREST_INTERESTING' } : { className: name }));
}

export async function rankView(main, params) {
  const form = h('form', { id: 'rank-form', class: 'search' },
    h('fieldset', {}, h('legend', {}, 'Examples'),
      field('like (IDs)', h('textarea', { name: 'pos', rows: 2, cols: 40 }, params.get('pos') || '')),
      field('and cutouts', cutoutsInput('pos-files', 'cutout files like the wanted galaxies (.npy or FITS)')),
      field('not like (IDs)', h('textarea', { name: 'neg', rows: 2, cols: 40 }, params.get('neg') || '')),
      field('and cutouts', cutoutsInput('neg-files', 'cutout files unlike the wanted galaxies (.npy or FITS)')),
      bandsField('the band of each plane of every cutout, as grz or g,r,z, for files that name none (.npy)'),
      field('and galaxies labelled', h('input', { name: 'label', size: 18, value: params.get('label') || '',
        placeholder: 'ring, interesting' }))),
    h('button', { type: 'submit', name: 'recommend', value: 'recommend' }, 'More like these'),
    h('button', { type: 'submit', name: 'rank', value: 'rank' }, 'Rank the survey'));
  const results = h('section', { id: 'rank-results', 'aria-live': 'polite' });
  main.append(h('h2', {}, 'More like these · few-shot ranking'), form, results);

  // `examples`: those of the ranking being paged (its next page ranks with the same ones, whatever
  // the form holds since); else read from the form, its cutout files read once.
  const run = async (mode, pageToken, examples) => {
    // Cleared before reading the cutouts: the last answer never stands for this one.
    results.replaceChildren();
    if (!examples) {
      const names = parseBandNames(form.elements.bands.value);
      examples = {
        positives: await examplesOf(form.elements.pos.value, form.querySelector('#pos-files'), names),
        negatives: await examplesOf(form.elements.neg.value, form.querySelector('#neg-files'), names),
        positiveLabels: labelSelectors(form.elements.label.value),
      };
      // The address keeps the IDs and labels, not the uploads (as the search's does).
      history.replaceState(null, '', `#/rank?${new URLSearchParams({ mode, pos: form.elements.pos.value.trim(),
        neg: form.elements.neg.value.trim(), label: form.elements.label.value.trim() })}`);
    }
    const { positives, negatives, positiveLabels } = examples;
    setStatus(mode === 'rank' ? 'fitting and ranking…' : 'searching…');
    if (mode === 'recommend') {
      const answer = await call('Recommend', { positives, negatives, k: 24, includeMetadata: true });
      const items = answer.neighbors || [];
      results.replaceChildren(h('p', { class: 'summary' }, `${items.length} galaxies like the ${positives.length} examples`),
        toolbar(items, 'more-like-these.csv'), resultGrid(items, 'similarity', (item) => item.score));
    } else {
      const answer = await call('RankByExamples', { positives, negatives, positiveLabels, pageSize: 24, pageToken,
        includeMetadata: true });
      const items = answer.galaxies || [];
      const c = answer.classifier || {};
      results.replaceChildren(
        h('p', { class: 'summary' }, `ranks ${answer.firstRank}–${Number(answer.firstRank) + items.length - 1} of `,
          `${answer.totalCount} · classifier from ${c.positives} positives and ${c.negatives} negatives, `,
          `training accuracy ${fixed(c.trainingAccuracy, 2)}`),
        toolbar(items, 'ranking.csv'),
        resultGrid(items, 'probability', (item) => item.probability),
        answer.nextPageToken ? h('button', { type: 'button', id: 'next-page',
          onclick: () => run('rank', answer.nextPageToken, examples).catch(report) }, 'Next page') : null);
    }
    updateMarkCount();
    setStatus('');
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    run(event.submitter?.value || 'rank').catch(report);
  });
  if (params.get('pos') || params.get('label')) await run(params.get('mode') || 'recommend');
}
