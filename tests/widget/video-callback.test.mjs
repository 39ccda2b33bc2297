// Video call and Callback entries from the widget: a video entry opens the client's room in a
// new tab (waiting, then "connected to <operator>"), and both the room and the widget say plainly
// that there is no video yet (the conversation is the widget's chat); a callback needs a phone
// number, waits as a callback, and its chat says the audio is off.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { browser, eventually, openWidget, realErrors, tid, world } from './lib/harness.mjs';

describe('video call and callback entries', () => {
  let w, b;

  before(async () => {
    w = await world();
    b = await browser();
  });

  after(async () => {
    await b?.close();
    await w?.teardown();
  });

  test('Video call: the room opens in a new tab, waits, then shows the operator', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    const olga = t.ops.Olga;
    await w.api.status(olga, 'online');
    const page = b.page;
    const frame = await openWidget(page, w.site.allowed, 'video');
    await tid(frame, 'form-name').fill('Viktor');
    const tab = b.context.waitForEvent('page');
    const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
    await tid(frame, 'entry-submit').click();
    const res = await entry;
    assert.equal(res.status(), 201, await res.text());
    const me = await res.json();
    const room = await tab;
    await room.waitForURL(/\/widget\/room/);
    const url = new URL(room.url());
    assert.equal(url.origin, w.server.base);
    assert.equal(url.searchParams.get('session'), me.session);
    assert.equal(url.hash, '', 'the token does not stay in the address bar');
    await tid(room, 'queue-position').waitFor();
    // No camera or microphone is promised: there is none yet, the conversation is by text.
    assert.doesNotMatch(await room.locator('body').innerText(), /camera|microphone/i);
    assert.match(await tid(room, 'room-no-media').textContent(), /Video is not available yet: you talk with the operator by text/);
    await eventually(async () => assert.equal(await tid(room, 'queue-position').getAttribute('data-position'), '1'));
    assert.ok((await tid(room, 'estimated-wait').textContent()).length > 0);

    const row = (await w.api.queue(olga)).clients.find((c) => c.id === me.client);
    assert.equal(row.entry, 'video');
    await w.api.ok('POST', `/api/v1/queue/${me.client}/accept`, { token: olga.token }, 200);
    await tid(room, 'room-connected').waitFor({ timeout: 10000 });
    assert.match(await tid(room, 'room-connected').textContent(), /Connected to Olga/);
    // The widget itself says where the conversation is.
    assert.match(await frame.locator('#note').textContent(), /Video is not available yet: the operator answers you here, by text/);
    // A reload of the room keeps it (the token is in the tab's storage now).
    await room.reload();
    await tid(room, 'room-connected').waitFor({ timeout: 10000 });
    assert.deepEqual(realErrors(b.errors), []);
    await room.close();
    // The same in Czech.
    const cs = await b.context.newPage();
    try {
      await cs.goto(`${w.server.base}/widget/room.html?session=${encodeURIComponent(me.session)}&lang=cs`);
      assert.match(await tid(cs, 'room-no-media').textContent(), /Video zatím není k dispozici: s operátorem si píšete/);
    } finally {
      await cs.close();
    }
  });

  test('Callback: a phone number is required; the entry waits as a callback; the chat says audio is off', async () => {
    const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
    w.site.key = t.widget.key;
    const olga = t.ops.Olga;
    await w.api.status(olga, 'online');
    const page = await b.context.newPage();
    try {
      const frame = await openWidget(page, w.site.allowed, 'callback');
      await tid(frame, 'entry-form').waitFor();
      assert.equal(await tid(frame, 'form-phone').getAttribute('aria-required'), 'true');
      await tid(frame, 'entry-submit').click();
      assert.equal(await tid(frame, 'form-phone').getAttribute('aria-invalid'), 'true');
      await tid(frame, 'form-phone').fill('+420 601 555 777');
      const entry = page.waitForResponse((r) => r.url().endsWith('/entries'));
      await tid(frame, 'entry-submit').click();
      const res = await entry;
      assert.equal(res.status(), 201, await res.text());
      const me = await res.json();
      assert.equal(res.request().postDataJSON().entry, 'callback');
      await tid(frame, 'chat').waitFor();
      assert.match(await frame.locator('#note').textContent(), /Audio is off.*\+420 601 555 777/);
      const row = (await w.api.queue(olga)).clients.find((c) => c.id === me.client);
      assert.equal(row.entry, 'callback');
      assert.equal(row.phone, '+420 601 555 777');
      // A reload of the company page reopens the same callback, still saying so.
      await page.reload();
      const again = page.frameLocator('#lobby-widget iframe');
      await tid(again, 'chat').waitFor({ timeout: 15000 });
      assert.match(await again.locator('#note').textContent(), /Audio is off.*\+420 601 555 777/);
    } finally {
      await page.close();
    }
  });
});
