// The operator app "reconnects by itself after a network drop or a server restart and resumes
// without losing or duplicating events" (docs/operator-app-contract.md, `connection-status`):
// Debian's Chromium driven by playwright-core against the real `wrangler dev` (or the Spin host
// with LOBBY_E2E_RUNTIME=spin, where the app's events are a stream of Server-Sent Events: "one
// WebSocket" below then means one open event stream).
//
// - Server restart: the whole `wrangler dev` process group is SIGKILLed (a crash, not a shutdown)
//   and started again on the same port with the same persistence folder and secrets.
// - Network drop: Chromium's offline emulation (`context.setOffline(true)`, or CDP's
//   `Network.emulateNetworkConditions`) leaves an open WebSocket open (checked with Chromium 156:
//   the socket stays OPEN on both ends, only `navigator.onLine` and the `offline` event change).
//   So the app is reached through a TCP proxy in this file that cuts the network for real:
//   every connection is reset (RST) and new ones are refused while it is down; or, harder, it goes
//   silent without closing anything (a half-open connection, as after a change of network), which
//   only the app's own heartbeat can notice. A third case is the browser going offline through
//   CDP (`Network.emulateNetworkConditions`), where the app closes its socket on `offline` and
//   reconnects on `online`.
// In each case clients enter and write while the app is cut off or after, and every client and
// message must then be shown exactly once (counted by data-client-id and data-seq), without a
// page reload. Waits are generous; nothing is timed.
//
//   tests/browser/run.sh                                (with the other browser tests)
//   node --test tests/browser/reconnect.test.mjs      (after `source scripts/env.sh`)

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { Api, UA, entryBody, seedTenant } from './lib/api.mjs';
import { describePage, eventually, gone, hoverItem, openOperator, queueItem, tid, visible } from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';

const TEST_TIMEOUT = 300_000;
/** How long the app may take to notice a drop / to be connected again (generous: backoff ≤ 8 s). */
const NOTICE_MS = 30_000;
const BACK_MS = 60_000;
/** A half-open connection is noticed by the app's heartbeat: silent > 25 s, checked every 10 s. */
const HALF_OPEN_NOTICE_MS = 90_000;

let server;
let api;
const browsers = new Set();
const proxies = new Set();

before(async () => {
  server = await startServer();
  api = new Api(server);
  const r = await fetch(server.url('/app/'));
  const body = await r.text();
  if (r.status !== 200 || !/<html/i.test(body)) {
    throw new Error(`the operator app is not served at ${server.url('/app/')} (HTTP ${r.status}): build it first (scripts/build-frontend.sh)`);
  }
});

after(async () => {
  for (const b of [...browsers]) await b.close();
  for (const p of [...proxies]) await p.close();
  if (server) await server.stop();
});

// ------------------------------------------------------------------ helpers

/**
 * Crash and restart: SIGKILL of wrangler's process group (lib/server.mjs's kill()), then the
 * same `wrangler dev` again (launch(): same port, --persist-to folder and secrets).
 */
async function crash(srv) {
  await srv.kill();
}
async function startAgain(srv) {
  await srv.launch();
}

/**
 * A TCP proxy in front of the server: `base` is what the browser uses. `cut()` resets every
 * connection and refuses new ones, `silence()` stops forwarding without closing anything (new
 * connections hang too), `restore()` forwards again (the silenced WebSocket stays silent; silenced
 * HTTP connections are reset, as a browser's idle pool would otherwise reuse one and hang).
 */
async function cutProxy(targetPort) {
  const pairs = new Set();
  let mode = 'up';
  const srv = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'down') {
      client.resetAndDestroy();
      return;
    }
    const pair = { client, upstream: null, ws: false, upgraded: false, silenced: false };
    pairs.add(pair);
    client.once('close', () => pairs.delete(pair));
    if (mode === 'silent') {
      pair.silenced = true;
      client.pause();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    pair.upstream = upstream;
    upstream.on('error', () => client.destroy());
    upstream.once('close', () => client.destroy());
    client.once('close', () => upstream.destroy());
    // An event connection: a WebSocket (for good once upgraded), or a stream of Server-Sent
    // Events (Spin), which the server ends after a while (the chunked body's last chunk) and
    // whose keep-alive connection the browser may then reuse for another request.
    client.on('data', (chunk) => {
      if (pair.upgraded) return;
      const head = chunk.toString('latin1', 0, 200);
      if (/^[A-Z]+ \//.test(head)) pair.ws = /^GET [^ ]*\/operator\/events/.test(head);
    });
    upstream.on('data', (chunk) => {
      if (pair.upgraded || !pair.ws) return;
      if (chunk.toString('latin1', 0, 12) === 'HTTP/1.1 101') pair.upgraded = true;
      else if (chunk.toString('latin1').endsWith('\r\n0\r\n\r\n') || chunk.toString('latin1') === '0\r\n\r\n') pair.ws = false;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  const p = {
    port,
    base: `http://127.0.0.1:${port}`,
    cut() {
      mode = 'down';
      for (const pair of pairs) {
        pair.client.resetAndDestroy();
        pair.upstream?.destroy();
      }
      pairs.clear();
    },
    silence() {
      mode = 'silent';
      for (const pair of pairs) {
        pair.silenced = true;
        if (pair.upstream) {
          pair.client.unpipe(pair.upstream);
          pair.upstream.unpipe(pair.client);
          pair.upstream.pause();
        }
        pair.client.pause();
      }
    },
    restore() {
      mode = 'up';
      for (const pair of [...pairs]) {
        if (pair.silenced && !pair.ws) {
          pair.client.resetAndDestroy();
          pair.upstream?.destroy();
          pairs.delete(pair);
        }
      }
    },
    /** Live (not silenced) event connections of the operator app (WebSocket or an open SSE stream). */
    liveSockets: () => [...pairs].filter((x) => x.ws && !x.silenced).length,
    close: () => new Promise((r) => {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream?.destroy();
      }
      srv.close(() => r());
      proxies.delete(p);
    }),
  };
  proxies.add(p);
  return p;
}

async function operatorBrowser(base, op) {
  const b = await openOperator(base, op);
  browsers.add(b);
  // Every data-state the connection indicator takes, in order (a state may last a blink), and a
  // marker that a reload would wipe.
  await b.page.evaluate(() => {
    window.__noReload = 'same document';
    window.__states = [];
    const seen = () => {
      const el = document.querySelector('[data-testid="connection-status"]');
      const s = el && el.getAttribute('data-state');
      if (s && window.__states[window.__states.length - 1] !== s) window.__states.push(s);
    };
    seen();
    new MutationObserver(seen).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
  });
  return b;
}

async function closeBrowser(b) {
  if (!b) return;
  browsers.delete(b);
  await b.close();
}

async function connState(page) {
  return tid(page, 'connection-status').first().getAttribute('data-state', { timeout: 5000 });
}

async function waitState(page, want, timeout, why) {
  try {
    await eventually(async () => assert.equal(await connState(page), want), { timeout, interval: 50 });
  } catch (e) {
    const states = await page.evaluate(() => window.__states).catch(() => '?');
    throw new Error(`connection-status data-state="${want}" ${why} (states seen: ${JSON.stringify(states)}): ${e.message.split('\n')[0]}\n  ${await describePage(page)}`);
  }
}

/** The states the indicator went through since `from` (an index into window.__states). */
async function statesSince(page, from) {
  return (await page.evaluate(() => window.__states)).slice(from);
}

async function statesCount(page) {
  return page.evaluate(() => window.__states.length);
}

/** Accepts a client through the app (hover its queue item, click accept); waits for its tab. */
async function acceptInApp(page, clientId) {
  const item = queueItem(page, clientId);
  await visible(item, page, `queue-item ${clientId}`, 20000);
  await hoverItem(item);
  const accept = tid(item, 'accept-button');
  await visible(accept, page, 'accept-button (on hover)');
  await accept.click();
  await visible(tid(page, 'client-tab', `[data-client-id="${clientId}"]`), page, `client-tab of ${clientId}`, 20000);
  await gone(queueItem(page, clientId), page, `queue-item of the accepted ${clientId}`, 20000);
}

/** Every `queue-item` in the page: its data-client-id values (with repeats, if any). */
async function queueIds(page) {
  return tid(page, 'queue-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-client-id')));
}

/**
 * The queue shows exactly `ids`, each once (waits until all are there, then checks again after a
 * moment, so that a late duplicate from a replay would be caught too).
 */
async function queueExactlyOnce(page, ids, what) {
  const check = async () => {
    const shown = await queueIds(page);
    for (const id of ids) {
      assert.equal(shown.filter((x) => x === id).length, 1, `${what}: client ${id} shown exactly once in the queue (shown: ${JSON.stringify(shown)})`);
    }
    assert.deepEqual([...shown].sort(), [...ids].sort(), `${what}: the queue shows exactly these clients`);
  };
  try {
    await eventually(check, { timeout: BACK_MS, interval: 200 });
    await new Promise((r) => setTimeout(r, 1500));
    await check();
  } catch (e) {
    throw new Error(`${e.message}\n  ${await describePage(page)}`);
  }
}

/** The conversation of `session` shows the client's message `text` exactly once; no seq twice. */
async function messageExactlyOnce(page, session, text, seq) {
  const panel = tid(page, 'client-panel', `[data-session-id="${session}"]`);
  const msgs = tid(panel, 'message');
  const check = async () => {
    const all = await msgs.evaluateAll((els) => els.map((e) => ({ seq: e.getAttribute('data-seq'), from: e.getAttribute('data-from'), text: e.textContent })));
    const hits = all.filter((m) => m.text.includes(text));
    assert.equal(hits.length, 1, `message ${JSON.stringify(text)} shown exactly once (conversation: ${JSON.stringify(all)})`);
    assert.equal(hits[0].from, 'client');
    if (seq !== undefined) assert.equal(hits[0].seq, String(seq), 'its data-seq is the posted seq');
    const seqs = all.map((m) => m.seq).filter((s) => s !== null && s !== '');
    assert.equal(new Set(seqs).size, seqs.length, `no message twice (data-seq: ${JSON.stringify(seqs)})`);
  };
  try {
    await eventually(check, { timeout: BACK_MS, interval: 200 });
    await new Promise((r) => setTimeout(r, 1500));
    await check();
  } catch (e) {
    throw new Error(`${e.message}\n  ${await describePage(page)}`);
  }
}

/** The app holds one live WebSocket through the proxy again (never two). */
async function oneSocket(page, proxy, t) {
  assert.ok(proxy.liveSockets() <= 1, `at most one WebSocket at a time (${proxy.liveSockets()})`);
  try {
    await eventually(() => assert.equal(proxy.liveSockets(), 1), { timeout: BACK_MS, interval: 100 });
  } catch (e) {
    const states = await page.evaluate(() => window.__states).catch(() => '?');
    throw new Error(`one WebSocket through the proxy again: ${e.message.split('\n')[0]} (states seen: ${JSON.stringify(states)})`);
  }
  t?.diagnostic(`connection-status went through ${JSON.stringify(await page.evaluate(() => window.__states))}`);
}

async function stillSameDocument(page) {
  assert.equal(await page.evaluate(() => window.__noReload), 'same document', 'the page was not reloaded');
}

/**
 * A tenant with one operator online, signed in to the app at `base`; clients c0 (accepted in the
 * app, its Client tab open), c1 and c2 waiting and seen in the queue.
 */
async function arrange(prefix, base) {
  const t = await seedTenant(api, { prefix, operators: [{ name: 'Olga Operator' }], chat: 5 });
  const [olga] = t.operators;
  const enter = (name, ua, language) => api.enter(t.widget.key, entryBody({ name, language }), { userAgent: ua });
  const c0 = await enter('Adam Accepted', UA.chromeWindows, 'en');
  const b = await operatorBrowser(base, olga);
  const { page } = b;
  await waitState(page, 'connected', BACK_MS, 'after signing in');
  // (The select shows the server's presence once GET /me answered.)
  await eventually(async () => assert.equal(await tid(page, 'status-select').first().inputValue(), 'online', 'the app shows the operator online'), { timeout: 15000 })
    .catch(async (e) => { throw new Error(`${e.message}\n  ${await describePage(page)}`); });
  await acceptInApp(page, c0.client);
  const c1 = await enter('Bára Waiting', UA.firefoxUbuntu, 'cs');
  const c2 = await enter('Cyril Waiting', UA.safariMac, 'en');
  await queueExactlyOnce(page, [c1.client, c2.client], 'before the drop');
  return { t, olga, b, page, c0, c1, c2, enter };
}

// ------------------------------------------------------------------ the tests

describe('operator app: reconnect and resume', { timeout: TEST_TIMEOUT * 4 }, () => {
  test('server restart (wrangler dev SIGKILLed, started again on the same port and state): reconnects, nothing lost or doubled', { timeout: TEST_TIMEOUT }, async () => {
    const w = await arrange('restart', server.base);
    const { page } = w;
    try {
      const before = await statesCount(page);
      await crash(server);
      await waitState(page, 'reconnecting', NOTICE_MS, 'once the server is gone');
      await startAgain(server);
      await waitState(page, 'connected', BACK_MS, 'after the server is back');
      const went = await statesSince(page, before);
      assert.ok(went.includes('reconnecting') && went[went.length - 1] === 'connected', `reconnecting, then connected: ${JSON.stringify(went)}`);
      await stillSameDocument(page);

      // The two who waited are still shown, once each; a new client shows up once.
      await queueExactlyOnce(page, [w.c1.client, w.c2.client], 'after the restart');
      const c3 = await w.enter('Dana After-Restart', UA.chromeAndroid, 'cs');
      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client], 'a client entering after the restart');

      // The accepted client writes after the restart: shown once in the conversation.
      const text = `Are you still there? (after the restart ${Date.now()})`;
      const posted = await api.postClientMessage(w.c0.token, text);
      await messageExactlyOnce(page, w.c0.session, text, posted.seq);
      await stillSameDocument(page);
    } finally {
      if (!server.running) await startAgain(server).catch(() => {});
      await closeBrowser(w.b);
    }
  });

  test('network drop (every connection reset, new ones refused): reconnects, events missed meanwhile shown once', { timeout: TEST_TIMEOUT }, async (t) => {
    const proxy = await cutProxy(server.port);
    const w = await arrange('netdrop', proxy.base);
    const { page } = w;
    try {
      assert.equal(proxy.liveSockets(), 1, 'the app holds one WebSocket through the proxy');
      const before = await statesCount(page);
      proxy.cut();
      await waitState(page, 'reconnecting', NOTICE_MS, 'once the network is cut');

      // While the app is cut off: a client enters and the accepted one writes.
      const c3 = await w.enter('Dana During-Drop', UA.chromeAndroid, 'cs');
      const text = `Hello? (written during the drop ${Date.now()})`;
      const posted = await api.postClientMessage(w.c0.token, text);
      // Give the app a few failed attempts while the network is still down.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await connState(page), 'reconnecting', 'still reconnecting while the network is down');

      proxy.restore();
      await waitState(page, 'connected', BACK_MS, 'after the network is back');
      const went = await statesSince(page, before);
      assert.ok(went.includes('reconnecting') && went[went.length - 1] === 'connected', `reconnecting, then connected: ${JSON.stringify(went)}`);
      await stillSameDocument(page);

      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client], 'after the drop');
      await messageExactlyOnce(page, w.c0.session, text, posted.seq);

      // And after it: a new client and a new message, once each.
      const c4 = await w.enter('Emil After-Drop', UA.edgeWindows, 'en');
      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client, c4.client], 'a client entering after the drop');
      const text2 = `Thanks, I see you again. (${Date.now()})`;
      const posted2 = await api.postClientMessage(w.c0.token, text2);
      await messageExactlyOnce(page, w.c0.session, text2, posted2.seq);
      await messageExactlyOnce(page, w.c0.session, text, posted.seq);
      await oneSocket(page, proxy, t);
    } finally {
      await closeBrowser(w.b);
      await proxy.close();
    }
  });

  test('browser offline (CDP network emulation; the app hears the offline event): reconnects when back online, nothing lost or doubled', { timeout: TEST_TIMEOUT }, async (t) => {
    const proxy = await cutProxy(server.port);
    const w = await arrange('offline', proxy.base);
    const { page } = w;
    const cdp = await page.context().newCDPSession(page);
    const network = (offline) => cdp.send('Network.emulateNetworkConditions', {
      offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
    });
    try {
      await cdp.send('Network.enable');
      const before = await statesCount(page);
      await network(true);
      await waitState(page, 'reconnecting', NOTICE_MS, 'once the browser is offline');
      const c3 = await w.enter('Dana Offline', UA.chromeAndroid, 'cs');
      const text = `Written while the operator was offline ${Date.now()}`;
      const posted = await api.postClientMessage(w.c0.token, text);
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await connState(page), 'reconnecting', 'still reconnecting while offline');
      // Whether the socket really closed (the app closes it itself on the offline event).
      t.diagnostic(`operator WebSockets open through the proxy while offline: ${proxy.liveSockets()}`);
      await network(false);
      await waitState(page, 'connected', BACK_MS, 'once the browser is back online');
      const went = await statesSince(page, before);
      assert.ok(went.includes('reconnecting') && went[went.length - 1] === 'connected', `reconnecting, then connected: ${JSON.stringify(went)}`);
      await stillSameDocument(page);
      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client], 'after being offline');
      await messageExactlyOnce(page, w.c0.session, text, posted.seq);
      await oneSocket(page, proxy, t);
    } finally {
      await cdp.detach().catch(() => {});
      await closeBrowser(w.b);
      await proxy.close();
    }
  });

  test('half-open connection (the network goes silent, nothing is closed): the heartbeat notices, reconnects, nothing lost or doubled', { timeout: TEST_TIMEOUT }, async (t) => {
    const proxy = await cutProxy(server.port);
    const w = await arrange('halfopen', proxy.base);
    const { page } = w;
    try {
      const before = await statesCount(page);
      proxy.silence();
      // Events the app cannot receive now: a client enters, the accepted one writes.
      const c3 = await w.enter('Dana Half-Open', UA.chromeAndroid, 'cs');
      const text = `Anyone there? (written while silent ${Date.now()})`;
      const posted = await api.postClientMessage(w.c0.token, text);
      await new Promise((r) => setTimeout(r, 2000));
      // The network comes back; the app's old socket stays silent (never closed by anyone).
      proxy.restore();
      await waitState(page, 'reconnecting', HALF_OPEN_NOTICE_MS, 'once the heartbeat finds the socket silent');
      await waitState(page, 'connected', BACK_MS, 'after reconnecting');
      const went = await statesSince(page, before);
      assert.ok(went.includes('reconnecting') && went[went.length - 1] === 'connected', `reconnecting, then connected: ${JSON.stringify(went)}`);
      await stillSameDocument(page);

      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client], 'after the half-open connection');
      await messageExactlyOnce(page, w.c0.session, text, posted.seq);
      const c4 = await w.enter('Emil After-Silence', UA.edgeWindows, 'en');
      await queueExactlyOnce(page, [w.c1.client, w.c2.client, c3.client, c4.client], 'a client entering afterwards');
      await oneSocket(page, proxy, t);
    } finally {
      await closeBrowser(w.b);
      await proxy.close();
    }
  });
});
