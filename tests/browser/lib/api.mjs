// Small fetch helpers over Lobby's HTTP API (/api/v1, see functions/wire/src/lib.rs): what an
// integrator does to get going (tenant, group, operators, widget) and what a client's widget does
// (entries, messages), so the browser tests can arrange a situation and check its effects.

import { randomHex } from './server.mjs';

/** Real browsers' User-Agent strings (the queue shows the browser and OS parsed from them). */
export const UA = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  edgeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80',
  firefoxUbuntu: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1',
  safariMac:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  chromeAndroid:
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36',
  firefoxWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
};

/** An HTTP answer that was not what the caller expected. */
export class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} answered HTTP ${status}: ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

let slugCounter = 0;
/** A tenant slug nobody used yet: `<prefix>-<random>-<n>`. */
export function uniqueSlug(prefix = 't') {
  slugCounter += 1;
  return `${prefix}-${randomHex(3)}-${slugCounter}`;
}

/** The API of one server. */
export class Api {
  /** @param {{base: string, origin?: string, platformToken: string}} server */
  constructor(server) {
    this.base = server.base;
    this.origin = server.origin || server.base;
    this.platformToken = server.platformToken;
  }

  /**
   * One request. `expect` (a status or a list of them) makes any other status throw; the answer
   * is `{status, body}` with the body parsed as JSON when it is JSON.
   */
  async call(method, path, { body, token, headers = {}, expect } = {}) {
    const h = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    const r = await fetch(this.base + path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60000),
    });
    const text = await r.text();
    let parsed = text;
    try {
      parsed = text.trim() ? JSON.parse(text) : {};
    } catch {
      // not JSON: keep the text
    }
    if (expect !== undefined) {
      const ok = Array.isArray(expect) ? expect.includes(r.status) : r.status === expect;
      if (!ok) throw new ApiError(method, path, r.status, parsed);
    }
    return { status: r.status, body: parsed };
  }

  async ok(method, path, opts = {}, expect = [200, 201]) {
    return (await this.call(method, path, { ...opts, expect })).body;
  }

  // ------------------------------------------------------------ platform, tenants, auth

  /** POST /api/v1/tenants with the platform token, then the admin's login. */
  async createTenant({ prefix = 'browser', name, admin } = {}) {
    const slug = uniqueSlug(prefix);
    const adm = {
      email: admin?.email || `admin@${slug}.example`,
      password: admin?.password || `admin-${randomHex(6)}`,
      name: admin?.name || 'Ada Admin',
    };
    await this.ok('POST', '/api/v1/tenants', {
      token: this.platformToken,
      body: { slug, name: name || `Tenant ${slug}`, admin: adm },
    }, 201);
    const li = await this.login(slug, adm.email, adm.password);
    return { slug, admin: { ...adm, id: li.operator.id, token: li.token } };
  }

  /** POST /api/v1/auth/login → {token, operator, expires_at}. */
  login(tenant, email, password) {
    return this.ok('POST', '/api/v1/auth/login', { body: { tenant, email, password } }, 200);
  }

  // ------------------------------------------------------------ administration

  async createGroup(adminToken, name) {
    return (await this.ok('POST', '/api/v1/groups', { token: adminToken, body: { name } }, 201)).id;
  }

  /**
   * POST /api/v1/operators and the operator's login: {id, email, password, name, token}.
   * `chat` is the chat limit.
   */
  async createOperator(adminToken, tenant, { email, name, password, role = 'operator', groups = [], chat = 3 }) {
    password = password || `operator-${randomHex(6)}`;
    const { id } = await this.ok('POST', '/api/v1/operators', {
      token: adminToken,
      body: { email, password, name, role, groups, limits: { chat } },
    }, 201);
    const li = await this.login(tenant, email, password);
    return { id, email, password, name, role, token: li.token, tenant };
  }

  /** POST /api/v1/widgets → {id, key}; the allowed origin defaults to the server's own. */
  createWidget(adminToken, { name, group, origins }) {
    return this.ok('POST', '/api/v1/widgets', {
      token: adminToken,
      body: { name, group, allowed_origins: origins || [this.origin] },
    }, 201);
  }

  // ------------------------------------------------------------ operators

  setStatus(token, status) {
    return this.ok('PUT', '/api/v1/me/status', { token, body: { status } }, 200);
  }

  me(token) {
    return this.ok('GET', '/api/v1/me', { token }, 200);
  }

  async queue(token) {
    return (await this.ok('GET', '/api/v1/queue', { token }, 200)).clients;
  }

  preview(token, client) {
    return this.ok('GET', `/api/v1/clients/${client}/preview`, { token }, 200);
  }

  accept(token, client) {
    return this.call('POST', `/api/v1/queue/${client}/accept`, { token });
  }

  async sessions(token) {
    return (await this.ok('GET', '/api/v1/sessions', { token }, 200)).sessions;
  }

  async operators(token) {
    return (await this.ok('GET', '/api/v1/operators', { token }, 200)).operators;
  }

  addTag(token, client, tag) {
    return this.ok('POST', `/api/v1/clients/${client}/tags`, { token, body: { tag } }, 201);
  }

  addNote(token, client, text) {
    return this.ok('POST', `/api/v1/clients/${client}/notes`, { token, body: { text } }, 201);
  }

  async sessionMessages(token, session) {
    return (await this.ok('GET', `/api/v1/sessions/${session}/messages`, { token }, 200)).messages;
  }

  postOperatorMessage(token, session, text) {
    return this.ok('POST', `/api/v1/sessions/${session}/messages`, { token, body: { text } }, [200, 201]);
  }

  closeSession(token, session) {
    return this.ok('POST', `/api/v1/sessions/${session}/close`, { token }, [200, 201, 204]);
  }

  // ------------------------------------------------------------ clients (what the widget does)

  /**
   * POST /api/v1/widgets/{key}/entries as a browser on the server's own origin would send it:
   * `Origin`, a real `User-Agent`, optionally `Accept-Language`. Must be queued: → EntryAccepted
   * {client, token, status: "waiting", position, session}.
   */
  async enter(key, entry, { userAgent = UA.chromeWindows, acceptLanguage, origin } = {}) {
    const headers = { Origin: origin || this.origin, 'User-Agent': userAgent };
    if (acceptLanguage) headers['Accept-Language'] = acceptLanguage;
    const body = await this.ok('POST', `/api/v1/widgets/${key}/entries`, { headers, body: entry }, 201);
    if (body.status !== 'waiting') {
      throw new Error(`entry not queued: ${JSON.stringify(body)} (is an operator of the widget's group online?)`);
    }
    return body;
  }

  async clientMessages(clientToken) {
    return (await this.ok('GET', '/api/v1/client/messages', { token: clientToken }, 200)).messages;
  }

  postClientMessage(clientToken, text, attachments) {
    const body = attachments ? { text, attachments } : { text };
    return this.ok('POST', '/api/v1/client/messages', { token: clientToken, body }, [200, 201]);
  }

  reportPage(clientToken, url, title) {
    return this.ok('POST', '/api/v1/client/pages', { token: clientToken, body: { url, title } }, [200, 201, 202, 204]);
  }
}

/** A webchat (or other) entry body with a contact form, a language and the page it came from. */
export function entryBody({ entry = 'webchat', name, phone, email, language, page, params } = {}) {
  const form = {};
  if (name) form.name = name;
  if (phone) form.phone = phone;
  if (email) form.email = email;
  const body = { entry, form };
  if (language) body.language = language;
  if (page) body.page = page;
  if (params) body.params = params;
  return body;
}

/**
 * A tenant ready for the operator app: its admin, one group "Support", `operators` operators in
 * that group (chat limit `chat`), a widget "Website" allowing the server's own origin; every
 * operator online. Returns {slug, admin, group, operators: [...], widget: {id, key, name}}.
 */
export async function seedTenant(api, {
  prefix = 'browser',
  tenantName,
  groupName = 'Support',
  widgetName = 'Website',
  operators = [{ name: 'Olga Operator' }, { name: 'Oscar Operator' }],
  chat = 3,
  online = true,
} = {}) {
  const tenant = await api.createTenant({ prefix, name: tenantName });
  const group = await api.createGroup(tenant.admin.token, groupName);
  const ops = [];
  for (const [i, o] of operators.entries()) {
    ops.push(await api.createOperator(tenant.admin.token, tenant.slug, {
      email: o.email || `operator${i + 1}@${tenant.slug}.example`,
      name: o.name,
      groups: [group],
      chat: o.chat ?? chat,
    }));
  }
  const widget = await api.createWidget(tenant.admin.token, { name: widgetName, group });
  if (online) for (const o of ops) await api.setStatus(o.token, 'online');
  return { ...tenant, group, operators: ops, widget: { ...widget, name: widgetName } };
}

/** Runs `fn` over `items` with at most `n` at a time; resolves to the results in order. */
export async function inBatches(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
