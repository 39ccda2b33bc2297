//! Messaging channels inside a tenant: the admin's configuration routes, webhook deliveries
//! (from the providers' documented payloads) turned into waiting clients and messages, retries
//! that change nothing, the outbox of provider calls (replies, profile lookups) with its
//! retries and visible final failure, and delivery reports on the operator's messages.

mod support;

use lobby_core::api::{Actor, Ctx, MessageLog, Meta, Reply, Route};
use lobby_core::channels::desk::{hook_route, HookReply, HookRequest};
use lobby_core::channels::{decode_form, Channel, Method};
use lobby_core::lobby::{
    ClientState, Command, Event, Group, Lobby, Millis, Operator, Target, Tenant,
};
use lobby_core::ApiError;
use lobby_wire::{self as wire, EntryKind, Party, Presence, Role};
use serde_json::{json, Value};
use support::deliveries::{fixture, messenger_text, sign, vk_message, whatsapp_text, PAGE_ID};
use support::World;

const T0: Millis = 1_800_000_000_000;
const APP_SECRET: &str = "meta-app-secret";
const WA_PHONE_ID: &str = "1122334455667";
const VK_GROUP: &str = "183287114";
const VK_SECRET: &str = "vk-secret-key";

fn admin() -> Actor {
    Actor::Operator {
        id: "adam".into(),
        admin: true,
    }
}

fn ann() -> Actor {
    Actor::Operator {
        id: "ann".into(),
        admin: false,
    }
}

fn operator(id: &str, role: Role, groups: &[&str]) -> Operator {
    Operator {
        id: id.into(),
        email: format!("{id}@acme.test"),
        name: id.to_uppercase(),
        role,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        chat_limit: 3,
        password_hash: "not used here".into(),
        presence: Presence::Offline,
    }
}

impl World {
    /// Tenant `acme`: admin Adam, groups `sales` and `support`, operator Ann in `support`
    /// (online).
    fn new() -> World {
        let mut w = World::bare();
        w.now = T0;
        w.cmd(Command::CreateTenant {
            tenant: Tenant {
                slug: "acme".into(),
                name: "Acme".into(),
            },
            admin: operator("adam", Role::Admin, &[]),
        });
        for g in ["sales", "support"] {
            w.cmd(Command::CreateGroup(Group {
                id: g.into(),
                name: g.into(),
            }));
        }
        w.cmd(Command::CreateOperator(operator(
            "ann",
            Role::Operator,
            &["support"],
        )));
        w.cmd(Command::SetPresence {
            operator: "ann".into(),
            presence: Presence::Online,
        });
        w
    }

    fn record(&mut self, events: &[Event]) {
        for e in events {
            if let Some((session, m)) = Lobby::message_of(e, self.now) {
                self.log.0.push((session, m));
            }
            self.journal.push((e.clone(), self.now));
        }
    }

    fn cmd(&mut self, c: Command) -> Vec<Event> {
        let events = self
            .lobby
            .handle(&c, self.now)
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        self.record(&events);
        events
    }

    /// A call through `Lobby::call` at the present time (the tests move the clock themselves),
    /// with the same entropy byte repeated per call, compared as JSON before and after.
    fn api(&mut self, route: Route, actor: &Actor, body: &[u8]) -> Result<Reply, ApiError> {
        self.calls += 1;
        let entropy = [self.calls as u8; 64];
        let before = serde_json::to_value(&self.lobby).unwrap();
        let ctx = Ctx {
            now: self.now,
            entropy: &entropy,
            token_secret: b"a token secret for the tests, 32+",
            messages: &self.log,
        };
        let r = self.lobby.call(&route, actor, body, &Meta::default(), &ctx);
        match &r {
            Ok(reply) => self.record(&reply.events.clone()),
            Err(_) => assert_eq!(
                serde_json::to_value(&self.lobby).unwrap(),
                before,
                "a refused call changed the state"
            ),
        }
        r
    }

    fn configure(&mut self, channel: &str, body: Value) -> Result<Reply, ApiError> {
        self.api(
            Route::ConfigureChannel {
                channel: channel.into(),
            },
            &admin(),
            &serde_json::to_vec(&body).unwrap(),
        )
    }

    fn hook(&mut self, channel: Channel, req: HookRequest) -> HookReply {
        self.calls += 1;
        let entropy = [self.calls as u8; 64];
        let before = serde_json::to_value(&self.lobby).unwrap();
        let r = self.lobby.hook(channel, &req, &entropy, self.now);
        if r.events.is_empty() {
            assert_eq!(
                serde_json::to_value(&self.lobby).unwrap(),
                before,
                "a webhook answer without events changed the state"
            );
        }
        self.record(&r.events.clone());
        r
    }

    fn post(&mut self, channel: Channel, body: &[u8], signature: Option<String>) -> HookReply {
        self.hook(
            channel,
            HookRequest {
                method: "POST".into(),
                query: String::new(),
                signature,
                body: body.to_vec(),
            },
        )
    }

    /// A Meta delivery signed with the configured app secret.
    fn meta(&mut self, channel: Channel, body: &[u8]) -> HookReply {
        let sig = sign(APP_SECRET, body);
        self.post(channel, body, Some(sig))
    }

    fn messages(&self, session: &str) -> Vec<(Party, String)> {
        self.log
            .0
            .iter()
            .filter(|(s, _)| s == session)
            .map(|(_, m)| (m.from, m.text.clone()))
            .collect()
    }

    fn whatsapp(&mut self) {
        let r = self
            .configure(
                "whatsapp",
                json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET,
                       "verify_token": "wa-verify", "access_token": "wa-token", "group": "support",
                       "api_base": "http://127.0.0.1:9/"}),
            )
            .unwrap();
        assert_eq!(r.status, 200);
    }

    fn messenger(&mut self) {
        self.configure(
            "messenger",
            json!({"page_id": PAGE_ID, "app_secret": APP_SECRET, "verify_token": "fb-verify",
                   "page_access_token": "fb-token", "group": "support"}),
        )
        .unwrap();
    }

    fn vk(&mut self) {
        self.configure(
            "vk",
            json!({"community_id": VK_GROUP, "confirmation": "d8v2ve07", "secret": VK_SECRET,
                   "access_token": "vk-token", "group": "sales"}),
        )
        .unwrap();
    }

    fn only_client(&self) -> lobby_core::lobby::Client {
        assert_eq!(self.lobby.clients.len(), 1, "{:?}", self.lobby.clients);
        self.lobby.clients.values().next().unwrap().clone()
    }
}

// ================================================================ configuration

#[test]
fn an_admin_configures_each_channel_and_no_get_shows_a_secret() {
    let mut w = World::new();
    w.whatsapp();
    w.messenger();
    w.vk();
    let all = w
        .api(Route::ListChannels, &admin(), b"")
        .unwrap()
        .body
        .to_string();
    for secret in [
        APP_SECRET,
        "wa-verify",
        "wa-token",
        "fb-verify",
        "fb-token",
        VK_SECRET,
        "vk-token",
    ] {
        assert!(!all.contains(secret), "{secret} shown in {all}");
    }
    let wa = w
        .api(
            Route::GetChannel {
                channel: "whatsapp".into(),
            },
            &admin(),
            b"",
        )
        .unwrap()
        .body;
    assert_eq!(wa["phone_number_id"], WA_PHONE_ID);
    assert_eq!(wa["group"], "support");
    assert_eq!(wa["api_base"], "http://127.0.0.1:9");
    assert_eq!(wa["webhook"], "/hooks/acme/whatsapp");
    assert!(wa.get("access_token").is_none() && wa.get("app_secret").is_none());
    // VK's confirmation string is not a secret but is not needed by anyone reading: not shown.
    let vk = w
        .api(
            Route::GetChannel {
                channel: "vk".into(),
            },
            &admin(),
            b"",
        )
        .unwrap()
        .body;
    assert_eq!(vk["community_id"], VK_GROUP);
    assert!(vk.get("secret").is_none());
}

#[test]
fn bad_configurations_are_refused_and_change_nothing() {
    let mut w = World::new();
    let good = json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET,
                      "verify_token": "v", "access_token": "t", "group": "support"});
    let mut cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("whatsapp", b"{not json".to_vec(), 400),
        ("whatsapp", b"[1]".to_vec(), 422),
        ("telegram", serde_json::to_vec(&good).unwrap(), 404),
    ];
    for (field, value, status) in [
        ("app_secret", json!(""), 422),
        ("access_token", json!(null), 422),
        ("group", json!("nope"), 404),
        ("api_base", json!("ftp://x"), 422),
        ("phone_number_id", json!(["x"]), 422),
    ] {
        let mut b = good.clone();
        b[field] = value;
        cases.push(("whatsapp", serde_json::to_vec(&b).unwrap(), status));
    }
    // A Messenger body on the VK route.
    cases.push((
        "vk",
        serde_json::to_vec(
            &json!({"page_id": "1", "app_secret": "a", "verify_token": "v",
            "page_access_token": "t", "group": "support"}),
        )
        .unwrap(),
        422,
    ));
    for (channel, body, status) in cases {
        let e = w
            .api(
                Route::ConfigureChannel {
                    channel: channel.into(),
                },
                &admin(),
                &body,
            )
            .unwrap_err();
        assert_eq!(
            e.status(),
            status,
            "{channel} {}",
            String::from_utf8_lossy(&body)
        );
    }
    assert!(w.lobby.channels.get(Channel::Whatsapp).is_none());
    // Not an admin.
    let e = w
        .api(
            Route::ConfigureChannel {
                channel: "whatsapp".into(),
            },
            &ann(),
            &serde_json::to_vec(&good).unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 403);
    let e = w
        .api(
            Route::GetChannel {
                channel: "whatsapp".into(),
            },
            &admin(),
            b"",
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn the_channel_routes_resolve_and_hooks_are_routed_apart() {
    use lobby_core::api::route;
    assert_eq!(
        route("PUT", "/api/v1/channels/vk").unwrap(),
        Route::ConfigureChannel {
            channel: "vk".into()
        }
    );
    assert_eq!(
        route("GET", "/api/v1/channels/vk").unwrap(),
        Route::GetChannel {
            channel: "vk".into()
        }
    );
    assert_eq!(
        route("GET", "/api/v1/channels").unwrap(),
        Route::ListChannels
    );
    assert_eq!(
        route("POST", "/api/v1/channels/vk").unwrap_err().status(),
        405
    );
    assert_eq!(
        hook_route("POST", "/hooks/acme/whatsapp").unwrap().unwrap(),
        ("acme".to_string(), Channel::Whatsapp)
    );
    assert!(hook_route("POST", "/api/v1/queue").is_none());
    assert_eq!(
        hook_route("POST", "/hooks/acme/telegram")
            .unwrap()
            .unwrap_err()
            .status(),
        404
    );
    // The methods a channel's webhook answers: Meta's verify with a GET, VK only POSTs.
    let put = hook_route("PUT", "/hooks/acme/messenger")
        .unwrap()
        .unwrap_err();
    assert_eq!(put.status(), 405);
    assert_eq!(put.headers(), vec![("Allow", "GET, POST".to_string())]);
    for method in ["PUT", "GET"] {
        let e = hook_route(method, "/hooks/acme/vk").unwrap().unwrap_err();
        assert_eq!(e.status(), 405, "{method}");
        assert_eq!(e.headers(), vec![("Allow", "POST".to_string())]);
    }
    assert_eq!(
        hook_route("GET", "/hooks/Not_A_Slug/vk")
            .unwrap()
            .unwrap_err()
            .status(),
        404
    );
}

// ================================================================ webhooks in

#[test]
fn meta_verification_echoes_the_challenge_only_for_the_right_token() {
    let mut w = World::new();
    w.whatsapp();
    let get = |q: &str| HookRequest {
        method: "GET".into(),
        query: q.into(),
        signature: None,
        body: vec![],
    };
    let ok = w.hook(
        Channel::Whatsapp,
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wa-verify"),
    );
    assert_eq!((ok.status, ok.body.as_str()), (200, "1158201444"));
    assert!(ok.content_type.starts_with("text/plain"));
    let bad = w.hook(
        Channel::Whatsapp,
        get("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=nope"),
    );
    assert_eq!(bad.status, 403);
    assert!(bad.body.contains("\"code\""));
    // Not configured: 404, for any request.
    let none = w.hook(Channel::Messenger, get("hub.mode=subscribe"));
    assert_eq!(none.status, 404);
}

#[test]
fn a_whatsapp_user_becomes_a_waiting_client_and_retries_change_nothing() {
    let mut w = World::new();
    w.whatsapp();
    let body = whatsapp_text("wamid.A1", "Hello, I need help");
    let r = w.meta(Channel::Whatsapp, &body);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let c = w.only_client();
    assert_eq!(c.entry, EntryKind::Whatsapp);
    assert_eq!(c.details.name.as_deref(), Some("Test Name"));
    assert_eq!(c.details.phone.as_deref(), Some("972987654321"));
    assert_eq!(
        c.details.channel_user.as_deref(),
        Some("US.13491208655302741918")
    );
    assert!(
        matches!(&c.state, ClientState::Waiting { target: Target::Group(g), .. } if g == "support")
    );
    assert_eq!(
        w.messages(&c.session),
        vec![(Party::Client, "Hello, I need help".to_string())]
    );
    // No profile lookup for WhatsApp: the delivery names the user.
    assert!(w.lobby.outgoing.is_empty());

    // Meta re-delivers the same message: nothing changes (checked by `hook`).
    let again = w.meta(Channel::Whatsapp, &body);
    assert_eq!((again.status, again.events.len()), (200, 0));

    // A second message while waiting joins the same session.
    w.meta(
        Channel::Whatsapp,
        &whatsapp_text("wamid.A2", "Anyone there?"),
    );
    assert_eq!(w.only_client().session, c.session);
    // Accepted; the next message goes to Ann in the same session.
    let r = w
        .api(
            Route::Accept {
                client: c.id.clone(),
            },
            &ann(),
            b"",
        )
        .unwrap();
    assert_eq!(r.body["session"], json!(c.session));
    let r = w.meta(Channel::Whatsapp, &whatsapp_text("wamid.A3", "Thanks!"));
    assert!(r.events.iter().any(|e| matches!(e,
        Event::MessagePosted { operator: Some(o), from: Party::Client, .. } if o == "ann")));
    assert_eq!(w.messages(&c.session).len(), 3);
    assert_eq!(w.lobby.clients.len(), 1);
}

#[test]
fn unsigned_forged_and_malformed_meta_deliveries_are_refused_and_change_nothing() {
    let mut w = World::new();
    w.whatsapp();
    let body = whatsapp_text("wamid.F1", "forged");
    let unsigned = w.post(Channel::Whatsapp, &body, None);
    assert_eq!(unsigned.status, 401);
    let forged = w.post(
        Channel::Whatsapp,
        &body,
        Some(sign("another secret", &body)),
    );
    assert_eq!(forged.status, 403);
    let malformed_header = w.post(Channel::Whatsapp, &body, Some("sha1=abc".into()));
    assert_eq!(malformed_header.status, 400);
    // Signed over other bytes (a re-serialised body does not match).
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let moved = w.post(Channel::Whatsapp, &pretty, Some(sign(APP_SECRET, &body)));
    assert_eq!(moved.status, 403);
    let not_json = w.meta(Channel::Whatsapp, b"{\"object\": ");
    assert_eq!(not_json.status, 400);
    for r in [&unsigned, &forged, &malformed_header, &moved, &not_json] {
        assert!(r.events.is_empty());
        assert!(r.content_type.starts_with("application/json"));
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert!(v["error"]["code"].is_string(), "{}", r.body);
    }
    assert!(w.lobby.clients.is_empty());
}

#[test]
fn a_messenger_user_shows_its_id_until_the_profile_lookup_names_it() {
    let mut w = World::new();
    w.messenger();
    let r = w.meta(Channel::Messenger, &messenger_text("m_1", "hello, world!"));
    assert_eq!(r.status, 200);
    let c = w.only_client();
    assert_eq!(c.entry, EntryKind::Messenger);
    assert_eq!(c.details.name.as_deref(), Some("6783421865"));
    let due = w.lobby.due_outgoing(w.now);
    assert_eq!(due, vec![format!("{}.profile", c.id)]);
    let req = w.lobby.outbound_request(&due[0]).unwrap();
    assert_eq!(req.method, Method::Get);
    let (path, query) = req.url.split_once('?').unwrap();
    assert_eq!(path, "https://graph.facebook.com/v25.0/6783421865");
    let q = decode_form(query);
    let get = |k: &str| q.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
    assert_eq!(get("fields"), Some("first_name,last_name,profile_pic"));
    assert_eq!(get("access_token"), Some("fb-token"));
    assert_eq!(
        get("appsecret_proof"),
        Some(lobby_core::channels::messenger::appsecret_proof(APP_SECRET, "fb-token").as_str())
    );
    // The lookup's answer names the client.
    let events = w.cmd(Command::OutboundResult {
        id: due[0].clone(),
        status: 200,
        body: br#"{"first_name":"Peter","last_name":"Chang","profile_pic":"https://x.example/p.jpg","id":"6783421865"}"#.to_vec(),
        error: None,
    });
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::ClientRenamed { name, .. } if name == "Peter Chang")));
    assert_eq!(w.only_client().details.name.as_deref(), Some("Peter Chang"));
    // Operators who see the queue get the row again with the name; Ann is in `support`.
    let renamed = events
        .iter()
        .find(|e| matches!(e, Event::ClientRenamed { .. }))
        .unwrap();
    let ann_op = w.lobby.operators["ann"].clone();
    match w.lobby.operator_event(&ann_op, 9, renamed, w.now) {
        Some(wire::OperatorEvent::ClientWaiting { client, .. }) => {
            assert_eq!(client.name.as_deref(), Some("Peter Chang"));
            assert_eq!(client.entry, EntryKind::Messenger);
        }
        other => panic!("{other:?}"),
    }
    let adam = w.lobby.operators["adam"].clone();
    assert!(
        w.lobby.operator_event(&adam, 9, renamed, w.now).is_none(),
        "Adam is in no group"
    );
    assert!(w.lobby.outgoing.is_empty());
}

#[test]
fn vk_confirmation_secret_and_event_id_are_honoured() {
    let mut w = World::new();
    w.vk();
    // VK only POSTs: a GET is refused with the method it takes.
    let get = w.hook(
        Channel::Vk,
        HookRequest {
            method: "GET".into(),
            query: String::new(),
            signature: None,
            body: vec![],
        },
    );
    assert_eq!(get.status, 405);
    assert_eq!(get.headers, vec![("Allow", "POST".to_string())]);
    let mut confirm: Value =
        serde_json::from_str(fixture!("vk/confirmation_request.json")).unwrap();
    confirm["group_id"] = json!(VK_GROUP.parse::<i64>().unwrap());
    confirm["secret"] = json!(VK_SECRET);
    let r = w.post(Channel::Vk, &serde_json::to_vec(&confirm).unwrap(), None);
    assert_eq!((r.status, r.body.as_str()), (200, "d8v2ve07"));

    let wrong = w.post(Channel::Vk, &vk_message("ev1", 7, "hi", "wrong"), None);
    assert_eq!(wrong.status, 403);
    assert!(w.lobby.clients.is_empty());

    let body = vk_message("ev1", 7, "Привет", VK_SECRET);
    let r = w.post(Channel::Vk, &body, None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let c = w.only_client();
    assert_eq!(c.entry, EntryKind::Vk);
    assert!(
        matches!(&c.state, ClientState::Waiting { target: Target::Group(g), .. } if g == "sales")
    );
    let msgs = w.log.messages(&c.session, 0, 10);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].text, "Привет");
    assert_eq!(msgs[0].attachments.len(), 1, "the photo");
    // The same event again; then the same event id with another message id: both ignored.
    let again = w.post(Channel::Vk, &body, None);
    assert_eq!((again.body.as_str(), again.events.len()), ("ok", 0));
    let same_event = w.post(Channel::Vk, &vk_message("ev1", 8, "dup", VK_SECRET), None);
    assert_eq!(
        (same_event.body.as_str(), same_event.events.len()),
        ("ok", 0)
    );
    // An event type Lobby does not use is acknowledged and changes nothing.
    let mut join: Value = serde_json::from_str(fixture!("vk/group_join_doc_example.json")).unwrap();
    join["group_id"] = json!(VK_GROUP.parse::<i64>().unwrap());
    join["secret"] = json!(VK_SECRET);
    let r = w.post(Channel::Vk, &serde_json::to_vec(&join).unwrap(), None);
    assert_eq!((r.status, r.body.as_str(), r.events.len()), (200, "ok", 0));
    // The profile lookup is a users.get call.
    let due = w.lobby.due_outgoing(w.now);
    let req = w.lobby.outbound_request(&due[0]).unwrap();
    assert_eq!(req.url, "https://api.vk.com/method/users.get");
    let form = decode_form(std::str::from_utf8(&req.body).unwrap());
    assert!(form.contains(&("user_ids".into(), "555644284".into())));
}

#[test]
fn retries_are_recognised_after_a_snapshot_is_reloaded() {
    let mut w = World::new();
    w.vk();
    w.post(Channel::Vk, &vk_message("ev9", 9, "one", VK_SECRET), None);
    let snap = serde_json::to_string(&w.lobby).unwrap();
    let mut back: Lobby = serde_json::from_str(&snap).unwrap();
    back.reindex();
    w.lobby = back;
    let r = w.post(Channel::Vk, &vk_message("ev9", 9, "one", VK_SECRET), None);
    assert!(r.events.is_empty());
    assert_eq!(w.lobby.clients.len(), 1);
}

// ================================================================ replies out

/// A waiting WhatsApp client accepted by Ann; its session.
fn accepted_whatsapp(w: &mut World) -> String {
    w.whatsapp();
    w.meta(Channel::Whatsapp, &whatsapp_text("wamid.IN1", "Hi"));
    let c = w.only_client();
    w.api(Route::Accept { client: c.id }, &ann(), b"").unwrap();
    c.session
}

fn reply(w: &mut World, session: &str, text: &str) -> Result<Reply, ApiError> {
    w.api(
        Route::PostSessionMessage {
            session: session.into(),
        },
        &ann(),
        &serde_json::to_vec(&json!({ "text": text })).unwrap(),
    )
}

#[test]
fn an_operator_reply_goes_out_by_the_cloud_api_and_statuses_update_it() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    let r = reply(&mut w, &session, "How can I help?").unwrap();
    assert_eq!(r.body["seq"], 2);
    let due = w.lobby.due_outgoing(w.now);
    assert_eq!(due, vec![format!("{session}.2")]);
    let req = w.lobby.outbound_request(&due[0]).unwrap();
    assert_eq!(req.url, "http://127.0.0.1:9/v26.0/1122334455667/messages");
    assert_eq!(req.header("Authorization"), Some("Bearer wa-token"));
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "972987654321", "type": "text",
               "text": {"preview_url": false, "body": "How can I help?"}})
    );
    // Accepted by the provider with the id the documented status reports refer to.
    w.cmd(Command::OutboundResult {
        id: due[0].clone(),
        status: 200,
        body: br#"{"messaging_product":"whatsapp","contacts":[{"input":"972987654321","wa_id":"972987654321"}],"messages":[{"id":"wamid.xyzxyz"}]}"#.to_vec(),
        error: None,
    });
    assert!(w.lobby.outgoing.is_empty());
    let delivered = fixture!("whatsapp/status_delivered.json").as_bytes();
    let r = w.meta(Channel::Whatsapp, delivered);
    assert!(
        matches!(r.events.as_slice(), [Event::DeliveryUpdated { seq: 2, .. }]),
        "{:?}",
        r.events
    );
    let list = |w: &mut World| {
        w.api(
            Route::SessionMessages {
                session: session.clone(),
            },
            &ann(),
            b"",
        )
        .unwrap()
        .body["messages"]
            .clone()
    };
    assert_eq!(list(&mut w)[1]["delivery"], "delivered");
    // "sent" after "delivered" (out of order) does not go back; "read" moves on.
    let r = w.meta(
        Channel::Whatsapp,
        fixture!("whatsapp/status_sent.json").as_bytes(),
    );
    assert!(r.events.is_empty());
    w.meta(
        Channel::Whatsapp,
        fixture!("whatsapp/status_read.json").as_bytes(),
    );
    assert_eq!(list(&mut w)[1]["delivery"], "read");
    assert!(
        list(&mut w)[0].get("delivery").is_none(),
        "the client's message has none"
    );
}

#[test]
fn a_failed_send_is_retried_then_shown_to_the_operator() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    reply(&mut w, &session, "Are you there?").unwrap();
    let id = format!("{session}.2");
    // The provider is down: retried later, with growing pauses.
    let e = w.cmd(Command::OutboundResult {
        id: id.clone(),
        status: 503,
        body: b"unavailable".to_vec(),
        error: None,
    });
    let first = match e.as_slice() {
        [Event::OutboundFailed {
            next_at: Some(t), ..
        }] => *t,
        other => panic!("{other:?}"),
    };
    assert!(first > w.now);
    assert!(w.lobby.due_outgoing(w.now).is_empty());
    w.now = first;
    assert_eq!(w.lobby.due_outgoing(w.now), vec![id.clone()]);
    // No answer at all (network): retried too.
    let e = w.cmd(Command::OutboundResult {
        id: id.clone(),
        status: 0,
        body: vec![],
        error: Some("connection refused".into()),
    });
    assert!(matches!(e.as_slice(), [Event::OutboundFailed { next_at: Some(t), .. }] if *t > first));
    // A refusal that no retry can fix: given up, and the operator reads why.
    let e = w.cmd(Command::OutboundResult {
        id: id.clone(),
        status: 400,
        body: br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,"error_data":{"details":"More than 24 hours have passed"}}}"#.to_vec(),
        error: None,
    });
    assert!(
        matches!(
            e.as_slice(),
            [
                Event::OutboundFailed { next_at: None, .. },
                Event::MessagePosted {
                    from: Party::System,
                    ..
                }
            ]
        ),
        "{e:?}"
    );
    let last = w.messages(&session).pop().unwrap();
    assert_eq!(last.0, Party::System);
    assert!(
        last.1.contains("could not be delivered on WhatsApp") && last.1.contains("131047"),
        "{}",
        last.1
    );
    assert!(w.lobby.outgoing.is_empty());
}

/// The admin's view of a channel: how many calls it still owes, and when the next is due.
fn owed(w: &mut World, channel: &str) -> (Value, Value) {
    let v = w
        .api(
            Route::GetChannel {
                channel: channel.into(),
            },
            &admin(),
            b"",
        )
        .unwrap()
        .body;
    (v["owed"].clone(), v["next_attempt_at"].clone())
}

#[test]
fn the_admin_reads_what_a_channel_still_owes_until_the_provider_has_answered() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    w.vk();
    assert_eq!(owed(&mut w, "whatsapp"), (json!(0), Value::Null));
    reply(&mut w, &session, "Are you there?").unwrap();
    let id = format!("{session}.2");
    // Stored and due at once; another channel owes nothing.
    assert_eq!(
        owed(&mut w, "whatsapp"),
        (json!(1), json!(lobby_core::rfc3339(w.now)))
    );
    assert_eq!(owed(&mut w, "vk"), (json!(0), Value::Null));
    // A failure that will be retried is still owed, due after its pause.
    let e = w.cmd(Command::OutboundResult {
        id: id.clone(),
        status: 503,
        body: b"unavailable".to_vec(),
        error: None,
    });
    let Some(Event::OutboundFailed {
        next_at: Some(retry),
        ..
    }) = e.first()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        owed(&mut w, "whatsapp"),
        (json!(1), json!(lobby_core::rfc3339(*retry)))
    );
    // Settled by the provider's answer: nothing more will be sent.
    w.cmd(Command::OutboundResult {
        id,
        status: 200,
        body: br#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.OUT1"}]}"#.to_vec(),
        error: None,
    });
    assert_eq!(owed(&mut w, "whatsapp"), (json!(0), Value::Null));
    // A refusal no retry can fix settles it too.
    reply(&mut w, &session, "Still there?").unwrap();
    w.cmd(Command::OutboundResult {
        id: format!("{session}.3"),
        status: 400,
        body: br#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#.to_vec(),
        error: None,
    });
    assert_eq!(owed(&mut w, "whatsapp"), (json!(0), Value::Null));
    let listed = w.api(Route::ListChannels, &admin(), b"").unwrap().body;
    assert!(
        listed["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["owed"] == 0),
        "{listed}"
    );
}

#[test]
fn every_retry_gives_up_after_the_last_backoff() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    reply(&mut w, &session, "ping").unwrap();
    let id = format!("{session}.2");
    let mut attempts = 0;
    while w.lobby.outgoing.contains_key(&id) {
        attempts += 1;
        assert!(attempts <= 20, "never gave up");
        w.cmd(Command::OutboundResult {
            id: id.clone(),
            status: 500,
            body: vec![],
            error: None,
        });
    }
    assert_eq!(attempts, lobby_core::outbox::MAX_ATTEMPTS);
    assert_eq!(w.messages(&session).last().unwrap().0, Party::System);
}

#[test]
fn messenger_and_vk_replies_have_their_documented_shape() {
    let mut w = World::new();
    w.messenger();
    w.vk();
    // Ann serves both groups here.
    w.cmd(Command::UpdateOperator {
        operator: "ann".into(),
        name: None,
        groups: Some(vec!["support".into(), "sales".into()]),
        chat_limit: None,
    });
    w.meta(Channel::Messenger, &messenger_text("m_1", "hi"));
    w.post(Channel::Vk, &vk_message("ev1", 1, "hi", VK_SECRET), None);
    let ids: Vec<String> = w.lobby.clients.keys().cloned().collect();
    for c in &ids {
        w.api(Route::Accept { client: c.clone() }, &ann(), b"")
            .unwrap();
    }
    let fb = w
        .lobby
        .channel_client(Channel::Messenger, "6783421865")
        .unwrap()
        .session
        .clone();
    let vk = w
        .lobby
        .channel_client(Channel::Vk, "555644284")
        .unwrap()
        .session
        .clone();
    reply(&mut w, &fb, "Hello from Acme").unwrap();
    reply(&mut w, &vk, "Здравствуйте").unwrap();

    let req = w.lobby.outbound_request(&format!("{fb}.2")).unwrap();
    let (path, query) = req.url.split_once('?').unwrap();
    assert_eq!(
        path,
        format!("https://graph.facebook.com/v25.0/{PAGE_ID}/messages")
    );
    assert!(decode_form(query).contains(&(
        "appsecret_proof".into(),
        lobby_core::channels::messenger::appsecret_proof(APP_SECRET, "fb-token")
    )));
    assert_eq!(
        serde_json::from_slice::<Value>(&req.body).unwrap(),
        json!({"recipient": {"id": "6783421865"}, "messaging_type": "RESPONSE",
               "message": {"text": "Hello from Acme"}})
    );

    let req = w.lobby.outbound_request(&format!("{vk}.2")).unwrap();
    assert_eq!(req.url, "https://api.vk.com/method/messages.send");
    let form = decode_form(std::str::from_utf8(&req.body).unwrap());
    let get = |k: &str| form.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    assert_eq!(get("peer_id").as_deref(), Some("555644284"));
    assert_eq!(get("message").as_deref(), Some("Здравствуйте"));
    assert_eq!(get("v").as_deref(), Some("5.199"));
    let random_id = get("random_id").unwrap();
    // The same owed send builds the same random_id on every attempt.
    let again = w.lobby.outbound_request(&format!("{vk}.2")).unwrap();
    assert_eq!(again.body, req.body);
    assert_ne!(random_id, "0");
    // VK answers errors with HTTP 200: a flood-control error is retried.
    let e = w.cmd(Command::OutboundResult {
        id: format!("{vk}.2"),
        status: 200,
        body: br#"{"error":{"error_code":9,"error_msg":"Flood control"}}"#.to_vec(),
        error: None,
    });
    assert!(matches!(
        e.as_slice(),
        [Event::OutboundFailed {
            next_at: Some(_),
            ..
        }]
    ));
}

#[test]
fn whatsapp_free_text_is_refused_outside_the_24_hour_window() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    w.now += 24 * 3_600_000;
    let e = reply(&mut w, &session, "Still there?").unwrap_err();
    assert_eq!(e.status(), 409);
    assert!(e.to_string().contains("24 hours"));
    // The client writes again: the window opens again.
    w.meta(Channel::Whatsapp, &whatsapp_text("wamid.IN2", "yes"));
    reply(&mut w, &session, "Great").unwrap();
}

#[test]
fn a_redirected_channel_client_keeps_its_conversation() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    let c = w.only_client();
    w.api(
        Route::Redirect {
            client: c.id.clone(),
        },
        &ann(),
        &serde_json::to_vec(&json!({"group": "sales"})).unwrap(),
    )
    .unwrap();
    let c = w.only_client();
    assert!(
        matches!(&c.state, ClientState::Waiting { target: Target::Group(g), .. } if g == "sales")
    );
    assert_eq!(c.entry, EntryKind::Whatsapp);
    w.meta(Channel::Whatsapp, &whatsapp_text("wamid.IN3", "hello?"));
    assert_eq!(w.only_client().session, session);
    assert_eq!(w.messages(&session).len(), 2);
}

#[test]
fn a_user_who_writes_after_the_session_closed_starts_a_new_one() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    w.cmd(Command::Close {
        session: session.clone(),
        by: lobby_core::lobby::Closer::Operator("ann".into()),
    });
    assert!(w.lobby.clients.is_empty());
    // A late retry of the first message still changes nothing.
    let r = w.meta(Channel::Whatsapp, &whatsapp_text("wamid.IN1", "Hi"));
    assert!(r.events.is_empty());
    w.meta(Channel::Whatsapp, &whatsapp_text("wamid.NEW", "Me again"));
    let c = w.only_client();
    assert_ne!(c.session, session);
    assert_eq!(
        w.messages(&c.session),
        vec![(Party::Client, "Me again".to_string())]
    );
}

// ================================================================ WhatsApp templates

fn with_templates(w: &mut World) {
    w.configure(
        "whatsapp",
        json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET,
               "verify_token": "wa-verify", "access_token": "wa-token", "group": "support",
               "templates": [
                   {"name": "Subscribe", "language": "en_US", "parameters": ["topic"]},
                   {"name": "hello_again", "language": "cs"}]}),
    )
    .unwrap();
}

#[test]
fn outside_the_window_free_text_is_refused_offering_the_templates_which_go_out() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    with_templates(&mut w);
    let shown = w.api(Route::WhatsappTemplates, &ann(), b"").unwrap().body;
    assert_eq!(shown["templates"][0]["name"], "Subscribe");
    assert_eq!(shown["templates"][1]["parameters"], json!([]));

    w.now += 25 * 3_600_000;
    let e = reply(&mut w, &session, "Hello?").unwrap_err();
    assert_eq!((e.status(), e.code()), (409, "window_closed"));
    let m = e.to_string();
    assert!(
        m.contains("Subscribe (topic)") && m.contains("hello_again"),
        "{m}"
    );
    assert!(
        m.contains(&format!("/api/v1/sessions/{session}/template")),
        "{m}"
    );

    let send = |w: &mut World, body: Value| {
        w.api(
            Route::SendTemplate {
                session: session.clone(),
            },
            &ann(),
            &serde_json::to_vec(&body).unwrap(),
        )
    };
    assert_eq!(
        send(&mut w, json!({"name": "nope"})).unwrap_err().status(),
        404
    );
    assert_eq!(
        send(&mut w, json!({"name": "Subscribe"}))
            .unwrap_err()
            .status(),
        422
    );
    assert_eq!(
        send(&mut w, json!({"name": "Subscribe", "values": ["  "]}))
            .unwrap_err()
            .status(),
        422
    );
    assert_eq!(
        send(&mut w, json!({"values": []})).unwrap_err().status(),
        422
    );
    let r = send(
        &mut w,
        json!({"name": "Subscribe", "values": ["newsletter"]}),
    )
    .unwrap();
    assert_eq!((r.status, r.body["seq"].clone()), (201, json!(2)));
    assert_eq!(
        w.messages(&session).last().unwrap(),
        &(
            Party::Operator,
            "[template Subscribe] newsletter".to_string()
        )
    );
    let req = w.lobby.outbound_request(&format!("{session}.2")).unwrap();
    let mut expected: Value =
        serde_json::from_str(fixture!("whatsapp/send_template_request_body.json")).unwrap();
    expected["to"] = json!("972987654321");
    assert_eq!(
        serde_json::from_slice::<Value>(&req.body).unwrap(),
        expected
    );
    // Another operator may not send in Ann's session; a non-WhatsApp session has no templates.
    let e = w
        .api(
            Route::SendTemplate {
                session: session.clone(),
            },
            &admin(),
            &serde_json::to_vec(&json!({"name": "hello_again"})).unwrap(),
        )
        .unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn template_configuration_is_validated() {
    let mut w = World::new();
    for templates in [
        json!([{"name": "bad name", "language": "en"}]),
        json!([{"name": "ok", "language": ""}]),
        json!([{"name": "ok", "language": "en", "parameters": [""]}]),
        json!([{"name": "ok", "language": "en"}, {"name": "ok", "language": "cs"}]),
        json!([{"name": "ok"}]),
    ] {
        let e = w
            .configure(
                "whatsapp",
                json!({"phone_number_id": WA_PHONE_ID, "app_secret": APP_SECRET,
                       "verify_token": "v", "access_token": "t", "group": "support",
                       "templates": templates}),
            )
            .unwrap_err();
        assert_eq!(e.status(), 422, "{templates}");
    }
    assert!(w.lobby.channels.whatsapp.is_none());
}

#[test]
fn pictures_go_as_image_messages_where_the_channel_has_them_and_as_links_on_vk() {
    let mut w = World::new();
    let session = accepted_whatsapp(&mut w);
    let r = w
        .api(
            Route::PostSessionMessage {
                session: session.clone(),
            },
            &ann(),
            &serde_json::to_vec(&json!({"text": "Here is the map and the terms",
                "attachments": [{"url": "https://acme.example/map.PNG?v=2"},
                                {"url": "https://acme.example/terms.pdf", "name": "Terms"}]}))
            .unwrap(),
        )
        .unwrap();
    assert_eq!(r.body["seq"], 2);
    assert_eq!(
        w.lobby.due_outgoing(w.now),
        vec![format!("{session}.2"), format!("{session}.2.1")]
    );
    let text = w.lobby.outbound_request(&format!("{session}.2")).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&text.body).unwrap()["text"]["body"],
        "Here is the map and the terms\nhttps://acme.example/terms.pdf"
    );
    let image = w.lobby.outbound_request(&format!("{session}.2.1")).unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&image.body).unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "972987654321", "type": "image",
               "image": {"link": "https://acme.example/map.PNG?v=2"}})
    );
    // A picture alone owes only the picture; each is settled on its own.
    w.api(
        Route::PostSessionMessage {
            session: session.clone(),
        },
        &ann(),
        &serde_json::to_vec(&json!({"text": "", "attachments": [
            {"url": "https://acme.example/photo", "kind": "image"}]}))
        .unwrap(),
    )
    .unwrap();
    assert!(w.lobby.outgoing.contains_key(&format!("{session}.3.1")));
    assert!(!w.lobby.outgoing.contains_key(&format!("{session}.3")));
    w.cmd(Command::OutboundResult {
        id: format!("{session}.2.1"),
        status: 200,
        body: br#"{"messages":[{"id":"wamid.IMG"}]}"#.to_vec(),
        error: None,
    });
    assert!(!w.lobby.outgoing.contains_key(&format!("{session}.2.1")));
    assert!(w.lobby.outgoing.contains_key(&format!("{session}.2")));

    // VK: the picture's URL goes in the text.
    let mut w = World::new();
    w.vk();
    w.cmd(Command::UpdateOperator {
        operator: "ann".into(),
        name: None,
        groups: Some(vec!["sales".into()]),
        chat_limit: None,
    });
    w.post(Channel::Vk, &vk_message("ev1", 1, "hi", VK_SECRET), None);
    let c = w.only_client();
    w.api(Route::Accept { client: c.id }, &ann(), b"").unwrap();
    w.api(
        Route::PostSessionMessage {
            session: c.session.clone(),
        },
        &ann(),
        &serde_json::to_vec(
            &json!({"text": "Look", "attachments": [{"url": "https://acme.example/a.jpg"}]}),
        )
        .unwrap(),
    )
    .unwrap();
    let req = w
        .lobby
        .outbound_request(&format!("{}.2", c.session))
        .unwrap();
    let form = decode_form(std::str::from_utf8(&req.body).unwrap());
    assert!(form.contains(&("message".into(), "Look\nhttps://acme.example/a.jpg".into())));
    assert_eq!(
        w.lobby.outgoing.len(),
        2,
        "the reply and the profile lookup"
    );
}

#[test]
fn messenger_deliveries_by_id_and_reads_by_watermark_update_the_operators_messages() {
    let mut w = World::new();
    w.messenger();
    w.meta(Channel::Messenger, &messenger_text("m_1", "hi"));
    let c = w.only_client();
    w.api(Route::Accept { client: c.id }, &ann(), b"").unwrap();
    let session = c.session;
    for (n, text) in ["one", "two"].iter().enumerate() {
        reply(&mut w, &session, text).unwrap();
        w.cmd(Command::OutboundResult {
            id: format!("{session}.{}", n + 2),
            status: 200,
            body: format!(r#"{{"recipient_id":"6783421865","message_id":"mid.out.{n}"}}"#)
                .into_bytes(),
            error: None,
        });
        w.now += 1000;
    }
    let item = |kind: &str, report: Value| {
        let mut v: Value = serde_json::from_str(match kind {
            "delivery" => fixture!("messenger/meta_doc_message_deliveries.json"),
            _ => fixture!("messenger/meta_doc_message_reads.json"),
        })
        .unwrap();
        v["sender"]["id"] = json!("6783421865");
        v["recipient"]["id"] = json!(PAGE_ID);
        v[kind] = report;
        serde_json::to_vec(&json!({"object": "page", "entry": [
            {"id": PAGE_ID, "time": 1, "messaging": [v]}]}))
        .unwrap()
    };
    // Delivered: the first message, by its id.
    let r = w.meta(
        Channel::Messenger,
        &item("delivery", json!({"mids": ["mid.out.0"], "watermark": 1})),
    );
    assert!(
        matches!(
            r.events.as_slice(),
            [Event::DeliveryUpdated {
                seq: 2,
                state: lobby_core::channels::DeliveryState::Delivered,
                ..
            }]
        ),
        "{:?}",
        r.events
    );
    // Read up to a moment between the two sends: only the first one.
    let r = w.meta(
        Channel::Messenger,
        &item("read", json!({"watermark": T0 + 500})),
    );
    assert!(
        matches!(
            r.events.as_slice(),
            [Event::DeliveryUpdated {
                seq: 2,
                state: lobby_core::channels::DeliveryState::Read,
                ..
            }]
        ),
        "{:?}",
        r.events
    );
    // Read up to now: the second one too; the first stays read (nothing new for it).
    let r = w.meta(
        Channel::Messenger,
        &item("read", json!({"watermark": w.now})),
    );
    assert!(
        matches!(r.events.as_slice(), [Event::DeliveryUpdated { seq: 3, .. }]),
        "{:?}",
        r.events
    );
    assert_eq!(
        w.lobby.delivery_of(&session, 2).map(|d| d.0),
        Some(lobby_core::channels::DeliveryState::Read)
    );
}
