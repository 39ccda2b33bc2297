// Browser tests of the operator app's workday beyond the basics of operator.test.mjs: refusals
// explained in words (the chat limit, a call served alone), several Client tabs and the keyboard
// shortcuts, redirecting an active client to a group, tags, notes and closing, the alerts for a
// new client (sound, desktop notification, title), the admin screens, and the two languages at a
// 1280×720 viewport. Debian's Chromium driven by playwright-core against the real `wrangler dev`;
// clients enter and write through the HTTP API as the widget would, operators act through the
// app; each test has its own tenant.
//
//   tests/browser/run.sh --test-name-pattern='workday'     (the worker and the app built first)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Api, UA, entryBody, seedTenant } from './lib/api.mjs';
import {
  acceptInApp, clickAccept, clientPanel, gone, hoverItem, launch, openOperator, present, queueItem, signIn,
  tabOf, text, tid, until, visible,
} from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';

const TEST_TIMEOUT = 180_000;

let server;
let api;
const browsers = new Set();

/** A signed-in operator browser (extra launch options: locale, viewport), closed after the file. */
async function operatorBrowser(op, opts = {}) {
  const b = await openOperator(server.base, op, opts);
  browsers.add(b);
  return b;
}

async function closeAll(...bs) {
  for (const b of bs) {
    if (!b) continue;
    browsers.delete(b);
    await b.close();
  }
}

/** The visible error-message's text, once there is one. */
async function refusal(page, what) {
  const err = tid(page, 'error-message');
  await visible(err, page, `error-message (${what})`);
  assert.equal(await err.first().getAttribute('role'), 'alert', 'error-message has role="alert"');
  return text(err);
}

/** Makes the app believe its browser tab went to the background (or came back). */
async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') });
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/**
 * Listens to a client's events (/api/v1/client/events) as the widget does, over the transport
 * GET /healthz names (a WebSocket, or Server-Sent Events on Spin); `frames` fills with the parsed
 * frames.
 */
function clientStream(clientToken) {
  const u = new URL('/api/v1/client/events', server.base);
  u.searchParams.set('token', clientToken);
  u.searchParams.set('after', '0');
  const frames = [];
  const push = (data) => {
    try {
      frames.push(JSON.parse(data));
    } catch {
      frames.push({ unparsed: String(data) });
    }
  };
  const stop = new AbortController();
  let ws = null;
  const opened = (async () => {
    const health = await (await fetch(new URL('/healthz', server.base))).json();
    if (health.events === 'sse') {
      const r = await fetch(u, { headers: { Accept: 'text/event-stream' }, signal: stop.signal });
      if (r.status !== 200) throw new Error(`client event stream: ${r.status} ${await r.text()}`);
      (async () => {
        const decoder = new TextDecoder();
        let text = '';
        try {
          for await (const chunk of r.body) {
            text += decoder.decode(chunk, { stream: true });
            let end;
            while ((end = text.indexOf('\n\n')) >= 0) {
              const data = text.slice(0, end).split('\n').filter((l) => l.startsWith('data:'));
              text = text.slice(end + 2);
              if (data.length) push(data.map((l) => l.slice(5).trimStart()).join('\n'));
            }
          }
        } catch { /* closed */ }
      })();
      return;
    }
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(u);
    ws.onmessage = (e) => push(e.data);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = (e) => reject(new Error(`client WebSocket failed: ${e.message || e.type}`));
    });
  })();
  return { frames, opened, close: () => { stop.abort(); ws?.close(); } };
}

before(async () => {
  server = await startServer();
  api = new Api(server);
  const r = await fetch(server.url('/app/'));
  const body = await r.text();
  if (r.status !== 200 || !/<html/i.test(body)) {
    throw new Error(
      `the operator app is not served at ${server.url('/app/')} (HTTP ${r.status}): build it with ` +
        'scripts/build-frontend.sh (frontend/dist/app/index.html) before running the browser tests',
    );
  }
});

after(async () => {
  for (const b of [...browsers]) await b.close();
  if (server) await server.stop();
});

describe('operator app workday', { timeout: TEST_TIMEOUT * 12 }, () => {
  test('workday: over the chat limit, a second accept is refused in words and the client stays waiting', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'limit', operators: [{ name: 'Olga Operator', chat: 1 }] });
    const [olga] = t.operators;
    const first = await api.enter(t.widget.key, entryBody({ name: 'Anna Malá', language: 'cs' }), { userAgent: UA.chromeWindows });
    const second = await api.enter(t.widget.key, entryBody({ name: 'Boris Velký', language: 'cs' }), { userAgent: UA.firefoxWindows });
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await acceptInApp(page, first.client);
      await clickAccept(page, second.client);
      const said = await refusal(page, 'accept over the chat limit');
      assert.match(said, /limit/i, `the refusal speaks of the limit: ${JSON.stringify(said)}`);
      assert.match(said, /\b1\b/, `the refusal says what the limit is (1): ${JSON.stringify(said)}`);
      // Nothing changed: no second tab, the client still waits, here and on the server.
      assert.equal(await tabOf(page, second.client).count(), 0, 'no Client tab for the refused client');
      await visible(queueItem(page, second.client), page, 'the refused client still in the queue');
      assert.ok((await api.queue(olga.token)).some((c) => c.id === second.client), 'the server has the client waiting');
      assert.deepEqual((await api.sessions(olga.token)).map((s) => s.id), [first.client], 'one session only');
    } finally {
      await closeAll(b);
    }
  });

  test('workday: a video call is accepted only alone, and a refusal says so in words', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'video', operators: [{ name: 'Olga Operator' }], chat: 3 });
    const [olga] = t.operators;
    const chat = await api.enter(t.widget.key, entryBody({ name: 'Eva Horáková', language: 'cs' }), { userAgent: UA.chromeWindows });
    const video = await api.enter(t.widget.key, entryBody({ entry: 'video', name: 'James Walker', language: 'en' }), { userAgent: UA.safariMac });
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await acceptInApp(page, chat.client);
      // One chat of three: the limit is not what stands in the way, the call's rule is.
      await clickAccept(page, video.client);
      const said = await refusal(page, 'a video call while a chat is active');
      assert.match(said, /call/i, `the refusal speaks of the call: ${JSON.stringify(said)}`);
      assert.match(said, /alone|no other/i, `the refusal says a call is served alone: ${JSON.stringify(said)}`);
      assert.doesNotMatch(said, /at your limit|chat limit/i, `one chat of three is not the limit: ${JSON.stringify(said)}`);
      assert.equal(await tabOf(page, video.client).count(), 0, 'no Client tab for the call');
      await visible(queueItem(page, video.client), page, 'the call still in the queue');

      // With the chat closed, the call can be accepted.
      await tid(clientPanel(page, chat.session), 'close-session').first().click();
      await gone(tabOf(page, chat.client), page, 'the closed chat\'s tab');
      const tab = await acceptInApp(page, video.client);
      assert.equal(await tab.first().getAttribute('data-session-id'), video.session);
    } finally {
      await closeAll(b);
    }
  });

  test('workday: Client tabs side by side up to the limit, Alt+N accepts the next client, Alt+1..3 switch tabs', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'tabs', operators: [{ name: 'Olga Operator', chat: 3 }] });
    const [olga] = t.operators;
    const names = ['Anna Malá', 'Boris Velký', 'Cecilie Nová', 'Dušan Starý'];
    const clients = [];
    for (const name of names) clients.push(await api.enter(t.widget.key, entryBody({ name }), { userAgent: UA.chromeWindows }));
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await until(page, 'four clients in the queue', async () => assert.equal(await tid(page, 'queue-item').count(), 4));
      // The shortcuts are shown to the operator.
      assert.match(await page.locator('.queue .shortcuts').innerText(), /Alt\+N/);

      // Alt+N three times: the first waiting client each time, a tab each.
      for (let i = 0; i < 3; i += 1) {
        await page.keyboard.press('Alt+KeyN');
        await visible(tabOf(page, clients[i].client), page, `client-tab ${i + 1} after Alt+N`);
        await gone(queueItem(page, clients[i].client), page, `queue-item ${i + 1} after Alt+N`);
        // The newly accepted client's tab is the one shown.
        await visible(clientPanel(page, clients[i].session), page, `client-panel of client ${i + 1}`);
      }
      const tabs = tid(page, 'client-tab');
      assert.equal(await tabs.count(), 3);
      // Side by side: all visible at once, in accept order, left to right on one row.
      const boxes = [];
      for (let i = 0; i < 3; i += 1) {
        const tab = tabOf(page, clients[i].client).first();
        assert.equal(await tab.isVisible(), true, `tab ${i + 1} visible`);
        boxes.push(await tab.boundingBox());
        assert.equal(await tabs.nth(i).getAttribute('data-client-id'), clients[i].client, `tab ${i + 1} in accept order`);
      }
      for (let i = 1; i < 3; i += 1) {
        assert.ok(boxes[i].x >= boxes[i - 1].x + boxes[i - 1].width - 1, `tab ${i + 1} right of tab ${i}: ${JSON.stringify(boxes)}`);
        assert.ok(Math.abs(boxes[i].y - boxes[0].y) < 2, `tabs on one row: ${JSON.stringify(boxes)}`);
      }
      assert.equal((await api.sessions(olga.token)).length, 3, 'three sessions on the server');

      // A fourth Alt+N is over the limit: refused in words, the client stays.
      await page.keyboard.press('Alt+KeyN');
      const said = await refusal(page, 'Alt+N over the chat limit');
      assert.match(said, /limit/i, JSON.stringify(said));
      assert.equal(await tabs.count(), 3, 'still three tabs');
      await visible(queueItem(page, clients[3].client), page, 'the fourth client still waits');

      // Alt+1..3 show each tab; the order can be any.
      for (const n of [2, 1, 3, 2]) {
        await page.keyboard.press(`Alt+Digit${n}`);
        const c = clients[n - 1];
        await until(page, `Alt+${n} shows tab ${n}`, async () => {
          assert.equal(await tid(page, 'client-panel').first().getAttribute('data-session-id'), c.session);
          assert.equal(await tabOf(page, c.client).first().getAttribute('aria-selected'), 'true');
        });
        assert.match(await text(tid(page, 'client-panel')), new RegExp(names[n - 1]));
      }
      // Alt+9 with three tabs changes nothing.
      await page.keyboard.press('Alt+Digit9');
      await page.waitForTimeout(300);
      assert.equal(await tid(page, 'client-panel').first().getAttribute('data-session-id'), clients[1].session);
    } finally {
      await closeAll(b);
    }
  });

  test('workday: redirect from a Client tab to a group; the dialog shows status and load, the note arrives', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'togroup', operators: [{ name: 'Olga Operator' }, { name: 'Oscar Operator' }] });
    const [olga, oscar] = t.operators;
    const billing = await api.createGroup(t.admin.token, 'Billing');
    const bela = await api.createOperator(t.admin.token, t.slug, {
      email: `bela@${t.slug}.example`, name: 'Bela Billing', groups: [billing], chat: 2,
    });
    await api.setStatus(bela.token, 'online');
    // Oscar serves one chat and then steps away: the dialog must show both.
    const busy = await api.enter(t.widget.key, entryBody({ name: 'Filip Rychlý' }), { userAgent: UA.chromeAndroid });
    assert.equal((await api.accept(oscar.token, busy.client)).status, 200);
    await api.setStatus(oscar.token, 'away');

    const c = await api.enter(t.widget.key, entryBody({ name: 'Lukáš Procházka', language: 'sk' }), { userAgent: UA.edgeWindows });
    await api.postClientMessage(c.token, 'Mám otázku k faktúre.');
    const a = await operatorBrowser(olga);
    const z = await operatorBrowser(bela);
    try {
      assert.equal(await queueItem(z.page, c.client).count(), 0, 'not in Billing\'s queue before the redirect');
      await acceptInApp(a.page, c.client);
      const panel = clientPanel(a.page, c.session);
      await tid(panel, 'redirect-button').first().click();
      const dialog = tid(a.page, 'redirect-dialog');
      await visible(dialog, a.page, 'redirect-dialog');
      const target = tid(dialog, 'redirect-target');
      const option = (v) => target.locator(`option[value="${v}"]`);
      await until(a.page, 'redirect-target lists the groups and the operators', async () => {
        for (const v of [`group:${t.group}`, `group:${billing}`, `operator:${oscar.id}`, `operator:${bela.id}`]) {
          assert.equal(await option(v).count(), 1, `redirect-target offers ${v}`);
        }
      });
      assert.match(await option(`group:${billing}`).innerText(), /Billing/);
      assert.match(await option(`group:${t.group}`).innerText(), /Support/);
      assert.equal(await option(`operator:${olga.id}`).count(), 0, 'not herself');
      // Each operator with status and load.
      const oscarText = await option(`operator:${oscar.id}`).innerText();
      assert.match(oscarText, /Oscar Operator/);
      assert.match(oscarText, /Away/, `Oscar's status: ${oscarText}`);
      assert.match(oscarText, /\b1\s*\/\s*3\b/, `Oscar's load against his limit: ${oscarText}`);
      const belaText = await option(`operator:${bela.id}`).innerText();
      assert.match(belaText, /Bela Billing/);
      assert.match(belaText, /Online/, `Bela's status: ${belaText}`);
      assert.match(belaText, /\b0\s*\/\s*2\b/, `Bela's load against her limit: ${belaText}`);

      const note = `Asks about invoice 2024-118833; speaks Slovak ${Date.now()}`;
      await target.selectOption(`group:${billing}`);
      await tid(dialog, 'redirect-note').first().fill(note);
      await tid(dialog, 'redirect-submit').first().click();
      await gone(dialog, a.page, 'redirect-dialog after submitting');
      // The tab closes for the sender (it does not linger as "ended").
      await gone(tabOf(a.page, c.client), a.page, 'the sender\'s Client tab');
      assert.equal(await queueItem(a.page, c.client).count(), 0, 'not in the sender\'s queue (not in Billing)');
      assert.deepEqual(await api.sessions(olga.token), [], 'the sender serves nothing');

      // The receiving operator sees the client, and the note in the preview.
      const item = queueItem(z.page, c.client);
      await visible(item, z.page, 'the redirected client in Billing\'s queue');
      await hoverItem(item);
      await tid(item, 'preview-button').first().click();
      const preview = tid(z.page, 'preview');
      await visible(preview, z.page, 'preview');
      await until(z.page, 'the redirect note in the preview', async () => {
        assert.match(await text(tid(preview, 'preview-notes')), new RegExp(note.slice(0, 30)));
      });
      await until(z.page, 'the conversation so far in the preview', async () => {
        assert.match(await text(tid(preview, 'preview-messages')), /otázku k faktúre/);
      });
      // And once accepted, in the Client tab with the earlier conversation.
      await tid(preview, 'preview-accept').first().click();
      await visible(tabOf(z.page, c.client), z.page, 'the receiver\'s Client tab');
      const zpanel = clientPanel(z.page, c.session);
      await visible(tid(zpanel, 'note').filter({ hasText: note.slice(0, 30) }), z.page, 'the note in the receiver\'s Client tab');
      await visible(tid(zpanel, 'message', '[data-from="client"]').filter({ hasText: 'otázku k faktúre' }), z.page, 'the earlier message');
    } finally {
      await closeAll(a, z);
    }
  });

  test('workday: a tag and a note persist (after reload, in another operator\'s preview); typing both ways; closing ends the client\'s session', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'tagnote' });
    const [olga, oscar] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Sophie Müller', language: 'de' }), { userAgent: UA.safariMac });
    const a = await operatorBrowser(olga);
    let o;
    let stream;
    try {
      await acceptInApp(a.page, c.client);
      let panel = clientPanel(a.page, c.session);
      await visible(panel, a.page, 'client-panel');
      const tag = `relocation-${Date.now() % 100000}`;
      const note = `Moves on 1 December; wants the contract moved ${Date.now()}`;
      await tid(panel, 'tag-input').first().fill(tag);
      await tid(panel, 'tag-add').first().click();
      await visible(tid(panel, 'tag').filter({ hasText: tag }), a.page, 'the added tag');
      assert.equal(await tid(panel, 'tag-input').first().inputValue(), '', 'tag-input emptied');
      await tid(panel, 'note-input').first().fill(note);
      await tid(panel, 'note-add').first().click();
      await visible(tid(panel, 'note').filter({ hasText: note }), a.page, 'the added note');
      assert.match(await text(tid(panel, 'note').filter({ hasText: note })), /Olga Operator/, 'the note names its author');

      // After a reload: the tab comes back with both.
      await a.page.reload({ waitUntil: 'load' });
      await visible(tid(a.page, 'queue'), a.page, 'queue after reload', 20000);
      panel = clientPanel(a.page, c.session);
      await visible(tabOf(a.page, c.client), a.page, 'the Client tab after reload');
      await tabOf(a.page, c.client).first().click();
      await visible(tid(panel, 'tag').filter({ hasText: tag }), a.page, 'the tag after reload');
      await visible(tid(panel, 'note').filter({ hasText: note }), a.page, 'the note after reload');

      // Another operator's preview shows both (handed over to him).
      o = await operatorBrowser(oscar);
      await api.ok('POST', `/api/v1/queue/${c.client}/redirect`, { token: olga.token, body: { operator: oscar.id } }, 200);
      // Handed over outside this app (through the API): the tab stays, marked ended, until
      // closed by hand.
      await visible(tid(panel, 'close-tab'), a.page, 'close-tab of the handed-over client\'s ended session');
      assert.equal(await tid(panel, 'close-session').count(), 0, 'no close-session for an ended session');
      await tid(panel, 'close-tab').first().click();
      await gone(tabOf(a.page, c.client), a.page, 'the tab of the handed-over client');
      const item = queueItem(o.page, c.client);
      await visible(item, o.page, 'the handed-over client in Oscar\'s queue');
      await hoverItem(item);
      await tid(item, 'preview-button').first().click();
      const preview = tid(o.page, 'preview');
      await visible(preview, o.page, 'Oscar\'s preview');
      await until(o.page, 'the tag in the preview', async () => assert.match(await text(tid(preview, 'preview-tags')), new RegExp(tag)));
      await until(o.page, 'the note in the preview', async () => assert.match(await text(tid(preview, 'preview-notes')), new RegExp(note)));

      // Oscar takes it and closes the session; the client's side hears of it.
      await tid(preview, 'preview-accept').first().click();
      const opanel = clientPanel(o.page, c.session);
      await visible(opanel, o.page, 'Oscar\'s Client tab');
      stream = clientStream(c.token);
      await stream.opened;
      await until(o.page, 'the client\'s stream says it is active', async () => {
        assert.ok(stream.frames.some((f) => f.type === 'status'), JSON.stringify(stream.frames));
      });
      // Typing both ways: Oscar types in the app, the client's stream hears it; the client types,
      // Oscar's tab says so.
      await tid(opanel, 'message-input').first().pressSequentially('Guten Tag', { delay: 40 });
      await until(o.page, 'the client hears that Oscar is typing', async () => {
        assert.ok(stream.frames.some((f) => f.type === 'typing' && f.from === 'operator'), JSON.stringify(stream.frames));
      });
      const typed = await api.ok('POST', '/api/v1/client/typing', { token: c.token }, 200);
      assert.deepEqual(typed, { relayed: true });
      await visible(opanel.locator('.typing').filter({ hasText: /typing/ }), o.page, 'the client is typing, in Oscar\'s tab');
      await tid(opanel, 'close-session').first().click();
      await gone(tabOf(o.page, c.client), o.page, 'the closed session\'s tab');
      await until(o.page, 'the client\'s stream says the session closed', async () => {
        assert.ok(
          stream.frames.some((f) => f.type === 'closed' && f.by === 'operator'),
          `a {"type":"closed","by":"operator"} frame: ${JSON.stringify(stream.frames)}`,
        );
      });
      assert.deepEqual(await api.sessions(oscar.token), [], 'the server has no session for Oscar');
      // A client whose session is closed cannot write into it any more.
      const r = await api.call('POST', '/api/v1/client/messages', { token: c.token, body: { text: 'Hallo?' } });
      assert.ok(r.status >= 400, `posting after the close is refused: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    } finally {
      stream?.close();
      await closeAll(a, o);
    }
  });

  test('workday: a tag saved while the client\'s details are being read again stays (the older answer is read again)', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'tagrace' });
    const [olga] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Rita Race' }), { userAgent: UA.safariMac });
    const a = await operatorBrowser(olga);
    const previews = (u) => /\/api\/v1\/clients\/[^/]+\/preview$/.test(new URL(u).pathname);
    let held;
    try {
      await acceptInApp(a.page, c.client);
      const panel = clientPanel(a.page, c.session);
      await until(a.page, 'the details loaded (tag-add enabled)', async () => {
        assert.equal(await tid(panel, 'tag-add').first().isEnabled(), true);
      });
      // The next details read reaches the server now, but its answer is held back until the tag
      // below is saved: it is older than the tag.
      let fetched;
      const reached = new Promise((r) => { fetched = r; });
      let release;
      const hold = new Promise((r) => { release = r; });
      held = async (route) => {
        const response = await route.fetch();
        fetched();
        await hold;
        await route.fulfill({ response }).catch(() => {});
      };
      await a.context.route((u) => previews(u.href), held);
      // A dropped connection: coming back, the app reads its tabs' details again.
      await a.context.setOffline(true);
      await sleep(500);
      await a.context.setOffline(false);
      await reached;
      const tag = `race-${Date.now() % 100000}`;
      await tid(panel, 'tag-input').first().fill(tag);
      await tid(panel, 'tag-add').first().click();
      await visible(tid(panel, 'tag').filter({ hasText: tag }), a.page, 'the saved tag');
      await a.context.unroute((u) => previews(u.href), held);
      release();
      // The held answer (without the tag) arrives now; the tag must stay.
      await sleep(1500);
      await visible(tid(panel, 'tag').filter({ hasText: tag }), a.page, 'the tag after the older answer arrived', 2000);
    } finally {
      await closeAll(a);
    }
  });

  test('workday: a new waiting client beeps, notifies the desktop when the page is hidden, and counts in the title', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'alerts', operators: [{ name: 'Olga Operator' }] });
    const [olga] = t.operators;
    const b = await launch();
    browsers.add(b);
    const { page, context } = b;
    try {
      await context.grantPermissions(['notifications'], { origin: server.base });
      // Record, without changing what they do, the oscillators the app starts and the
      // notifications it creates.
      await context.addInitScript(() => {
        window.__lobbyTones = [];
        window.__lobbyNotifications = [];
        const Audio = window.AudioContext;
        if (Audio) {
          window.AudioContext = class extends Audio {
            createOscillator() {
              const osc = super.createOscillator();
              const tone = { frequency: null, start: null, stop: null };
              window.__lobbyTones.push(tone);
              const { start, stop } = osc;
              osc.start = (when = 0) => {
                tone.frequency = osc.frequency.value;
                tone.start = when;
                return start.call(osc, when);
              };
              osc.stop = (when = 0) => {
                tone.stop = when;
                return stop.call(osc, when);
              };
              return osc;
            }
          };
        }
        const Real = window.Notification;
        if (Real) {
          window.Notification = class extends Real {
            constructor(title, options = {}) {
              window.__lobbyNotifications.push({ title, body: options.body || '', tag: options.tag || '', hidden: document.hidden });
              super(title, options);
            }
          };
        }
      });
      await signIn(page, server.base, olga);
      assert.equal(await page.evaluate(() => Notification.permission), 'granted', 'notifications granted to the page');
      await until(page, 'connected', async () => assert.equal(await tid(page, 'connection-status').first().getAttribute('data-state'), 'connected'));
      assert.match(await page.title(), /^Lobby$/);
      const tones = () => page.evaluate(() => window.__lobbyTones.filter((x) => x.start !== null));
      const notes = () => page.evaluate(() => window.__lobbyNotifications);
      assert.equal((await tones()).length, 0, 'no sound while nobody waits');

      // Visible page: a short sound and the count, no desktop notification.
      const anna = await api.enter(t.widget.key, entryBody({ name: 'Anna Malá', phone: '+420 777 000 111' }), { userAgent: UA.chromeWindows });
      await visible(queueItem(page, anna.client), page, 'the first client');
      await until(page, 'a sound for the first client', async () => assert.ok((await tones()).length >= 1, 'an oscillator started'));
      const first = await tones();
      for (const tone of first) {
        assert.ok(tone.frequency > 20 && tone.frequency < 20000, `an audible tone: ${JSON.stringify(tone)}`);
        assert.ok(tone.stop !== null && tone.stop - tone.start > 0 && tone.stop - tone.start <= 1, `a short tone (at most 1 s): ${JSON.stringify(tone)}`);
      }
      await until(page, 'the title counts one', async () => assert.match(await page.title(), /^\(1\)\s*Lobby/));
      assert.deepEqual(await notes(), [], 'no desktop notification while the page is visible');

      // Hidden page: another sound, a desktop notification naming the client, the count.
      await setHidden(page, true);
      const boris = await api.enter(t.widget.key, entryBody({ name: 'Boris Velký', phone: '+420 608 222 333' }), { userAgent: UA.firefoxWindows });
      await until(page, 'a desktop notification for the second client', async () => assert.equal((await notes()).length, 1, JSON.stringify(await notes())));
      const [n] = await notes();
      assert.equal(n.hidden, true);
      assert.match(n.title, /client is waiting/i);
      assert.match(n.body, /Boris Velký/);
      assert.match(n.body, /\+420 608 222 333/);
      assert.match(n.body, /Website/);
      await until(page, 'a sound for the second client', async () => assert.ok((await tones()).length > first.length));
      await until(page, 'the title counts two', async () => assert.match(await page.title(), /^\(2\)\s*Lobby/));
      await present(queueItem(page, boris.client), page, 'the second client');

      // Without permission, no notification (the sound still plays).
      await context.clearPermissions();
      assert.notEqual(await page.evaluate(() => Notification.permission), 'granted');
      const before = (await tones()).length;
      await api.enter(t.widget.key, entryBody({ name: 'Cecilie Nová' }), { userAgent: UA.safariIphone });
      await until(page, 'the title counts three', async () => assert.match(await page.title(), /^\(3\)\s*Lobby/));
      await until(page, 'a sound for the third client', async () => assert.ok((await tones()).length > before));
      assert.equal((await notes()).length, 1, 'no notification without permission');
    } finally {
      await closeAll(b);
    }
  });

  test('workday: an admin creates a group, an operator and a widget with a copyable embed snippet; an operator sees no admin screens', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'admin', operators: [{ name: 'Olga Operator' }] });
    const [olga] = t.operators;
    const adminOp = { tenant: t.slug, email: t.admin.email, password: t.admin.password };
    const b = await operatorBrowser(adminOp);
    const { page, context } = b;
    let ob;
    try {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
      await visible(tid(page, 'nav-admin'), page, 'nav-admin for an admin');
      await tid(page, 'nav-admin').first().click();
      const groups = tid(page, 'admin-groups');
      await visible(groups, page, 'admin-groups');
      await visible(tid(page, 'admin-operators'), page, 'admin-operators');
      await visible(tid(page, 'admin-widgets'), page, 'admin-widgets');

      // A group.
      await tid(groups, 'group-name').fill('Billing');
      await tid(groups, 'group-add').click();
      await visible(groups.locator('li').filter({ hasText: 'Billing' }), page, 'the new group in the list');
      let billing;
      await until(page, 'the group on the server', async () => {
        const list = (await api.ok('GET', '/api/v1/groups', { token: t.admin.token }, 200)).groups;
        billing = list.find((g) => g.name === 'Billing')?.id;
        assert.ok(billing, JSON.stringify(list));
      });

      // An operator in Billing and Support, with a chat limit of 2.
      const ops = tid(page, 'admin-operators');
      const email = `bela@${t.slug}.example`;
      const password = 'bela-secret-2026';
      await tid(ops, 'operator-email').fill(email);
      await tid(ops, 'operator-name').fill('Bela Billing');
      await tid(ops, 'operator-password').fill(password);
      await tid(ops, 'operator-role').selectOption('operator');
      await until(page, 'the new group offered for the operator', async () => assert.equal(await tid(ops, 'operator-groups').locator(`option[value="${billing}"]`).count(), 1));
      await tid(ops, 'operator-groups').selectOption([billing, t.group]);
      await tid(ops, 'operator-chat-limit').fill('2');
      await tid(ops, 'operator-add').click();
      await visible(tid(ops, 'operator-row').filter({ hasText: email }), page, 'the new operator in the list');
      const created = (await api.operators(t.admin.token)).find((o) => o.email === email);
      assert.ok(created, 'the operator exists on the server');
      assert.equal(created.name, 'Bela Billing');
      assert.equal(created.role, 'operator');
      assert.deepEqual([...created.groups].sort(), [billing, t.group].sort());
      assert.equal(created.limits.chat, 2);
      const bela = await api.login(t.slug, email, password);
      assert.equal(bela.operator.id, created.id, 'she can sign in with the password given');

      // A widget of Billing: its snippet is shown, loads the widget, and copies.
      const widgets = tid(page, 'admin-widgets');
      await tid(widgets, 'widget-name').fill('Billing help');
      await tid(widgets, 'widget-group').selectOption(billing);
      await tid(widgets, 'widget-origins').fill(server.origin || server.base);
      await tid(widgets, 'widget-add').click();
      const row = tid(widgets, 'widget-row').filter({ hasText: 'Billing help' });
      await visible(row, page, 'the new widget in the list');
      const key = await row.first().getAttribute('data-widget-key');
      const widget = (await api.ok('GET', '/api/v1/widgets', { token: t.admin.token }, 200)).widgets.find((w) => w.name === 'Billing help');
      assert.ok(widget, 'the widget exists on the server');
      assert.equal(widget.key, key);
      assert.equal(widget.group, billing);
      const snippet = await text(tid(row, 'embed-snippet'));
      assert.ok(snippet.includes(key), `the snippet names the widget key ${key}: ${snippet}`);
      const src = snippet.match(/<script[^>]*\ssrc="([^"]+)"/)?.[1];
      assert.ok(src, `the snippet is a <script src>: ${snippet}`);
      assert.match(new URL(src).pathname, /^\/widget\.js$/, `the loader: ${src}`);
      const loader = await fetch(src);
      assert.equal(loader.status, 200, `the snippet's loader ${src} is served`);
      assert.match(loader.headers.get('content-type') || '', /javascript/);
      await tid(row, 'embed-copy').first().click();
      await until(page, 'the snippet in the clipboard', async () => {
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), snippet);
      });
      assert.match(await text(tid(row, 'embed-copy')), /copied/i, 'the button says it copied');

      // The new operator works: online, a client entering through the new widget waits for her.
      await api.setStatus(bela.token, 'online');
      const entered = await api.enter(key, entryBody({ name: 'Karel Nový' }), { userAgent: UA.chromeWindows });
      assert.ok((await api.queue(bela.token)).some((c) => c.id === entered.client), 'the client waits in Billing');

      // An operator sees no admin screens.
      ob = await operatorBrowser(olga);
      await visible(tid(ob.page, 'queue'), ob.page, 'the operator\'s queue');
      assert.equal(await tid(ob.page, 'nav-admin').count(), 0, 'no nav-admin for an operator');
      for (const id of ['admin-groups', 'admin-operators', 'admin-widgets']) {
        assert.equal(await tid(ob.page, id).count(), 0, `no ${id} for an operator`);
      }
    } finally {
      await closeAll(b, ob);
    }
  });

  test('workday: Czech follows the browser\'s locale, the switch changes it; at 1280×720 nothing scrolls sideways', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'lang', operators: [{ name: 'Olga Operator' }] });
    const [olga] = t.operators;
    const b = await launch({ locale: 'cs-CZ', viewport: { width: 1280, height: 720 } });
    browsers.add(b);
    const { page } = b;
    try {
      assert.equal(await page.evaluate(() => navigator.language), 'cs-CZ');
      await page.goto(server.url('/app/'), { waitUntil: 'load' });
      await visible(tid(page, 'login-form'), page, 'login-form');
      assert.match(await text(tid(page, 'login-submit')), /Přihlásit se/, 'the sign-in button in Czech');
      await signIn(page, server.base, olga);
      assert.equal(await tid(page, 'lang-switch').inputValue(), 'cs');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'cs');
      await visible(tid(page, 'queue-empty'), page, 'queue-empty');
      assert.match(await text(tid(page, 'queue-empty')), /Nikdo nečeká/);
      assert.match(await text(tid(page, 'queue')), /Čekající klienti/);
      assert.match(await text(tid(page, 'nav-queue')), /Fronta/);

      // The switch: English, and back.
      await tid(page, 'lang-switch').selectOption('en');
      await until(page, 'English after the switch', async () => {
        assert.match(await text(tid(page, 'queue-empty')), /Nobody is waiting/);
        assert.match(await text(tid(page, 'nav-queue')), /Queue/);
      });
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      await tid(page, 'lang-switch').selectOption('cs');
      await until(page, 'Czech again', async () => assert.match(await text(tid(page, 'queue-empty')), /Nikdo nečeká/));

      // A refusal in Czech too.
      const one = await api.enter(t.widget.key, entryBody({ name: 'Jana Dvořáková', phone: '+420 777 123 456', language: 'cs' }), { userAgent: UA.chromeWindows });
      const two = await api.enter(t.widget.key, entryBody({ entry: 'video', name: 'Tomáš Marek', language: 'cs' }), { userAgent: UA.edgeWindows });
      await acceptInApp(page, one.client);
      await clickAccept(page, two.client);
      assert.match(await refusal(page, 'a call refused in Czech'), /hovor/i);

      // 1280×720: queue, Client tab and composer on screen, no horizontal scrolling, even with a
      // long unbroken word in the conversation.
      await api.postClientMessage(one.token, `Dobrý den, posílám odkaz https://www.acme.cz/${'faktury/'.repeat(30)}2024-118833 a ${'x'.repeat(200)}`);
      const panel = clientPanel(page, one.session);
      await visible(tid(panel, 'message', '[data-from="client"]'), page, 'the long message');
      const vp = page.viewportSize();
      assert.deepEqual(vp, { width: 1280, height: 720 });
      for (const [what, loc] of [
        ['queue', tid(page, 'queue')],
        ['client-tab', tabOf(page, one.client)],
        ['client-panel', panel],
        ['message-input', tid(panel, 'message-input')],
        ['message-send', tid(panel, 'message-send')],
      ]) {
        const box = await loc.first().boundingBox();
        assert.ok(box, `${what} is laid out`);
        assert.ok(box.x >= 0 && box.x + box.width <= vp.width + 0.5, `${what} within the width: ${JSON.stringify(box)}`);
        assert.ok(box.y >= 0 && box.y < vp.height, `${what} starts on screen: ${JSON.stringify(box)}`);
      }
      for (const what of ['message-input', 'message-send']) {
        const box = await tid(panel, what).first().boundingBox();
        assert.ok(box.y + box.height <= vp.height + 0.5, `the composer's ${what} is on screen without scrolling: ${JSON.stringify(box)}`);
      }
      const scroll = await page.evaluate(() => ({
        doc: document.documentElement.scrollWidth,
        body: document.body.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      assert.ok(scroll.doc <= scroll.client && scroll.body <= scroll.client, `no horizontal scrolling: ${JSON.stringify(scroll)}`);
    } finally {
      await closeAll(b);
    }
  });

  test('workday: after a redirect the new operator sees each earlier message under the name of the operator who wrote it', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'authors' });
    const [olga, oscar] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Eva Malá' }), { userAgent: UA.firefoxUbuntu });
    await api.postClientMessage(c.token, 'Where is my parcel?');
    // Writes in a Client tab as its operator does; an operator's message in a tab, by its words.
    const write = async (panel, words) => {
      await tid(panel, 'message-input').first().fill(words);
      await tid(panel, 'message-send').first().click();
    };
    const byOperator = (panel, words) => tid(panel, 'message', '[data-from="operator"]').filter({ hasText: words });
    const a = await operatorBrowser(olga);
    let o;
    try {
      await acceptInApp(a.page, c.client);
      const panel = clientPanel(a.page, c.session);
      await write(panel, 'It ships on Monday.');
      const mine = byOperator(panel, 'It ships on Monday.');
      await visible(mine, a.page, 'Olga\'s message in her tab');
      assert.match(await text(mine.locator('.meta')), /^You\b/, 'her own message reads "You"');

      // Olga hands the client over to Oscar, who accepts and answers.
      await tid(panel, 'redirect-button').first().click();
      const dialog = tid(a.page, 'redirect-dialog');
      await visible(dialog, a.page, 'redirect-dialog');
      const target = tid(dialog, 'redirect-target');
      await until(a.page, 'redirect-target offers Oscar', async () => {
        assert.equal(await target.locator(`option[value="operator:${oscar.id}"]`).count(), 1);
      });
      await target.selectOption(`operator:${oscar.id}`);
      await tid(dialog, 'redirect-submit').first().click();
      await gone(tabOf(a.page, c.client), a.page, 'Olga\'s Client tab after the redirect');
      o = await operatorBrowser(oscar);
      await acceptInApp(o.page, c.client);
      const opanel = clientPanel(o.page, c.session);
      await write(opanel, 'Oscar here, it left the warehouse.');

      const olgas = byOperator(opanel, 'It ships on Monday.');
      await visible(olgas, o.page, 'Olga\'s message in Oscar\'s tab');
      const olgasMeta = await text(olgas.locator('.meta'));
      assert.match(olgasMeta, /Olga Operator/, `Olga's message names her: ${olgasMeta}`);
      assert.doesNotMatch(olgasMeta, /\bYou\b/);
      const oscars = byOperator(opanel, 'Oscar here');
      await visible(oscars, o.page, 'Oscar\'s own message');
      assert.match(await text(oscars.locator('.meta')), /^You\b/, 'his own message reads "You"');
      // After a reload (the messages read back from the server) the labels are the same.
      await o.page.reload({ waitUntil: 'load' });
      await visible(tabOf(o.page, c.client), o.page, 'Oscar\'s Client tab after reload', 20000);
      await tabOf(o.page, c.client).first().click();
      await visible(oscars, o.page, 'Oscar\'s own message after reload');
      assert.match(await text(olgas.locator('.meta')), /Olga Operator/);
      assert.match(await text(oscars.locator('.meta')), /^You\b/);
    } finally {
      await closeAll(a, o);
    }
  });
});
