// WebChat from a company's page, end to end: the entry form, the live queue position, an
// operator accepting through the API, messages both ways (links, pictures, emoji), typing both
// ways, the browsing history and call parameters in the operator's preview (including a
// single-page-app navigation), a reload of the company page resuming the same conversation with
// the draft kept, and a lost connection losing nothing. The steps share one conversation and run
// in order. With LOBBY_E2E_RUNTIME=spin the same runs on the Spin host, where the widget's events
// come as Server-Sent Events and typing goes up over HTTP (docs/realtime.md).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import {
  RUNTIME, browser, eventually, openWidget, operatorSocket, realErrors, sleep, tid, widgetFrame, world,
} from './lib/harness.mjs';

describe('WebChat through the widget on a company page', () => {
  let w, t, b, page, frame, olga, ahead, me, session, opSocket;
  // The widget's event connections, by kind (EventSource requests, WebSockets).
  const streams = { eventsource: 0, websocket: 0 };

  before(async () => {
    w = await world();
    t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    olga = t.ops.Olga;
    await w.api.status(olga, 'online');
    b = await browser();
    page = b.page;
    // Every event stream a frame opens, so that a test can count the live ones, and how many
    // /healthz calls await their answer (counted down in a task after the body is read, so the
    // caller's own continuation has run by then).
    await b.context.addInitScript(() => {
      window.__lobbyHealthz = 0;
      const realFetch = window.fetch;
      window.fetch = (...args) => {
        const url = new URL(args[0] instanceof Request ? args[0].url : String(args[0]), location.href);
        if (url.pathname !== '/healthz') return realFetch(...args);
        window.__lobbyHealthz += 1;
        const done = () => setTimeout(() => { window.__lobbyHealthz -= 1; });
        return realFetch(...args).then((r) => {
          const text = r.text.bind(r);
          r.text = () => text().finally(done);
          return r;
        }, (e) => { done(); throw e; });
      };
      const streams = (window.__lobbyStreams = []);
      for (const name of ['EventSource', 'WebSocket']) {
        const Real = window[name];
        window[name] = class extends Real {
          constructor(...args) {
            super(...args);
            streams.push(this);
          }
        };
      }
    });
    const events = (url) => new URL(url).pathname === '/api/v1/client/events';
    page.on('request', (r) => { if (r.resourceType() === 'eventsource' && events(r.url())) streams.eventsource += 1; });
    page.on('websocket', (ws) => { if (events(ws.url())) streams.websocket += 1; });
  });

  after(async () => {
    opSocket?.close();
    await b?.close();
    await w?.teardown();
  });

  test('the entry form sends the form, the page and the call parameters; the client waits behind another', async () => {
    // Somebody else entered first (from the same site).
    const first = await w.api.enter(t.widget.key, w.site.allowed, { entry: 'webchat', form: { name: 'Bob' } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    ahead = first.body.client;

    frame = await openWidget(page, w.site.allowed, 'webchat');
    await tid(frame, 'entry-form').waitFor();
    await tid(frame, 'form-name').fill('Ann Novak');
    await tid(frame, 'form-email').fill('ann@example.com');
    const entry = page.waitForResponse((r) => r.url().endsWith('/entries') && r.request().method() === 'POST');
    await tid(frame, 'entry-submit').click();
    const res = await entry;
    assert.equal(res.status(), 201, await res.text());
    me = await res.json();
    const sent = res.request().postDataJSON();
    assert.equal(sent.entry, 'webchat');
    assert.equal(sent.form.name, 'Ann Novak');
    assert.equal(sent.page.url, `${w.site.allowed}/`);
    assert.equal(sent.page.title, 'Acme Garden Supplies');
    assert.deepEqual(sent.params, w.site.params);
    assert.equal(await res.request().headerValue('origin'), w.site.allowed, 'sent from the company page');

    await tid(frame, 'chat').waitFor();
    await eventually(async () => assert.equal(await tid(frame, 'queue-position').getAttribute('data-position'), '2'));
    assert.match(await tid(frame, 'queue-position').textContent(), /number 2/);
    const wait = await tid(frame, 'estimated-wait');
    const seconds = await wait.getAttribute('data-seconds');
    if (me.estimated_wait_seconds == null) {
      assert.equal(seconds, '');
      assert.match(await wait.textContent(), /cannot estimate/i);
    } else {
      assert.match(await wait.textContent(), /min/);
    }
    const q = await w.api.queue(olga);
    const row = q.clients.find((c) => c.id === me.client);
    assert.ok(row, 'the client is in the operator queue');
    assert.equal(row.entry, 'webchat');
    assert.equal(row.name, 'Ann Novak');
    assert.equal(row.position, 2);
  });

  test('the position moves up when the client ahead is accepted', async () => {
    await w.api.ok('POST', `/api/v1/queue/${ahead}/accept`, { token: olga.token }, 200);
    await eventually(async () => assert.equal(await tid(frame, 'queue-position').getAttribute('data-position'), '1'));
    assert.match(await tid(frame, 'queue-position').textContent(), /next/);
  });

  test('an operator accepts through the API: the client sees who serves it', async () => {
    const r = await w.api.ok('POST', `/api/v1/queue/${me.client}/accept`, { token: olga.token }, 200);
    session = r.session;
    assert.equal(session, me.session);
    await eventually(async () => assert.match(await frame.locator('#note').textContent(), /chatting with Olga/));
    assert.equal(await frame.locator('.queue').isVisible(), false);
  });

  test('messages both ways: text, a link, a picture, emoji', async () => {
    const picture = `${w.site.allowed}/picture.svg`;
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, {
      token: olga.token,
      body: { text: 'Hello Ann 👋 see https://example.com/help for the steps', attachments: [{ url: picture, kind: 'image', name: 'screenshot' }] },
    }, 201);
    const fromOp = frame.locator('[data-testid="message"][data-from="operator"]');
    await fromOp.first().waitFor();
    assert.match(await fromOp.first().textContent(), /Hello Ann 👋 see/);
    assert.equal(await fromOp.first().locator('a[href="https://example.com/help"]').count(), 1, 'the link is clickable');
    assert.equal(await fromOp.first().locator('img[alt="screenshot"]').count(), 1, 'the picture is shown');

    const input = tid(frame, 'message-input');
    await input.fill('My tulips 🌷 are wilting');
    await tid(frame, 'message-send').click();
    await input.fill('Which fertiliser?');
    await input.press('Enter');
    await eventually(async () => {
      const list = await w.api.ok('GET', `/api/v1/sessions/${session}/messages?after=0`, { token: olga.token }, 200);
      const texts = list.messages.filter((m) => m.from === 'client').map((m) => m.text);
      assert.deepEqual(texts, ['My tulips 🌷 are wilting', 'Which fertiliser?']);
    });
    await eventually(async () => assert.equal(await frame.locator('[data-testid="message"][data-from="client"]').count(), 2));
    assert.equal(await input.inputValue(), '');
  });

  test('the events arrive over the transport GET /healthz names', async () => {
    const health = await (await fetch(`${w.server.base}/healthz`)).json();
    assert.equal(health.events, RUNTIME === 'spin' ? 'sse' : 'websocket', JSON.stringify(health));
    if (health.events === 'sse') {
      assert.ok(streams.eventsource >= 1, `EventSource requests: ${JSON.stringify(streams)}`);
      assert.equal(streams.websocket, 0, `no WebSocket: ${JSON.stringify(streams)}`);
    } else {
      assert.ok(streams.websocket >= 1, `WebSockets: ${JSON.stringify(streams)}`);
      assert.equal(streams.eventsource, 0, `no EventSource: ${JSON.stringify(streams)}`);
    }
  });

  // Typing travels up and down WebSockets; beside a one-way stream of Server-Sent Events (Spin)
  // it goes up over HTTP (POST /api/v1/client/typing, /api/v1/sessions/{id}/typing).
  test('typing both ways', async () => {
    opSocket = await operatorSocket(w.server.base, olga.token);
    // Typing is relayed to the streams open when it comes: wait until the server has opened this one.
    await opSocket.next((f) => f.type === 'hello');
    await tid(frame, 'message-input').pressSequentially('Also', { delay: 30 });
    const typing = await opSocket.next((f) => f.type === 'typing');
    assert.equal(typing.session, session);

    opSocket.send({ type: 'typing', session });
    await tid(frame, 'typing').waitFor({ state: 'visible', timeout: 5000 });
    assert.match(await tid(frame, 'typing').textContent(), /Olga is typing/);
    // An operator's message ends the indicator.
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, { token: olga.token, body: { text: 'Nitrogen-poor, please.' } }, 201);
    await tid(frame, 'typing').waitFor({ state: 'hidden', timeout: 5000 });
  });

  test('a single-page-app navigation reaches the preview browsing history, with the call parameters', async () => {
    await page.locator('#spa').click();
    assert.equal(new URL(page.url()).pathname, '/pricing');
    const preview = await eventually(async () => {
      const p = await w.api.ok('GET', `/api/v1/clients/${me.client}/preview`, { token: olga.token }, 200);
      const urls = p.browsing_history.map((v) => v.url);
      assert.ok(urls.includes(`${w.site.allowed}/pricing?tier=pro`), `history: ${JSON.stringify(urls)}`);
      return p;
    });
    assert.equal(preview.browsing_history[0].url, `${w.site.allowed}/`, 'the entry page comes first');
    const pricing = preview.browsing_history.find((v) => v.url.endsWith('/pricing?tier=pro'));
    assert.equal(pricing.title, 'Pricing - Acme');
    assert.deepEqual(preview.call_parameters, w.site.params);
    // The conversation is still there after the navigation (same frame, no reload).
    assert.equal(await frame.locator('[data-testid="message"][data-from="client"]').count(), 2);
  });

  test('a reload and another page of the site reopen the same conversation, with the draft', async () => {
    const input = tid(frame, 'message-input');
    await input.fill('half-written question');
    // The widget hands the draft to the company page (which keeps it across its pages) a moment
    // after the client stops typing: wait until the page holds it.
    await eventually(async () => assert.equal(
      await page.evaluate((key) => JSON.parse(sessionStorage.getItem(`lobby:${key}`) || '{}').draft, t.widget.key),
      'half-written question',
    ));
    await page.goto(`${w.site.allowed}/contact`);
    frame = widgetFrame(page);
    await tid(frame, 'chat').waitFor({ timeout: 15000 });
    await eventually(async () => assert.equal(await frame.locator('[data-testid="message"][data-from="client"]').count(), 2));
    // Every operator message stored so far.
    const stored = await w.api.ok('GET', `/api/v1/sessions/${session}/messages?after=0`, { token: olga.token }, 200);
    const fromOperator = stored.messages.filter((m) => m.from === 'operator').length;
    assert.equal(fromOperator, 2);
    assert.equal(await frame.locator('[data-testid="message"][data-from="operator"]').count(), fromOperator);
    assert.equal(await tid(frame, 'message-input').inputValue(), 'half-written question');
    assert.match(await frame.locator('#note').textContent(), /Olga/);
    await eventually(async () => {
      const p = await w.api.ok('GET', `/api/v1/clients/${me.client}/preview`, { token: olga.token }, 200);
      assert.ok(p.browsing_history.some((v) => v.url === `${w.site.allowed}/contact` && v.title === 'Contact - Acme'));
    });
  });

  test('a lost connection loses nothing: the unsent message waits, the stream resumes without duplicates', async () => {
    // The network drops: what the client sends meanwhile stays in its outbox and is retried.
    await b.context.setOffline(true);
    const input = tid(frame, 'message-input');
    await input.fill('sent while offline');
    await input.press('Enter');
    await frame.locator('.msg.pending.failed').waitFor({ timeout: 10000 });
    assert.equal(await input.inputValue(), '');
    await b.context.setOffline(false);
    // The server crashes and comes back (same state): the client's stream reconnects and resumes.
    await w.server.restart();
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, { token: olga.token, body: { text: 'Are you still there?' } }, 201);
    await eventually(async () => {
      const texts = await frame.locator('[data-testid="message"]').allTextContents();
      assert.ok(texts.some((x) => x.includes('Are you still there?')), JSON.stringify(texts));
      assert.ok(texts.some((x) => x.includes('sent while offline')), JSON.stringify(texts));
    }, { timeout: 60000 });
    // The stream may show the message before its POST's answer removes the pending bubble.
    await eventually(async () => assert.equal(await frame.locator('.msg.pending').count(), 0, 'nothing left in the outbox'));
    const seqs = await frame.locator('[data-testid="message"]').evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    assert.equal(new Set(seqs).size, seqs.length, `no duplicates: ${seqs}`);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'in order');
    const list = await w.api.ok('GET', `/api/v1/sessions/${session}/messages?after=0`, { token: olga.token }, 200);
    assert.equal(list.messages.filter((m) => m.text === 'sent while offline').length, 1, 'stored once');
    assert.equal(seqs.length, list.messages.length, 'the client shows every stored message');
    // And the stream is live again.
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, { token: olga.token, body: { text: 'Good.' } }, 201);
    await frame.locator('[data-testid="message"]', { hasText: 'Good.' }).waitFor({ timeout: 10000 });
  });

  test('reconnect triggers in a burst (back online, tab shown, timers) leave exactly one event stream', async () => {
    // Every trigger that comes while the stream is down starts a connect(); with /healthz slow to
    // answer, they overlap with the backoff timer's. Each stream left running unseen holds one of
    // the browser's six connections to the server until none is left for the client's messages.
    const app = page.frames().find((f) => f.url().startsWith(`${w.server.base}/`));
    assert.ok(app, 'the widget frame');
    const live = () => app.evaluate(() => window.__lobbyStreams.filter((s) => s.readyState < 2).length);
    const trigger = () => app.evaluate(() => {
      dispatchEvent(new Event('online'));
      document.dispatchEvent(new Event('visibilitychange'));
    }).catch(() => {});
    let slow = true;
    // The chaos is paced on purpose (random /healthz delays, the server away for 2.5 s, triggers
    // every 150-450 ms): these sleeps shape the burst, no assertion waits on them.
    const healthz = async (route) => {
      if (slow) await sleep(Math.random() * 1500);
      await route.continue().catch(() => {});
    };
    await b.context.route((u) => u.pathname === '/healthz', healthz);
    try {
      await w.server.kill();
      const relaunch = sleep(2500).then(() => w.server.launch());
      const until = Date.now() + 9000;
      while (Date.now() < until) {
        await trigger();
        await sleep(150 + Math.random() * 300);
      }
      await relaunch;
      slow = false;
      await tid(frame, 'message').first().waitFor();
      await eventually(async () => assert.equal(await frame.locator('#conn').isHidden(), true, 'connected again'), { timeout: 60000 });
      // Every connect() still on its way waits on a /healthz answer (a newer connect() clears the
      // backoff timer): once none is unanswered, each has opened its stream or stood down.
      await eventually(async () => assert.equal(await app.evaluate(() => window.__lobbyHealthz), 0, 'no /healthz unanswered'), { timeout: 30000 });
      assert.equal(await live(), 1, 'one live event stream');
    } finally {
      await b.context.unroute((u) => u.pathname === '/healthz', healthz);
    }
    // And that stream delivers, once.
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, { token: olga.token, body: { text: 'One stream.' } }, 201);
    await frame.locator('[data-testid="message"]', { hasText: 'One stream.' }).waitFor({ timeout: 15000 });
    // A later message has shown: the stream has carried everything before it, a duplicate too.
    await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, { token: olga.token, body: { text: 'And after it.' } }, 201);
    await frame.locator('[data-testid="message"]', { hasText: 'And after it.' }).waitFor({ timeout: 15000 });
    assert.equal(await frame.locator('[data-testid="message"]', { hasText: 'One stream.' }).count(), 1);
  });

  test('the operator closes: the client sees the end and can start again', async () => {
    await w.api.ok('POST', `/api/v1/sessions/${session}/close`, { token: olga.token }, 200);
    await frame.locator('#ended').waitFor({ timeout: 10000 });
    await frame.locator('#again').click();
    await tid(frame, 'entry-form').waitFor();
    // A reload now shows the buttons, not the old conversation.
    await page.reload();
    await tid(page, 'lobby-button-webchat').waitFor();
    assert.equal(await page.locator('#lobby-widget iframe').count(), 0);
  });

  // The widget matches the server's copy of a client's message to the pending bubble it sent by
  // the message's id, not its text: a replay of an earlier, identical message (after a reload)
  // must not pass for the one still on its way (its bubble stays, failing visibly when its POST
  // fails), and both end shown once each. The widget is opened on its own (a direct link), where
  // its storage keeps the outbox over a reload (in a company page's iframe a browser may block
  // it: then the loader keeps the session and the draft only).
  test('a new conversation: two identical messages in a row, the second held back over a reload, are matched to their bubbles by id and shown once each', async () => {
    const direct = await w.api.tenant({ origins: [w.server.base], operators: ['Olga'] });
    const olga = direct.ops.Olga;
    await w.api.status(olga, 'online');
    const frame = page;
    await page.goto(`${w.server.base}/widget/?key=${encodeURIComponent(direct.widget.key)}&entry=webchat`);
    await tid(frame, 'form-name').fill('Petra');
    const entry = page.waitForResponse((r) => r.url().endsWith('/entries') && r.request().method() === 'POST');
    await tid(frame, 'entry-submit').click();
    const me = await (await entry).json();
    await w.api.ok('POST', `/api/v1/queue/${me.client}/accept`, { token: olga.token }, 200);
    await eventually(async () => assert.match(await frame.locator('#note').textContent(), /chatting with Olga/));

    const text = 'Is it in stock?';
    const mine = () => frame.locator('[data-testid="message"][data-from="client"]');
    await tid(frame, 'message-input').fill(text);
    await tid(frame, 'message-input').press('Enter');
    await eventually(async () => {
      assert.equal(await mine().count(), 1);
      assert.equal(await frame.locator('.msg.pending').count(), 0);
    });

    // The same text again; its POSTs are held before they reach the server.
    const held = [];
    let holding = true;
    const posts = (u) => u.pathname === '/api/v1/client/messages';
    const hold = (route) => (holding && route.request().method() === 'POST' ? held.push(route) : route.continue());
    await b.context.route(posts, hold);
    try {
      await tid(frame, 'message-input').fill(text);
      await tid(frame, 'message-input').press('Enter');
      await eventually(async () => assert.equal(held.length, 1));
      // A reload: the widget reopens the conversation, replays it from the start (the first
      // message, same text) while its outbox sends the second again.
      await page.reload();
      await held[0].abort().catch(() => {});
      await tid(frame, 'chat').waitFor({ timeout: 15000 });
      await eventually(async () => assert.equal(held.length, 2));
      await mine().first().waitFor();
      assert.equal(await mine().count(), 1, 'the replayed first message');
      assert.equal(await frame.locator('.msg.pending').isVisible(), true, 'the second is still shown as being sent');
      // Its POST fails: the client sees that it is not sent yet. (Its retry goes through.)
      holding = false;
      await held[1].abort('internetdisconnected');
      await frame.locator('.msg.pending.failed').waitFor({ state: 'visible', timeout: 10000 });
    } finally {
      await b.context.unroute(posts, hold);
    }
    // The retry goes through: both are confirmed, each shown once.
    await eventually(async () => {
      assert.equal(await frame.locator('.msg.pending').count(), 0, 'nothing left in the outbox');
      assert.equal(await mine().count(), 2);
    }, { timeout: 30000 });
    const stored = (await w.api.ok('GET', `/api/v1/sessions/${me.session}/messages`, { token: olga.token }, 200))
      .messages.filter((m) => m.from === 'client');
    assert.deepEqual(stored.map((m) => m.text), [text, text], 'stored twice, once each');
    assert.notEqual(stored[0].client_message_id, stored[1].client_message_id);
    const seqs = await mine().evaluateAll((els) => els.map((e) => Number(e.dataset.seq)));
    assert.deepEqual(seqs, stored.map((m) => m.seq));
  });
});
