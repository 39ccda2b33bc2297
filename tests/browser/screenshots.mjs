// The operator app's screenshots in docs/screenshots (queue.png, preview.png, client-tab.png):
// a workday's scene played through the HTTP API as clients and an operator would, then pictured
// in Chromium. Run by `make screenshots` (after `make build`), never by the tests, so a test run
// leaves docs/ alone. LOBBY_SCREENSHOT_DIR writes them elsewhere; LOBBY_E2E_RUNTIME=spin pictures
// the app served by the local Spin host.
//
//   source scripts/env.sh && node tests/browser/screenshots.mjs

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { Api, UA, entryBody, seedTenant } from './lib/api.mjs';
import {
  VIEWPORT, acceptInApp, clientPanel, eventually, hoverItem, openOperator, present, text, tid, visible, queueItem,
} from './lib/browser.mjs';
import { REPO_ROOT, startServer } from './lib/server.mjs';

const SCREENSHOT_DIR = process.env.LOBBY_SCREENSHOT_DIR || path.join(REPO_ROOT, 'docs/screenshots');

/** The queue, a preview and a Client tab of one operator's morning. */
async function workday(server, api) {
  const t = await seedTenant(api, {
    prefix: 'acme',
    tenantName: 'Acme Energy',
    widgetName: 'acme.cz',
    operators: [{ name: 'Jana Nováková' }, { name: 'Petr Svoboda' }],
    chat: 4,
  });
  const [jana, petr] = t.operators;
  const enter = (body, userAgent) => api.enter(t.widget.key, entryBody(body), { userAgent });
  const shop = (p, title) => ({ url: `https://www.acme.cz${p}`, title, referrer: 'https://www.google.com/' });

  // Sophie has been here before.
  const sophieContact = { name: 'Sophie Müller', phone: '+49 151 2345 6789', email: 'sophie.mueller@example.de' };
  const earlier = await enter({ ...sophieContact, language: 'de', page: shop('/tarife', 'Tarife') }, UA.firefoxWindows);
  await api.accept(petr.token, earlier.client);
  await api.postClientMessage(earlier.token, 'Ich möchte meinen Tarif wechseln.');
  await api.postOperatorMessage(petr.token, earlier.session, 'Gerne, ich schicke Ihnen die Angebote per E-Mail.');
  await api.closeSession(petr.token, earlier.session);

  // They arrive a few seconds apart, so the waiting times differ as on a real day (pacing the
  // scene, not waiting for anything).
  const pause = (s) => new Promise((r) => setTimeout(r, s * 1000));
  const eva = await enter({ name: 'Eva Horáková', phone: '+420 604 112 233', language: 'cs', page: shop('/faktury', 'Moje faktury') }, UA.chromeWindows);
  await api.postClientMessage(eva.token, 'Dobrý den, na poslední faktuře mám o 1 200 Kč víc, než obvykle.');
  await pause(4);
  await enter({ entry: 'callback', name: 'Martin Novák', phone: '+420 731 555 010', language: 'cs', page: shop('/kontakt', 'Kontakt') }, UA.safariIphone);
  await pause(3);
  const sophie = await enter({
    ...sophieContact,
    language: 'de',
    page: shop('/umzug', 'Umzug melden'),
    params: { customer: 'CZ-884120', contract: 'Strom Fix 24', meter: '7741-0093' },
  }, UA.firefoxWindows);
  await api.reportPage(sophie.token, 'https://www.acme.cz/umzug/formular', 'Umzugsformular');
  await api.postClientMessage(sophie.token, 'Guten Tag, ich ziehe am 1. Dezember um. Was muss ich tun?');
  await api.addTag(petr.token, sophie.client, 'relocation');
  await api.addTag(petr.token, sophie.client, 'german');
  await api.addNote(petr.token, sophie.client, 'Prefers e-mail; switched to Strom Fix 24 last year.');
  await pause(3);
  await enter({ entry: 'video', name: 'James Walker', language: 'en-gb', page: shop('/solar', 'Solar panels') }, UA.safariMac);
  await pause(2);
  await enter({ name: 'Katarzyna Wiśniewska', phone: '+48 601 234 567', language: 'pl', page: shop('/cennik', 'Cennik') }, UA.chromeAndroid);
  await pause(2);
  await enter({ name: 'Lukáš Procházka', language: 'sk', page: shop('/odstavky', 'Plánované odstávky') }, UA.edgeWindows);
  await pause(1);
  await enter({ name: 'Peter Hughes', email: 'peter.hughes@example.com', language: 'en', page: shop('/en/contact', 'Contact') }, UA.firefoxUbuntu);

  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const b = await openOperator(server.base, jana);
  const { page } = b;
  try {
    await eventually(async () => assert.equal(await tid(page, 'queue-item').count(), 7), { timeout: 10000 });
    await page.mouse.move(VIEWPORT.width - 5, VIEWPORT.height - 5);
    await page.waitForTimeout(1500); // pacing: the newest client has waited a moment too
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'queue.png') });

    const item = queueItem(page, sophie.client);
    await hoverItem(item);
    await tid(item, 'preview-button').first().click();
    const preview = tid(page, 'preview');
    await visible(preview, page, 'preview');
    await eventually(async () => assert.match(await text(tid(preview, 'preview-messages')), /Umzug|ziehe/), { timeout: 5000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'preview.png') });
    const close = tid(preview, 'preview-close');
    if (await close.count()) await close.first().click();

    await acceptInApp(page, eva.client);
    const panel = clientPanel(page, eva.session);
    await present(tid(panel, 'conversation'), page, 'conversation');
    await tid(panel, 'message-input').first().fill('Dobrý den, paní Horáková, hned se na fakturu podívám.');
    await tid(panel, 'message-send').first().click();
    await visible(tid(panel, 'message', '[data-from="operator"]'), page, 'operator message');
    await api.postClientMessage(eva.token, 'Děkuji. Číslo faktury je 2024-118833.');
    await visible(tid(panel, 'message', '[data-from="client"]').filter({ hasText: '2024-118833' }), page, 'client reply');
    await tid(panel, 'message-input').first().fill('Vidím ji: je v ní doúčtování za říjen. Pošlu vám rozpis e-mailem.');
    await tid(panel, 'message-send').first().click();
    await eventually(async () => assert.equal(await tid(panel, 'message', '[data-from="operator"]').count(), 2), { timeout: 5000 });
    if (await tid(panel, 'tag-input').count()) {
      await tid(panel, 'tag-input').first().fill('billing');
      await tid(panel, 'tag-add').first().click();
      await visible(tid(panel, 'tag').filter({ hasText: 'billing' }), page, 'the added tag');
    }
    await page.mouse.move(VIEWPORT.width - 5, VIEWPORT.height - 5);
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, 'client-tab.png') });
    for (const f of ['queue.png', 'preview.png', 'client-tab.png']) {
      assert.ok(fs.statSync(path.join(SCREENSHOT_DIR, f)).size > 0, f);
    }
  } finally {
    await b.close();
  }
}

const server = await startServer();
try {
  await workday(server, new Api(server));
  console.log(`[lobby screenshots] queue.png, preview.png, client-tab.png in ${SCREENSHOT_DIR}`);
} finally {
  await server.stop();
}
