// The one-line embed on a company's page: the buttons appear (and nothing heavier loads until a
// click), a page on an origin the widget does not allow gets nothing, the entry form follows the
// widget's form rules and the client's language, and with nobody online the offline form ends in
// a clear confirmation and a stored submission.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { browser, eventually, openWidget, realErrors, tid, world } from './lib/harness.mjs';

describe('the embed on a company page', () => {
  let w, b;

  before(async () => {
    w = await world();
    b = await browser();
  });

  after(async () => {
    await b?.close();
    await w?.teardown();
  });

  test('the buttons appear; the widget app loads only on a click', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const page = b.page;
    const requests = [];
    const onRequest = (r) => requests.push(r.url());
    page.on('request', onRequest);
    await page.goto(`${w.site.allowed}/`);
    for (const [kind, label] of [['webchat', 'Chat'], ['video', 'Video call'], ['callback', 'Callback']]) {
      const button = tid(page, `lobby-button-${kind}`);
      await button.waitFor({ timeout: 15000 });
      assert.equal(await button.evaluate((e) => e.tagName), 'BUTTON');
      assert.equal((await button.textContent()).trim(), label);
    }
    // The accessible names a screen reader announces.
    await page.getByRole('button', { name: 'Video call' }).waitFor();
    assert.equal(await page.locator('#lobby-widget iframe').count(), 0, 'no iframe before a click');
    assert.ok(!requests.some((u) => u.includes('/widget/')), `nothing of the app before a click: ${requests}`);
    assert.equal(requests.filter((u) => u.includes('/config')).length, 1);

    await tid(page, 'lobby-button-webchat').click();
    const frameEl = page.locator('#lobby-widget iframe');
    await frameEl.waitFor();
    const src = new URL(await frameEl.getAttribute('src'));
    assert.equal(src.origin, w.server.base, "the app comes from Lobby's origin");
    assert.equal(src.pathname, '/widget/');
    assert.equal(src.searchParams.get('key'), t.widget.key);
    assert.equal(src.searchParams.get('entry'), 'webchat');
    assert.equal(src.searchParams.get('origin'), w.site.allowed);
    const frame = page.frameLocator('#lobby-widget iframe');
    await tid(frame, 'entry-form').waitFor();
    // Minimizing gives the page its buttons back; they reopen the same window.
    await frame.locator('#min').click();
    await tid(page, 'lobby-button-webchat').waitFor();
    assert.equal(await frameEl.isVisible(), false);
    await tid(page, 'lobby-button-webchat').click();
    await tid(frame, 'entry-form').waitFor();
    page.off('request', onRequest);
    assert.deepEqual(realErrors(b.errors), []);
  });

  test('a page with a strict CSP and Trusted Types still gets working buttons', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const page = await b.context.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    page.on('pageerror', (e) => errors.push(e.message));
    try {
      const frame = await openWidget(page, w.site.allowed, 'webchat', '/strict');
      await tid(frame, 'entry-form').waitFor();
      const bg = await tid(page, 'lobby-button-webchat').evaluate((e) => getComputedStyle(e).backgroundColor);
      assert.equal(bg, 'rgb(29, 78, 216)', 'the buttons are styled');
      assert.deepEqual(errors.filter((e) => !/favicon/.test(e)), []);
    } finally {
      await page.close();
    }
  });

  test('a page on an origin the widget does not allow gets no buttons (config 403)', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const page = await b.context.newPage();
    // Marks when the loader is done with the config answer: its handling runs in the promise
    // callbacks right after the body is read, so a task queued once text() settles comes after it.
    await page.addInitScript(() => {
      const real = window.fetch;
      window.fetch = (...args) => real(...args).then((r) => {
        if (!new URL(r.url).pathname.endsWith('/config')) return r;
        const text = r.text.bind(r);
        r.text = () => text().finally(() => setTimeout(() => { window.__lobbyConfigHandled = true; }));
        return r;
      });
    });
    const config = page.waitForResponse((r) => r.url().includes('/config'));
    await page.goto(`${w.site.foreign}/`);
    const res = await config;
    assert.equal(res.status(), 403);
    assert.equal((await res.json()).error.code, 'origin_not_allowed');
    await page.waitForFunction(() => window.__lobbyConfigHandled === true);
    assert.equal(await page.locator('#lobby-widget').count(), 0);
    assert.equal(await tid(page, 'lobby-button-webchat').count(), 0);
    // And an entry from there is refused too.
    const r = await w.api.enter(t.widget.key, w.site.foreign, { entry: 'webchat', form: { name: 'Eve' } });
    assert.equal(r.status, 403);
    await page.close();
  });

  test('the entry form follows the form rules and the browser language, with a switch', async () => {
    const t = await w.api.tenant({
      origins: [w.site.allowed],
      form: { name: 'required', phone: 'hidden', email: 'required' },
    });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const cz = await browser({ locale: 'cs-CZ' });
    try {
      const page = cz.page;
      await page.goto(`${w.site.allowed}/`);
      const button = tid(page, 'lobby-button-callback');
      await button.waitFor({ timeout: 15000 });
      assert.equal((await button.textContent()).trim(), 'Zavolejte mi');
      const frame = await openWidget(page, w.site.allowed, 'webchat');
      await tid(frame, 'entry-form').waitFor();
      assert.equal(await tid(frame, 'language-switch').inputValue(), 'cs');
      assert.equal((await tid(frame, 'entry-submit').textContent()).trim(), 'Zahájit chat');
      assert.equal(await tid(frame, 'form-phone').count(), 0, 'a hidden field is not asked');
      assert.equal(await tid(frame, 'form-code').count(), 0, 'codes belong to the callback widget');
      assert.equal(await tid(frame, 'form-name').getAttribute('aria-required'), 'true');

      // Required fields are enforced here too: nothing is sent.
      let entries = 0;
      page.on('request', (r) => { if (r.url().endsWith('/entries')) entries++; });
      await tid(frame, 'entry-submit').click();
      assert.equal(await tid(frame, 'form-name').getAttribute('aria-invalid'), 'true');
      assert.match(await frame.locator('#e-name').textContent(), /Vyplňte/);
      await tid(frame, 'form-name').fill('Jana');
      await tid(frame, 'form-email').fill('not-an-address');
      await tid(frame, 'entry-submit').click();
      assert.match(await frame.locator('#e-email').textContent(), /e-mail/);
      assert.equal(entries, 0);

      // The switch changes every text.
      await tid(frame, 'language-switch').selectOption('en');
      assert.equal((await tid(frame, 'entry-submit').textContent()).trim(), 'Start chat');
      assert.match(await frame.locator('label[for=f-name]').textContent(), /Name/);
      await tid(frame, 'form-email').fill('jana@example.cz');
      const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
      await tid(frame, 'entry-submit').click();
      const res = await entry;
      assert.equal(res.status(), 201);
      assert.equal(res.request().postDataJSON().language, 'en');
      await tid(frame, 'chat').waitFor();
      const row = (await w.api.queue(t.ops.Olga)).clients[0];
      assert.equal(row.language, 'en');
      assert.equal(row.email, 'jana@example.cz');
      await tid(frame, 'language-switch').selectOption('cs');
      await eventually(async () => assert.match(await tid(frame, 'queue-position').textContent(), /na řadě/));
    } finally {
      await cz.close();
    }
  });

  test('the estimated wait: honest "cannot estimate" without data, a figure once clients were accepted', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    const olga = t.ops.Olga;
    await w.api.status(olga, 'online');
    const page = await b.context.newPage();
    try {
      let frame = await openWidget(page, w.site.allowed, 'webchat');
      await tid(frame, 'entry-submit').click();
      await tid(frame, 'chat').waitFor();
      await eventually(async () => assert.match(await tid(frame, 'estimated-wait').textContent(), /cannot estimate/));
      assert.equal(await tid(frame, 'estimated-wait').getAttribute('data-seconds'), '');
      // Three clients served: now there is something to go by.
      const clients = [];
      for (const name of ['A', 'B', 'C']) {
        const r = await w.api.enter(t.widget.key, w.site.allowed, { entry: 'webchat', form: { name } });
        assert.equal(r.status, 201);
        clients.push(r.body.client);
      }
      const mine = (await w.api.queue(olga)).clients.find((c) => !clients.includes(c.id)).id;
      // The browser's client is first in line; serve the three others (the limit is 3 chats).
      for (const c of clients) await w.api.ok('POST', `/api/v1/queue/${c}/accept`, { token: olga.token }, 200);
      const second = await page.context().newPage();
      frame = await openWidget(second, w.site.allowed, 'webchat');
      await tid(frame, 'entry-submit').click();
      await tid(frame, 'chat').waitFor();
      await eventually(async () => assert.equal(await tid(frame, 'queue-position').getAttribute('data-position'), '2'));
      const seconds = await tid(frame, 'estimated-wait').getAttribute('data-seconds');
      assert.match(seconds, /^\d+$/, 'a figure');
      assert.match(await tid(frame, 'estimated-wait').textContent(), /Estimated wait: (less than a minute|about \d+ min)/);
      assert.ok(mine);
      await second.close();
    } finally {
      await page.close();
    }
  });

  test('nobody online: Chat opens the offline form; sending it shows a confirmation (stored: 202)', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed] });
    w.site.key = t.widget.key; // Olga stays offline
    const page = await b.context.newPage();
    try {
      const frame = await openWidget(page, w.site.allowed, 'webchat');
      await tid(frame, 'offline-form').waitFor({ timeout: 15000 });
      assert.equal(await tid(frame, 'entry-form').count(), 0);
      // The message and a way to answer are needed.
      await tid(frame, 'offline-submit').click();
      assert.equal(await tid(frame, 'offline-message').getAttribute('aria-invalid'), 'true');
      assert.equal(await tid(frame, 'offline-confirmation').count(), 0);
      await tid(frame, 'form-name').fill('Karel');
      await tid(frame, 'form-email').fill('karel@example.cz');
      await tid(frame, 'form-phone').fill('+420 777 123 456');
      await tid(frame, 'offline-message').fill('Do you ship rose bushes to Brno? Please write back.');
      const sent = page.waitForResponse((r) => r.url().endsWith('/offline'));
      await tid(frame, 'offline-submit').click();
      const res = await sent;
      assert.equal(res.status(), 202, await res.text());
      assert.deepEqual(await res.json(), { status: 'received' });
      const body = res.request().postDataJSON();
      const { language, ...rest } = body;
      assert.deepEqual(rest, {
        form: { name: 'Karel', email: 'karel@example.cz', phone: '+420 777 123 456' },
        message: 'Do you ship rose bushes to Brno? Please write back.',
        // The page the client wrote from, for the mail (as an entry carries it).
        page: { url: `${w.site.allowed}/`, title: 'Acme Garden Supplies' },
      });
      assert.match(language, /^(en|cs)$/, 'the language the widget speaks');
      await tid(frame, 'offline-confirmation').waitFor();
      assert.match(await tid(frame, 'offline-confirmation').textContent(), /received your message/);
      // Callback offers the same offline form.
      await frame.locator('#min').click();
      await tid(page, 'lobby-button-callback').click();
      await tid(frame, 'offline-form').waitFor();
    } finally {
      await page.close();
    }
  });

  test('an entry answered "offline" (everyone went offline after the page loaded) shows the offline form with what was typed', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const page = await b.context.newPage();
    try {
      const frame = await openWidget(page, w.site.allowed, 'webchat');
      await tid(frame, 'entry-form').waitFor();
      await w.api.status(t.ops.Olga, 'offline');
      await tid(frame, 'form-name').fill('Late Larry');
      await tid(frame, 'form-email').fill('larry@example.com');
      await tid(frame, 'entry-submit').click();
      await tid(frame, 'offline-form').waitFor();
      assert.equal(await tid(frame, 'form-name').inputValue(), 'Late Larry');
      assert.equal(await tid(frame, 'form-email').inputValue(), 'larry@example.com');
    } finally {
      await page.close();
    }
  });
});
