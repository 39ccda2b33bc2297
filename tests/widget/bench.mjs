// `make bench`, the client widget's part (issue 4, "Measure in make bench"): what a company's page
// pays for Lobby's widget and for Rocket.Chat's `@rocket.chat/livechat` (its npm build, served
// locally), measured in the same headless Chromium run: bytes transferred for the widget's own
// resources and time from navigation start to the widget's button being visible, medians of RUNS
// runs with a fresh browser context each, next to a baseline (the same company page without any
// widget). Goal: Lobby ≤ 50 % of livechat's bytes.
//
//   source scripts/env.sh; node tests/widget/bench.mjs
//
// Writes the section between <!-- widget:start --> and <!-- widget:end --> of BENCHMARKS.md (and
// prints it). Environment: LOBBY_WIDGET_BENCH_RUNS (default 7), LOBBY_LIVECHAT_VERSION (default
// 1.13.3, the newest on npm), LOBBY_CHROMIUM (default /usr/bin/chromium).
//
// How (each choice explained in the section it writes):
// - Lobby: `wrangler dev` (tests/widget/lib/harness.mjs's Server) with a tenant, an online
//   operator and a widget whose allowed origin is the company page's origin; the page embeds the
//   documented one-liner `<script src=".../widget.js" data-widget="KEY" async>`.
// - livechat: its npm tarball (`npm pack`, cached under $LOBBY_TOOLS/bench-livechat/<version>),
//   whose `build/` folder is what a Rocket.Chat server serves at /livechat; a node:http server
//   serves that folder (gzip -9, as a compressing server would) plus a minimal stub of
//   `GET /api/v1/livechat/config` (what the widget needs to draw its button); the page embeds the
//   documented snippet (it loads `rocketchat-livechat.min.js`, which opens an iframe at /livechat).
// - Both widget servers and the company site are on `localhost` with different ports (different
//   origins, same site): Chromium as Playwright launches it (ThirdPartyStoragePartitioning off)
//   refuses `localStorage` to a cross-site iframe, which livechat's app needs to start at all;
//   Lobby's loader needs no storage, and giving both the same arrangement keeps the comparison even.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';

import { Api, REPO, Server, freePort, sleep } from './lib/harness.mjs';
import { createRequire } from 'node:module';

const RUNS = Math.max(1, Number(process.env.LOBBY_WIDGET_BENCH_RUNS) || 7);
const LIVECHAT_VERSION = process.env.LOBBY_LIVECHAT_VERSION || '1.13.3';
const GOAL = 0.5;
const OUT = path.join(REPO, 'BENCHMARKS.md');
const START = '<!-- widget:start -->';
const END = '<!-- widget:end -->';
const TOOLS = process.env.LOBBY_TOOLS ||
  path.join(process.env.LOBBY_CACHE || path.join(os.homedir(), '.cache/lobby'), 'tools');
const NODE_MODULES = process.env.LOBBY_NODE_MODULES || path.join(TOOLS, 'npm-current/node_modules');
const CHROMIUM = process.env.LOBBY_CHROMIUM || '/usr/bin/chromium';

const say = (m) => console.log(`[lobby bench widget] ${m}`);
const kb = (b) => `${(b / 1000).toFixed(1)} KB`;
const ms = (t) => `${Math.round(t)} ms`;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const range = (xs) => `${ms(Math.min(...xs))}–${ms(Math.max(...xs))}`;

// ------------------------------------------------------------------ livechat's npm build

/** The folder of livechat's built widget (`build/`), fetched once with `npm pack` into the cache. */
function livechatBuild() {
  const dir = path.join(TOOLS, 'bench-livechat', LIVECHAT_VERSION);
  const build = path.join(dir, 'package/build');
  if (fs.existsSync(path.join(build, 'rocketchat-livechat.min.js')) && fs.existsSync(path.join(build, 'index.html'))) {
    return build;
  }
  say(`fetching @rocket.chat/livechat@${LIVECHAT_VERSION} from the npm registry into ${dir}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  // `npm pack` fetches the package's own tarball only (its dependencies are bundled into build/).
  const name = execFileSync('npm', ['pack', '--silent', `@rocket.chat/livechat@${LIVECHAT_VERSION}`], {
    cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop();
  execFileSync('tar', ['-xzf', name], { cwd: dir, stdio: 'inherit' });
  if (!fs.existsSync(path.join(build, 'rocketchat-livechat.min.js'))) {
    throw new Error(`@rocket.chat/livechat@${LIVECHAT_VERSION} has no build/rocketchat-livechat.min.js`);
  }
  return build;
}

const TYPES = {
  '.js': 'application/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.mp3': 'audio/mpeg',
};
const COMPRESSIBLE = new Set(['.js', '.css', '.html', '.svg', '.json']);

/** The minimal answer of a Rocket.Chat server to `GET /api/v1/livechat/config`: enabled, online. */
const LIVECHAT_CONFIG = JSON.stringify({
  config: {
    enabled: true,
    settings: {
      registrationForm: false, allowSwitchingDepartments: true, nameFieldRegistrationForm: false,
      emailFieldRegistrationForm: false, displayOfflineForm: true, videoCall: false, fileUpload: false,
      language: 'en', transcript: false, historyMonitorType: 'url', forceAcceptDataProcessingConsent: false,
      showConnecting: false, agentHiddenInfo: false, clearLocalStorageWhenChatEnded: false, limitTextLength: false,
    },
    theme: { title: 'Chat with us', color: '#14532d', offlineTitle: 'Leave a message', offlineColor: '#666666', actionLinks: [] },
    messages: {}, survey: {}, triggers: [], departments: [], resources: { sound: [] },
    online: true, guest: null, room: null, agent: null,
  },
  success: true,
});

/** livechat's server: /livechat (the app's index.html), /livechat/* (build/), the config stub. */
async function livechatServer(build) {
  const gz = new Map();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, type, body, ext) => {
      const headers = { 'Content-Type': type, 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-cache' };
      if (COMPRESSIBLE.has(ext) && /\bgzip\b/.test(req.headers['accept-encoding'] || '')) {
        const key = url.pathname;
        if (!gz.has(key)) gz.set(key, zlib.gzipSync(body, { level: 9 }));
        body = gz.get(key);
        headers['Content-Encoding'] = 'gzip';
        headers.Vary = 'Accept-Encoding';
      }
      headers['Content-Length'] = body.length;
      res.writeHead(status, headers);
      res.end(body);
    };
    if (url.pathname === '/livechat' || url.pathname === '/livechat/') {
      return send(200, TYPES['.html'], fs.readFileSync(path.join(build, 'index.html')), '.html');
    }
    if (url.pathname.startsWith('/livechat/')) {
      const rel = decodeURIComponent(url.pathname.slice('/livechat/'.length));
      const file = path.join(build, rel);
      if (file.startsWith(build + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile()) {
        const ext = path.extname(file);
        return send(200, TYPES[ext] || 'application/octet-stream', fs.readFileSync(file), ext);
      }
    }
    if (url.pathname === '/api/v1/livechat/config') {
      return send(200, TYPES['.json'], Buffer.from(LIVECHAT_CONFIG), '.json');
    }
    // Anything else (the DDP WebSocket at /websocket, other API calls): not stubbed.
    res.writeHead(404, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
    res.end('{"success":false}');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    port,
    base: `http://localhost:${port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// ------------------------------------------------------------------ the company's page

/** One company page, three variants that differ only in the embed: /bare, /lobby, /livechat. */
async function companySite(port, { lobbyBase, widgetKey, livechatBase }) {
  const page = (embed) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Garden Supplies</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 Georgia,serif;margin:0;color:#222;background:#fafaf7}
header{background:#14532d;color:#fff;padding:18px 32px;font:600 20px system-ui}
nav a{color:#bbf7d0;margin-left:18px;font-size:15px}main{padding:24px 32px;max-width:720px}</style>
</head><body><header>Acme Garden Supplies <nav><a href="/">Home</a><a href="/pricing">Pricing</a><a href="/contact">Contact</a></nav></header>
<main><h1>Everything for your garden</h1><p>Seeds, tools and advice since 1921. Ask us anything with the button in the corner.</p></main>
${embed}
</body></html>`;
  const pages = {
    '/bare': page(''),
    // docs/widget-contract.md: the one-line embed.
    '/lobby': page(`<script src="${lobbyBase}/widget.js" data-widget="${widgetKey}" async></script>`),
    // Rocket.Chat's documented Livechat embed (Administration → Omnichannel → Livechat
    // Installation), pointed at the local server.
    '/livechat': page(`<!-- Start of Rocket.Chat Livechat Script -->
<script type="text/javascript">
(function(w, d, s, u) {
	w.RocketChat = function(c) { w.RocketChat._.push(c) }; w.RocketChat._ = []; w.RocketChat.url = u;
	var h = d.getElementsByTagName(s)[0], j = d.createElement(s);
	j.async = true; j.src = '${livechatBase}/livechat/rocketchat-livechat.min.js?_=201903270000';
	h.parentNode.insertBefore(j, h);
})(window, document, 'script', '${livechatBase}/livechat?serverUrl=${encodeURIComponent(livechatBase)}');
</script>
<!-- End of Rocket.Chat Livechat Script -->`),
  };
  const server = http.createServer((req, res) => {
    const body = pages[new URL(req.url, 'http://x').pathname];
    res.writeHead(body ? 200 : 404, { 'Content-Type': body ? 'text/html; charset=utf-8' : 'text/plain', 'Cache-Control': 'no-cache' });
    res.end(body || 'not found');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    origin: `http://localhost:${port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}

// ------------------------------------------------------------------ the browser

function playwright() {
  const require = createRequire(path.join(NODE_MODULES, 'lobby-widget-bench.cjs'));
  return require('playwright-core');
}

/**
 * Injected into every frame before its scripts: stamps `window.__benchButtonAt` (epoch ms, from
 * performance.timeOrigin + now()) the first animation frame at which an element matching one of
 * `selectors` (searched through open shadow roots) has a box inside the frame's viewport and is
 * not hidden.
 */
function buttonWatcher(selectors) {
  const find = (root) => {
    for (const sel of selectors) {
      const el = root.querySelector(sel);
      if (el) return el;
    }
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) {
        const found = find(el.shadowRoot);
        if (found) return found;
      }
    }
    return null;
  };
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return false;
    if (r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) return false;
    const cs = getComputedStyle(el);
    return cs.visibility !== 'hidden' && cs.display !== 'none' && Number(cs.opacity) > 0;
  };
  const tick = () => {
    if (window.__benchButtonAt) return;
    const el = document.documentElement && find(document);
    if (el && shown(el)) {
      window.__benchButtonAt = performance.timeOrigin + performance.now();
      return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

const LIVECHAT_BUTTON = '[class*="screen__chat-button"]';

/**
 * One run in a fresh context: navigation to `url`, until the button is visible (or, for the bare
 * page, the load event). Returns {button, load, bytes: {body, headers, decoded, count}, resources}.
 */
async function run(browser, url, kind, widgetOrigin) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 }, locale: 'en-US' });
  try {
    await context.addInitScript(buttonWatcher, kind !== 'livechat' ? ['[data-testid="lobby-button-webchat"]'] : [LIVECHAT_BUTTON]);
    const page = await context.newPage();
    const pending = [];
    const done = [];
    context.on('requestfinished', (req) => {
      pending.push((async () => {
        const sizes = await req.sizes().catch(() => null);
        const resp = await req.response().catch(() => null);
        done.push({
          url: req.url(),
          status: resp ? resp.status() : 0,
          encoding: resp ? (await resp.allHeaders().catch(() => ({})))['content-encoding'] || '' : '',
          body: sizes ? sizes.responseBodySize : 0,
          headers: sizes ? sizes.responseHeadersSize : 0,
          decoded: resp ? (await resp.body().catch(() => Buffer.alloc(0))).length : 0,
          at: Date.now(),
        });
      })());
    });
    const failed = [];
    context.on('requestfailed', (req) => failed.push(req.url()));
    await page.goto(url, { waitUntil: 'commit', timeout: 60000 });
    let buttonFrame = page.mainFrame();
    if (kind === 'lobby' || kind === 'lobbyOpen') {
      await page.locator('[data-testid="lobby-button-webchat"]').waitFor({ state: 'visible', timeout: 60000 });
    } else if (kind === 'livechat') {
      await page.frameLocator('#rocketchat-iframe').locator(LIVECHAT_BUTTON).waitFor({ state: 'visible', timeout: 60000 });
      buttonFrame = page.frames().find((f) => f.url().startsWith(`${widgetOrigin}/livechat`));
    }
    await page.waitForLoadState('load', { timeout: 60000 });
    const origin = await page.evaluate(() => performance.timeOrigin);
    const load = await page.evaluate(() => {
      const n = performance.getEntriesByType('navigation')[0];
      return n ? n.loadEventStart : NaN;
    });
    let button = NaN;
    if (kind !== 'bare') {
      const at = await buttonFrame.waitForFunction(() => window.__benchButtonAt, null, { timeout: 30000 }).then((h) => h.jsonValue());
      button = at - origin;
    }
    let opened = NaN;
    if (kind === 'lobbyOpen') {
      // What a click on Chat costs on top: the widget app in its iframe, until its entry form shows.
      const t0 = Date.now();
      await page.locator('[data-testid="lobby-button-webchat"]').click({ timeout: 30000 });
      await page.frameLocator('#lobby-widget iframe').locator('[data-testid="entry-form"]').waitFor({ state: 'visible', timeout: 60000 });
      opened = Date.now() - t0;
    }
    const cutoff = Date.now();
    // Let every response that finished by now be accounted (sizes arrive asynchronously).
    await sleep(150);
    await Promise.all(pending);
    const mine = done.filter((d) => d.at <= cutoff + 150 && (widgetOrigin ? new URL(d.url).origin === widgetOrigin : true));
    const sum = (k) => mine.reduce((a, d) => a + d[k], 0);
    return {
      button, load, opened,
      bytes: { body: sum('body'), headers: sum('headers'), decoded: sum('decoded'), count: mine.length },
      resources: mine,
      all: done,
      failed,
    };
  } finally {
    await context.close().catch(() => {});
  }
}

// ------------------------------------------------------------------ BENCHMARKS.md

function writeSection(md) {
  let text = '';
  try { text = fs.readFileSync(OUT, 'utf8'); } catch { /* no file yet */ }
  const s = text.indexOf(START);
  const e = text.indexOf(END, s + 1);
  if (s >= 0 && e > s) text = text.slice(0, s) + md + text.slice(e + END.length);
  else text = text.length ? `${text.replace(/\n*$/, '')}\n\n${md}\n` : `${md}\n`;
  fs.writeFileSync(OUT, text);
}

function resourceList(rs, origin) {
  // One line per distinct resource (path, transferred body, decoded), from one run.
  return rs
    .map((r) => {
      const u = new URL(r.url);
      const p = (u.pathname + (u.search && u.pathname.endsWith('.js') ? '' : u.search))
        .replace(/token=[0-9a-f]+/, 'token=…')
        .replace(/^\/api\/v1\/widgets\/[^/]+\//, '/api/v1/widgets/{key}/')
        .replace(/serverUrl=[^&]+/, 'serverUrl=…');
      return `\`${p.length > 60 ? `${p.slice(0, 57)}…` : p}\` ${kb(r.body)}${r.encoding ? ` ${r.encoding}` : ''} (${kb(r.decoded)} decoded)`;
    })
    .join('; ');
}

async function main() {
  const started = Date.now();
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`);
  const build = livechatBuild();
  say(`livechat ${LIVECHAT_VERSION} build: ${build}`);

  say('starting wrangler dev');
  const server = await Server.start();
  const lc = await livechatServer(build);
  let site;
  let browser;
  try {
    const api = new Api(server);
    // The site's origin must be known before the widget is created: take its port first.
    const sitePort = await freePort();
    const siteOrigin = `http://localhost:${sitePort}`;
    const t = await api.tenant({ origins: [siteOrigin], operators: ['Olga'] });
    await api.status(t.ops.Olga, 'online');
    const lobbyBase = `http://localhost:${server.port}`;
    site = await companySite(sitePort, { lobbyBase, widgetKey: t.widget.key, livechatBase: lc.base });

    browser = await playwright().chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
      timeout: 60000,
    });
    const chromium = browser.version();

    const kinds = [
      { kind: 'bare', url: `${site.origin}/bare`, origin: null },
      { kind: 'lobby', url: `${site.origin}/lobby`, origin: lobbyBase },
      { kind: 'livechat', url: `${site.origin}/livechat`, origin: lc.base },
      { kind: 'lobbyOpen', url: `${site.origin}/lobby`, origin: lobbyBase },
    ];
    // An untimed warm-up of each (wrangler's first requests, the OS's file cache).
    say('warm-up run of each page (untimed)');
    for (const k of kinds) await run(browser, k.url, k.kind, k.origin);
    const res = { bare: [], lobby: [], livechat: [], lobbyOpen: [] };
    for (let i = 0; i < RUNS; i++) {
      // Rotate the order so that none is always first or last.
      const order = kinds.map((_, j) => kinds[(i + j) % kinds.length]);
      for (const k of order) res[k.kind].push(await run(browser, k.url, k.kind, k.origin));
      say(`run ${i + 1}/${RUNS}: lobby ${ms(res.lobby[i].button)} ${kb(res.lobby[i].bytes.body)}, livechat ${ms(res.livechat[i].button)} ${kb(res.livechat[i].bytes.body)}, bare page load ${ms(res.bare[i].load)}`);
    }

    const med = (k, f) => median(res[k].map(f));
    const lobbyBytes = med('lobby', (r) => r.bytes.body);
    const lcBytesAll = med('livechat', (r) => r.bytes.body);
    // livechat's own assets only: not the stubbed API answers (a real server's would be larger).
    const isAsset = (r) => new URL(r.url).pathname.startsWith('/livechat');
    const lcAssets = (r) => r.resources.filter(isAsset);
    const lcBytes = med('livechat', (r) => lcAssets(r).reduce((a, x) => a + x.body, 0));
    const lcStub = med('livechat', (r) => r.resources.filter((x) => !isAsset(x)).reduce((a, x) => a + x.body, 0));
    const lobbyHeaders = med('lobby', (r) => r.bytes.headers);
    const lcHeaders = med('livechat', (r) => lcAssets(r).reduce((a, x) => a + x.headers, 0));
    const lobbyDecoded = med('lobby', (r) => r.bytes.decoded);
    const lcDecoded = med('livechat', (r) => lcAssets(r).reduce((a, x) => a + x.decoded, 0));
    const lobbyCount = med('lobby', (r) => r.bytes.count);
    const lcCount = med('livechat', (r) => lcAssets(r).length);
    const bareBytes = med('bare', (r) => r.bytes.body);
    const ratio = lobbyBytes / lcBytes;
    const verdict = ratio <= GOAL ? 'PASS' : 'OVER';
    const tLobby = res.lobby.map((r) => r.button);
    const tLc = res.livechat.map((r) => r.button);
    const tBare = res.bare.map((r) => r.load);
    const timeRatio = median(tLobby) / median(tLc);
    const lobbyLoad = med('lobby', (r) => r.load);
    const lcLoad = med('livechat', (r) => r.load);
    const openBytes = med('lobbyOpen', (r) => r.bytes.body);
    const openDecoded = med('lobbyOpen', (r) => r.bytes.decoded);
    const openCount = med('lobbyOpen', (r) => r.bytes.count);
    const tOpen = res.lobbyOpen.map((r) => r.opened);
    const lcFailed = [...new Set(res.livechat.flatMap((r) => r.failed.map((u) => new URL(u).pathname)))];

    const cpus = os.cpus();
    const machine = `${cpus.length} × ${cpus[0]?.model?.trim() || 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
    const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const lastLobby = res.lobby[res.lobby.length - 1].resources;
    const lastLc = lcAssets(res.livechat[res.livechat.length - 1]);
    const md = `${START}
## Client widget vs Rocket.Chat Livechat in headless Chromium

Measured by \`make bench\` (this section: \`tests/widget/bench.mjs\`, alone: \`source scripts/env.sh; node tests/widget/bench.mjs\`) on ${when}.
Machine: ${machine}. Chromium ${chromium} (headless, \`${CHROMIUM}\`) driven by playwright-core.
Medians of ${RUNS} runs each (fresh browser context per run, the pages interleaved in rotating order, after one untimed warm-up of each); times are from navigation start of the company page.

| figure | Lobby widget | \`@rocket.chat/livechat\` ${LIVECHAT_VERSION} | Lobby / livechat |
| --- | --- | --- | --- |
| **Bytes transferred until the button is visible** (response bodies as sent) | **${kb(lobbyBytes)}** (${lobbyCount} responses) | **${kb(lcBytes)}** (${lcCount} responses) | **${(ratio * 100).toFixed(1)} %: ${verdict}** (goal ≤ ${GOAL * 100} %) |
| the same, decoded (uncompressed) | ${kb(lobbyDecoded)} | ${kb(lcDecoded)} | ${(lobbyDecoded / lcDecoded * 100).toFixed(1)} % |
| response headers | ${kb(lobbyHeaders)} | ${kb(lcHeaders)} | |
| **Navigation → button visible** | **${ms(median(tLobby))}** (${range(tLobby)}) | **${ms(median(tLc))}** (${range(tLc)}) | **${timeRatio.toFixed(2)} ×** |
| button visible, relative to the bare page's load event | ${(median(tLobby) / median(tBare)).toFixed(2)} × | ${(median(tLc) / median(tBare)).toFixed(2)} × | |
| company page's load event with the widget | ${ms(lobbyLoad)} | ${ms(lcLoad)} | |
| Lobby only: after a click on Chat, until the widget app's entry form shows (loader + app, all of Lobby's responses) | ${kb(openBytes)} (${openCount} responses; ${kb(openDecoded)} decoded), click → form ${ms(median(tOpen))} (${range(tOpen)}) | livechat's figure above already holds its whole app | ${(openBytes / lcBytes * 100).toFixed(1)} % |
| Baseline: the same company page without a widget, to its load event | ${ms(median(tBare))} (${range(tBare)}), ${kb(bareBytes)} | | |

Lobby's bytes: ${resourceList(lastLobby)}.

livechat's bytes: ${resourceList(lastLc)}. Not counted for livechat: the local stub's answers (${kb(lcStub)} in all: its config, plus 404s${lcFailed.length ? `; failed: ${lcFailed.map((p) => `\`${p}\``).join(', ')}` : ''}); its app also opens a DDP WebSocket at \`/websocket\`, which the stub refuses (the button shows regardless). Lobby's figure does include its real \`GET /api/v1/widgets/{key}/config\` answer.

How: one company page (a header, a heading, a paragraph) in three variants that differ only in the embed, served by node:http at \`http://localhost:P\`.
*Lobby*: the built worker under \`wrangler dev\` (static files from \`frontend/dist/\`), a tenant with one online operator and a widget whose allowed origin is the page's origin; the page carries the documented one-liner \`<script src="http://localhost:L/widget.js" data-widget="KEY" async>\`; the button is \`[data-testid=lobby-button-webchat]\` (in the loader's open shadow root).
*livechat*: the npm package \`@rocket.chat/livechat@${LIVECHAT_VERSION}\` (the newest on npm; fetched once with \`npm pack\` into \`$LOBBY_TOOLS/bench-livechat/\`), whose \`build/\` folder is what a Rocket.Chat server serves at \`/livechat\`; a node:http server at \`http://localhost:R\` serves it gzip-compressed at level 9 (as a compressing server would; wrangler dev likewise serves Lobby's files gzip-encoded) with \`GET /api/v1/livechat/config\` answered by a minimal stub (enabled, online, no departments or triggers); the page carries Rocket.Chat's documented embed snippet (it loads \`rocketchat-livechat.min.js\`, which opens the app in an iframe at \`/livechat\`), and the button is the app's launcher \`[class*=screen__chat-button]\` inside that iframe.
Both widget servers are on \`localhost\` with their own ports (other origins than the page, the same site): Chromium as Playwright launches it (with \`ThirdPartyStoragePartitioning\` off) refuses \`localStorage\` to a cross-site iframe, without which livechat's app does not start; Lobby's loader opens no iframe before a click, and both get the same arrangement.
*Bytes*: Playwright's \`request.sizes().responseBodySize\` (the encoded body as received; Chromium's \`encodedDataLength\` minus headers) summed over the responses from the widget's own origin that finished by the time the button was visible. *Button visible*: a script injected into every frame before the page's own stamps \`performance.timeOrigin + performance.now()\` at the first animation frame at which the button has a box inside its frame's viewport and is not hidden; the time is that minus the company page's \`performance.timeOrigin\`. KB = 1,000 bytes.
${END}`;
    writeSection(md);
    console.log(`\n${md}\n`);
    say(`Lobby ${kb(lobbyBytes)} vs livechat ${kb(lcBytes)}: ${(ratio * 100).toFixed(1)} % (goal ≤ ${GOAL * 100} %): ${verdict}; button ${ms(median(tLobby))} vs ${ms(median(tLc))} (${timeRatio.toFixed(2)} ×)`);
    say(`wrote the widget section of ${OUT} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (site) await site.close();
    await lc.close();
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`[lobby bench widget] FAILED: ${e.stack || e}`);
    process.exit(1);
  },
);
