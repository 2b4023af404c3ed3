// The server's HTTP/JSON API (docs/API.md, "HTTP/JSON"): calls, the bearer token, cutouts.
//
// The token lives in this tab's sessionStorage and travels only in the Authorization header:
// never in a URL, so it never reaches a log, a history entry or a Referer. Cutouts are fetched
// with the header too and shown from blob: URLs.

const TOKEN_KEY = 'galaxy-search-token';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({}, extra);
  if (token()) h.Authorization = 'Bearer ' + token();
  return h;
}

async function failure(response) {
  const text = await response.text();
  let body = {};
  try {
    body = JSON.parse(text);
  } catch (e) {
    body = { code: 'HTTP_' + response.status, message: text || response.statusText };
  }
  return new ApiError(response.status, body.code, body.message);
}

// POST /api/v1/{rpc} with `request` (protobuf JSON); the response message.
export async function call(rpc, request) {
  const response = await fetch('/api/v1/' + rpc, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify(request || {}),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

// GetIndexInfo (the snapshot, its model's bands and heads, the limits), asked once per token.
let info = null;

export async function indexInfo() {
  if (!info) info = call('GetIndexInfo', {}).catch((error) => {
    info = null;
    throw error;
  });
  return info;
}

export function forgetInfo() {
  info = null;
}

// ExportLabels: the CSV text.
export async function exportLabels(filter) {
  const response = await fetch('/api/v1/ExportLabels', {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify({ filter: filter || {} }),
  });
  if (!response.ok) throw await failure(response);
  return response.text();
}

// Object URLs of fetched cutouts, released when the view that showed them goes.
const liveUrls = new Set();

export function releaseCutouts() {
  for (const url of liveUrls) URL.revokeObjectURL(url);
  liveUrls.clear();
}

// A blob: URL of galaxy `id`'s cutout (options: size, stretch, q, bands).
export async function cutoutUrl(id, options) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(options || {})) {
    if (value !== undefined && value !== '') params.set(key, String(value));
  }
  const query = params.toString();
  const path = '/api/v1/galaxies/' + encodeURIComponent(id) + '/cutout.png' + (query ? '?' + query : '');
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await failure(response);
  const url = URL.createObjectURL(await response.blob());
  liveUrls.add(url);
  return url;
}
