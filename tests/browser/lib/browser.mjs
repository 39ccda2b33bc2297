// Debian's Chromium driven by playwright-core (from the cached tools, no npm install here):
// one persistent context with a fresh profile folder per operator, so two operators are two
// independent browsers (the app keeps its token in sessionStorage), 1280×720, English.
// Elements are found by the data-testid attributes of docs/operator-app-contract.md.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { toolsNodeModules } from './server.mjs';

export const CHROMIUM = process.env.LOBBY_CHROMIUM || '/usr/bin/chromium';
export const VIEWPORT = { width: 1280, height: 720 };
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

let playwright;
/** playwright-core from $LOBBY_NODE_MODULES or $LOBBY_TOOLS/npm-current/node_modules. */
export function loadPlaywright() {
  if (playwright) return playwright;
  const nm = toolsNodeModules();
  const require = createRequire(path.join(nm, 'lobby-browser-tests.cjs'));
  try {
    playwright = require('playwright-core');
  } catch (e) {
    throw new Error(
      `playwright-core not found under ${nm} (scripts/install-tools.sh installs it; or set LOBBY_NODE_MODULES): ${e.message}`,
    );
  }
  return playwright;
}

/**
 * A fresh Chromium profile (persistent context in a new temporary folder): {context, page,
 * close()}. `close` also removes the folder. Console errors and uncaught page errors are
 * collected in `page.lobbyErrors` for failure messages.
 */
export async function launch({ javaScriptEnabled = true, locale = 'en-US', viewport = VIEWPORT } = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (or set LOBBY_CHROMIUM)`);
  }
  const { chromium } = loadPlaywright();
  const dir = fs.mkdtempSync(path.join(process.env.LOBBY_E2E_TMP || os.tmpdir(), 'lobby-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
      locale,
      javaScriptEnabled,
      timeout: 60000,
    });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] || (await context.newPage());
  watchErrors(page);
  context.on('page', watchErrors);
  let closed = false;
  return {
    context,
    page,
    dir,
    async close() {
      if (closed) return;
      closed = true;
      await context.close().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function watchErrors(page) {
  page.lobbyErrors = [];
  page.on('pageerror', (e) => page.lobbyErrors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') page.lobbyErrors.push(`console.error: ${m.text()}`);
  });
}

/** `[data-testid="id"]` inside a page or a locator. */
export function tid(scope, id, extra = '') {
  return scope.locator(`[data-testid="${id}"]${extra}`);
}

/** The queue-item of one client. */
export function queueItem(page, clientId) {
  return tid(page, 'queue-item', `[data-client-id="${clientId}"]`);
}

/** A few lines about a page for failure messages: URL, title, errors seen, visible text. */
export async function describePage(page) {
  if (!page || page.isClosed()) return '(page closed)';
  let text = '';
  try {
    text = (await page.locator('body').innerText({ timeout: 2000 })).replace(/\s+/g, ' ').slice(0, 600);
  } catch {
    // no body
  }
  const errors = (page.lobbyErrors || []).slice(-8).join('\n    ');
  return `url ${page.url()}, title ${JSON.stringify(await page.title().catch(() => '?'))}\n  page errors: ${errors || 'none'}\n  visible text: ${text}`;
}

/**
 * Retries `fn` (which throws, e.g. an assertion, until what it checks holds) until it returns
 * without throwing or `timeout` ms passed; then throws its last error.
 */
export async function eventually(fn, { timeout = 10000, interval = 100 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Waits until a locator is visible; on time-out the error says which test id and shows the page. */
export async function visible(locator, page, what, timeout = 10000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch (e) {
    throw new Error(`${what}: not visible within ${timeout} ms (${e.message.split('\n')[0]})\n  ${await describePage(page)}`);
  }
  return locator;
}

/** Waits until the locator matches an element in the DOM (visible or not: e.g. an empty list). */
export async function present(locator, page, what, timeout = 10000) {
  try {
    await locator.first().waitFor({ state: 'attached', timeout });
  } catch (e) {
    throw new Error(`${what}: not in the page within ${timeout} ms (${e.message.split('\n')[0]})\n  ${await describePage(page)}`);
  }
  return locator;
}

/** Waits until no element matches the locator any more. */
export async function gone(locator, page, what, timeout = 10000) {
  try {
    await locator.first().waitFor({ state: 'detached', timeout });
  } catch (e) {
    throw new Error(`${what}: still there after ${timeout} ms\n  ${await describePage(page)}`);
  }
}

/** Opens /app/ in `page` and signs in through the login form; waits for the queue. */
export async function signIn(page, base, { tenant, email, password }) {
  await page.goto(`${base}/app/`, { waitUntil: 'load' });
  await visible(tid(page, 'login-form'), page, 'login-form', 20000);
  await tid(page, 'login-tenant').fill(tenant);
  await tid(page, 'login-email').fill(email);
  await tid(page, 'login-password').fill(password);
  await tid(page, 'login-submit').click();
  await visible(tid(page, 'queue'), page, 'queue after sign-in', 20000);
}

/**
 * A browser for one operator, signed in: {context, page, close()}. `op` is {tenant, email,
 * password} (api.createOperator's answer has all three).
 */
export async function openOperator(base, op, opts = {}) {
  const b = await launch(opts);
  try {
    await signIn(b.page, base, op);
  } catch (e) {
    await b.close();
    throw e;
  }
  return b;
}

/** Makes the accept/preview buttons of a queue item show (they appear on hover/focus). */
export async function hoverItem(item) {
  await item.scrollIntoViewIfNeeded();
  await item.hover();
}

/** Fails with the page described when `fn` does not come to hold within `timeout` ms. */
export async function until(page, what, fn, timeout = 10000) {
  await eventually(fn, { timeout }).catch(async (e) => {
    throw new Error(`${what}: ${e.message}\n  ${await describePage(page)}`);
  });
}

/** The trimmed text of a locator's first element. */
export async function text(locator) {
  return (await locator.first().innerText({ timeout: 5000 })).trim();
}

/** A client's tab in the operator app. */
export function tabOf(page, clientId) {
  return tid(page, 'client-tab', `[data-client-id="${clientId}"]`);
}

/** The Client tab's panel of the session `session`. */
export function clientPanel(page, session) {
  return tid(page, 'client-panel', `[data-session-id="${session}"]`);
}

/**
 * Hovers a client's queue item and clicks its accept button (what happens next is the test's).
 * The queue redraws a row whose position changes, so a row can be replaced under the pointer:
 * hover and click are tried again on the new row.
 */
export async function clickAccept(page, clientId) {
  const item = queueItem(page, clientId);
  await visible(item, page, `queue-item ${clientId}`);
  await until(page, `hover and click accept-button of ${clientId}`, async () => {
    await item.first().hover({ timeout: 2000 });
    await tid(item, 'accept-button').first().click({ timeout: 2000 });
  }, 15000);
}

/** Accepts a client through the app and waits for its Client tab. */
export async function acceptInApp(page, clientId) {
  await clickAccept(page, clientId);
  const tab = tabOf(page, clientId);
  await visible(tab, page, `client-tab of ${clientId} after accept`);
  return tab;
}

/** The version of the Chromium binary (for reports). */
export async function chromiumVersion() {
  const b = await launch();
  try {
    return b.context.browser()?.version() || (await b.page.evaluate(() => navigator.userAgent));
  } finally {
    await b.close();
  }
}
