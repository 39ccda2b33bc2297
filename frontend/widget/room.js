// The client's video room (/widget/room.html?session=S#token=T), opened in a new tab by a Video
// call entry. It shows the waiting (queue position, honest estimated wait) and, once an operator
// accepts, who the client is connected to. There is no camera or microphone yet: the client and
// the operator talk by text in the widget's chat window, and the room says so.
// The token comes in the fragment (never sent to a server, never in logs) and is kept in this
// tab's sessionStorage so that a reload of the room keeps working.
'use strict';

const Q = new URLSearchParams(location.search);
const SESSION = Q.get('session') || '';
const $ = (s) => document.querySelector(s);
const TEXT = {
  en: {
    title: 'Video call', waiting: 'Waiting for an operator…',
    position: (n) => (n <= 1 ? 'You are next in the queue.' : `You are number ${n} in the queue.`),
    wait: (s) => (s < 60 ? 'Estimated wait: less than a minute.' : `Estimated wait: about ${Math.round(s / 60)} min.`),
    wait_unknown: 'We cannot estimate the wait yet.',
    connected: (op) => `Connected to ${op || 'an operator'}.`,
    ended: 'The call has ended.', leave: 'Leave', no_media: 'Video is not available yet: you talk with the operator by text, in the chat window on the website.',
    no_token: 'This room link is incomplete: open it again from the website.',
  },
  cs: {
    title: 'Videohovor', waiting: 'Čekáte na operátora…',
    position: (n) => (n <= 1 ? 'Jste na řadě jako další.' : `Jste ${n}. v pořadí.`),
    wait: (s) => (s < 60 ? 'Odhadovaná doba čekání: méně než minuta.' : `Odhadovaná doba čekání: asi ${Math.round(s / 60)} min.`),
    wait_unknown: 'Dobu čekání zatím neumíme odhadnout.',
    connected: (op) => `Jste spojeni s operátorem ${op || ''}.`.replace(' .', '.'),
    ended: 'Hovor skončil.', leave: 'Odejít', no_media: 'Video zatím není k dispozici: s operátorem si píšete v okně chatu na webu.',
    no_token: 'Odkaz na místnost je neúplný: otevřete jej znovu z webu.',
  },
};
const lang = (Q.get('lang') || navigator.language || 'en').toLowerCase().startsWith('cs') ? 'cs' : 'en';
const t = (k, ...a) => { const v = TEXT[lang][k]; return typeof v === 'function' ? v(...a) : v; };
document.documentElement.lang = lang;
for (const e of document.querySelectorAll('[data-t]')) e.textContent = t(e.dataset.t);
document.title = t('title');

const slot = 'lobby:room:' + SESSION;
let token = new URLSearchParams(location.hash.slice(1)).get('token');
try {
  if (token) sessionStorage.setItem(slot, token);
  else token = sessionStorage.getItem(slot);
} catch { /* storage blocked: this load still works */ }
if (location.hash) history.replaceState(null, '', location.pathname + location.search);

let tries = 0, ended = false, ws = null, state = { position: null, wait: null };

function render() {
  $('[data-testid=queue-position]').textContent = state.position ? t('position', state.position) : '';
  $('[data-testid=queue-position]').dataset.position = state.position ?? '';
  $('[data-testid=estimated-wait]').textContent = state.wait == null ? t('wait_unknown') : t('wait', state.wait);
  $('#waiting').hidden = state.status !== 'waiting';
  $('#connected').hidden = state.status !== 'active';
  $('#connected').textContent = t('connected', state.operator);
  $('#closed').hidden = !ended;
  $('#leave').hidden = ended;
}

// The room's events, over the transport the server offers (GET /healthz → `events`): a
// WebSocket, or Server-Sent Events where the server has none (Spin). An EventSource reconnects
// by itself when the server ends a stream; a failure before it opened takes the backoff.
let transport = null, timer = null, gen = 0;

function onFrame(data) {
  let ev;
  try { ev = JSON.parse(data); } catch { return; }
  if (ev.type === 'status') {
    if (ev.status === 'closed') ended = true;
    state.status = ev.status;
    state.position = ev.position ?? null;
  } else if (ev.type === 'position' || ev.type === 'redirected') {
    state.status = 'waiting';
    state.position = ev.position;
  } else if (ev.type === 'accepted') {
    state.status = 'active';
    state.operator = ev.operator;
    try { sessionStorage.setItem(slot + ':op', ev.operator || ''); } catch {}
  } else if (ev.type === 'closed') {
    ended = true;
    state.status = 'closed';
  } else return;
  if ('estimated_wait_seconds' in ev) state.wait = ev.estimated_wait_seconds;
  render();
  if (ended) drop();
}

/** Closes the stream, if any, without treating that as a loss. */
function drop() {
  const s = ws;
  ws = null;
  if (!s) return;
  s.onopen = s.onmessage = s.onerror = s.onclose = null;
  s.close();
}

/** The stream `s` is gone (null: it could not start): try again later. */
function lost(s) {
  if (ws !== s || ended) return;
  ws = null;
  transport = null; // ask again: the server may have changed
  clearTimeout(timer);
  timer = setTimeout(connect, Math.min(30000, 500 * 2 ** tries++) * (0.75 + Math.random() / 2));
}

async function connect() {
  if (ended) return;
  const mine = ++gen; // a newer connect() replaces this one
  clearTimeout(timer);
  drop();
  if (!transport) {
    let events = null;
    try {
      const r = await fetch('/healthz');
      if (r.ok) events = (await r.json()).events;
    } catch { /* the server is away */ }
    if (mine !== gen || ended) return;
    if (!events) return lost(null);
    transport = events === 'sse' ? 'sse' : 'websocket';
  }
  const u = new URL('/api/v1/client/events', location.href);
  u.searchParams.set('token', token);
  u.searchParams.set('after', '999999999'); // the room needs the state, not the chat's messages
  if (transport === 'sse') {
    const es = (ws = new EventSource(u));
    let open = false;
    es.onopen = () => { open = true; tries = 0; };
    es.onmessage = (e) => onFrame(e.data);
    es.onerror = () => {
      if (ws !== es || ended) return;
      // Ended after it opened and reconnecting by itself: let it.
      if (open && es.readyState === EventSource.CONNECTING) { open = false; return; }
      es.close();
      lost(es);
    };
    return;
  }
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = (ws = new WebSocket(u));
  sock.onopen = () => (tries = 0);
  sock.onmessage = (e) => onFrame(e.data);
  sock.onclose = () => lost(sock);
}

$('#leave').addEventListener('click', async () => {
  try {
    await fetch('/api/v1/client/leave', { method: 'POST', headers: { Authorization: 'Bearer ' + token } });
  } catch {}
  ended = true;
  state.status = 'closed';
  drop();
  render();
});

try { state.operator = sessionStorage.getItem(slot + ':op') || undefined; } catch {}
if (!token) {
  $('#error').textContent = t('no_token');
  $('#error').hidden = false;
  $('#waiting').hidden = true;
  $('#leave').hidden = true;
} else {
  state.status = 'waiting';
  render();
  connect();
}
