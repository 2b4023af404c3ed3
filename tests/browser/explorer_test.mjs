// Drives the web explorer in Debian's Chromium (playwright-core) as a person would, and checks
// what it shows against the gRPC answers tests/web_explorer_test.cc wrote to EXPECTED.json:
//   node explorer_test.mjs BASE_URL EXPECTED.json [SCREENSHOT_DIR]
// Any page error, console error, failed request or HTTP error status fails the run, as does a
// request URL carrying the token. Exit status 0 when every step passed.
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [base, expectedFile, shots] = process.argv.slice(2);
if (!base || !expectedFile) {
  console.error('usage: node explorer_test.mjs BASE_URL EXPECTED.json [SCREENSHOT_DIR]');
  process.exit(2);
}
const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1366, height: 860 } });
const page = await context.newPage();
page.setDefaultTimeout(60000);
const problems = [];
const urls = [];
page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
page.on('console', (message) => {
  if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
});
page.on('request', (request) => urls.push(request.url()));
page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`));
page.on('response', (response) => {
  if (response.status() >= 400) problems.push(`HTTP ${response.status()} for ${response.url()}`);
});

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, body) {
  const start = Date.now();
  try {
    await body();
  } catch (error) {
    console.error(`FAILED ${name}: ${error.message}`);
    if (shots) await page.screenshot({ path: `${shots}/failure.png` }).catch(() => {});
    console.error(problems.join('\n'));
    await browser.close();
    process.exit(1);
  }
  check(problems.length === 0, problems.join('\n'));
  console.log(`ok ${name} (${Date.now() - start} ms)`);
}

// Waits until every tile under `selector` shows a decoded cutout; the tiles' IDs and scores.
async function tilesOf(selector) {
  const state = await page.waitForFunction((sel) => {
    const tiles = document.querySelectorAll(`${sel} .tile`);
    if (document.querySelector(`${sel} .noimage`)) return 'an image failed';
    const images = [...document.querySelectorAll(`${sel} .tile img.cutout`)];
    return tiles.length > 0 && images.length === tiles.length && images.every((i) => i.complete && i.naturalWidth > 0)
      ? 'decoded' : false;
  }, selector);
  check((await state.jsonValue()) === 'decoded', `${selector}: ${await state.jsonValue()}`);
  return page.$$eval(`${selector} .tile`, (tiles) => tiles.map((t) => ({
    id: t.dataset.id, score: Number(t.dataset.score), shown: t.querySelector('dd')?.textContent,
  })));
}

function sameAnswer(what, got, want) {
  check(got.length === want.length, `${what}: ${got.length} galaxies shown, gRPC answered ${want.length}`);
  got.forEach((g, i) => {
    check(g.id === want[i].id, `${what}: #${i + 1} is ${g.id}, gRPC says ${want[i].id}`);
    check(Math.abs(g.score - want[i].score) < 1e-5, `${what}: #${i + 1} scores ${g.score}, gRPC ${want[i].score}`);
    check(g.shown === want[i].score.toFixed(3), `${what}: #${i + 1} reads "${g.shown}", gRPC's score is ${want[i].score}`);
  });
}

// The uploaded cutout's own redshift and anomaly score, as the page shows them, against gRPC's.
async function sameFacts(what, want) {
  await page.waitForFunction(() => document.querySelector('#upload-facts p.anomaly')?.textContent.includes('percentile') &&
    document.querySelector('#upload-facts p.zphot') && document.querySelector('#upload-facts polyline'));
  const redshift = await page.textContent('#upload-facts p.zphot');
  const z = `photometric redshift ${want.zPhot.toFixed(4)} ± ${want.zPhotErr.toFixed(4)}`;
  check(redshift === z, `${what}: the page reads "${redshift}", gRPC "${z}"`);
  const anomaly = await page.textContent('#upload-facts p.anomaly');
  const a = `anomaly score ${want.score.toFixed(4)}, percentile ${want.percentile.toFixed(1)} of the catalog's`;
  check(anomaly === a, `${what}: the page reads "${anomaly}", gRPC "${a}"`);
}

async function search() {
  await page.click('#search-button');
  await page.waitForSelector('#search-results .tile');
}

await step('opens the page, asks for the token and takes it', async () => {
  await page.goto(`${base}/#/search`);
  if (expected.token) {
    // Without a token the server refuses (401) and the page says what it needs: that refusal,
    // and Chromium's console line about it, are the only errors this run expects.
    await page.waitForFunction(() => document.getElementById('snapshot').textContent === 'token needed');
    const refused = (p) => /401/.test(p) && (p.includes('/api/v1/GetIndexInfo') || p.startsWith('console error: Failed'));
    check(problems.length > 0 && problems.every(refused), `before the token: ${problems.join('; ')}`);
    problems.length = 0;
    await page.fill('#token', expected.token);
    await page.click('#token-form button');
  }
  await page.waitForFunction(() => document.getElementById('snapshot').textContent.startsWith('snapshot'));
});

await step('searches by catalog ID', async () => {
  await page.fill('#query-id', expected.byId.id);
  await page.selectOption('#k', '12');
  await search();
  sameAnswer('by ID', await tilesOf('#search-results'), expected.byId.neighbors);
  if (shots) await page.screenshot({ path: `${shots}/explorer-search.png` });
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
  const lines = readFileSync(await download.path(), 'utf8').trim().split('\r\n');
  check(lines[0] === 'rank,id,score,ra,dec,specz,zphot,anomaly_percentile', `CSV header: ${lines[0]}`);
  check(lines.length === 13, `the CSV has ${lines.length - 1} rows, not 12`);
  check(lines[1].split(',')[1] === expected.byId.neighbors[0].id, `CSV row 1: ${lines[1]}`);
});

await step('searches by sky position (sexagesimal)', async () => {
  await page.fill('#query-position', expected.byPosition.text);
  await page.check('input[name=mode][value=position]');
  await page.selectOption('#k', '24');
  await search();
  sameAnswer('by position', await tilesOf('#search-results'), expected.byPosition.neighbors);
});

await step('searches by an uploaded .npy cutout', async () => {
  await page.setInputFiles('#query-file', expected.byImage.file);
  await page.check('input[name=mode][value=file]');
  await page.selectOption('#k', '12');
  await search();
  sameAnswer('by upload', await tilesOf('#search-results'), expected.byImage.neighbors);
  await sameFacts('the upload itself', expected.byImage.facts);
});

await step('searches by an uploaded .npy cutout whose planes the bands field names', async () => {
  await page.setInputFiles('#query-file', expected.byNamedImage.file);
  await page.fill('input[name=bands]', expected.byNamedImage.bands);
  await search();
  sameAnswer('by upload with bands', await tilesOf('#search-results'), expected.byImage.neighbors);
  await sameFacts('the upload with bands itself', expected.byImage.facts);
  await page.fill('input[name=bands]', '');
});

await step('searches by an uploaded FITS cutout with its E(B-V)', async () => {
  await page.setInputFiles('#query-file', expected.byFits.file);
  await page.fill('input[name=ebv]', expected.byFits.ebv);
  await search();
  sameAnswer('by FITS upload', await tilesOf('#search-results'), expected.byFits.neighbors);
  await sameFacts('the FITS upload itself', expected.byFits.facts);
  if (shots) await page.screenshot({ path: `${shots}/explorer-upload.png` });
  await page.fill('input[name=ebv]', '');
});

await step('asks for more like the marked galaxies', async () => {
  await page.goto(`${base}/#/search?id=${expected.byId.id}&k=12`);
  await tilesOf('#search-results');
  const tiles = page.locator('#search-results .tile');
  await tiles.nth(0).focus();
  await page.keyboard.press('+');
  await tiles.nth(1).locator('button.mark[data-value="+"]').click();
  await tiles.nth(2).focus();
  await page.keyboard.press('-');
  check(await tiles.nth(0).getAttribute('data-mark') === '+', 'the + key did not mark the first tile');
  await page.click('#more-like');
  await page.waitForSelector('#rank-results .tile');
  sameAnswer('more like these', await tilesOf('#rank-results'), expected.moreLikeThese.neighbors);
  await page.click('#rank-form button[value=rank]');
  await page.waitForFunction(() => document.querySelector('#rank-results .summary')?.textContent.startsWith('ranks'));
  const ranked = await tilesOf('#rank-results');
  check(ranked.length === 24 && ranked.every((r) => r.score >= 0 && r.score <= 1), 'the ranking shows no probabilities');
});

await step('asks for more like uploaded cutouts, and ranks by one whose planes the bands field names', async () => {
  const examples = expected.cutoutExamples;
  await page.goto(`${base}/#/rank`);
  await page.fill('#rank-form textarea[name=pos]', examples.positive);
  await page.setInputFiles('#pos-files', expected.byImage.file);
  await page.setInputFiles('#neg-files', expected.byFits.file);
  await page.click('#rank-form button[value=recommend]');
  await page.waitForFunction(() => document.querySelector('#rank-results .summary')?.textContent.endsWith('the 2 examples'));
  sameAnswer('more like the cutouts', await tilesOf('#rank-results'), examples.recommended);
  // The address keeps the ID, not the files.
  check(new URL(page.url()).hash.includes(`pos=${examples.positive}`), `the address is ${page.url()}`);

  await page.setInputFiles('#pos-files', expected.byNamedImage.file);
  await page.setInputFiles('#neg-files', []);
  await page.fill('#rank-form textarea[name=neg]', examples.negative);
  await page.fill('#rank-form input[name=bands]', expected.byNamedImage.bands);
  await page.click('#rank-form button[value=rank]');
  await page.waitForFunction(() => document.querySelector('#rank-results .summary')?.textContent.startsWith('ranks'));
  sameAnswer('ranked by the cutouts', await tilesOf('#rank-results'), examples.ranked);
  if (shots) await page.screenshot({ path: `${shots}/explorer-rank-cutouts.png` });

  // The next page pages the ranking shown: its examples, not what the form holds since.
  await page.setInputFiles('#pos-files', []);
  await page.fill('#rank-form textarea[name=neg]', '');
  await page.click('#next-page');
  await page.waitForFunction((first) => document.querySelector('#rank-results .summary')?.textContent
    .startsWith(`ranks ${first}`), String(examples.nextFirstRank));
  sameAnswer('the next page of the ranking', await tilesOf('#rank-results'), examples.nextPage);
  await page.setInputFiles('#pos-files', expected.byNamedImage.file);

  // A bands field that does not fit a file's planes is refused on the page, naming the file.
  await page.fill('#rank-form input[name=bands]', 'gri');
  await page.click('#rank-form button[value=rank]');
  await page.waitForFunction(() => document.getElementById('status').className === 'error');
  const refusal = await page.textContent('#status');
  check(refusal.includes('3 names') && refusal.includes('cutout-zirgu.npy'), `the refusal reads "${refusal}"`);
  check(await page.locator('#rank-results .tile').count() === 0, 'the last answer still shows after a refusal');
});

await step('opens a galaxy page', async () => {
  await page.goto(`${base}/#/galaxy/${expected.byId.id}`);
  await page.waitForSelector('#redshift-pdf polyline');
  await page.waitForFunction(() => [...document.querySelectorAll('.stretches img')].every((i) => i.complete && i.naturalWidth > 0));
  check((await page.textContent('#record')).includes(expected.byId.id), 'the record does not show the ID');
  sameAnswer('neighbours', await tilesOf('#neighbours'), expected.byId.neighbors);
  if (shots) await page.screenshot({ path: `${shots}/explorer-galaxy.png`, fullPage: true });
});

await step('shows a label made of markup as text', async () => {
  await page.goto(`${base}/#/galaxy/${expected.hostile.id}`);
  await page.waitForSelector('#galaxy-labels li.label');
  const chip = await page.textContent('#galaxy-labels li.label');
  check(chip.startsWith(expected.hostile.className), `the label reads "${chip}"`);
  check(await page.locator('#galaxy-labels img, #galaxy-labels script').count() === 0, 'markup in a label became elements');
  check(await page.evaluate(() => window.pwned === undefined), 'a label ran a script');
});

async function chips(n) {
  return page.$$eval('#anomalies .tile', (tiles, count) => tiles.slice(0, count).map((t) =>
    [...t.querySelectorAll('li.label')].map((li) => li.firstChild.textContent)), n);
}

await step('labels three anomalies with one key each, and sees them after a reload', async () => {
  await page.goto(`${base}/#/anomalies`);
  const shown = await tilesOf('#anomalies');
  check(JSON.stringify(shown.map((s) => s.id)) === JSON.stringify(expected.anomalies), 'the anomaly page differs from ListAnomalies');
  await page.locator('#anomalies .tile').nth(0).focus();
  await page.keyboard.press('i');
  await page.waitForSelector('#anomalies .tile:nth-child(1) li.label');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('n');
  await page.waitForSelector('#anomalies .tile:nth-child(2) li.label');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('c');
  await page.fill('#class-dialog input', 'ring');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#anomalies .tile:nth-child(3) li.label');
  await page.reload();
  await tilesOf('#anomalies');
  await page.waitForSelector('#anomalies .tile:nth-child(3) li.label');
  const labels = await chips(3);
  check(JSON.stringify(labels) === JSON.stringify([['interesting'], ['not interesting'], ['ring']]),
    `labels after the reload: ${JSON.stringify(labels)}`);
  if (shots) await page.screenshot({ path: `${shots}/explorer-anomalies.png` });
});

await step('works over HTTPS', async () => {
  const secure = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 860 } });
  const tab = await secure.newPage();
  const errors = [];
  tab.on('pageerror', (error) => errors.push(error.message));
  tab.on('response', (response) => response.status() >= 400 && errors.push(`HTTP ${response.status()} ${response.url()}`));
  await tab.goto(`${expected.httpsBase}/#/search?id=${expected.byId.id}&k=12`);
  await tab.waitForFunction(() => {
    const images = [...document.querySelectorAll('#search-results img.cutout')];
    return images.length === 12 && images.every((i) => i.complete && i.naturalWidth > 0);
  });
  const ids = await tab.$$eval('#search-results .tile', (tiles) => tiles.map((t) => t.dataset.id));
  check(JSON.stringify(ids) === JSON.stringify(expected.byId.neighbors.map((n) => n.id)), 'HTTPS answers differ');
  check(errors.length === 0, errors.join('; '));
  await secure.close();
});

await step('keeps the token out of every URL', async () => {
  if (expected.token) {
    const leaked = urls.filter((u) => u.includes(expected.token));
    check(leaked.length === 0, `the token is in ${leaked[0]}`);
  }
  check(urls.some((u) => u.includes('/cutout.png')), 'no cutout was requested');
});

await browser.close();
console.log('all explorer steps passed');
