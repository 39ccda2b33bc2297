//! Every external input is parsed at the edge: malformed JSON, a missing field, a wrong type, an
//! unknown id or an oversized body get a clear 4xx JSON error, and change nothing.

use lobby_e2e::*;
use lobby_wire::{GroupInfo, Message, OperatorInfo, QueueItem, WidgetInfo};
use reqwest::Method;
use serde_json::{json, Value};

enum Body {
    Raw(String),
    Json(Value),
}

struct Case {
    what: String,
    method: Method,
    path: String,
    token: Option<String>,
    body: Body,
    status: u16,
    code: Option<&'static str>,
}

/// Everything an operator, an admin and the clients can read, to compare before and after.
#[derive(Debug, PartialEq)]
struct Snapshot {
    queue: Vec<QueueItem>,
    operators: Vec<OperatorInfo>,
    groups: Vec<GroupInfo>,
    widgets: Vec<WidgetInfo>,
    session: Vec<Message>,
    waiting_client: Vec<Message>,
    active_client: Vec<Message>,
}

const MALFORMED: &str = "invalid_json";
const INVALID: &str = "invalid_body";
const UNKNOWN: &str = "not_found";

/// What the cases refer to: tokens, ids, a slug nobody has.
struct Ctx {
    slug: String,
    new_slug: String,
    platform: String,
    admin: String,
    op: String,
    op_email: String,
    group: String,
    widget_key: String,
    waiting: String,
    session: String,
    client: String,
}

/// One row per bad request: what, method, path, token, body → status, error code.
#[rustfmt::skip]
fn cases(c: &Ctx) -> Vec<Case> {
    use Method as M;
    let mut cases: Vec<Case> = Vec::new();
    let mut add = |what: &str, method: Method, path: &str, token: Option<&str>, body: Body, status: u16, code: &'static str| {
        cases.push(Case {
            what: what.to_owned(), method, path: path.to_owned(), token: token.map(str::to_owned), body, status, code: Some(code),
        })
    };
    let raw = |s: &str| Body::Raw(s.to_owned());
    let none = || Body::Raw(String::new());
    let js = Body::Json;
    let (slug, new_slug, group) = (&c.slug, &c.new_slug, &c.group);

    // login
    let p = "/api/v1/auth/login";
    add("login: malformed", M::POST, p, None, raw(r#"{"tenant": "x", "email": "#), 400, MALFORMED);
    add("login: no password", M::POST, p, None, js(json!({"tenant": slug, "email": c.op_email})), 422, INVALID);
    add("login: password is a number", M::POST, p, None, js(json!({"tenant": slug, "email": c.op_email, "password": 12345})), 422, INVALID);
    // tenants
    let p = "/api/v1/tenants";
    let t = Some(c.platform.as_str());
    add("tenants: malformed", M::POST, p, t, raw(&format!(r#"{{"slug": "{new_slug}", "name": "N", "admin": {{"#)), 400, MALFORMED);
    add("tenants: no admin", M::POST, p, t, js(json!({"slug": new_slug, "name": "N"})), 422, INVALID);
    add("tenants: slug is a number", M::POST, p, t, js(json!({"slug": 42, "name": "N", "admin": {"email": "a@x.example", "password": "pw-1234567", "name": "A"}})), 422, INVALID);
    add("tenants: admin is a string", M::POST, p, t, js(json!({"slug": new_slug, "name": "N", "admin": "root"})), 422, INVALID);
    // groups
    let p = "/api/v1/groups";
    let a = Some(c.admin.as_str());
    add("groups: malformed", M::POST, p, a, raw(r#"{"name": "Sales""#), 400, MALFORMED);
    add("groups: no name", M::POST, p, a, js(json!({})), 422, INVALID);
    add("groups: name is a number", M::POST, p, a, js(json!({"name": 5})), 422, INVALID);
    add("groups: name is null", M::POST, p, a, js(json!({"name": null})), 422, INVALID);
    // operators: a valid body with one field changed (null = removed)
    let p = "/api/v1/operators";
    let new_op = |extra: Value| {
        let mut v = json!({"email": "new@bad.example", "password": "pw-new-op-1", "name": "New", "role": "operator",
                           "groups": [group], "limits": {"chat": 2}});
        for (k, x) in extra.as_object().unwrap() {
            if x.is_null() { v.as_object_mut().unwrap().remove(k); } else { v[k] = x.clone(); }
        }
        v
    };
    add("operators: malformed", M::POST, p, a, raw(r#"{"email": "new@bad.example", "groups": ["#), 400, MALFORMED);
    add("operators: no password", M::POST, p, a, js(new_op(json!({"password": null}))), 422, INVALID);
    add("operators: chat limit is a string", M::POST, p, a, js(new_op(json!({"limits": {"chat": "many"}}))), 422, INVALID);
    add("operators: unknown role", M::POST, p, a, js(new_op(json!({"role": "boss"}))), 422, INVALID);
    add("operators: groups is a string", M::POST, p, a, js(new_op(json!({"groups": group}))), 422, INVALID);
    add("operators: unknown group", M::POST, p, a, js(new_op(json!({"groups": ["no-such-group"]}))), 404, UNKNOWN);
    // widgets
    let p = "/api/v1/widgets";
    add("widgets: malformed", M::POST, p, a, raw(r#"{"name": "W", "group": "#), 400, MALFORMED);
    add("widgets: no group", M::POST, p, a, js(json!({"name": "W", "allowed_origins": [SHOP]})), 422, INVALID);
    add("widgets: allowed_origins is a string", M::POST, p, a, js(json!({"name": "W", "group": group, "allowed_origins": SHOP})), 422, INVALID);
    add("widgets: unknown group", M::POST, p, a, js(json!({"name": "W", "group": "no-such-group", "allowed_origins": [SHOP]})), 404, UNKNOWN);
    // entries (sent with the allowed Origin)
    let p = &format!("/api/v1/widgets/{}/entries", c.widget_key);
    add("entries: malformed", M::POST, p, None, raw(r#"{"entry": "webchat", "form": {"name": "#), 400, MALFORMED);
    add("entries: no entry kind", M::POST, p, None, js(json!({"form": {"name": "Nobody"}})), 422, INVALID);
    add("entries: entry is a number", M::POST, p, None, js(json!({"entry": 5})), 422, INVALID);
    add("entries: unknown entry kind", M::POST, p, None, js(json!({"entry": "teleport"})), 422, INVALID);
    add("entries: form is a string", M::POST, p, None, js(json!({"entry": "webchat", "form": "Nobody"})), 422, INVALID);
    add("entries: unknown widget key", M::POST, "/api/v1/widgets/no-such-key/entries", None, js(webchat("Nobody", "+1 555 0000", "en")), 404, UNKNOWN);
    // status
    let p = "/api/v1/me/status";
    let o = Some(c.op.as_str());
    add("status: malformed", M::PUT, p, o, raw(r#"{"status": "#), 400, MALFORMED);
    add("status: no status", M::PUT, p, o, js(json!({})), 422, INVALID);
    add("status: status is a boolean", M::PUT, p, o, js(json!({"status": true})), 422, INVALID);
    add("status: unknown status", M::PUT, p, o, js(json!({"status": "sleeping"})), 422, INVALID);
    // queue: accept, preview, redirect
    add("accept: unknown client", M::POST, "/api/v1/queue/no-such-client/accept", o, none(), 404, UNKNOWN);
    add("preview: unknown client", M::GET, "/api/v1/clients/no-such-client/preview", o, none(), 404, UNKNOWN);
    let p = &format!("/api/v1/queue/{}/redirect", c.waiting);
    add("redirect: malformed", M::POST, p, o, raw(r#"{"group": "#), 400, MALFORMED);
    add("redirect: neither group nor operator", M::POST, p, o, js(json!({})), 422, INVALID);
    add("redirect: group is a number", M::POST, p, o, js(json!({"group": 5})), 422, INVALID);
    add("redirect: unknown group", M::POST, p, o, js(json!({"group": "no-such-group"})), 404, UNKNOWN);
    add("redirect: unknown operator", M::POST, p, o, js(json!({"operator": "no-such-operator"})), 404, UNKNOWN);
    add("redirect: unknown client", M::POST, "/api/v1/queue/no-such-client/redirect", o, js(json!({"group": group})), 404, UNKNOWN);
    // session messages
    let p = &format!("/api/v1/sessions/{}/messages", c.session);
    add("messages: malformed", M::POST, p, o, raw(r#"{"text": "hi"#), 400, MALFORMED);
    add("messages: no text", M::POST, p, o, js(json!({})), 422, INVALID);
    add("messages: text is a number", M::POST, p, o, js(json!({"text": 5})), 422, INVALID);
    add("messages: unknown session", M::POST, "/api/v1/sessions/no-such-session/messages", o, js(json!({"text": "hi"})), 404, UNKNOWN);
    add("messages: read unknown session", M::GET, "/api/v1/sessions/no-such-session/messages?after=0", o, none(), 404, UNKNOWN);
    add("close: unknown session", M::POST, "/api/v1/sessions/no-such-session/close", o, none(), 404, UNKNOWN);
    // client messages
    let p = "/api/v1/client/messages";
    let cl = Some(c.client.as_str());
    add("client messages: malformed", M::POST, p, cl, raw(r#"{"text": "#), 400, MALFORMED);
    add("client messages: no text", M::POST, p, cl, js(json!({})), 422, INVALID);
    add("client messages: text is a list", M::POST, p, cl, js(json!({"text": ["hi"]})), 422, INVALID);
    cases
}

#[test]
fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let server = shared();
    let desk = server.desk("bad", &["Bea"], 5);
    let op = &desk.ops[0];
    let admin = desk.tenant.admin.token.clone();
    let waiting = server.enter_ok(
        &desk.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Wanda", "+1 555 0401", "en"),
    );
    let active = server.enter_ok(
        &desk.widget.key,
        UA_FIREFOX_UBUNTU,
        &webchat("Arthur", "+1 555 0402", "en"),
    );
    let session = server.accept_ok(&op.token, &active.id);
    server.client_post(&active.token, "first");
    server.post_message(&op.token, &session, "second");
    server.client_post(&waiting.token, "waiting note");

    let snapshot = || Snapshot {
        queue: server.queue(&op.token),
        operators: server.operators(&admin),
        groups: server.groups(&admin),
        widgets: server.widgets(&admin),
        session: server.messages(&op.token, &session, 0),
        waiting_client: server.client_messages(&waiting.token, 0),
        active_client: server.client_messages(&active.token, 0),
    };
    let before = snapshot();

    let new_slug = unique_slug("bad-new");
    let ctx = Ctx {
        slug: desk.tenant.slug.clone(),
        new_slug: new_slug.clone(),
        platform: platform_token().to_owned(),
        admin: admin.clone(),
        op: op.token.clone(),
        op_email: op.email.clone(),
        group: desk.group.clone(),
        widget_key: desk.widget.key.clone(),
        waiting: waiting.id.clone(),
        session: session.clone(),
        client: active.token.clone(),
    };
    let cases = cases(&ctx);

    let mut failures = Vec::new();
    for case in &cases {
        let mut call = server.call(case.method.clone(), &case.path);
        if let Some(t) = &case.token {
            call = call.auth(t);
        }
        if case.path.ends_with("/entries") {
            call = call
                .header("Origin", SHOP)
                .header("User-Agent", UA_CHROME_WINDOWS);
        }
        call = match &case.body {
            Body::Raw(s) if s.is_empty() => call,
            Body::Raw(s) => call.raw(s.clone()),
            Body::Json(v) => call.json(v),
        };
        match call.try_send() {
            Ok(resp) => {
                if let Some(problem) = resp.check_error(case.status, case.code) {
                    failures.push(format!("{}: {problem}", case.what));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", case.what)),
        }
    }

    // Bodies over 1 MiB are refused before anything else.
    let big = "x".repeat(1536 * 1024);
    let entries = format!("/api/v1/widgets/{}/entries", desk.widget.key);
    for (what, call) in [
        (
            "groups",
            server
                .post("/api/v1/groups")
                .auth(&admin)
                .json(&json!({"name": big})),
        ),
        (
            "client messages",
            server
                .post("/api/v1/client/messages")
                .auth(&active.token)
                .json(&json!({"text": big})),
        ),
        (
            "session messages",
            server
                .post(&format!("/api/v1/sessions/{session}/messages"))
                .auth(&op.token)
                .json(&json!({"text": big})),
        ),
        (
            "entries",
            server
                .post(&entries)
                .header("Origin", SHOP)
                .json(&json!({"entry": "webchat", "form": {"name": big}})),
        ),
    ] {
        match call.try_send() {
            Ok(resp) => {
                if let Some(problem) = resp.check_error(413, None) {
                    failures.push(format!("{what}: 1.5 MiB body: {problem}"));
                }
            }
            Err(e) => failures.push(format!("{what}: 1.5 MiB body: {e}")),
        }
    }

    let after = snapshot();
    if after != before {
        failures.push(format!(
            "the state changed:\nbefore: {before:#?}\nafter: {after:#?}"
        ));
    }
    assert!(
        failures.is_empty(),
        "{} problem(s) with bad input ({} requests):\n  {}",
        failures.len(),
        cases.len() + 4,
        failures.join("\n  ")
    );

    // No tenant was made by the bad bodies carrying its slug.
    server
        .post("/api/v1/tenants")
        .auth(platform_token())
        .json(&tenant_body(&new_slug))
        .send()
        .expect(201);
}
