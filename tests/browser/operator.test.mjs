// Browser tests of the operator app (issue 3): Debian's Chromium driven by playwright-core
// against the real `wrangler dev`, elements found by the test ids of
// docs/operator-app-contract.md. Clients enter and write through the HTTP API as the widget
// would; operators act through the app. One server for the file, a fresh tenant per test.
//
//   tests/browser/run.sh                       (all browser tests; the worker and app built first)
//   node --test tests/browser/operator.test.mjs   (after `source scripts/env.sh`)
//
// LOBBY_E2E_KEEP=1 keeps the server's folder (wrangler.log). The pictures in docs/screenshots come
// from tests/browser/screenshots.mjs (`make screenshots`), not from these tests.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Api, UA, entryBody, seedTenant } from './lib/api.mjs';
import {
  acceptInApp, clientPanel, describePage, eventually, gone, hoverItem, launch, openOperator, present,
  queueItem, text, tid, visible,
} from './lib/browser.mjs';
import { startServer } from './lib/server.mjs';

const TEST_TIMEOUT = 180_000;

let server;
let api;
const browsers = new Set();

/** Opens a signed-in operator browser, closed after the test file if the test does not. */
async function operatorBrowser(op) {
  const b = await openOperator(server.base, op);
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

describe('operator app', { timeout: TEST_TIMEOUT * 12 }, () => {
  test('sign in: a wrong password is refused in words, the right one opens the queue', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'signin', operators: [{ name: 'Olga Operator' }], online: false });
    const op = t.operators[0];
    const b = await launch();
    browsers.add(b);
    const { page } = b;
    try {
      await page.goto(server.url('/app/'));
      await visible(tid(page, 'login-form'), page, 'login-form');
      assert.equal(await tid(page, 'queue').count(), 0, 'no queue before signing in');

      await tid(page, 'login-tenant').fill(t.slug);
      await tid(page, 'login-email').fill(op.email);
      await tid(page, 'login-password').fill('not-the-password');
      await tid(page, 'login-submit').click();
      await visible(tid(page, 'login-error'), page, 'login-error after a wrong password');
      assert.notEqual(await text(tid(page, 'login-error')), '', 'login-error says why');
      assert.equal(await tid(page, 'queue').count(), 0, 'still no queue after a refused sign-in');

      await tid(page, 'login-password').fill(op.password);
      await tid(page, 'login-submit').click();
      await visible(tid(page, 'queue'), page, 'queue after signing in');
      await visible(tid(page, 'queue-empty'), page, 'queue-empty (nobody waits)');
      await visible(tid(page, 'status-select'), page, 'status-select');
      await eventually(async () => {
        assert.equal(await tid(page, 'connection-status').first().getAttribute('data-state'), 'connected');
      }, { timeout: 10000 }).catch(async (e) => {
        throw new Error(`connection-status data-state="connected": ${e.message}\n  ${await describePage(page)}`);
      });
      const stored = await page.evaluate(() => sessionStorage.getItem('lobby.token'));
      assert.ok(stored && stored.length > 0, 'the token is kept in sessionStorage (lobby.token)');
      assert.equal(await tid(page, 'nav-admin').count(), 0, 'nav-admin is only for admins');

      // The status switch changes the operator's presence on the server.
      for (const status of ['online', 'away', 'online']) {
        await tid(page, 'status-select').selectOption(status);
        await eventually(async () => assert.equal((await api.me(op.token)).status, status), { timeout: 10000 });
      }
    } finally {
      await closeAll(b);
    }
  });

  test('a client entering through the API appears in the queue without reload, with icon and fields', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'queue' });
    const [olga, oscar] = t.operators;
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await page.evaluate(() => {
        window.__lobbyNoReload = true;
      });
      const jana = await api.enter(
        t.widget.key,
        entryBody({ name: 'Jana Dvořáková', phone: '+420 777 123 456', language: 'cs' }),
        { userAgent: UA.chromeWindows },
      );
      const item = queueItem(page, jana.client);
      await visible(item, page, 'queue-item of the new client (live, without reload)');
      assert.equal(await item.getAttribute('data-entry'), 'webchat');
      const icon = tid(item, 'entry-icon');
      await visible(icon, page, 'entry-icon');
      assert.ok((await icon.first().locator('svg').count()) > 0, 'entry-icon is an inline SVG');
      assert.match(await text(tid(item, 'client-name')), /Jana Dvořáková/);
      assert.match(await text(tid(item, 'client-phone')), /\+420 777 123 456/);
      assert.match(await text(tid(item, 'client-language')), /\bcs\b|czech|češ/i);
      assert.match(await text(tid(item, 'client-browser')), /Chrome/);
      assert.match(await text(tid(item, 'client-os')), /Windows/);
      assert.match(await text(tid(item, 'client-widget')), /Website/);
      await visible(tid(item, 'waiting-time'), page, 'waiting-time');
      assert.match(await text(tid(item, 'position')), /\b1\b/);
      assert.equal(await tid(page, 'queue-empty').isVisible(), false, 'queue-empty hidden while someone waits');

      // A video call gets a different icon, and its own fields.
      const tom = await api.enter(
        t.widget.key,
        entryBody({ entry: 'video', name: 'Tom Baker', language: 'en' }),
        { userAgent: UA.firefoxUbuntu },
      );
      const tomItem = queueItem(page, tom.client);
      await visible(tomItem, page, 'queue-item of the second client');
      assert.equal(await tomItem.getAttribute('data-entry'), 'video');
      assert.notEqual(
        await tid(tomItem, 'entry-icon').first().innerHTML(),
        await icon.first().innerHTML(),
        'webchat and video entries have distinct icons',
      );
      assert.match(await text(tid(tomItem, 'client-browser')), /Firefox/);
      assert.match(await text(tid(tomItem, 'client-os')), /Ubuntu|Linux/i);
      assert.match(await text(tid(tomItem, 'client-language')), /\ben\b|english/i);
      assert.match(await text(tid(tomItem, 'position')), /\b2\b/);

      // waiting-time ticks.
      const before = await text(tid(item, 'waiting-time'));
      await eventually(async () => assert.notEqual(await text(tid(item, 'waiting-time')), before), { timeout: 5000 });

      // Taken by another operator: it disappears at once, and the next one moves up.
      const r = await api.accept(oscar.token, jana.client);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await gone(item, page, 'queue-item of a client accepted by another operator', 5000);
      await eventually(async () => assert.match(await text(tid(tomItem, 'position')), /\b1\b/), { timeout: 5000 });

      assert.equal(await page.evaluate(() => window.__lobbyNoReload), true, 'the page was not reloaded');
    } finally {
      await closeAll(b);
    }
  });

  test('preview shows every section, and says so when one is empty', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'preview' });
    const [olga, oscar] = t.operators;
    const contact = { name: 'Sophie Müller', phone: '+49 151 2345 6789', email: 'sophie.mueller@example.de' };
    // A past session of the same contact.
    const earlier = await api.enter(t.widget.key, entryBody({ ...contact, language: 'de' }), { userAgent: UA.safariMac });
    assert.equal((await api.accept(oscar.token, earlier.client)).status, 200);
    await api.postClientMessage(earlier.token, 'Meine Rechnung ist falsch.');
    await api.closeSession(oscar.token, earlier.session);
    // Now she is back.
    const sophie = await api.enter(
      t.widget.key,
      entryBody({
        ...contact,
        language: 'de',
        page: { url: 'https://shop.example/cart', title: 'Warenkorb', referrer: 'https://search.example/' },
        params: { order: 'A-1042', plan: 'Premium' },
      }),
      { userAgent: UA.safariMac },
    );
    await api.reportPage(sophie.token, 'https://shop.example/checkout', 'Kasse');
    await api.postClientMessage(sophie.token, 'Hallo, wo ist mein Paket?');
    await api.addTag(olga.token, sophie.client, 'vip');
    await api.addNote(olga.token, sophie.client, 'Called yesterday about a refund');
    // And someone about whom nothing is known yet.
    const bare = await api.enter(t.widget.key, entryBody({}), { userAgent: UA.chromeAndroid });

    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      const sections = {
        'preview-info': (p) => ({ empty: false, expect: p.client.name }),
        'preview-past-sessions': (p) => ({ empty: p.past_sessions.length === 0 }),
        'preview-browsing': (p) => ({ empty: p.browsing_history.length === 0, expect: p.browsing_history.length ? /checkout|Kasse/ : null }),
        'preview-tags': (p) => ({ empty: p.tags.length === 0, expect: p.tags[0] }),
        'preview-params': (p) => ({ empty: Object.keys(p.call_parameters).length === 0, expect: p.call_parameters.order }),
        'preview-notes': (p) => ({ empty: p.notes.length === 0, expect: p.notes[0]?.text }),
        'preview-messages': (p) => ({ empty: p.messages.length === 0, expect: p.messages[0]?.text }),
      };
      for (const who of [sophie, bare]) {
        const expected = await api.preview(olga.token, who.client);
        const item = queueItem(page, who.client);
        await visible(item, page, `queue-item ${who.client}`);
        await hoverItem(item);
        await visible(tid(item, 'preview-button'), page, 'preview-button (on hover)');
        await tid(item, 'preview-button').first().click();
        const preview = tid(page, 'preview');
        await visible(preview, page, 'preview panel');
        if (expected.client.name) {
          await eventually(async () => assert.match(await text(tid(preview, 'preview-info')), new RegExp(expected.client.name)), { timeout: 5000 });
        }
        for (const [id, spec] of Object.entries(sections)) {
          const { empty, expect } = spec(expected);
          const section = tid(preview, id);
          await visible(section, page, `${id} in the preview of ${expected.client.name || 'an anonymous client'}`);
          await eventually(async () => {
            const flag = await section.first().getAttribute('data-empty');
            if (empty) {
              assert.equal(flag, 'true', `${id} is empty: data-empty="true"`);
              assert.notEqual(await text(section), '', `${id} says it is empty`);
            } else {
              assert.notEqual(flag, 'true', `${id} has content: not data-empty="true"`);
              if (expect) {
                const re = expect instanceof RegExp ? expect : new RegExp(String(expect).replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
                assert.match(await text(section), re, `${id} shows ${expect}`);
              }
            }
          }, { timeout: 5000 });
        }
        await visible(tid(preview, 'preview-accept'), page, 'preview-accept');
        await visible(tid(preview, 'preview-redirect'), page, 'preview-redirect');
        if (who === sophie) {
          assert.ok(expected.past_sessions.length >= 1, 'the API knows her past session');
          assert.ok(expected.browsing_history.length >= 1, 'the API knows her pages');
        }
        const close = tid(preview, 'preview-close');
        if (await close.count()) await close.first().click();
      }
    } finally {
      await closeAll(b);
    }
  });

  test('accept opens the Client tab', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'accept' });
    const [olga] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Martin Novák', phone: '+420 731 555 010', language: 'cs' }), { userAgent: UA.edgeWindows });
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      const tab = await acceptInApp(page, c.client);
      assert.equal(await tab.first().getAttribute('data-session-id'), c.session);
      const panel = clientPanel(page, c.session);
      await visible(panel, page, 'client-panel of the accepted session');
      await visible(tid(panel, 'client-info'), page, 'client-info');
      await eventually(async () => assert.match(await text(tid(panel, 'client-info')), /Martin Novák/), { timeout: 5000 });
      await present(tid(panel, 'conversation'), page, 'conversation');
      await visible(tid(panel, 'message-input'), page, 'message-input');
      await gone(queueItem(page, c.client), page, 'queue-item of the accepted client', 5000);
      const sessions = await api.sessions(olga.token);
      assert.deepEqual(sessions.map((s) => s.id), [c.client], 'the server has the session as hers');
    } finally {
      await closeAll(b);
    }
  });

  test('a message round trip with the client', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'messages' });
    const [olga] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Eva Horáková', language: 'cs' }), { userAgent: UA.chromeWindows });
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await acceptInApp(page, c.client);
      const panel = clientPanel(page, c.session);
      await visible(panel, page, 'client-panel');

      // Operator → client.
      const hello = `Dobrý den, tady Olga. Jak vám mohu pomoci? ${Date.now()}`;
      await tid(panel, 'message-input').first().fill(hello);
      await tid(panel, 'message-send').first().click();
      await eventually(async () => {
        const msgs = await api.clientMessages(c.token);
        assert.ok(msgs.some((m) => m.from === 'operator' && m.text === hello), `the client sees ${JSON.stringify(hello)}: ${JSON.stringify(msgs)}`);
      }, { timeout: 10000 });
      await visible(tid(panel, 'message', '[data-from="operator"]').filter({ hasText: hello }), page, 'the operator\'s own message in the conversation');

      // Client → operator.
      const reply = `Dobrý den, nepřišel mi balík A-1042. ${Date.now()}`;
      const posted = await api.postClientMessage(c.token, reply);
      const msg = tid(panel, 'message', '[data-from="client"]').filter({ hasText: reply });
      await visible(msg, page, 'the client\'s message in the conversation');
      assert.equal(await msg.first().getAttribute('data-seq'), String(posted.seq), 'data-seq is the message\'s seq');
      assert.ok(await tid(panel, 'conversation').first().locator('[data-testid="message"]').count() >= 2);
    } finally {
      await closeAll(b);
    }
  });

  test('links in messages are clickable and pictures are shown', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'links' });
    const [olga] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Peter Hughes', language: 'en' }), { userAgent: UA.firefoxUbuntu });
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      await acceptInApp(page, c.client);
      const panel = clientPanel(page, c.session);
      const link = 'https://shop.example/orders/A-1042';
      const picture = 'https://shop.example/uploads/broken-parcel.png';
      await api.postClientMessage(c.token, `The order is here: ${link} and a photo:`, [{ url: picture, kind: 'image', name: 'broken-parcel.png' }]);
      const msg = tid(panel, 'message', '[data-from="client"]').filter({ hasText: 'The order is here' });
      await visible(msg, page, 'the client\'s message with a link');
      await visible(msg.first().locator(`a[href="${link}"]`), page, 'the link as <a href>');
      assert.ok((await msg.first().locator(`img[src="${picture}"]`).count()) === 1, `the picture as <img src="${picture}">\n  ${await describePage(page)}`);
    } finally {
      await closeAll(b);
    }
  });

  test('redirect to the other operator, who sees the client in their queue', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'redirect' });
    const [olga, oscar] = t.operators;
    const c = await api.enter(t.widget.key, entryBody({ name: 'Lukáš Procházka', language: 'sk' }), { userAgent: UA.edgeWindows });
    const a = await operatorBrowser(olga);
    const o = await operatorBrowser(oscar);
    try {
      await visible(queueItem(o.page, c.client), o.page, 'queue-item in the other operator\'s queue');
      await acceptInApp(a.page, c.client);
      await gone(queueItem(o.page, c.client), o.page, 'queue-item in the other operator\'s queue once accepted', 5000);

      const panel = clientPanel(a.page, c.session);
      await tid(panel, 'redirect-button').first().click();
      const dialog = tid(a.page, 'redirect-dialog');
      await visible(dialog, a.page, 'redirect-dialog');
      const target = tid(dialog, 'redirect-target');
      const value = `operator:${oscar.id}`;
      await eventually(async () => assert.equal(await target.locator(`option[value="${value}"]`).count(), 1, `redirect-target offers ${value}`), { timeout: 5000 });
      assert.match(await target.locator(`option[value="${value}"]`).innerText(), /Oscar Operator/);
      await target.selectOption(value);
      await tid(dialog, 'redirect-note').first().fill('Speaks Slovak; wants a refund for order A-1042');
      await tid(dialog, 'redirect-submit').first().click();
      await gone(dialog, a.page, 'redirect-dialog after submitting', 5000);

      const item = queueItem(o.page, c.client);
      await visible(item, o.page, 'the redirected client in the other operator\'s queue');
      await gone(tid(a.page, 'client-tab', `[data-client-id="${c.client}"]`), a.page, 'the Client tab of the redirected client', 5000);
      const q = await api.queue(oscar.token);
      const row = q.find((x) => x.id === c.client);
      assert.ok(row, 'the server has the client waiting for Oscar');
      assert.equal(row.operator, oscar.id);
      assert.equal((await api.queue(olga.token)).some((x) => x.id === c.client), false, 'not in Olga\'s queue');

      // Oscar can take it.
      await acceptInApp(o.page, c.client);
    } finally {
      await closeAll(a, o);
    }
  });

  test('two operators accept the same client at the same moment: exactly one gets it, the other is told', { timeout: TEST_TIMEOUT * 2 }, async (t0) => {
    // If the loser's app removes the client (the winner's accept, pushed over the WebSocket)
    // before the loser's click lands, that attempt proves only the first half; try again with a
    // fresh tenant, up to three times.
    const outcomes = [];
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const t = await seedTenant(api, { prefix: 'race' });
      const [olga, oscar] = t.operators;
      const c = await api.enter(t.widget.key, entryBody({ name: 'Katarzyna Wiśniewska', language: 'pl' }), { userAgent: UA.chromeAndroid });
      const a = await operatorBrowser(olga);
      const o = await operatorBrowser(oscar);
      try {
        const pages = [a.page, o.page];
        for (const page of pages) {
          const item = queueItem(page, c.client);
          await visible(item, page, 'queue-item');
          await hoverItem(item);
          const btn = tid(item, 'accept-button').first();
          await visible(btn, page, 'accept-button (on hover)');
          assert.equal(await btn.isEnabled(), true);
          // The pointer rests on the button; a capturing listener records whether the click
          // reached it (the app is not changed: it only counts).
          await btn.hover();
          await page.evaluate((id) => {
            window.__lobbyAcceptClicks = 0;
            window.addEventListener('click', (e) => {
              const b = e.target instanceof Element && e.target.closest('[data-testid="accept-button"]');
              if (b && b.closest(`[data-testid="queue-item"][data-client-id="${id}"]`)) window.__lobbyAcceptClicks += 1;
            }, true);
          }, c.client);
        }
        // Watch for the error from now on (an app may hide it again after a while).
        const errorSeen = pages.map((page) => {
          const err = tid(page, 'error-message').first();
          return err.waitFor({ state: 'visible', timeout: 10000 }).then(
            async () => ({ text: (await err.innerText().catch(() => '')).trim(), role: await err.getAttribute('role').catch(() => null) }),
            () => null,
          );
        });
        // Each app's answers to its accept calls (the loser's 409 must not open a tab either).
        const acceptAnswers = pages.map((page) => {
          const seen = [];
          page.on('response', (r) => {
            if (/^\/api\/v1\/queue\/[^/]+\/accept$/.test(new URL(r.url()).pathname)) seen.push(r.status());
          });
          return seen;
        });
        // Both clicks at once: only the button press and release remain to be sent.
        const clicks = await Promise.allSettled(pages.map(async (page) => {
          await page.mouse.down();
          await page.mouse.up();
          if (!(await page.evaluate(() => window.__lobbyAcceptClicks))) throw new Error('the click did not reach the accept button (the client was gone already)');
        }));

        const tabOf = (page) => tid(page, 'client-tab', `[data-client-id="${c.client}"]`);
        let winner;
        await eventually(async () => {
          const has = await Promise.all(pages.map(async (p) => (await tabOf(p).count()) > 0));
          assert.equal(has.filter(Boolean).length, 1, `exactly one operator has the Client tab (${has})`);
          winner = has.indexOf(true);
        }, { timeout: 10000 }).catch(async (e) => {
          throw new Error(`${e.message}\n  A: ${await describePage(a.page)}\n  B: ${await describePage(o.page)}`);
        });
        const loser = 1 - winner;
        // The server agrees: one session, the winner's.
        const sessions = await Promise.all([olga, oscar].map((op) => api.sessions(op.token)));
        assert.deepEqual(sessions.map((s) => s.filter((x) => x.id === c.client).length), pages.map((_, i) => (i === winner ? 1 : 0)));
        // Neither keeps the client in the queue.
        for (const page of pages) await gone(queueItem(page, c.client), page, 'queue-item after the race', 5000);
        // Stable: once the loser's app has its accept's answer and has shown a client who entered
        // after the race (its stream has carried everything before), it still has no tab.
        const loserClicked = clicks[loser].status === 'fulfilled';
        if (loserClicked) {
          await eventually(async () => assert.ok(acceptAnswers[loser].length >= 1, 'the loser\'s accept was answered'), { timeout: 10000 });
        }
        const later = await api.enter(t.widget.key, entryBody({ name: 'Later Client' }), { userAgent: UA.chromeWindows });
        await visible(queueItem(pages[loser], later.client), pages[loser], 'queue-item of a later client');
        assert.equal(await tabOf(pages[loser]).count(), 0, 'the loser has no Client tab');

        outcomes.push(`attempt ${attempt}: winner ${['A', 'B'][winner]}, loser's click ${loserClicked ? 'landed' : `did not land (${String(clicks[loser].reason).split('\n').slice(0, 12).join(' / ')})`}`);
        t0.diagnostic(outcomes.at(-1));
        if (loserClicked) {
          const seen = await errorSeen[loser];
          if (!seen) {
            throw new Error(`error-message: not visible for the operator who lost the race within 10 s\n  ${await describePage(pages[loser])}`);
          }
          assert.notEqual(seen.text, '', 'error-message explains in words');
          assert.equal(seen.role, 'alert', 'error-message has role="alert"');
          assert.equal(await tid(pages[winner], 'error-message').filter({ visible: true }).count(), 0, 'the winner sees no error');
          t0.diagnostic(`the loser read: ${JSON.stringify(seen.text)}`);
          return;
        }
      } finally {
        await closeAll(a, o);
      }
    }
    assert.fail(`in no attempt did both clicks land before the loser's queue dropped the client:\n  ${outcomes.join('\n  ')}`);
  });

  test('the page title shows how many clients wait', { timeout: TEST_TIMEOUT }, async () => {
    const t = await seedTenant(api, { prefix: 'title' });
    const [olga, oscar] = t.operators;
    const b = await operatorBrowser(olga);
    const { page } = b;
    try {
      assert.match(await page.title(), /Lobby/);
      const cs = [];
      for (const [name, ua] of [['Anna', UA.chromeWindows], ['Boris', UA.safariIphone], ['Cecilie', UA.firefoxWindows]]) {
        cs.push(await api.enter(t.widget.key, entryBody({ name }), { userAgent: ua }));
      }
      await eventually(async () => assert.match(await page.title(), /^\(3\)\s*Lobby/), { timeout: 10000 });
      assert.equal((await api.accept(oscar.token, cs[0].client)).status, 200);
      await eventually(async () => assert.match(await page.title(), /^\(2\)\s*Lobby/), { timeout: 10000 });
    } finally {
      await closeAll(b);
    }
  });
});
