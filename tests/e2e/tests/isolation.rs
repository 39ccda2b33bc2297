//! Tenants are isolated, roles are enforced, tokens are checked.

use lobby_e2e::*;
use lobby_wire::OperatorEvent;
use serde_json::json;

/// Changes one character so that any decoding of it changes (base64/base64url/hex alike):
/// the character's 6-bit base64 value gets its top bit flipped.
fn flip(c: char) -> char {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let v = match c {
        '+' => Some(62),
        '/' => Some(63),
        _ => B64.iter().position(|&b| b as char == c),
    };
    match v {
        Some(v) => B64[v ^ 32] as char,
        None if c == '0' => '1',
        None => '0',
    }
}

/// The token with one character of its end (the signature, whatever the format) changed.
fn forge_at_end(token: &str, back: usize) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let last = chars
        .iter()
        .rposition(|&c| c != '=')
        .expect("token has characters");
    let i = last.saturating_sub(back);
    chars[i] = flip(chars[i]);
    chars.into_iter().collect()
}

#[test]
fn a_tenants_data_is_reachable_only_with_its_tokens() {
    let server = shared();
    let a = server.desk("iso-a", &["Anton"], 3);
    let b = server.desk("iso-b", &["Berta"], 3);
    let (a_op, b_op) = (&a.ops[0], &b.ops[0]);
    let (mut b_ws, _) = server.operator_ws(&b_op.token, None);

    let a1 = server.enter_ok(
        &a.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Anna", "+1 555 0101", "en"),
    );
    let a2 = server.enter_ok(
        &a.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Arne", "+1 555 0102", "en"),
    );
    let b1 = server.enter_ok(
        &b.widget.key,
        UA_SAFARI_IPHONE,
        &webchat("Bella", "+1 555 0201", "en"),
    );

    // A's widget key does not queue into B, and B sees only its own clients.
    let bq = server.queue(&b_op.token);
    assert_eq!(
        bq.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
        [b1.id.as_str()],
        "B's queue: {bq:?}"
    );
    let aq_before = server.queue(&a_op.token);
    assert_eq!(aq_before.len(), 2);

    // B cannot touch A's waiting client.
    server
        .accept(&b_op.token, &a1.id)
        .expect_error(404, "not_found");
    server
        .get(&format!("/api/v1/clients/{}/preview", a1.id))
        .auth(&b_op.token)
        .send()
        .expect_error(404, "not_found");
    server
        .redirect(&b_op.token, &a1.id, &json!({"group": b.group}))
        .expect_error(404, "not_found");
    server
        .redirect(&b_op.token, &a1.id, &json!({"operator": b_op.id}))
        .expect_error(404, "not_found");
    // Nor move its own client into A's group or to A's operator.
    server
        .redirect(&b_op.token, &b1.id, &json!({"group": a.group}))
        .expect_error(404, "not_found");
    server
        .redirect(&b_op.token, &b1.id, &json!({"operator": a_op.id}))
        .expect_error(404, "not_found");
    // B's admin cannot use A's group for a widget or an operator.
    server
        .post("/api/v1/widgets")
        .auth(&b.tenant.admin.token)
        .json(&json!({"name": "Sneaky", "group": a.group, "allowed_origins": [SHOP]}))
        .send()
        .expect_error(404, "not_found");
    server
        .post("/api/v1/operators")
        .auth(&b.tenant.admin.token)
        .json(
            &json!({"email": "sneaky@b.example", "password": "pw-sneaky-1", "name": "Sneaky",
                      "role": "operator", "groups": [a.group], "limits": {"chat": 1}}),
        )
        .send()
        .expect_error(404, "not_found");
    assert_eq!(
        server.queue(&a_op.token),
        aq_before,
        "B's attempts changed A's queue"
    );

    // A's conversation is out of B's reach.
    let sa = server.accept_ok(&a_op.token, &a1.id);
    let ma = server.client_post(&a1.token, "secret of tenant A");
    let sb = server.accept_ok(&b_op.token, &b1.id);
    server.client_post(&b1.token, "hello from tenant B");
    let a_history = server.messages(&a_op.token, &sa, 0);
    let b_history = server.messages(&b_op.token, &sb, 0);

    for (what, resp) in [
        (
            "B reads A's session",
            server
                .get(&format!("/api/v1/sessions/{sa}/messages?after=0"))
                .auth(&b_op.token)
                .send(),
        ),
        (
            "B posts into A's session",
            server
                .post(&format!("/api/v1/sessions/{sa}/messages"))
                .auth(&b_op.token)
                .json(&json!({"text": "hi from B"}))
                .send(),
        ),
        ("B closes A's session", server.close(&b_op.token, &sa)),
        (
            "B's admin reads A's session",
            server
                .get(&format!("/api/v1/sessions/{sa}/messages?after=0"))
                .auth(&b.tenant.admin.token)
                .send(),
        ),
        (
            "A reads B's session",
            server
                .get(&format!("/api/v1/sessions/{sb}/messages?after=0"))
                .auth(&a_op.token)
                .send(),
        ),
    ] {
        if let Some(problem) = resp.check_error(404, Some("not_found")) {
            panic!("{what}: {problem}");
        }
    }
    // A client token is for its own conversation only.
    server
        .post(&format!("/api/v1/sessions/{sb}/messages"))
        .auth(&a1.token)
        .json(&json!({"text": "client of A writing into B"}))
        .send()
        .expect_error_in(&[401, 403, 404]);
    server
        .get("/api/v1/queue")
        .auth(&a1.token)
        .send()
        .expect_error_in(&[401, 403]);
    server
        .accept(&a2.token, &a2.id)
        .expect_error_in(&[401, 403]);
    assert_eq!(
        conversation(&server.client_messages(&b1.token, 0)),
        conversation(&b_history)
    );
    assert!(server
        .client_messages(&a1.token, 0)
        .iter()
        .any(|m| m.seq == ma));

    assert_eq!(
        server.messages(&a_op.token, &sa, 0),
        a_history,
        "A's session changed"
    );
    assert_eq!(
        server.messages(&b_op.token, &sb, 0),
        b_history,
        "B's session changed"
    );

    // Admin listings show one tenant only.
    let a_ids = [
        a.group.clone(),
        a_op.id.clone(),
        a.tenant.admin.id.clone(),
        a.widget.id.clone(),
    ];
    let b_groups = server.groups(&b.tenant.admin.token);
    let b_ops = server.operators(&b.tenant.admin.token);
    let b_widgets = server.widgets(&b.tenant.admin.token);
    assert_eq!(
        b_groups.iter().map(|g| g.id.as_str()).collect::<Vec<_>>(),
        [b.group.as_str()]
    );
    assert_eq!(
        b_widgets.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
        [b.widget.key.as_str()]
    );
    assert!(
        b_ops.iter().all(|o| !a_ids.contains(&o.id)),
        "B lists A's operators: {b_ops:?}"
    );
    assert_eq!(b_ops.len(), 2, "B's admin and operator: {b_ops:?}");

    // B's operator stream never carried anything of A. A new client of B marks the end.
    let b2 = server.enter_ok(
        &b.widget.key,
        UA_FIREFOX_UBUNTU,
        &webchat("Bruno", "+1 555 0202", "en"),
    );
    let events = b_ws.until::<OperatorEvent>("client_waiting of B's second client", |e| {
        op_waiting_is(e, &b2.id)
    });
    let a_marks = [
        a1.id.as_str(),
        a2.id.as_str(),
        sa.as_str(),
        a1.session.as_str(),
        a2.session.as_str(),
        "secret of tenant A",
    ];
    for e in &events {
        let text = serde_json::to_string(e).unwrap();
        assert!(
            !a_marks.iter().any(|m| text.contains(m)),
            "B's stream carried A's data: {text}"
        );
    }
}

#[test]
fn the_platform_token_guards_tenant_creation() {
    let server = shared();
    let slug = unique_slug("plat");
    let body = tenant_body(&slug);
    server
        .post("/api/v1/tenants")
        .json(&body)
        .send()
        .expect_error(401, "unauthorized");
    server
        .post("/api/v1/tenants")
        .auth("not-the-platform-token")
        .json(&body)
        .send()
        .expect_error_in(&[401, 403]);
    server
        .post("/api/v1/tenants")
        .auth(&forge_at_end(platform_token(), 0))
        .json(&body)
        .send()
        .expect_error_in(&[401, 403]);
    // None of those created it: the real one does, once.
    server
        .post("/api/v1/tenants")
        .auth(platform_token())
        .json(&body)
        .send()
        .expect(201);
    server
        .post("/api/v1/tenants")
        .auth(platform_token())
        .json(&tenant_body(&slug))
        .send()
        .expect_error(409, "tenant_exists");
    // A tenant's admin is not the platform.
    let t = server.create_tenant("plat-admin");
    server
        .post("/api/v1/tenants")
        .auth(&t.admin.token)
        .json(&tenant_body(&unique_slug("plat")))
        .send()
        .expect_error_in(&[401, 403]);
}

#[test]
fn operators_cannot_administer() {
    let server = shared();
    let desk = server.desk("roles", &["Otto"], 3);
    let op = &desk.ops[0];
    let groups = server.groups(&desk.tenant.admin.token);
    let ops = server.operators(&desk.tenant.admin.token);
    let widgets = server.widgets(&desk.tenant.admin.token);

    server
        .post("/api/v1/groups")
        .auth(&op.token)
        .json(&json!({"name": "Mine"}))
        .send()
        .expect_error(403, "forbidden");
    server
        .post("/api/v1/operators")
        .auth(&op.token)
        .json(
            &json!({"email": "friend@x.example", "password": "pw-friend-1", "name": "Friend",
                      "role": "admin", "groups": [desk.group], "limits": {"chat": 9}}),
        )
        .send()
        .expect_error(403, "forbidden");
    server
        .post("/api/v1/widgets")
        .auth(&op.token)
        .json(&json!({"name": "Mine", "group": desk.group, "allowed_origins": ["https://evil.example"]}))
        .send()
        .expect_error(403, "forbidden");

    assert_eq!(server.groups(&desk.tenant.admin.token), groups);
    assert_eq!(server.operators(&desk.tenant.admin.token), ops);
    assert_eq!(server.widgets(&desk.tenant.admin.token), widgets);
}

#[test]
fn missing_wrong_and_forged_tokens_are_unauthorized() {
    let server = shared();
    let desk = server.desk("tokens", &["Tina"], 3);
    let op = &desk.ops[0];
    let c = server.enter_ok(
        &desk.widget.key,
        UA_CHROME_WINDOWS,
        &webchat("Carl", "+1 555 0301", "en"),
    );
    server.queue(&op.token); // the real token works

    server
        .get("/api/v1/queue")
        .send()
        .expect_error(401, "unauthorized");
    server
        .get("/api/v1/queue")
        .auth("garbage")
        .send()
        .expect_error(401, "unauthorized");
    server
        .get("/api/v1/queue")
        .header("Authorization", &op.token)
        .send()
        .expect_error(401, "unauthorized");
    for back in [0, 5] {
        let forged = forge_at_end(&op.token, back);
        assert_ne!(forged, op.token);
        server
            .get("/api/v1/queue")
            .auth(&forged)
            .send()
            .expect_error(401, "unauthorized");
        server
            .accept(&forged, &c.id)
            .expect_error(401, "unauthorized");
        let admin_forged = forge_at_end(&desk.tenant.admin.token, back);
        server
            .post("/api/v1/groups")
            .auth(&admin_forged)
            .json(&json!({"name": "Forged"}))
            .send()
            .expect_error(401, "unauthorized");
        let client_forged = forge_at_end(&c.token, back);
        server
            .post("/api/v1/client/messages")
            .auth(&client_forged)
            .json(&json!({"text": "forged"}))
            .send()
            .expect_error(401, "unauthorized");
        match server.ws_try_connect("/api/v1/operator/events", &forged) {
            Err(refused) => assert_eq!(refused.status, 401, "forged WebSocket token: {refused:?}"),
            Ok(_) => panic!("the operator WebSocket accepted a forged token"),
        }
        match server.ws_try_connect("/api/v1/client/events", &client_forged) {
            Err(refused) => assert_eq!(refused.status, 401, "forged WebSocket token: {refused:?}"),
            Ok(_) => panic!("the client WebSocket accepted a forged token"),
        }
    }
    // Wrong password.
    server
        .post("/api/v1/auth/login")
        .json(&json!({"tenant": desk.tenant.slug, "email": op.email, "password": "wrong-password"}))
        .send()
        .expect_error(401, "unauthorized");
    // Nothing happened: the client still waits, nobody accepted it, no group was made.
    let queue = server.queue(&op.token);
    assert_eq!(
        queue.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(),
        [c.id.as_str()]
    );
    assert_eq!(server.groups(&desk.tenant.admin.token).len(), 1);
    assert!(server
        .client_messages(&c.token, 0)
        .iter()
        .all(|m| m.text != "forged"));
}
