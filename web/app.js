// The galaxy-search explorer: a hash-routed page over the server's HTTP/JSON API.
//   #/search?id=…|pos=…&k=…   similarity search (or an uploaded cutout)
//   #/galaxy/ID               one galaxy: cutouts, record, redshift pdf, anomaly, neighbours
//   #/anomalies?page=TOKEN    the anomaly browser, with one-key labels
//   #/rank?pos=…&neg=…&label=…&mode=recommend|rank   "more like these" and few-shot ranking
//   #/labels                  the label store: list, delete, export
import { forgetInfo, indexInfo, releaseCutouts, setToken, token } from './api.js';
import { anomaliesView, labelsView } from './anomalies.js';
import { galaxyView } from './galaxy.js';
import { rankView, searchView } from './search.js';
import { h, report, setStatus } from './ui.js';

const routes = {
  search: searchView,
  galaxy: galaxyView,
  anomalies: anomaliesView,
  rank: rankView,
  labels: labelsView,
};

async function showInfo() {
  const version = document.getElementById('snapshot');
  try {
    const info = await indexInfo();
    version.textContent = `snapshot ${info.snapshotVersion} · ${Number(info.count).toLocaleString()} galaxies`;
  } catch (error) {
    version.textContent = error.status === 401 ? 'token needed' : `no snapshot: ${error.message}`;
    throw error;
  }
}

async function route() {
  releaseCutouts();
  setStatus('');
  const hash = location.hash.replace(/^#\/?/, '') || 'search';
  const [path, query] = hash.split('?');
  const [name, ...rest] = path.split('/');
  const view = routes[name] || searchView;
  const params = new URLSearchParams(query || '');
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const link of document.querySelectorAll('nav a')) {
    link.setAttribute('aria-current', link.getAttribute('href') === `#/${name}` ? 'page' : 'false');
  }
  try {
    await showInfo();
    await view(main, params, rest.map(decodeURIComponent));
  } catch (error) {
    report(error);
  }
}

function setUpToken() {
  const form = document.getElementById('token-form');
  const input = document.getElementById('token');
  input.value = token();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    forgetInfo();
    route();
  });
}

// Keys that work everywhere but in text fields: / search, a anomalies, r rank, ? help.
function setUpKeys() {
  document.addEventListener('keydown', (event) => {
    const target = event.target;
    if (target.closest('input, textarea, select, dialog') || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === '/') {
      location.hash = '#/search';
      setTimeout(() => document.getElementById('query-id')?.focus(), 0);
      event.preventDefault();
    } else if (event.key === 'a' && !target.closest('.tile')) {
      location.hash = '#/anomalies';
    } else if (event.key === 'r' && !target.closest('.tile')) {
      location.hash = '#/rank';
    } else if (event.key === '?') {
      document.getElementById('help').toggleAttribute('hidden');
    }
  });
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  setUpToken();
  setUpKeys();
  document.getElementById('help').append(
    h('h2', {}, 'Keys'),
    h('dl', {},
      [['/', 'search'], ['a', 'anomalies'], ['r', 'few-shot ranking'], ['arrows or h j k l', 'move between galaxies'],
        ['Enter', 'open the galaxy'], ['i', 'label interesting'], ['n', 'label not interesting'],
        ['c', 'label with a class name'], ['+ / -', 'mark as like / not like'], ['0', 'clear the mark'],
        ['[ / ]', 'previous / next page'], ['?', 'this help']]
        .map(([key, what]) => [h('dt', {}, h('kbd', {}, key)), h('dd', {}, what)])));
  route();
});
