// `make bench`, the operator app's part: what the app costs to download and how fast it becomes
// usable, in headless Chromium against the real `wrangler dev` (the worker and the app built
// beforehand). Writes its section of BENCHMARKS.md, between the markers
// `<!-- operator-app:start -->` and `<!-- operator-app:end -->` (replaced when present, else
// appended; the rest of the file is another script's), and prints the same.
//
//   node tests/browser/bench.mjs        (after `source scripts/env.sh`; `make bench` does both)
//
// Environment: LOBBY_BENCH_RUNS (navigations per timed figure, default 10), LOBBY_BENCH_CLIENTS
// (waiting clients of the large-queue figure, default 1000), LOBBY_BENCH_BIG_RUNS (default 3),
// LOBBY_BENCH_OUT (the Markdown file, default BENCHMARKS.md at the repository root).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { Api, UA, entryBody, inBatches, seedTenant } from './lib/api.mjs';
import { CHROMIUM, describePage, launch, signIn, tid } from './lib/browser.mjs';
import { REPO_ROOT, startServer } from './lib/server.mjs';

const RUNS = intEnv('LOBBY_BENCH_RUNS', 10);
const BIG = intEnv('LOBBY_BENCH_CLIENTS', 1000);
const BIG_RUNS = intEnv('LOBBY_BENCH_BIG_RUNS', 3);
const OUT = process.env.LOBBY_BENCH_OUT || path.join(REPO_ROOT, 'BENCHMARKS.md');
const WASM_BUDGET = 300_000; // bytes of gzip: "app Wasm ≤ 300 KB gzip", 1 KB = 1,000 bytes
const START = '<!-- operator-app:start -->';
const END = '<!-- operator-app:end -->';

function intEnv(name, dflt) {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : dflt;
}

const say = (msg) => console.log(`[lobby bench app] ${msg}`);
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`;
const ms = (x) => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const spread = (xs) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;

// In every document of a timed context: watches the DOM (mutations and animation frames) and
// stamps, with performance.now() (ms since the navigation started), the first moment
//  - the first queue-item is visible and its accept-button is present and enabled (`interactive`),
//  - at least `want` queue-items are in the DOM (`all`), and the first one is visible (`first`).
// A stamp taken by the page itself leaves out the time the harness needs to notice it.
function watchQueue({ want, session }) {
  if (!location.pathname.startsWith('/app')) return;
  if (session) for (const [k, v] of Object.entries(session)) sessionStorage.setItem(k, v);
  const marks = (window.__lobbyMarks = {});
  const check = () => {
    const items = document.querySelectorAll('[data-testid="queue-item"]');
    const first = items[0];
    if (!first) return;
    const visible = first.checkVisibility ? first.checkVisibility() : first.offsetParent !== null;
    if (visible && marks.first === undefined) marks.first = performance.now();
    const btn = first.querySelector('[data-testid="accept-button"]');
    if (visible && btn && !btn.disabled && marks.interactive === undefined) marks.interactive = performance.now();
    if (items.length >= want && marks.all === undefined) marks.all = performance.now();
  };
  const start = () => {
    new MutationObserver(check).observe(document.documentElement, { childList: true, subtree: true, attributes: true });
    const frame = () => {
      check();
      if (marks.interactive === undefined || marks.all === undefined) requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  };
  if (document.documentElement) start();
  else document.addEventListener('readystatechange', start, { once: true });
}

/** The sessionStorage of a signed-in app (what a reload of the tab would find). */
async function signedInSession(base, op) {
  const b = await launch();
  try {
    await signIn(b.page, base, op);
    await tid(b.page, 'queue-item').first().waitFor({ state: 'visible', timeout: 30000 });
    return await b.page.evaluate(() => Object.fromEntries(Object.entries(sessionStorage)));
  } finally {
    await b.close();
  }
}

/**
 * One timed navigation to /app/ in `context` (a page of it), the session restored: resolves to
 * the page's marks once `mark` is stamped. If the accept button exists only on hover, the first
 * item is hovered once it is visible (the stamp then includes that hover).
 */
async function timedNavigation(context, base, mark, timeout) {
  const page = await context.newPage();
  try {
    await page.goto(`${base}/app/`, { waitUntil: 'commit', timeout });
    const deadline = Date.now() + timeout;
    let hovered = false;
    for (;;) {
      const marks = await page.evaluate(() => window.__lobbyMarks || {});
      if (marks[mark] !== undefined) return { marks, page };
      if (!hovered && marks.first !== undefined && mark === 'interactive') {
        hovered = true;
        await page.locator('[data-testid="queue-item"]').first().hover().catch(() => {});
      }
      if (Date.now() > deadline) {
        throw new Error(`no "${mark}" within ${timeout} ms (marks ${JSON.stringify(marks)})\n  ${await describePage(page)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (e) {
    await page.close().catch(() => {});
    throw e;
  }
}

/** Fresh profile per run: cold HTTP cache, nothing compiled. */
async function coldRuns(base, session, { mark, want, runs, timeout }) {
  const out = [];
  let resources = null;
  for (let i = 0; i < runs; i += 1) {
    const b = await launch();
    try {
      await b.context.addInitScript(watchQueue, { want, session });
      const { marks, page } = await timedNavigation(b.context, base, mark, timeout);
      out.push(marks[mark]);
      if (!resources) {
        await page.waitForLoadState('load');
        resources = await page.evaluate(() =>
          [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')].map((e) => ({
            url: e.name,
            transfer: e.transferSize,
            encoded: e.encodedBodySize,
            decoded: e.decodedBodySize,
          })),
        );
      }
    } finally {
      await b.close();
    }
  }
  return { times: out, resources };
}

/** One profile, one page after another: warm HTTP cache (and Chromium's code caches). */
async function warmRuns(base, session, { mark, want, runs, timeout }) {
  const b = await launch();
  try {
    await b.context.addInitScript(watchQueue, { want, session });
    const warm = await timedNavigation(b.context, base, mark, timeout);
    await warm.page.close();
    const out = [];
    for (let i = 0; i < runs; i += 1) {
      const { marks, page } = await timedNavigation(b.context, base, mark, timeout);
      out.push(marks[mark]);
      await page.close();
    }
    return out;
  } finally {
    await b.close();
  }
}

/**
 * The baseline: /app/index.html alone (scripts disabled, so nothing else loads), from navigation
 * start to its load event, in a fresh profile each run.
 */
async function baselineRuns(base, runs) {
  const out = [];
  for (let i = 0; i < runs; i += 1) {
    const b = await launch({ javaScriptEnabled: false });
    try {
      await b.page.goto(`${base}/app/index.html`, { waitUntil: 'load' });
      const nav = await b.page.evaluate(() => performance.getEntriesByType('navigation')[0].toJSON());
      out.push(nav.loadEventEnd);
    } finally {
      await b.close();
    }
  }
  return out;
}

/** The app's files as the server hands them out, with their gzip -9 sizes. */
async function appFiles(base, resources) {
  const urls = new Set(
    (resources || [])
      .filter((r) => new URL(r.url).pathname.startsWith('/app/'))
      .map((r) => r.url.split('#')[0]),
  );
  urls.add(`${base}/app/`);
  const files = [];
  for (const url of urls) {
    const r = await fetch(url);
    const body = Buffer.from(await r.arrayBuffer());
    if (r.status !== 200) continue;
    const p = new URL(url).pathname;
    const kind = p.endsWith('.wasm') ? 'wasm' : p.endsWith('.js') || p.endsWith('.mjs') ? 'js' : p.endsWith('.css') ? 'css' : p.endsWith('/') || p.endsWith('.html') ? 'html' : 'other';
    const seen = (resources || []).find((x) => x.url.split('#')[0] === url);
    files.push({
      path: p,
      kind,
      raw: body.length,
      gzip: zlib.gzipSync(body, { level: 9 }).length,
      transfer: seen ? seen.transfer : null,
      encoding: r.headers.get('content-encoding') || 'identity (or decoded by fetch)',
    });
  }
  files.sort((a, b) => b.raw - a.raw);
  return files;
}

async function seedWaiting(api, t, n) {
  const names = ['Eva Horáková', 'Martin Novák', 'Sophie Müller', 'James Walker', 'Katarzyna Wiśniewska', 'Lukáš Procházka', 'Peter Hughes', 'Anna Svobodová', 'Jonas Schmidt', 'Marie Dubois'];
  const langs = ['cs', 'cs', 'de', 'en-gb', 'pl', 'sk', 'en', 'cs', 'de', 'fr'];
  const uas = Object.values(UA);
  const kinds = ['webchat', 'webchat', 'webchat', 'video', 'callback'];
  return inBatches(Array.from({ length: n }, (_, i) => i), 20, (i) =>
    api.enter(
      t.widget.key,
      entryBody({
        entry: kinds[i % kinds.length],
        name: n > names.length ? `${names[i % names.length]} ${i + 1}` : names[i],
        phone: `+420 6${String(10000000 + i).slice(-8).replace(/(\d{2})(\d{3})(\d{3})/, '$1 $2 $3')}`,
        language: langs[i % langs.length],
        page: { url: `https://www.acme.cz/page/${i % 17}`, title: `Page ${i % 17}` },
      }),
      { userAgent: uas[i % uas.length] },
    ),
  );
}

function section({ when, machine, chromium, files, wasmGzip, jsGzip, allGzip, transferred, baseline, cold, warm, big, verdict }) {
  const ratio = (x) => `${(x / median(baseline)).toFixed(1)} ×`;
  const rows = files
    .map((f) => `| \`${f.path}\` | ${f.kind} | ${kb(f.raw)} | ${kb(f.gzip)} | ${f.transfer == null ? 'n/a' : kb(f.transfer)} |`)
    .join('\n');
  return `${START}
## Operator app in headless Chromium

Measured by \`make bench\` (this section: \`tests/browser/bench.mjs\`) on ${when}.
Machine: ${machine}. Chromium ${chromium} (headless, \`${CHROMIUM}\`) driven by playwright-core,
against \`wrangler dev\` on 127.0.0.1 serving the built worker and \`frontend/dist/app/\`. Times are from navigation start
(\`performance.now()\` in the page), medians with the range of the runs; ratios are to the
baseline, a trivial static page from the same server measured in the same run.

| figure | value | ratio to baseline |
| --- | --- | --- |
| **App Wasm, gzip -9** (budget ≤ 300 KB) | **${kb(wasmGzip)}: ${verdict}** | |
| App JS, gzip -9 | ${kb(jsGzip)} | |
| All of \`/app/\` (${files.length} files), gzip -9 | ${kb(allGzip)} | |
| Bytes transferred for \`/app/\` by \`wrangler dev\` (cold profile) | ${kb(transferred)} | |
| Baseline: \`/app/index.html\` alone, scripts off, to its load event (${baseline.length} runs) | ${ms(median(baseline))} (${spread(baseline)}) | 1.0 × |
| Navigation → interactive queue, fresh profile (${cold.length} runs) | ${ms(median(cold))} (${spread(cold)}) | ${ratio(median(cold))} |
| Navigation → interactive queue, warm cache (${warm.length} runs) | ${ms(median(warm))} (${spread(warm)}) | ${ratio(median(warm))} |
| Navigation → ${BIG.toLocaleString('en')} waiting clients rendered, fresh profile (${big.length} runs) | ${ms(median(big))} (${spread(big)}) | ${ratio(median(big))} |

| file | kind | size | gzip -9 | transferred |
| --- | --- | --- | --- | --- |
${rows}

How: one tenant with one group, one operator (chat limit 3, online) and a widget; 10 clients
waiting (webchat, video and callback entries with names, phones, languages, real browsers'
User-Agents) for the interactive figures, and in a second tenant ${BIG.toLocaleString('en')} clients entered through
\`POST /api/v1/widgets/{key}/entries\` (20 at a time) for the large queue. The operator signs in
once through the form; each timed run opens \`/app/\` with that sessionStorage restored (as a
reload of the tab would), and a script injected before the app watches the DOM (mutations and
animation frames). *Interactive* = the first \`queue-item\` is visible and its \`accept-button\` is
present and enabled (if the app creates that button only on hover, the harness hovers the first
item once it is visible). *Rendered* = ${BIG.toLocaleString('en')} \`queue-item\` elements are in the DOM. Fresh profile =
a new Chromium profile (empty HTTP cache) per run; warm cache = new tabs of one profile after a
first, untimed load. Sizes: each file under \`/app/\` the page loaded, fetched again and gzipped
with node:zlib at level 9; "transferred" is Resource Timing's \`transferSize\` (headers included;
\`wrangler dev\` serves the assets gzip-encoded). KB = 1,000 bytes.
${END}`;
}

function writeSection(md) {
  let text = '';
  try {
    text = fs.readFileSync(OUT, 'utf8');
  } catch {
    // no file yet
  }
  const s = text.indexOf(START);
  const e = text.indexOf(END, s + 1);
  if (s >= 0 && e > s) {
    text = text.slice(0, s) + md + text.slice(e + END.length);
  } else {
    text = text.length ? `${text.replace(/\n*$/, '')}\n\n${md}\n` : `${md}\n`;
  }
  fs.writeFileSync(OUT, text);
}

async function main() {
  const started = Date.now();
  say(`starting wrangler dev (runs ${RUNS}, large queue ${BIG} × ${BIG_RUNS})`);
  const server = await startServer();
  try {
    const r = await fetch(server.url('/app/'));
    await r.arrayBuffer();
    if (r.status !== 200) throw new Error(`the operator app is not served at ${server.url('/app/')} (HTTP ${r.status}): run scripts/build-frontend.sh`);
    const api = new Api(server);

    say('seeding a tenant with 10 waiting clients');
    const small = await seedTenant(api, { prefix: 'bench', operators: [{ name: 'Jana Nováková' }] });
    await seedWaiting(api, small, 10);
    const session = await signedInSession(server.base, small.operators[0]);

    say(`baseline: /app/index.html alone × ${RUNS}`);
    const baseline = await baselineRuns(server.base, RUNS);
    say(`navigation → interactive queue, fresh profile × ${RUNS}`);
    const coldRes = await coldRuns(server.base, session, { mark: 'interactive', want: 1, runs: RUNS, timeout: 60000 });
    say(`navigation → interactive queue, warm cache × ${RUNS}`);
    const warm = await warmRuns(server.base, session, { mark: 'interactive', want: 1, runs: RUNS, timeout: 60000 });

    const files = await appFiles(server.base, coldRes.resources);
    const sum = (pred, key) => files.filter(pred).reduce((a, f) => a + (f[key] || 0), 0);
    const wasmGzip = sum((f) => f.kind === 'wasm', 'gzip');
    const jsGzip = sum((f) => f.kind === 'js', 'gzip');
    const allGzip = sum(() => true, 'gzip');
    const transferred = (coldRes.resources || [])
      .filter((x) => new URL(x.url).pathname.startsWith('/app/'))
      .reduce((a, x) => a + (x.transfer || 0), 0);
    if (!files.some((f) => f.kind === 'wasm')) say('WARNING: the page loaded no .wasm file under /app/');

    say(`seeding a second tenant with ${BIG} waiting clients (20 entries at a time)`);
    const t0 = Date.now();
    const bigT = await seedTenant(api, { prefix: 'bench-big', operators: [{ name: 'Petr Svoboda' }] });
    await seedWaiting(api, bigT, BIG);
    say(`  entered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const bigSession = await signedInSession(server.base, bigT.operators[0]);
    say(`navigation → ${BIG} queue items, fresh profile × ${BIG_RUNS}`);
    const big = (await coldRuns(server.base, bigSession, { mark: 'all', want: BIG, runs: BIG_RUNS, timeout: 180000 })).times;

    const verdict = wasmGzip === 0 ? 'OVER (no .wasm file loaded)' : wasmGzip <= WASM_BUDGET ? 'PASS' : 'OVER';
    const b = await launch();
    const chromium = b.context.browser()?.version() || (await b.page.evaluate(() => navigator.userAgent));
    await b.close();
    const cpus = os.cpus();
    const machine = `${cpus.length} × ${cpus[0]?.model?.trim() || 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
    const md = section({
      when: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      machine, chromium, files, wasmGzip, jsGzip, allGzip, transferred,
      baseline, cold: coldRes.times, warm, big, verdict,
    });
    writeSection(md);
    console.log(`\n${md}\n`);
    say(`app Wasm ${kb(wasmGzip)} gzip, budget ${kb(WASM_BUDGET)}: ${verdict}`);
    say(`wrote the operator-app section of ${OUT} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`[lobby bench app] FAILED: ${e.stack || e}`);
    process.exit(1);
  },
);
