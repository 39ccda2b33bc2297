/* Lobby widget loader, served as /widget.js. A company's page embeds it with one line:
 *   <script src="https://LOBBY/widget.js" data-widget="KEY" async></script>
 * It is paid for on every page view of that site, so it stays small: it asks the server for the
 * widget's configuration (the server answers only pages on the widget's allowed_origins), draws
 * the entry buttons, and loads the widget app (an iframe from Lobby's origin) only on a click.
 *
 * Why the host page does some talking for the iframe: the server decides by the page's Origin
 * which site may use a widget, and only this script runs with the company's origin. So config,
 * entries and the offline form go through here (postMessage "call"); everything after the entry
 * uses the client token, which the iframe hands back and which is kept in this tab's
 * sessionStorage so that a reload or a navigation on the company's site resumes the same
 * conversation. Page views (also single-page-app navigations) are reported with that token. */
(function (w, d) {
  var L = (w.Lobby = w.Lobby || {});
  if (L.v) return; // loaded twice
  L.v = 1;
  var me = d.currentScript || d.querySelector('script[data-widget]');
  if (!me) return;
  var key = me.getAttribute('data-widget') || '';
  var base = new URL(me.src, location.href).origin;
  var api = base + '/api/v1/';
  var widgetApi = api + 'widgets/' + encodeURIComponent(key) + '/';
  var slot = 'lobby:' + key;
  var params = L.params || {}; // the page may set Lobby.params before this script arrives
  var state = read(); // {token, client, session, entry, open, draft, operator}
  var lang = /^cs\b/i.test(navigator.language || '') ? 'cs' : 'en';
  var T = {
    en: { webchat: 'Chat', video: 'Video call', callback: 'Callback', region: 'Contact us' },
    cs: { webchat: 'Chat', video: 'Videohovor', callback: 'Zavolejte mi', region: 'Kontaktujte nás' }
  }[lang];
  var config, root, panel, box, frame, entry, opener, lastUrl;

  L.params = params;
  L.setParams = function (p) {
    for (var k in p) if (Object.prototype.hasOwnProperty.call(p, k)) params[k] = p[k];
    post({ type: 'params', params: params });
  };

  function read() {
    try {
      return JSON.parse(sessionStorage.getItem(slot)) || {};
    } catch (e) {
      return {};
    }
  }
  function save() {
    try {
      sessionStorage.setItem(slot, JSON.stringify(state));
    } catch (e) {}
  }
  function json(url, init) {
    return fetch(url, init).then(function (r) {
      return r.text().then(function (t) {
        return { status: r.status, body: t };
      });
    });
  }
  function getConfig() {
    return json(widgetApi + 'config', { credentials: 'omit' }).then(function (r) {
      if (r.status !== 200) throw r;
      return (config = JSON.parse(r.body));
    });
  }
  function post(m) {
    if (frame && frame.contentWindow) {
      m.lobby = 1;
      frame.contentWindow.postMessage(m, base);
    }
  }

  // ---- page views: the initial one travels with the entry; later ones (reloads, other pages
  // of the site, SPA navigations) are reported here once the client has entered.
  function report() {
    var url = location.href;
    if (!state.token || url === lastUrl) return;
    lastUrl = url;
    fetch(api + 'client/pages', {
      method: 'POST',
      keepalive: true,
      credentials: 'omit',
      headers: { Authorization: 'Bearer ' + state.token, 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: url, title: d.title })
    }).then(function (r) {
      if (r.status === 401 || r.status === 404) forget(); // expired or gone
    }, function () {});
  }
  function later() {
    setTimeout(report, 100); // SPA routers set the title right after pushState
  }
  ['pushState', 'replaceState'].forEach(function (n) {
    var f = history[n];
    history[n] = function () {
      var r = f.apply(this, arguments);
      later();
      return r;
    };
  });
  w.addEventListener('popstate', later);
  w.addEventListener('hashchange', later);

  function forget() {
    state = {};
    save();
  }

  // ---- drawing
  var css =
    ':host{all:initial}' +
    '.p{position:fixed;right:16px;bottom:16px;z-index:2147483000;display:flex;flex-direction:column;align-items:flex-end;gap:10px;font:600 15px/1.2 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}' +
    '.b{display:flex;gap:8px;flex-wrap:wrap;justify-content:flex-end;margin:0;padding:0}' +
    'button{display:inline-flex;align-items:center;gap:7px;border:0;cursor:pointer;background:#1d4ed8;color:#fff;border-radius:999px;padding:11px 16px;font:inherit;box-shadow:0 2px 10px rgba(0,0,0,.25)}' +
    'button:hover{background:#1e40af}button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}' +
    'svg{width:18px;height:18px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}' +
    '.f{width:min(380px,calc(100vw - 32px));height:min(620px,calc(100vh - 32px));border-radius:14px;overflow:hidden;box-shadow:0 8px 30px rgba(0,0,0,.3);background:#fff}' +
    'iframe{border:0;width:100%;height:100%;display:block}[hidden]{display:none!important}' +
    '@media (max-width:480px){.f{position:fixed;inset:0;width:100vw;height:100vh;border-radius:0}}';
  // One path per icon (24x24, stroked), drawn without innerHTML so that pages enforcing
  // Trusted Types or a strict CSP still get their buttons.
  var icons = {
    webchat: 'M21 12a8 8 0 0 1-11.6 7.1L4 20l1-4.6A8 8 0 1 1 21 12z',
    video: 'M4 6h10a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V8a2 2 0 0 1 2-2zm12 4 6-3v10l-6-3',
    callback:
      'M22 16.9v3a2 2 0 0 1-2.2 2 19.8 19.8 0 0 1-8.6-3.1 19.5 19.5 0 0 1-6-6A19.8 19.8 0 0 1 2.1 4.2 2 2 0 0 1 4.1 2h3a2 2 0 0 1 2 1.7c.1 1 .4 1.9.7 2.8a2 2 0 0 1-.5 2.1L8 9.9a16 16 0 0 0 6 6l1.3-1.3a2 2 0 0 1 2.1-.4c.9.3 1.8.6 2.8.7a2 2 0 0 1 1.7 2z'
  };
  function el(tag, cls, parent) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }
  function icon(kind) {
    var ns = 'http://www.w3.org/2000/svg';
    var svg = d.createElementNS(ns, 'svg');
    var path = d.createElementNS(ns, 'path');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    path.setAttribute('d', icons[kind]);
    svg.appendChild(path);
    return svg;
  }

  function draw() {
    var host = el('div');
    host.id = 'lobby-widget';
    root = host.attachShadow({ mode: 'open' });
    // A constructed stylesheet is not inline style: a page's CSP does not block it.
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    } catch (e) {
      el('style', '', root).textContent = css;
    }
    var p = el('div', 'p', root);
    box = el('div', 'f', p);
    box.hidden = true;
    panel = el('div', 'b', p);
    panel.setAttribute('role', 'region');
    panel.setAttribute('aria-label', config.name || T.region);
    (config.buttons || []).forEach(function (kind) {
      if (!icons[kind]) return;
      var b = el('button', '', panel);
      b.type = 'button';
      b.setAttribute('data-testid', 'lobby-button-' + kind);
      b.appendChild(icon(kind));
      b.appendChild(d.createTextNode(T[kind]));
      b.onclick = function () {
        opener = b;
        open(kind);
      };
    });
    d.body.appendChild(host);
    if (state.token) {
      report(); // this page view (a reload, or another page of the site)
      if (state.open) open(state.entry, true);
    }
  }

  function open(kind, quiet) {
    // One conversation at a time: while one is going, every button shows it.
    if (state.token) kind = state.entry;
    if (!frame || kind !== entry) {
      if (frame) frame.remove();
      entry = kind;
      frame = el('iframe');
      frame.title = T[kind] || T.webchat;
      frame.allow = 'camera; microphone; autoplay; clipboard-write';
      frame.src =
        base + '/widget/?key=' + encodeURIComponent(key) + '&entry=' + encodeURIComponent(kind) +
        '&origin=' + encodeURIComponent(location.origin) + '&lang=' + lang;
      box.appendChild(frame);
    }
    show(true, quiet);
  }

  function show(on, quiet) {
    box.hidden = !on;
    panel.hidden = on;
    if (state.token) {
      state.open = on;
      save();
    }
    if (quiet) return; // a reopened conversation does not steal the page's focus
    if (on) frame.focus();
    else if (opener) opener.focus();
  }

  w.addEventListener('message', function (e) {
    var m = e.data;
    if (e.origin !== base || !frame || e.source !== frame.contentWindow || !m || m.lobby !== 1) return;
    if (m.type === 'ready') {
      // A fresh config: whether anyone is online may have changed since the page loaded.
      getConfig().then(null, function () {}).then(function () {
        post({
          type: 'context',
          config: config,
          page: { url: location.href, title: d.title, referrer: d.referrer || undefined },
          params: params,
          session: state.token ? state : null,
          draft: state.draft || ''
        });
      });
    } else if (m.type === 'call' && (m.route === 'entries' || m.route === 'offline')) {
      json(widgetApi + m.route, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(m.body)
      }).then(null, function () {
        return { status: 0, body: '' };
      }).then(function (r) {
        post({ type: 'reply', id: m.id, status: r.status, body: r.body });
      });
    } else if (m.type === 'session') {
      state = { token: m.token, client: m.client, session: m.session, entry: entry, kind: m.kind, phone: m.phone, open: !box.hidden };
      lastUrl = location.href; // the entry carried this page
      save();
    } else if (m.type === 'state') {
      if (m.draft !== undefined) state.draft = m.draft;
      if (m.operator !== undefined) state.operator = m.operator;
      save();
    } else if (m.type === 'minimize') {
      show(false);
    } else if (m.type === 'end') {
      forget();
    }
  });

  getConfig().then(function () {
    if (d.body) draw();
    else d.addEventListener('DOMContentLoaded', draw);
    try {
      w.dispatchEvent(new Event('lobby:ready'));
    } catch (e) {}
  }, function () {
    // Not a page this widget serves (403 origin_not_allowed), or the widget is gone: nothing.
  });
})(window, document);
