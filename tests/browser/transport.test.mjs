// The operator app picks the transport the server offers (docs/realtime.md): GET /healthz names
// `events` = "websocket" (wrangler dev) or "sse" (the Spin host, LOBBY_E2E_RUNTIME=spin), and
// the app's live connection must be of that kind. On Server-Sent Events the server ends each
// stream after LOBBY_BROWSER_STREAM_SECONDS (8 s in these tests, see lib/server.mjs) and the
// browser's EventSource reconnects with Last-Event-ID: events before, across and after those
// reconnects must each show exactly once, without a reload, without a new snapshot of the
// queue, and without the connection indicator ever leaving "connected". On WebSocket the same
// events must show once over WebSockets only.
//
//   tests/browser/run.sh --test-name-pattern=transport
//   LOBBY_E2E_RUNTIME=spin node --test tests/browser/transport.test.mjs   (after source scripts/env.sh)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Api, UA, entryBody, seedTenant } from './lib/api.mjs';
import { eventually, hoverItem, openOperator, queueItem, tid, visible } from './lib/browser.mjs';
import { runtime, spinStreamSeconds, startServer } from './lib/server.mjs';

const TEST_TIMEOUT = 180_000;

let server;
let api;

before(async () => {
  server = await startServer();
  api = new Api(server);
});

after(async () => {
  if (server) await server.stop();
});

describe('operator app: the transport the server offers', { timeout: TEST_TIMEOUT * 2 }, () => {
  test('transport: live events over what /healthz names; the stream\'s own reconnects lose and double nothing', { timeout: TEST_TIMEOUT }, async () => {
    const health = await (await fetch(server.url('/healthz'))).json();
    const expected = runtime() === 'spin' ? 'sse' : 'websocket';
    assert.equal(health.events, expected, `GET /healthz on ${runtime()}: ${JSON.stringify(health)}`);

    const t = await seedTenant(api, { prefix: 'transport', operators: [{ name: 'Olga Operator' }] });
    const [olga] = t.operators;
    const b = await openOperator(server.base, olga);
    const { page } = b;
    try {
      // Watch the app's connections from a fresh start of the app (the token stays in
      // sessionStorage across the reload).
      const streams = []; // EventSource requests: {url, request}
      const sockets = [];
      let queueFetches = 0;
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname === '/api/v1/operator/events' && r.resourceType() === 'eventsource') {
          streams.push({ url: u, request: r });
        }
        if (u.pathname === '/api/v1/queue' && r.method() === 'GET') queueFetches += 1;
      });
      const t0 = Date.now();
      page.on('websocket', (ws) => {
        if (new URL(ws.url()).pathname !== '/api/v1/operator/events') return;
        const u = new URL(ws.url());
        const entry = `opened at ${Date.now() - t0} ms (after=${u.searchParams.get('after')})`;
        sockets.push(entry);
        ws.on('close', () => { sockets[sockets.indexOf(entry)] = `${entry}, closed at ${Date.now() - t0} ms`; });
      });
      await page.reload({ waitUntil: 'load' });
      await visible(tid(page, 'queue'), page, 'queue after reload', 20000);
      const connection = tid(page, 'connection-status');
      await eventually(async () => assert.equal(await connection.first().getAttribute('data-state'), 'connected'), { timeout: 15000 });
      await page.evaluate(() => { window.__lobbyNoReload = true; });

      if (expected === 'sse') {
        assert.ok(streams.length >= 1, 'the app opened an EventSource');
        assert.equal(sockets.length, 0, `no WebSocket on a server that offers SSE: ${sockets}`);
        assert.ok(streams[0].url.searchParams.get('token'), `the stream carries the token: ${streams[0].url}`);
      } else {
        assert.ok(sockets.length >= 1, 'the app opened a WebSocket');
        assert.equal(streams.length, 0, 'no EventSource on a server that offers WebSocket');
      }
      const snapshots = queueFetches;
      assert.ok(snapshots >= 1, 'the app took its snapshot of the queue after connecting');

      // Every state the indicator takes from now on, recorded in the page as it changes (also a
      // flicker too short for any sampling to see).
      await page.evaluate(() => {
        const state = () => document.querySelector('[data-testid="connection-status"]')?.getAttribute('data-state') ?? 'gone';
        window.__lobbyStates = new Set([state()]);
        new MutationObserver(() => window.__lobbyStates.add(state()))
          .observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
      });

      // On SSE: waits until the server has ended the stream `n` more times and the EventSource
      // has reconnected (its request for the next stream seen). A WebSocket is not ended by the
      // server: nothing to wait for there.
      const streamsEnded = async (n) => {
        if (expected !== 'sse') return;
        const want = streams.length + n;
        await eventually(() => assert.ok(streams.length >= want, `${streams.length} of ${want} streams`),
          { timeout: (n + 1) * (Number(spinStreamSeconds()) * 1000 + 5000) });
      };

      // Three clients: one at once, one after the stream has been ended (on SSE) at least once,
      // one after at least twice more.
      const names = ['Ada Adams', 'Bea Brown', 'Cyd Clark'];
      const clients = [];
      for (const [i, name] of names.entries()) {
        if (i > 0) await streamsEnded(i === 1 ? 1 : 2);
        const c = await api.enter(t.widget.key, entryBody({ name, language: 'en' }), { userAgent: UA.chromeWindows });
        clients.push(c);
        await visible(queueItem(page, c.client), page, `queue-item of ${name} (live)`);
        for (const prev of clients) {
          assert.equal(await queueItem(page, prev.client).count(), 1, `${prev.client} shows once`);
        }
      }
      assert.equal(await tid(page, 'queue-item').count(), 3, 'three clients wait, each once');

      // Accept the first and talk across one more end of the stream.
      const first = clients[0];
      const item = queueItem(page, first.client);
      await hoverItem(item);
      await tid(item, 'accept-button').first().click();
      const panel = tid(page, 'client-panel', `[data-session-id="${first.session}"]`);
      await visible(panel, page, 'client-panel after accept');
      const before = `before the stream ends ${Date.now()}`;
      await api.postClientMessage(first.token, before);
      await visible(tid(panel, 'message').filter({ hasText: before }), page, 'client message (live)');
      await streamsEnded(1);
      const afterText = `after the stream ended ${Date.now()}`;
      const posted = await api.postClientMessage(first.token, afterText);
      const msg = tid(panel, 'message').filter({ hasText: afterText });
      await visible(msg, page, 'client message after a reconnect (live)');
      await tid(panel, 'message-input').first().fill('an answer from Olga');
      await tid(panel, 'message-send').first().click();
      await eventually(async () => {
        const msgs = await api.clientMessages(first.token);
        assert.ok(msgs.some((m) => m.from === 'operator' && m.text === 'an answer from Olga'), JSON.stringify(msgs));
      });
      // A client message posted after all of these has shown: the stream has carried everything
      // before it, so a duplicate of an earlier one would be showing by now.
      const last = `the last one ${Date.now()}`;
      await api.postClientMessage(first.token, last);
      await visible(tid(panel, 'message').filter({ hasText: last }), page, 'the last client message (live)');
      assert.equal(await tid(panel, 'message').filter({ hasText: before }).count(), 1, 'the first message shows once');
      assert.equal(await msg.count(), 1, 'the later message shows once');
      assert.equal(await msg.first().getAttribute('data-seq'), String(posted.seq));
      const states = await page.evaluate(() => [...window.__lobbyStates]);

      assert.equal(await page.evaluate(() => window.__lobbyNoReload), true, 'the page was not reloaded');
      if (expected === 'sse') {
        assert.deepEqual(states, ['connected'], `the indicator stayed connected across the stream's ends (saw ${[...states]})`);
        // The server ended the stream at least three times. The EventSource's own reconnects
        // reuse its URL (no `after`: the app opened it before its first hello) and resume from
        // Last-Event-ID, without a new snapshot; should the app have opened a new EventSource
        // (its backoff path: URL with `after=<max seq>`), that one takes a snapshot.
        // (The header the network stack adds is in allHeaders(), not in headers().)
        const resumes = [];
        for (const s of streams.slice(1)) {
          resumes.push({
            after: s.url.searchParams.get('after'),
            lastEventId: (await s.request.allHeaders())['last-event-id'] ?? null,
          });
        }
        const own = resumes.filter((r) => r.after === null);
        const fresh = resumes.filter((r) => r.after !== null);
        assert.ok(own.length >= 3, `the EventSource reconnected by itself: ${JSON.stringify(resumes)}`);
        // (DevTools may not report the network stack's headers of every request, so a missing
        // header is not held against it; a present one must be a journal seq, and most show.)
        const withId = own.filter((r) => r.lastEventId !== null);
        assert.ok(withId.length >= 2, `resumed with Last-Event-ID: ${JSON.stringify(resumes)}`);
        for (const r of withId) assert.match(r.lastEventId, /^\d+$/, `Last-Event-ID is a seq: ${JSON.stringify(resumes)}`);
        for (const r of fresh) assert.match(r.after, /^\d+$/, `resumed with after: ${JSON.stringify(resumes)}`);
        assert.equal(queueFetches - snapshots, fresh.length,
          `a snapshot per new EventSource only, none for its own reconnects: ${JSON.stringify(resumes)}`);
      } else {
        // (A WebSocket is not ended by the server; should the connection drop, the app opens
        // another WebSocket, never an EventSource.)
        assert.ok(sockets.length >= 1, `WebSockets: ${JSON.stringify(sockets)}`);
        assert.equal(streams.length, 0, 'no EventSource on a server that offers WebSocket');
      }
    } finally {
      await b.close();
    }
  });
});
