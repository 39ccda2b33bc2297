// The widget's screenshots in docs/screenshots (widget-chat.png, widget-offline.png): the widget
// on the demo company page, once in a conversation with an operator and once as the offline form
// (nobody online), pictured in Chromium. Run by `make screenshots` (after `make build`), never by
// the tests, so a test run leaves docs/ alone. LOBBY_SCREENSHOT_DIR writes them elsewhere;
// LOBBY_E2E_RUNTIME=spin pictures the widget served by the local Spin host.
//
//   source scripts/env.sh && bash frontend/widget/build.sh && node tests/widget/screenshots.mjs

import fs from 'node:fs';
import path from 'node:path';

import { REPO, browser, eventually, openWidget, tid, world } from './lib/harness.mjs';

const DIR = process.env.LOBBY_SCREENSHOT_DIR || path.join(REPO, 'docs/screenshots');

async function picture(page, name) {
  fs.mkdirSync(DIR, { recursive: true });
  await page.screenshot({ path: path.join(DIR, name) });
}

/** Ann asks about her tulips; Olga answers with a link and a picture. */
async function chat(w, b) {
  const t = await w.api.tenant({ origins: [w.site.allowed], operators: ['Olga'] });
  w.site.key = t.widget.key;
  const olga = t.ops.Olga;
  await w.api.status(olga, 'online');
  const page = await b.context.newPage();
  // The widget's event stream has delivered its first frame (a WebSocket frame, or the response
  // of an EventSource on Spin): accepted after that, the widget sees the `accepted` event itself
  // and names the operator. (Accepted before its stream opens, the widget shows only "An operator
  // is with you": its status handler does not read the operator's name from the status frame.)
  const events = (u) => new URL(u).pathname === '/api/v1/client/events';
  const streaming = new Promise((resolve) => {
    page.on('websocket', (ws) => { if (events(ws.url())) ws.once('framereceived', resolve); });
    page.on('response', (r) => { if (events(r.url()) && r.status() === 200) resolve(); });
  });
  const frame = await openWidget(page, w.site.allowed, 'webchat');
  await tid(frame, 'entry-form').waitFor();
  await tid(frame, 'form-name').fill('Ann Novak');
  await tid(frame, 'form-email').fill('ann@example.com');
  const entry = page.waitForResponse((r) => r.url().endsWith('/entries') && r.request().method() === 'POST');
  await tid(frame, 'entry-submit').click();
  const me = await (await entry).json();
  await tid(frame, 'chat').waitFor();
  await streaming;
  const { session } = await w.api.ok('POST', `/api/v1/queue/${me.client}/accept`, { token: olga.token }, 200);
  await eventually(async () => {
    if (!/Olga/.test(await frame.locator('#note').textContent())) throw new Error('not accepted yet');
  }, { timeout: 30000 });
  await w.api.ok('POST', `/api/v1/sessions/${session}/messages`, {
    token: olga.token,
    body: {
      text: 'Hello Ann 👋 see https://example.com/help for the steps',
      attachments: [{ url: `${w.site.allowed}/picture.svg`, kind: 'image', name: 'screenshot' }],
    },
  }, 201);
  await frame.locator('[data-testid="message"][data-from="operator"]').first().waitFor();
  const input = tid(frame, 'message-input');
  for (const text of ['My tulips 🌷 are wilting', 'Which fertiliser?']) {
    await input.fill(text);
    await input.press('Enter');
    await frame.locator('[data-testid="message"][data-from="client"]', { hasText: text }).waitFor();
  }
  // Both stored: no bubble still waiting for its answer.
  await frame.locator('.msg.pending').first().waitFor({ state: 'detached' });
  await frame.locator('[data-testid="message"][data-from="operator"] img').first().evaluate((img) => img.decode());
  await picture(page, 'widget-chat.png');
  await page.close();
}

/** Nobody is online: Karel leaves a message in the offline form. */
async function offline(w, b) {
  const t = await w.api.tenant({ origins: [w.site.allowed] });
  w.site.key = t.widget.key; // Olga stays offline
  const page = await b.context.newPage();
  const frame = await openWidget(page, w.site.allowed, 'webchat');
  await tid(frame, 'offline-form').waitFor({ timeout: 15000 });
  await tid(frame, 'form-name').fill('Karel');
  await tid(frame, 'form-email').fill('karel@example.cz');
  await tid(frame, 'form-phone').fill('+420 777 123 456');
  await tid(frame, 'offline-message').fill('Do you ship rose bushes to Brno? Please write back.');
  await picture(page, 'widget-offline.png');
  await page.close();
}

const w = await world();
const b = await browser();
try {
  await chat(w, b);
  await offline(w, b);
  console.log(`[lobby screenshots] widget-chat.png, widget-offline.png in ${DIR}`);
} finally {
  await b.close();
  await w.teardown();
}
