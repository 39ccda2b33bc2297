// The widget app: the client's window into Lobby, opened by /widget.js in an iframe from Lobby's
// origin (/widget/?key=KEY&entry=webchat|video|callback&origin=<company page origin>).
//
// What it promises the client: nothing typed is lost. The entry form keeps its values when the
// server refuses them; a chat message that does not reach the server stays in an outbox (in
// sessionStorage) and is retried, or goes back into the input when the server refuses it; the
// input's draft survives reloads; the event stream resumes after the last message it saw.
//
// Talking to the host page (postMessage, origins checked both ways): the server decides by a
// page's Origin which sites may use a widget, so config, entries and the offline form go through
// the loader on the company's page ("call"). After the entry every call carries the client token,
// which goes back to the loader ("session") so that its page views are reported and a reload of
// the company's page reopens this conversation.
'use strict';

const Q = new URLSearchParams(location.search);
const KEY = Q.get('key') || '';
const ENTRY = ['webchat', 'video', 'callback'].includes(Q.get('entry')) ? Q.get('entry') : 'webchat';
const HOST = Q.get('origin');
const EMBEDDED = window.parent !== window && !!HOST;
const $ = (sel, root = document) => root.querySelector(sel);

// ------------------------------------------------------------------ texts (en, cs)
const TEXT = {
  en: {
    title_webchat: 'Chat with us', title_video: 'Video call', title_callback: 'Callback',
    intro_webchat: 'Tell us who you are and an operator will be with you shortly.',
    intro_video: 'Fill in the form to reach an operator. Video is not available yet: you talk by text, here.',
    intro_callback: 'Leave your phone number and an operator will call you back.',
    start_webchat: 'Start chat', start_video: 'Start video call', start_callback: 'Call me back',
    name: 'Name', phone: 'Phone', email: 'E-mail', optional: '(optional)',
    code: 'Invitation code (if an operator gave you one)',
    required: 'Please fill this in.', bad_email: 'This does not look like an e-mail address.',
    bad_phone: 'Enter a phone number, e.g. +420 123 456 789.', bad_code: 'The code has six digits.',
    offline_intro: 'We are offline right now. Leave us a message and we will get back to you.',
    message: 'Your message', send_offline: 'Send message',
    need_contact: 'Leave an e-mail or a phone number so that we can answer.',
    sent: 'Thank you! We have received your message and will answer as soon as we can.',
    position: (n) => (n <= 1 ? 'You are next in the queue.' : `You are number ${n} in the queue.`),
    wait: (s) => (s < 60 ? 'Estimated wait: less than a minute.' : `Estimated wait: about ${Math.round(s / 60)} min.`),
    wait_unknown: 'We cannot estimate the wait yet.',
    connected: (op) => (op ? `You are chatting with ${op}.` : 'An operator is with you.'),
    redirected: 'You have been transferred. Waiting for another operator…',
    audio_off: (p) => `Audio is off in this chat: the operator will call you${p ? ' at ' + p : ''}.`,
    video_tab: 'Video is not available yet: the operator answers you here, by text.', video_open: 'Open the call page',
    typing: (op) => `${op || 'The operator'} is typing…`,
    placeholder: 'Type a message…', send: 'Send', emoji: 'Emoji',
    sending: 'Sending…', retrying: 'Not sent yet, retrying…',
    ended: 'The conversation has ended.', again: 'Start a new conversation',
    reconnecting: 'Connection lost, reconnecting…',
    network: 'We could not reach the server. Check your connection and try again.',
    minimize: 'Minimize', language: 'Language', loading: 'Loading…', you: 'You', operator: 'Operator',
  },
  cs: {
    title_webchat: 'Napište nám', title_video: 'Videohovor', title_callback: 'Zavolejte mi',
    intro_webchat: 'Představte se a operátor se vám bude brzy věnovat.',
    intro_video: 'Vyplňte formulář a spojíte se s operátorem. Video zatím není k dispozici: píšete si tady.',
    intro_callback: 'Nechte nám své telefonní číslo a operátor vám zavolá zpět.',
    start_webchat: 'Zahájit chat', start_video: 'Zahájit videohovor', start_callback: 'Zavolejte mi',
    name: 'Jméno', phone: 'Telefon', email: 'E-mail', optional: '(nepovinné)',
    code: 'Kód pozvánky (pokud vám jej operátor dal)',
    required: 'Vyplňte prosím toto pole.', bad_email: 'Toto nevypadá jako e-mailová adresa.',
    bad_phone: 'Zadejte telefonní číslo, např. +420 123 456 789.', bad_code: 'Kód má šest číslic.',
    offline_intro: 'Právě nejsme online. Zanechte nám zprávu a ozveme se vám.',
    message: 'Vaše zpráva', send_offline: 'Odeslat zprávu',
    need_contact: 'Zadejte e-mail nebo telefon, abychom vám mohli odpovědět.',
    sent: 'Děkujeme! Vaši zprávu jsme přijali a odpovíme co nejdříve.',
    position: (n) => (n <= 1 ? 'Jste na řadě jako další.' : `Jste ${n}. v pořadí.`),
    wait: (s) => (s < 60 ? 'Odhadovaná doba čekání: méně než minuta.' : `Odhadovaná doba čekání: asi ${Math.round(s / 60)} min.`),
    wait_unknown: 'Dobu čekání zatím neumíme odhadnout.',
    connected: (op) => (op ? `Píšete si s operátorem ${op}.` : 'Operátor se vám věnuje.'),
    redirected: 'Byli jste přepojeni. Čekáte na dalšího operátora…',
    audio_off: (p) => `Zvuk je v tomto chatu vypnutý: operátor vám zavolá${p ? ' na číslo ' + p : ''}.`,
    video_tab: 'Video zatím není k dispozici: operátor vám odpoví tady, písemně.', video_open: 'Otevřít stránku hovoru',
    typing: (op) => `${op || 'Operátor'} píše…`,
    placeholder: 'Napište zprávu…', send: 'Odeslat', emoji: 'Emoji',
    sending: 'Odesílá se…', retrying: 'Zatím neodesláno, zkoušíme znovu…',
    ended: 'Konverzace skončila.', again: 'Zahájit novou konverzaci',
    reconnecting: 'Spojení se přerušilo, obnovujeme…',
    network: 'Nepodařilo se spojit se serverem. Zkontrolujte připojení a zkuste to znovu.',
    minimize: 'Minimalizovat', language: 'Jazyk', loading: 'Načítání…', you: 'Vy', operator: 'Operátor',
  },
};

// ------------------------------------------------------------------ storage (may be blocked)
const store = {
  get(k) {
    try { return JSON.parse(sessionStorage.getItem('lobby:' + KEY + ':' + k)); } catch { return null; }
  },
  set(k, v) {
    try {
      if (v === null || v === undefined) sessionStorage.removeItem('lobby:' + KEY + ':' + k);
      else sessionStorage.setItem('lobby:' + KEY + ':' + k, JSON.stringify(v));
    } catch { /* storage blocked: the host page keeps what matters */ }
  },
};

let lang = store.get('lang') || ((Q.get('lang') || navigator.language || 'en').toLowerCase().startsWith('cs') ? 'cs' : 'en');
const t = (k, ...a) => { const v = TEXT[lang][k] ?? TEXT.en[k]; return typeof v === 'function' ? v(...a) : v; };

function translate(root = document) {
  for (const e of root.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
  for (const e of root.querySelectorAll('[data-t-entry]')) e.textContent = t(e.dataset.tEntry + '_' + ENTRY);
  for (const e of root.querySelectorAll('[data-t-label]')) e.setAttribute('aria-label', t(e.dataset.tLabel));
  for (const e of root.querySelectorAll('[data-t-ph]')) e.placeholder = t(e.dataset.tPh);
  document.documentElement.lang = lang;
  document.title = $('#title').textContent = (ctx.config && ctx.config.name) || t('title_' + ENTRY);
  if (chat) chat.render();
}

// ------------------------------------------------------------------ the host page and the server
let ctx = { config: null, page: null, params: {}, session: null, draft: '' };
const pending = new Map();
let callSeq = 0;

function toHost(m) {
  if (EMBEDDED) window.parent.postMessage({ lobby: 1, ...m }, HOST);
}

window.addEventListener('message', (e) => {
  const m = e.data;
  if (!EMBEDDED || e.source !== window.parent || e.origin !== HOST || !m || m.lobby !== 1) return;
  if (m.type === 'context') start(m);
  else if (m.type === 'params') ctx.params = m.params || {};
  else if (m.type === 'reply' && pending.has(m.id)) {
    pending.get(m.id)({ status: m.status, body: parse(m.body) });
    pending.delete(m.id);
  }
});

function parse(text) {
  try { return text ? JSON.parse(text) : null; } catch { return null; }
}

async function http(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  try {
    const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: r.status, body: parse(await r.text()) };
  } catch {
    return { status: 0, body: null };
  }
}

/** A widget route (`entries`, `offline`): through the host page, whose Origin the server checks. */
function widgetCall(route, body) {
  if (!EMBEDDED) return http('POST', `/api/v1/widgets/${encodeURIComponent(KEY)}/${route}`, body);
  return new Promise((resolve) => {
    const id = ++callSeq;
    pending.set(id, resolve);
    toHost({ type: 'call', id, route, body });
    setTimeout(() => { if (pending.delete(id)) resolve({ status: 0, body: null }); }, 30000);
  });
}

function errorText(r) {
  return (r.body && r.body.error && r.body.error.message) || t('network');
}

function showError(text) {
  const e = $('#error');
  e.textContent = text || '';
  e.hidden = !text;
}

// ------------------------------------------------------------------ views
function view(id) {
  showError('');
  const node = $('#t-' + id).content.cloneNode(true);
  translate(node);
  const main = $('#view');
  main.replaceChildren(node);
  return main;
}

function start(m) {
  if (ctx.started) return;
  ctx = { ...ctx, ...m, started: true };
  translate();
  const session = (m && m.session && m.session.token ? m.session : null) || store.get('session');
  if (session && session.token) return openChat(session, true);
  if (ctx.config && ctx.config.online === false && ENTRY !== 'video') return showOffline({});
  showForm();
}

const FIELD_RE = {
  email: /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
  phone: /^\+?[0-9][0-9 ()./-]{4,30}$/,
  code: /^\d{6}$/,
};

function rules() {
  const f = (ctx.config && ctx.config.form) || {};
  const r = { name: f.name || 'optional', phone: f.phone || 'optional', email: f.email || 'optional', code: 'hidden' };
  if (ENTRY === 'callback') { r.phone = 'required'; r.code = 'optional'; }
  return r;
}

/** Marks a field invalid (or valid with an empty message); returns whether it is valid. */
function fieldError(input, errEl, text) {
  input.setAttribute('aria-invalid', text ? 'true' : 'false');
  if (errEl) {
    errEl.textContent = text || '';
    if (text) input.setAttribute('aria-describedby', errEl.id);
  }
  return !text;
}

function check(input, rule) {
  const v = input.value.trim();
  const name = input.name;
  if (!v) return rule === 'required' ? t('required') : '';
  if (FIELD_RE[name] && !FIELD_RE[name].test(v)) return t('bad_' + name);
  return '';
}

let formValues = store.get('form') || {};

function showForm() {
  const main = view('form');
  const form = $('form', main);
  const r = rules();
  // With an invitation code the callback's phone is asked as the widget's form says: the
  // inviting operator takes over, there is no call back to make.
  const configured = (((ctx.config && ctx.config.form) || {}).phone) === 'required' ? 'required' : 'optional';
  const rule = (name) => (name === 'phone' && r.code !== 'hidden' && $('[name=code]', form)?.value.trim() ? configured : r[name]);
  for (const el of form.querySelectorAll('[data-field]')) {
    const name = el.dataset.field;
    const input = $('input', el);
    if (r[name] === 'hidden') { el.remove(); continue; }
    if (r[name] === 'required') {
      input.required = true;
      input.setAttribute('aria-required', 'true');
      $('.opt', el)?.remove();
    }
    input.value = formValues[name] || '';
    input.addEventListener('input', () => {
      formValues[name] = input.value;
      store.set('form', formValues);
      if (input.getAttribute('aria-invalid') === 'true') fieldError(input, $('.err', el), check(input, rule(name)));
    });
  }
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError('');
    let first = null;
    for (const input of form.querySelectorAll('input')) {
      const ok = fieldError(input, $('#e-' + input.name), check(input, rule(input.name)));
      if (!ok && !first) first = input;
    }
    if (first) return first.focus();
    const val = (n) => ($(`[name=${n}]`, form)?.value || '').trim() || undefined;
    const code = val('code');
    const body = {
      entry: code ? 'invitation' : ENTRY,
      form: { name: val('name'), phone: val('phone'), email: val('email') },
      language: lang,
      page: ctx.page || undefined,
      params: ctx.params || {},
    };
    if (code) body.code = code;
    const button = $('[data-testid=entry-submit]', form);
    button.disabled = true;
    // A video room is a new tab; it must be opened within the click, before the server answers.
    const room = ENTRY === 'video' ? window.open('', '_blank') : null;
    const r = await widgetCall('entries', body);
    button.disabled = false;
    if (r.status === 201 && r.body && r.body.token) {
      const s = { ...r.body, entry: body.entry, phone: body.form.phone };
      formValues = {};
      store.set('form', null);
      if (room) room.location.href = roomUrl(s);
      openChat(s, false);
    } else if (r.status === 200 && r.body && r.body.status === 'offline') {
      if (room) room.close();
      showOffline(body.form);
    } else {
      if (room) room.close();
      showError(errorText(r));
    }
  });
  translate(main);
}

function roomUrl(s) {
  return `/widget/room.html?session=${encodeURIComponent(s.session)}&lang=${lang}#token=${encodeURIComponent(s.token)}`;
}

function showOffline(prefill) {
  const main = view('offline');
  const form = $('form', main);
  for (const n of ['name', 'email', 'phone']) {
    const input = $(`[name=${n}]`, form);
    input.value = prefill[n] || formValues[n] || '';
  }
  const msg = $('[name=message]', form);
  msg.value = store.get('offline') || '';
  msg.addEventListener('input', () => store.set('offline', msg.value));
  // A field marked wrong is checked again as the client corrects it.
  form.addEventListener('input', (ev) => {
    const f = ev.target;
    if (f.getAttribute('aria-invalid') !== 'true') return;
    const err = $('#e-o-' + f.name);
    if (f === msg) fieldError(f, err, msg.value.trim() ? '' : t('required'));
    else if (f.name === 'email' || f.name === 'phone') {
      const other = $(`[name=${f.name === 'email' ? 'phone' : 'email'}]`, form);
      fieldError(f, err, check(f, 'optional'));
      if (f.value.trim() && other.getAttribute('aria-invalid') === 'true' && !other.value.trim()) {
        fieldError(other, $('#e-o-' + other.name), '');
      }
    }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    showError('');
    const get = (n) => $(`[name=${n}]`, form);
    const email = get('email'), phone = get('phone');
    let ok = fieldError(email, $('#e-o-email'), check(email, 'optional'));
    ok = fieldError(phone, $('#e-o-phone'), check(phone, 'optional')) && ok;
    ok = fieldError(msg, $('#e-o-message'), msg.value.trim() ? '' : t('required')) && ok;
    if (ok && !email.value.trim() && !phone.value.trim()) {
      fieldError(email, $('#e-o-email'), t('need_contact'));
      ok = false;
    }
    if (!ok) return form.querySelector('[aria-invalid=true]').focus();
    const button = $('[data-testid=offline-submit]', form);
    button.disabled = true;
    // The page and language travel as with an entry: whoever answers the mail sees them.
    const r = await widgetCall('offline', {
      form: { name: get('name').value.trim() || undefined, email: email.value.trim() || undefined, phone: phone.value.trim() || undefined },
      message: msg.value.trim(),
      language: lang,
      page: ctx.page || undefined,
    });
    button.disabled = false;
    if (r.status === 202 || r.status === 200) {
      store.set('offline', null);
      view('sent');
    } else {
      showError(errorText(r));
    }
  });
}

// ------------------------------------------------------------------ the conversation
let chat = null;
/** How the server delivers events ('websocket' or 'sse'), from GET /healthz; null: ask. */
let transport = null;

function openChat(session, resumed) {
  // The loader keeps `entry` as the button that opened this window; `kind` is how the client
  // entered (a callback button with a code makes an invitation).
  if (session.kind) session = { ...session, entry: session.kind };
  store.set('session', session);
  if (!resumed) {
    toHost({ type: 'session', token: session.token, client: session.client, session: session.session, kind: session.entry, phone: session.phone });
  }
  chat = new Chat(session, view('chat'));
}

const EMOJI = ['😀', '😂', '😊', '😍', '🤔', '😢', '😮', '👍', '👎', '🙏', '👋', '🎉', '❤️', '✅', '❌', '📎'];
const URL_RE = /\bhttps?:\/\/[^\s<>"]*[^\s<>".,;:!?)\]'}]/gi;
const IMAGE_RE = /\.(png|jpe?g|gif|webp|avif|svg)(\?|#|$)/i;

class Chat {
  constructor(session, root) {
    this.s = session;
    this.root = root;
    this.token = session.token;
    this.lastSeq = 0;
    this.seen = new Set();
    this.status = 'waiting';
    this.position = session.position ?? null;
    this.wait = session.estimated_wait_seconds ?? null;
    this.operator = session.operator || null;
    this.tries = 0;
    this.gen = 0; // bumped by each connect(): an older one that is still waiting gives up
    this.lastTyping = 0;
    this.ended = false;
    this.outbox = store.get('outbox') || [];
    this.log = $('#log', root);
    this.input = $('[data-testid=message-input]', root);
    this.typingEl = $('[data-testid=typing]', root);
    this.input.value = store.get('draft') ?? ctx.draft ?? '';
    this.input.addEventListener('input', () => this.onInput());
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); this.send(); }
    });
    $('#compose', root).addEventListener('submit', (e) => { e.preventDefault(); this.send(); });
    $('#again', root).addEventListener('click', () => this.restart());
    this.emojiPicker();
    this.outbox.forEach((m) => this.pendingEl(m));
    this.render();
    this.connect();
    this.flush();
    this.ping = setInterval(() => this.wsSend({ type: 'ping' }), 25000);
    addEventListener('online', () => this.reconnectNow());
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.reconnectNow(); });
  }

  render() {
    const r = this.root;
    const queue = $('.queue', r);
    const waiting = this.status === 'waiting';
    queue.hidden = !waiting;
    const pos = $('[data-testid=queue-position]', r);
    pos.textContent = this.position ? t('position', this.position) : '';
    pos.dataset.position = this.position ?? '';
    const wait = $('[data-testid=estimated-wait]', r);
    wait.textContent = this.wait == null ? t('wait_unknown') : t('wait', this.wait);
    wait.dataset.seconds = this.wait ?? '';
    const note = $('#note', r);
    const lines = [];
    if (this.redirected && waiting) lines.push(t('redirected'));
    if (this.status === 'active') lines.push(t('connected', this.operator));
    if (this.s.entry === 'callback') lines.push(t('audio_off', this.s.phone));
    if (this.s.entry === 'video') lines.push(t('video_tab'));
    note.replaceChildren(...lines.flatMap((l, i) => (i ? [document.createElement('br'), l] : [l])));
    if (this.s.entry === 'video') {
      const a = document.createElement('a');
      a.href = roomUrl(this.s);
      a.target = '_blank';
      a.textContent = ' ' + t('video_open');
      note.append(a);
    }
    note.hidden = !lines.length;
    $('#ended', r).hidden = !this.ended;
    $('#compose', r).hidden = this.ended;
    this.typingEl.textContent = t('typing', this.operator);
    for (const el of this.log.querySelectorAll('.pending .state')) el.textContent = t(el.dataset.k);
  }

  // ---- the event stream, resumed after the last message seen, over the transport the server
  // offers (GET /healthz → `events`): a WebSocket, or Server-Sent Events where the server has no
  // WebSockets (Spin). An EventSource reconnects by itself when the server ends a stream (it
  // does every 25 s), resuming with Last-Event-ID; a failure before the stream opened (server
  // away, token refused) takes the same backoff as a closed WebSocket. SSE is one-way: no pings,
  // and typing goes over HTTP (POST /api/v1/client/typing).
  async connect() {
    if (this.ended) return;
    // One stream at a time: a newer connect() (a timer, `online`, the tab shown again) replaces
    // whatever an older one opened or is still asking /healthz about, so no stream is left
    // running unseen (each would hold one of the browser's few connections to the server).
    const gen = ++this.gen;
    clearTimeout(this.timer);
    this.drop();
    if (!transport) {
      const r = await http('GET', '/healthz');
      if (gen !== this.gen || this.ended) return;
      if (r.status !== 200 || !r.body) return this.lost(null);
      transport = r.body.events === 'sse' ? 'sse' : 'websocket';
    }
    const u = new URL('/api/v1/client/events', location.href);
    u.searchParams.set('token', this.token);
    u.searchParams.set('after', String(this.lastSeq));
    const opened = () => { this.tries = 0; $('#conn', this.root).hidden = true; };
    const message = (e) => { const ev = parse(e.data); if (ev) this.onEvent(ev); };
    if (transport === 'sse') {
      const es = (this.ws = new EventSource(u));
      let open = false;
      es.onopen = () => { open = true; opened(); };
      es.onmessage = message;
      es.onerror = () => {
        if (this.ws !== es || this.ended) return;
        // Ended after it opened and reconnecting by itself: let it.
        if (open && es.readyState === EventSource.CONNECTING) { open = false; return; }
        es.close();
        this.lost(es);
      };
      return;
    }
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = (this.ws = new WebSocket(u));
    ws.onopen = opened;
    ws.onmessage = message;
    ws.onclose = () => this.lost(ws);
  }

  /** Closes the current stream, if any, without treating that as a loss. */
  drop() {
    const s = this.ws;
    this.ws = null;
    if (!s) return;
    s.onopen = s.onmessage = s.onerror = s.onclose = null;
    s.close();
  }

  /** The stream `s` is gone (null: it could not start): show it, try again later. */
  lost(s) {
    if (this.ws !== s || this.ended) return;
    this.ws = null;
    transport = null; // ask again: the server may have changed
    $('#conn', this.root).hidden = false;
    const delay = Math.min(30000, 500 * 2 ** this.tries) * (0.75 + Math.random() / 2);
    this.tries++;
    if (this.tries >= 3) this.checkToken();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** Back online or shown again: send what waits, and reconnect unless a stream is up. */
  reconnectNow() {
    if (this.ended) return;
    this.flush();
    if (this.ws && this.ws.readyState <= 1) return;
    this.connect();
  }

  /** A stream that keeps failing may mean an expired token: the HTTP route says so plainly. */
  async checkToken() {
    const r = await http('GET', '/api/v1/client/messages?after=' + this.lastSeq, undefined, this.token);
    if (r.status === 401 || r.status === 403 || r.status === 404) this.end();
  }

  /** Up the WebSocket; nothing goes up a stream of Server-Sent Events. */
  wsSend(m) {
    if (this.ws instanceof WebSocket && this.ws.readyState === 1) this.ws.send(JSON.stringify(m));
  }

  onEvent(ev) {
    switch (ev.type) {
      case 'status':
        if (ev.status === 'closed') return this.end();
        this.status = ev.status === 'active' ? 'active' : 'waiting';
        // Accepted before this stream opened: the first frame is the one that names the operator.
        if (ev.operator) this.operator = ev.operator;
        this.position = ev.position ?? null;
        if ('estimated_wait_seconds' in ev) this.wait = ev.estimated_wait_seconds;
        break;
      case 'position':
        this.position = ev.position;
        if ('estimated_wait_seconds' in ev) this.wait = ev.estimated_wait_seconds;
        break;
      case 'redirected':
        this.status = 'waiting';
        this.redirected = true;
        this.position = ev.position;
        if ('estimated_wait_seconds' in ev) this.wait = ev.estimated_wait_seconds;
        break;
      case 'accepted':
        this.status = 'active';
        this.redirected = false;
        this.operator = ev.operator || this.operator;
        this.s.operator = this.operator;
        store.set('session', this.s);
        toHost({ type: 'state', operator: this.operator });
        break;
      case 'message':
        if (ev.message && ev.message.from === 'operator') this.showTyping(false);
        this.addMessage(ev.message);
        return;
      case 'typing':
        if (ev.from !== 'client') this.showTyping(true);
        return;
      case 'closed':
        return this.end();
      default:
        return;
    }
    this.render();
  }

  showTyping(on) {
    clearTimeout(this.typingTimer);
    this.typingEl.hidden = !on;
    if (on) this.typingTimer = setTimeout(() => (this.typingEl.hidden = true), 5000);
  }

  // ---- messages
  addMessage(m) {
    if (!m || this.seen.has(m.seq)) return;
    this.seen.add(m.seq);
    this.lastSeq = Math.max(this.lastSeq, m.seq);
    // One of our own messages, back from the server: found by the id it was sent with (two
    // identical texts are two messages, and a replay brings back older ones with the same text).
    const p = m.from === 'client' && m.client_message_id && this.outbox.find((o) => o.id === m.client_message_id);
    // Echoed before its POST answered: the answer removes it from the outbox.
    if (p && p.inFlight) p.el?.classList.add('echoed');
    const li = document.createElement('li');
    li.className = 'msg ' + m.from;
    li.setAttribute('data-testid', 'message');
    li.dataset.from = m.from;
    li.dataset.seq = m.seq;
    const who = document.createElement('span');
    who.className = 'sr';
    // Each operator's message names its author: after a transfer they are not all one operator's.
    const author = m.from === 'operator' ? (m.operator && m.operator.name) || this.operator || t('operator') : '';
    who.textContent = (m.from === 'client' ? t('you') : author) + ': ';
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    bubble.append(who);
    linkify(bubble, m.text || '');
    for (const a of m.attachments || []) bubble.append(attachment(a));
    const time = document.createElement('time');
    time.dateTime = m.at;
    const at = new Date(m.at);
    time.textContent = isNaN(at) ? '' : at.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit' });
    if (author) {
      const by = document.createElement('span');
      by.className = 'by';
      by.setAttribute('data-testid', 'message-author');
      by.textContent = author;
      li.append(by);
    }
    li.append(bubble, time);
    // In seq order (a replay after a reconnect may interleave with live frames).
    const after = [...this.log.querySelectorAll('li[data-seq]')].find((x) => Number(x.dataset.seq) > m.seq);
    this.log.insertBefore(li, after || this.log.querySelector('li.pending'));
    this.scroll();
  }

  scroll() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  onInput() {
    store.set('draft', this.input.value);
    clearTimeout(this.draftTimer);
    this.draftTimer = setTimeout(() => toHost({ type: 'state', draft: this.input.value }), 300);
    const now = Date.now();
    if (this.input.value.trim() && now - this.lastTyping > 2000) {
      this.lastTyping = now;
      // Up the WebSocket; beside a one-way stream of Server-Sent Events, over HTTP.
      if (typeof EventSource !== 'undefined' && this.ws instanceof EventSource) {
        http('POST', '/api/v1/client/typing', undefined, this.token);
      } else {
        this.wsSend({ type: 'typing' });
      }
    }
  }

  send() {
    const text = this.input.value.trim();
    if (!text || this.ended) return;
    const m = { id: Date.now().toString(36) + Math.random().toString(36).slice(2, 6), text };
    this.outbox.push(m);
    this.saveOutbox();
    this.input.value = '';
    this.onInput();
    this.lastTyping = 0; // the next words are news to the operator again
    this.pendingEl(m);
    this.flush();
  }

  /** `m` has left the outbox: stored, or handed back to the client. */
  unqueue(m) {
    this.outbox = this.outbox.filter((o) => o !== m);
    this.saveOutbox();
    m.el?.remove();
  }

  saveOutbox() {
    store.set('outbox', this.outbox.map(({ id, text }) => ({ id, text })));
  }

  pendingEl(m) {
    const li = document.createElement('li');
    li.className = 'msg client pending';
    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    linkify(bubble, m.text);
    const state = document.createElement('small');
    state.className = 'state';
    state.dataset.k = 'sending';
    state.textContent = t('sending');
    li.append(bubble, state);
    this.log.append(li);
    m.el = li;
    this.scroll();
  }

  /** Sends the outbox in order; retries what the network lost, hands back what the server refused. */
  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    while (this.outbox.length && !this.ended) {
      const m = this.outbox[0];
      m.inFlight = true;
      // Its id makes a retry after a lost answer the same message: stored once.
      const r = await http('POST', '/api/v1/client/messages', { text: m.text, client_message_id: m.id }, this.token);
      m.inFlight = false;
      if (r.status === 201 && r.body) {
        this.unqueue(m);
        this.addMessage({ seq: r.body.seq, from: 'client', text: m.text, attachments: [], at: new Date().toISOString(), client_message_id: m.id });
        continue;
      }
      if (r.status === 0 || r.status >= 500 || r.status === 429) {
        const s = m.el?.querySelector('.state');
        if (s) { s.dataset.k = 'retrying'; s.textContent = t('retrying'); }
        m.el?.classList.add('failed');
        this.retryDelay = Math.min(30000, (this.retryDelay || 1000) * 2);
        this.retryTimer = setTimeout(() => this.flush(), this.retryDelay);
        break;
      }
      // Refused (too long, session over…): the text goes back to the client, nothing is lost.
      this.unqueue(m);
      this.input.value = m.text + (this.input.value ? '\n' + this.input.value : '');
      store.set('draft', this.input.value);
      showError(errorText(r));
      if (r.status === 401 || r.status === 404) this.end();
    }
    if (!this.outbox.length) this.retryDelay = 0;
    this.flushing = false;
  }

  emojiPicker() {
    const box = $('#emoji', this.root);
    const toggle = $('#emoji-open', this.root);
    for (const e of EMOJI) {
      const b = document.createElement('button');
      b.type = 'button';
      b.setAttribute('role', 'menuitem');
      b.textContent = e;
      b.addEventListener('click', () => {
        const i = this.input;
        const at = i.selectionStart ?? i.value.length;
        i.value = i.value.slice(0, at) + e + i.value.slice(i.selectionEnd ?? at);
        i.selectionStart = i.selectionEnd = at + e.length;
        this.onInput();
        box.hidden = true;
        toggle.setAttribute('aria-expanded', 'false');
        i.focus();
      });
      box.append(b);
    }
    toggle.addEventListener('click', () => {
      box.hidden = !box.hidden;
      toggle.setAttribute('aria-expanded', String(!box.hidden));
    });
  }

  end() {
    if (this.ended) return;
    this.ended = true;
    this.status = 'closed';
    clearInterval(this.ping);
    clearTimeout(this.timer);
    this.drop();
    $('#conn', this.root).hidden = true;
    this.showTyping(false);
    this.render();
    // The loader keeps the session until the client starts over, so a reload shows this end.
  }

  restart() {
    store.set('session', null);
    store.set('outbox', null);
    store.set('draft', null);
    toHost({ type: 'end' });
    chat = null;
    if (ctx.config && ctx.config.online === false && ENTRY !== 'video') showOffline({});
    else showForm();
  }
}

function linkify(parent, text) {
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    if (m.index > last) parent.append(text.slice(last, m.index));
    const a = document.createElement('a');
    a.href = m[0];
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.textContent = m[0];
    parent.append(a);
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.append(text.slice(last));
}

function attachment(a) {
  const link = document.createElement('a');
  if (!/^https?:\/\//i.test(a.url || '')) return link;
  link.href = a.url;
  link.target = '_blank';
  link.rel = 'noopener noreferrer';
  link.className = 'attachment';
  if ((a.kind && a.kind.startsWith('image')) || IMAGE_RE.test(a.url)) {
    const img = document.createElement('img');
    img.src = a.url;
    img.alt = a.name || '';
    img.loading = 'lazy';
    img.addEventListener('load', () => chat && chat.scroll());
    link.append(img);
  } else {
    link.textContent = a.name || a.url;
  }
  return link;
}

// ------------------------------------------------------------------ boot
const select = $('#lang');
select.value = lang;
select.addEventListener('change', () => {
  lang = select.value === 'cs' ? 'cs' : 'en';
  store.set('lang', lang);
  translate();
});
if (EMBEDDED) {
  const min = $('#min');
  min.hidden = false;
  min.addEventListener('click', () => toHost({ type: 'minimize' }));
  addEventListener('keydown', (e) => { if (e.key === 'Escape') toHost({ type: 'minimize' }); });
}
translate();
if (EMBEDDED) {
  toHost({ type: 'ready' });
} else {
  // Opened on its own (a direct link): no host page to ask, so the server is asked directly.
  http('GET', `/api/v1/widgets/${encodeURIComponent(KEY)}/config`).then((r) =>
    start({ config: r.status === 200 ? r.body : null, page: null, params: {} }));
}
