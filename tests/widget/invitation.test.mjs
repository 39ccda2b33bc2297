// Invitation codes in the callback widget: an operator generates a code (POST /api/v1/invitations),
// the client types it in the Callback widget and then waits for that operator only; a wrong code
// gets the server's error in the widget (and the form keeps what was typed); repeated guesses
// are throttled (429).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { browser, eventually, openWidget, realErrors, tid, world } from './lib/harness.mjs';

describe('invitation codes in the callback widget', () => {
  let w, b;

  before(async () => {
    w = await world();
    b = await browser();
  });

  after(async () => {
    await b?.close();
    await w?.teardown();
  });

  test("a valid code puts the client in the inviting operator's queue only", async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga', 'Petr'] });
    w.site.key = t.widget.key;
    const { Olga: olga, Petr: petr } = t.ops;
    await w.api.status(olga, 'online');
    await w.api.status(petr, 'online');
    const inv = await w.api.ok('POST', '/api/v1/invitations', { token: petr.token, body: {} }, 201);
    assert.match(inv.code, /^\d{6}$/);

    const page = b.page;
    const frame = await openWidget(page, w.site.allowed, 'callback');
    await tid(frame, 'entry-form').waitFor();
    await tid(frame, 'form-name').fill('Ivana');
    await tid(frame, 'form-code').fill(inv.code);
    const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
    await tid(frame, 'entry-submit').click();
    const res = await entry;
    assert.equal(res.status(), 201, await res.text());
    const sent = res.request().postDataJSON();
    assert.equal(sent.entry, 'invitation');
    assert.equal(sent.code, inv.code);
    const me = await res.json();
    await tid(frame, 'chat').waitFor();

    const petrQueue = await w.api.queue(petr);
    const row = petrQueue.clients.find((c) => c.id === me.client);
    assert.ok(row, `in Petr's queue: ${JSON.stringify(petrQueue)}`);
    assert.equal(row.entry, 'invitation');
    assert.equal(row.operator, petr.id);
    const olgaQueue = await w.api.queue(olga);
    assert.equal(olgaQueue.clients.some((c) => c.id === me.client), false, "not in Olga's queue");
    // Only Petr can take it.
    const byOlga = await w.api.call('POST', `/api/v1/queue/${me.client}/accept`, { token: olga.token });
    assert.notEqual(byOlga.status, 200);
    await w.api.ok('POST', `/api/v1/queue/${me.client}/accept`, { token: petr.token }, 200);
    await eventually(async () => assert.match(await frame.locator('#note').textContent(), /Petr/));
    assert.deepEqual(realErrors(b.errors), []);
  });

  test('a wrong code shows the server error and keeps the form; a used code is refused too', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const inv = await w.api.ok('POST', '/api/v1/invitations', { token: t.ops.Olga.token }, 201);
    const wrong = inv.code === '000000' ? '000001' : '000000';
    const page = await b.context.newPage();
    try {
      const frame = await openWidget(page, w.site.allowed, 'callback');
      // Malformed codes never leave the browser.
      await tid(frame, 'form-phone').fill('+420 601 222 333');
      await tid(frame, 'form-code').fill('12ab');
      await tid(frame, 'entry-submit').click();
      assert.equal(await tid(frame, 'form-code').getAttribute('aria-invalid'), 'true');

      await tid(frame, 'form-code').fill(wrong);
      const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
      await tid(frame, 'entry-submit').click();
      const res = await entry;
      assert.ok(res.status() >= 400 && res.status() < 500, `answer ${res.status()}`);
      const { error } = await res.json();
      await tid(frame, 'error-message').waitFor();
      assert.equal((await tid(frame, 'error-message').textContent()).trim(), error.message);
      assert.equal(await tid(frame, 'entry-form').count(), 1, 'still on the form');
      assert.equal(await tid(frame, 'form-phone').inputValue(), '+420 601 222 333');
      assert.equal(await tid(frame, 'form-code').inputValue(), wrong);
      assert.equal((await w.api.queue(t.ops.Olga)).clients.length, 0);

      // Someone else uses the real code first: then it is refused here as well.
      const other = await w.api.enter(t.widget.key, w.site.allowed, { entry: 'invitation', code: inv.code, form: { name: 'First' } });
      assert.equal(other.status, 201, JSON.stringify(other.body));
      await tid(frame, 'form-code').fill(inv.code);
      const again = page.waitForResponse((r) => r.url().endsWith('/entries'));
      await tid(frame, 'entry-submit').click();
      const used = await again;
      assert.ok(used.status() >= 400 && used.status() < 500);
      await eventually(async () => assert.equal((await tid(frame, 'error-message').textContent()).trim(), (await used.json()).error.message));
    } finally {
      await page.close();
    }
  });

  test('guessing is throttled: after ten wrong codes the widget says so (429)', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    await w.api.status(t.ops.Olga, 'online');
    const inv = await w.api.ok('POST', '/api/v1/invitations', { token: t.ops.Olga.token }, 201);
    const page = await b.context.newPage();
    try {
      const frame = await openWidget(page, w.site.allowed, 'callback');
      await tid(frame, 'form-phone').fill('+420 601 222 333');
      const statuses = [];
      for (let i = 0; i < 12; i++) {
        let code = String(100000 + i * 7919);
        if (code === inv.code) code = String(Number(code) + 1);
        await tid(frame, 'form-code').fill(code);
        const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
        await tid(frame, 'entry-submit').click();
        const res = await entry;
        statuses.push(res.status());
        await tid(frame, 'entry-submit').waitFor({ state: 'attached' });
        await eventually(async () => assert.equal(await tid(frame, 'entry-submit').isEnabled(), true));
        if (res.status() === 429) break;
      }
      assert.ok(statuses.includes(429), `statuses: ${statuses}`);
      assert.ok(statuses.indexOf(429) <= 10, `429 after at most 10 wrong codes: ${statuses}`);
      await eventually(async () => assert.match(await tid(frame, 'error-message').textContent(), /too many/i));
      // Even the right code waits now: guessing cannot continue around the limit.
      await tid(frame, 'form-code').fill(inv.code);
      const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
      await tid(frame, 'entry-submit').click();
      assert.equal((await entry).status(), 429);
    } finally {
      await page.close();
    }
  });
});
