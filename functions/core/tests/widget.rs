//! The widget's server side through `Lobby::call` and `Lobby::handle`: the widget's config
//! (buttons, form rules, online), entries refused by those rules, invitation codes and the
//! wrong-code guard, the offline form and its outbox (retries, give-up, sent), honest wait
//! estimates, the typing peer, and that the replies' events replay to the same state.
//!
//! Every call goes through [`World::ctx_call`], which checks that a refusal changes nothing
//! (the guard, stored beside the journal rather than in it, is not part of the compared state)
//! and journals the events.

mod support;

use std::sync::OnceLock;

use lobby_core::api::{Actor, Ctx, Meta, Reply, Route};
use lobby_core::invitation::{self, Guard, MAX_WRONG_PER_ADDRESS, MAX_WRONG_PER_TENANT, WINDOW_MS};
use lobby_core::lobby::{Command, Event, Lobby, Millis, Target, ESTIMATE_WINDOW_MS};
use lobby_core::outbox::{self, Mail, MAX_ATTEMPTS};
use lobby_core::request::{Call, Outcome};
use lobby_core::ApiError;
use lobby_wire as wire;
use serde_json::{json, Value};
use support::{browser, entropy, op_id, page_at, World, ORIGIN, SECRET};

const MINUTE: Millis = 60_000;

fn webchat(name: &str) -> Value {
    json!({"entry": "webchat", "form": {"name": name, "phone": "+420 777 000 111"}})
}

fn invitation_entry(code: &str) -> Value {
    json!({"entry": "invitation", "code": code, "form": {"name": "Invited"}})
}

impl World {
    /// Tenant `acme`: groups Sales and Support; Ann (2 chats) and Bea (5 chats) in Sales, Sam
    /// in Support; the Sales widget on https://shop.example with an offline address (all
    /// buttons, all fields optional) as `widget_key`/`widget_id`, and as `chat_only_key` a Sales
    /// widget with only the webchat button, e-mail required, name hidden, on the same origin,
    /// without an offline address. Built once, cloned per test.
    fn new() -> Self {
        static BUILT: OnceLock<World> = OnceLock::new();
        World::built_once(&BUILT, || {
            let mut w = World::acme();
            let (sales, support) = (w.sales.clone(), w.support.clone());
            w.bea = w.member("Bea", &sales, 5);
            w.sam = w.member("Sam", &support, 3);
            w.shop_widget();
            let r = w.widget(json!({"name": "Chat only", "group": w.sales,
                           "allowed_origins": [ORIGIN],
                           "buttons": ["webchat"],
                           "form": {"name": "hidden", "email": "required"}}));
            w.chat_only_key = r.body["key"].as_str().unwrap().to_string();
            w
        })
    }

    fn config(&mut self, key: &str, meta: &Meta) -> Result<wire::WidgetConfig, ApiError> {
        let r = self.call(
            Route::WidgetConfig {
                key: key.to_string(),
            },
            &Actor::Anonymous,
            Value::Null,
            meta,
        )?;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(r.events.is_empty(), "reading the config changes nothing");
        Ok(serde_json::from_value(r.body).unwrap())
    }

    /// An entry that must be refused: status and code.
    #[track_caller]
    fn enter_refused(&mut self, body: Value, meta: &Meta) -> (u16, String) {
        let key = self.widget_key.clone();
        self.refused_json(Route::WidgetEntry { key }, &Actor::Anonymous, body, meta)
    }

    /// `POST /api/v1/invitations` as `op` → the code and its expiry.
    #[track_caller]
    fn invite(&mut self, op: &Actor, body: Value) -> wire::InvitationCreated {
        let r = self.ok(Route::CreateInvitation, op, body);
        assert_eq!(r.status, 201, "{:?}", r.body);
        serde_json::from_value(r.body).unwrap()
    }

    fn queue_ids(&mut self, op: &Actor) -> Vec<String> {
        let r = self.ok(Route::Queue, op, Value::Null);
        let q: wire::QueueList = serde_json::from_value(r.body).unwrap();
        q.clients.into_iter().map(|c| c.id).collect()
    }

    fn accept(&mut self, op: &Actor, client: &str) -> Result<Reply, ApiError> {
        self.call(
            Route::Accept {
                client: client.to_string(),
            },
            op,
            Value::Null,
            &browser(),
        )
    }

    fn offline(&mut self, key: &str, body: Value, meta: &Meta) -> Result<Reply, ApiError> {
        self.call(
            Route::WidgetOffline {
                key: key.to_string(),
            },
            &Actor::Anonymous,
            body,
            meta,
        )
    }

    /// A code no invitation holds.
    fn unused_code(&self) -> String {
        (0..1_000_000)
            .map(|n| format!("{n:06}"))
            .find(|c| !self.lobby.invitations.contains_key(c))
            .unwrap()
    }

    /// The replies' events replay to the same state, directly and through a snapshot.
    #[track_caller]
    fn check_replay_and_snapshot(&self) {
        self.check_replay();
        self.check_snapshot();
    }
}

// ---------------------------------------------------------------- widget config

#[test]
fn config_shows_buttons_form_rules_and_whether_someone_of_the_group_is_online() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    let c = w.config(&key, &browser()).unwrap();
    assert_eq!(c.name, "Shop chat");
    assert_eq!(
        c.buttons,
        vec![
            wire::EntryKind::Webchat,
            wire::EntryKind::Video,
            wire::EntryKind::Callback
        ],
        "the default buttons"
    );
    assert_eq!(c.form, wire::FormRules::default());
    assert_eq!(c.form.name, wire::FieldRule::Optional);
    assert_eq!(c.languages, vec!["en".to_string(), "cs".to_string()]);
    assert!(!c.online, "operators start offline");

    // Someone of another group online does not count.
    let sam = w.sam.clone();
    w.status(&sam, "online");
    assert!(!w.config(&key, &browser()).unwrap().online);

    // Away is not online; online is.
    let ann = w.ann.clone();
    w.status(&ann, "away");
    assert!(!w.config(&key, &browser()).unwrap().online);
    w.status(&ann, "online");
    assert!(w.config(&key, &browser()).unwrap().online);
    w.status(&ann, "offline");
    assert!(!w.config(&key, &browser()).unwrap().online);

    // The chat-only widget's own rules, as created.
    let chat_only = w.chat_only_key.clone();
    let c = w.config(&chat_only, &browser()).unwrap();
    assert_eq!(c.name, "Chat only");
    assert_eq!(c.buttons, vec![wire::EntryKind::Webchat]);
    assert_eq!(
        c.form,
        wire::FormRules {
            name: wire::FieldRule::Hidden,
            phone: wire::FieldRule::Optional,
            email: wire::FieldRule::Required,
        }
    );
    // As the wire shows it.
    let r = w
        .call(
            Route::WidgetConfig { key: chat_only },
            &Actor::Anonymous,
            Value::Null,
            &browser(),
        )
        .unwrap();
    assert_eq!(
        r.body["form"],
        json!({"name": "hidden", "phone": "optional", "email": "required"})
    );
    assert_eq!(r.body["buttons"], json!(["webchat"]));
    w.check_replay_and_snapshot();
}

#[test]
fn config_for_a_page_on_another_origin_is_refused() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    for origin in [
        Some("https://evil.example"),
        Some("http://shop.example"),
        Some("https://shop.example.evil.example"),
        None,
    ] {
        let meta = Meta {
            origin: origin.map(str::to_string),
            ..browser()
        };
        let e = w.config(&key, &meta).unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (403, "origin_not_allowed"),
            "{origin:?}"
        );
    }
    // The allowed origin as browsers may write it.
    let meta = Meta {
        origin: Some("HTTPS://SHOP.EXAMPLE".into()),
        ..browser()
    };
    assert!(w.config(&key, &meta).is_ok());
    // An unknown key of this tenant.
    let e = w.config("acme.nosuchwidget", &browser()).unwrap_err();
    assert_eq!(e.status(), 404);
}

#[test]
fn every_widget_route_answers_404_for_a_key_of_a_tenant_that_does_not_exist() {
    let mut w = World::new();
    // The coordinator of a tenant nobody created: the key names it, nothing else does.
    w.lobby = Lobby::default();
    let key = "nosuch.k1".to_string();
    for route in [
        Route::WidgetConfig { key: key.clone() },
        Route::WidgetOffline { key: key.clone() },
        Route::WidgetEntry { key: key.clone() },
    ] {
        let (status, code) = w.refused_json(
            route.clone(),
            &Actor::Anonymous,
            offline_body("hello"),
            &browser(),
        );
        assert_eq!((status, code.as_str()), (404, "not_found"), "{route:?}");
    }
}

#[test]
fn widget_buttons_are_checked_when_created() {
    let mut w = World::new();
    let admin = w.admin.clone();
    let sales = w.sales.clone();
    for buttons in [json!([]), json!(["messenger"]), json!(["invitation"])] {
        let (status, code) = w.refused_json(
            Route::CreateWidget,
            &admin,
            json!({"name": "x", "group": sales, "buttons": buttons}),
            &browser(),
        );
        assert_eq!((status, code.as_str()), (422, "invalid_body"), "{buttons}");
    }
    // Repeated buttons are kept once, in order.
    let r = w.ok(
        Route::CreateWidget,
        &admin,
        json!({"name": "x", "group": sales, "buttons": ["callback", "webchat", "callback"]}),
    );
    let key = r.body["key"].as_str().unwrap().to_string();
    assert_eq!(
        w.config(&key, &browser()).unwrap().buttons,
        vec![wire::EntryKind::Callback, wire::EntryKind::Webchat]
    );
    w.check_replay_and_snapshot();
}

// ---------------------------------------------------------------- entries and form rules

#[test]
fn a_chat_only_widget_refuses_video_and_callback_entries() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let key = w.chat_only_key.clone();
    for entry in [
        json!({"entry": "video", "form": {"email": "a@b.example"}}),
        json!({"entry": "callback", "form": {"email": "a@b.example", "phone": "+420 777 1"}}),
    ] {
        let (status, code) = w.refused_json(
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            entry.clone(),
            &browser(),
        );
        assert_eq!((status, code.as_str()), (422, "invalid_body"), "{entry}");
    }
    // Its webchat button works.
    let r = w
        .call(
            Route::WidgetEntry { key },
            &Actor::Anonymous,
            json!({"entry": "webchat", "form": {"email": "a@b.example"}}),
            &browser(),
        )
        .unwrap();
    assert_eq!(r.status, 201, "{:?}", r.body);
    // The main widget offers video.
    w.enter(json!({"entry": "video", "form": {"name": "Vic"}}));
    w.check_replay_and_snapshot();
}

#[test]
fn a_required_form_field_must_be_given() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let key = w.chat_only_key.clone();
    for form in [
        json!({}),
        json!({"name": "Jana", "phone": "+420 777 000 111"}),
        json!({"email": "   "}),
    ] {
        let (status, code) = w.refused_json(
            Route::WidgetEntry { key: key.clone() },
            &Actor::Anonymous,
            json!({"entry": "webchat", "form": form}),
            &browser(),
        );
        assert_eq!((status, code.as_str()), (422, "invalid_body"), "{form}");
    }
    assert!(w.queue_ids(&ann).is_empty(), "nothing was queued");
    let r = w
        .call(
            Route::WidgetEntry { key },
            &Actor::Anonymous,
            json!({"entry": "webchat", "form": {"email": "jana@example.cz"}}),
            &browser(),
        )
        .unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(w.queue_ids(&ann).len(), 1);
    w.check_replay_and_snapshot();
}

// ---------------------------------------------------------------- invitations

#[test]
fn an_operator_creates_six_digit_codes_that_expire_in_ten_minutes_by_default() {
    let mut w = World::new();
    let ann = w.ann.clone();
    let inv = w.invite(&ann, Value::Null);
    assert!(invitation::well_formed(&inv.code), "{inv:?}");
    assert_eq!(inv.expires_at, lobby_core::rfc3339(w.now + 600_000));
    let stored = &w.lobby.invitations[&inv.code];
    assert_eq!(stored.operator, op_id(&ann));
    assert_eq!(stored.expires_at, w.now + 600_000);
    assert!(!stored.used);
    assert!(matches!(
        w.journal.last(),
        Some((Event::InvitationCreated { invitation }, _)) if invitation == stored
    ));

    // An empty object is the default too; expires_in is bounded 60..86400 seconds.
    let inv = w.invite(&ann, json!({}));
    assert_eq!(inv.expires_at, lobby_core::rfc3339(w.now + 600_000));
    let inv = w.invite(&ann, json!({"expires_in": 60}));
    assert_eq!(inv.expires_at, lobby_core::rfc3339(w.now + 60_000));
    let inv = w.invite(&ann, json!({"expires_in": 86_400}));
    assert_eq!(inv.expires_at, lobby_core::rfc3339(w.now + 86_400_000));
    for bad in [
        json!({"expires_in": 59}),
        json!({"expires_in": 86_401}),
        json!({"expires_in": 0}),
        json!({"expires_in": -600}),
        json!({"expires_in": "600"}),
        json!({"expires_in": 1.5}),
    ] {
        let (status, code) = w.refused_json(Route::CreateInvitation, &ann, bad.clone(), &browser());
        assert_eq!((status, code.as_str()), (422, "invalid_body"), "{bad}");
    }
    // Only operators make codes.
    let (status, _) = w.refused_json(
        Route::CreateInvitation,
        &Actor::Anonymous,
        Value::Null,
        &browser(),
    );
    assert_eq!(status, 403);

    // Four codes, all different (they are the state's keys).
    assert_eq!(w.lobby.invitations.len(), 4);
    w.check_replay_and_snapshot();
}

#[test]
fn a_client_with_a_code_waits_for_the_inviting_operator_only() {
    let mut w = World::new();
    let (ann, bea) = (w.ann.clone(), w.bea.clone());
    w.status(&ann, "online");
    w.status(&bea, "online");
    let inv = w.invite(&ann, Value::Null);
    // Someone waits in the Sales queue already.
    let other = w.enter(webchat("Queued"));

    let invited = w.enter(invitation_entry(&inv.code));
    assert_eq!(invited.status, wire::ClientStatus::Waiting);
    assert_eq!(invited.position, 1, "first in Ann's own queue");
    assert_eq!(invited.estimated_wait_seconds, None);
    // The events: the code was used, then the client entered for Ann.
    let n = w.journal.len();
    assert!(matches!(&w.journal[n - 2].0, Event::InvitationUsed { code } if *code == inv.code));
    assert!(matches!(
        &w.journal[n - 1].0,
        Event::ClientEntered { entry: wire::EntryKind::Invitation, target: Target::Operator(o), .. }
            if *o == op_id(&ann)
    ));
    assert!(w.lobby.invitations[&inv.code].used);

    // Ann sees both; Bea of the same group only the group's client.
    let ann_queue = w.queue_ids(&ann);
    assert!(ann_queue.contains(&invited.client) && ann_queue.contains(&other.client));
    assert_eq!(w.queue_ids(&bea), vec![other.client.clone()]);
    let r = w.ok(Route::Queue, &ann, Value::Null);
    let q: wire::QueueList = serde_json::from_value(r.body).unwrap();
    let row = q.clients.iter().find(|c| c.id == invited.client).unwrap();
    assert_eq!(row.entry, wire::EntryKind::Invitation);
    assert_eq!(row.operator.as_deref(), Some(op_id(&ann).as_str()));
    assert_eq!(row.group, None);

    // Bea can neither accept nor look at it; Ann accepts.
    let e = w.accept(&bea, &invited.client).unwrap_err();
    assert_eq!(e.status(), 404, "{e:?}");
    let (status, _) = w.refused_json(
        Route::Preview {
            client: invited.client.clone(),
        },
        &bea,
        Value::Null,
        &browser(),
    );
    assert_eq!(status, 404);
    let r = w.accept(&ann, &invited.client).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        w.lobby.typing_peer(&invited.client),
        Some((op_id(&ann), invited.session.clone()))
    );
    w.check_replay_and_snapshot();
}

#[test]
fn a_code_is_single_use() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let inv = w.invite(&ann, Value::Null);
    w.enter(invitation_entry(&inv.code));
    let (status, code) = w.enter_refused(invitation_entry(&inv.code), &page_at("198.51.100.1"));
    assert_eq!((status, code.as_str()), (409, "code_used"));
    assert_eq!(w.queue_ids(&ann).len(), 1, "the second use queued nobody");
    w.check_replay_and_snapshot();
}

#[test]
fn a_used_code_is_still_reported_as_used_after_the_operator_makes_another() {
    // Creating an invitation prunes used and expired ones from the state; a second use of
    // the pruned code must still be told "used", not "not valid".
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let inv = w.invite(&ann, Value::Null);
    w.enter(invitation_entry(&inv.code));
    w.invite(&ann, Value::Null);
    let (status, code) = w.enter_refused(invitation_entry(&inv.code), &page_at("198.51.100.1"));
    assert_eq!((status, code.as_str()), (409, "code_used"));
}

#[test]
fn an_expired_code_is_gone() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let first = w.invite(&ann, json!({"expires_in": 60}));
    let second = w.invite(&ann, json!({"expires_in": 60}));
    // One second before it expires a code works (each call is one second after the last).
    w.now = w.lobby.invitations[&first.code].expires_at - 2000;
    w.enter(invitation_entry(&first.code));
    // At its expiry it is refused.
    w.now = w.lobby.invitations[&second.code].expires_at - 1000;
    let (status, code) = w.enter_refused(invitation_entry(&second.code), &browser());
    assert_eq!((status, code.as_str()), (410, "code_expired"));
    assert!(!w.lobby.invitations[&second.code].used);
    // Later too.
    let default = w.invite(&ann, Value::Null);
    w.now += 601_000;
    let (status, code) = w.enter_refused(invitation_entry(&default.code), &page_at("198.51.100.9"));
    assert_eq!((status, code.as_str()), (410, "code_expired"));
    w.check_replay_and_snapshot();
}

#[test]
fn a_wrong_or_malformed_code_is_refused() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    w.invite(&ann, Value::Null);
    let wrong = w.unused_code();
    let (status, code) = w.enter_refused(invitation_entry(&wrong), &browser());
    assert_eq!((status, code.as_str()), (422, "invalid_code"));
    for bad in [
        json!({"entry": "invitation", "code": "12345"}),
        json!({"entry": "invitation", "code": "1234567"}),
        json!({"entry": "invitation", "code": "12a456"}),
        json!({"entry": "invitation", "code": "１２３４５６"}),
        json!({"entry": "invitation", "code": ""}),
        json!({"entry": "invitation"}),
        json!({"entry": "invitation", "code": 123456}),
    ] {
        let (status, code) = w.enter_refused(bad.clone(), &browser());
        assert_eq!((status, code.as_str()), (422, "invalid_body"), "{bad}");
    }
    assert!(w.queue_ids(&ann).is_empty());
    w.check_replay_and_snapshot();
}

#[test]
fn a_valid_code_while_its_operator_is_offline_is_not_used_up() {
    let mut w = World::new();
    let (ann, bea) = (w.ann.clone(), w.bea.clone());
    w.status(&bea, "online"); // the group has someone, the inviting operator is away
    let inv = w.invite(&ann, Value::Null);
    let r = w
        .enter_from(invitation_entry(&inv.code), &browser())
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"status": "offline"}));
    assert!(r.events.is_empty());
    assert!(!w.lobby.invitations[&inv.code].used);
    w.status(&ann, "online");
    let e = w.enter(invitation_entry(&inv.code));
    assert!(w.queue_ids(&ann).contains(&e.client));
    assert!(!w.queue_ids(&bea).contains(&e.client));
    w.check_replay_and_snapshot();
}

#[test]
fn ten_wrong_codes_from_one_address_then_429_even_for_a_valid_code() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let inv = w.invite(&ann, json!({"expires_in": 3600}));
    let guesser = page_at("192.0.2.66");
    let first_wrong = w.now + 1000;
    for i in 0..MAX_WRONG_PER_ADDRESS {
        let wrong = w.unused_code();
        let (status, code) = w.enter_refused(invitation_entry(&wrong), &guesser);
        assert_eq!((status, code.as_str()), (422, "invalid_code"), "guess {i}");
    }
    // The 11th attempt, even with the right code.
    let (status, code) = w.enter_refused(invitation_entry(&inv.code), &guesser);
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(
        !w.lobby.invitations[&inv.code].used,
        "a refused try uses nothing"
    );
    // Ordinary entries from that address are not throttled.
    let e = w.enter_from(webchat("Same network"), &guesser).unwrap();
    assert_eq!(e.status, 201);

    // Another address gets through with the code.
    let e = w
        .enter_from(invitation_entry(&inv.code), &page_at("198.51.100.7"))
        .unwrap();
    assert_eq!(e.status, 201, "{:?}", e.body);

    // The window slides: just before ten minutes after the first wrong guess still 429...
    let fresh = w.invite(&ann, json!({"expires_in": 3600}));
    w.now = first_wrong + WINDOW_MS - 2000;
    let (status, code) = w.enter_refused(invitation_entry(&fresh.code), &guesser);
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    // ...and once it passed, the address may try again.
    w.now = first_wrong + WINDOW_MS - 1000;
    let e = w
        .enter_from(invitation_entry(&fresh.code), &guesser)
        .unwrap();
    assert_eq!(e.status, 201, "{:?}", e.body);
    w.check_replay_and_snapshot();
}

/// As a coordinator that keeps nothing between calls runs them (a Spin instance, a Durable
/// Object woken again): the state as journaled, the guard as last stored from an outcome.
fn serve_fresh(w: &mut World, stored: &mut Guard, body: Value, meta: &Meta) -> Outcome {
    let mut lobby = w.lobby.clone();
    lobby.guard = stored.clone();
    w.calls += 1;
    w.now += 1000;
    let entropy = entropy(w.calls);
    let ctx = Ctx {
        now: w.now,
        entropy: &entropy,
        token_secret: SECRET,
        messages: &w.log,
    };
    let call = Call {
        route: Route::WidgetEntry {
            key: w.widget_key.clone(),
        },
        actor: Actor::Anonymous,
        meta: meta.clone(),
        body: body.to_string(),
    };
    let outcome = lobby.serve(&call, &ctx);
    if let Some(guard) = &outcome.guard {
        *stored = guard.clone();
    }
    outcome
}

#[test]
fn a_refused_wrong_code_carries_the_guard_to_store_so_the_eleventh_is_429_anew() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let inv = w.invite(&ann, json!({"expires_in": 3600}));
    let guesser = page_at("192.0.2.66");
    let mut stored = Guard::default();
    let outcome = serve_fresh(&mut w, &mut stored, webchat("Just asking"), &guesser);
    assert_eq!(outcome.result.unwrap().status, 201);
    assert!(
        outcome.guard.is_none(),
        "an entry without a code changes no guard"
    );
    for i in 0..MAX_WRONG_PER_ADDRESS {
        let wrong = w.unused_code();
        let outcome = serve_fresh(&mut w, &mut stored, invitation_entry(&wrong), &guesser);
        assert_eq!(
            outcome.result.unwrap_err().code(),
            "invalid_code",
            "guess {i}"
        );
        assert!(
            outcome.guard.is_some(),
            "a refused guess still has its count stored"
        );
    }
    let outcome = serve_fresh(&mut w, &mut stored, invitation_entry(&inv.code), &guesser);
    assert_eq!(outcome.result.unwrap_err().code(), "rate_limited");
    assert!(
        outcome.guard.is_none(),
        "a throttled try counts nothing new"
    );
    // Without what the outcomes carried, a fresh coordinator would have let it through.
    let outcome = serve_fresh(
        &mut w,
        &mut Guard::default(),
        invitation_entry(&inv.code),
        &guesser,
    );
    assert_eq!(outcome.result.unwrap().status, 201);
}

#[test]
fn wrong_codes_from_many_addresses_hit_the_tenant_limit() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let inv = w.invite(&ann, json!({"expires_in": 3600}));
    let wrong = w.unused_code();
    for i in 0..MAX_WRONG_PER_TENANT {
        let addr = format!("10.{}.{}.1", i / 250, i % 250);
        let (status, _) = w.enter_refused(invitation_entry(&wrong), &page_at(&addr));
        assert_eq!(status, 422, "guess {i} from {addr}");
    }
    let (status, code) = w.enter_refused(invitation_entry(&inv.code), &page_at("198.51.100.200"));
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    w.now += WINDOW_MS;
    let e = w
        .enter_from(invitation_entry(&inv.code), &page_at("198.51.100.200"))
        .unwrap();
    assert_eq!(e.status, 201);
}

// ---------------------------------------------------------------- offline form and outbox

fn offline_body(message: &str) -> Value {
    json!({"form": {"name": "Jana Nováková", "email": "jana@example.cz", "phone": ""},
           "message": message})
}

#[test]
fn the_offline_form_is_stored_and_owed_to_the_widgets_address() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    let text = "Dobrý den, volejte prosím zítra po 9. 😊";
    let r = w.offline(&key, offline_body(text), &browser()).unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(r.body, json!({"status": "received"}));
    assert_eq!(r.events.len(), 1);
    assert!(
        matches!(&r.events[0], Event::OfflineReceived { widget, .. } if *widget == w.widget_id)
    );

    assert_eq!(w.lobby.outbox.len(), 1);
    let m = w.lobby.outbox.values().next().unwrap().clone();
    assert_eq!(m.to, "offline@acme.test");
    assert_eq!(m.reply_to.as_deref(), Some("jana@example.cz"));
    assert!(m.text.contains(text), "{}", m.text);
    assert!(m.text.contains("Jana Nováková"), "{}", m.text);
    assert!(m.subject.contains("Jana Nováková"), "{}", m.subject);
    assert_eq!(
        (m.attempts, m.next_at, m.created_at),
        (0, Some(w.now), w.now)
    );
    assert_eq!(m.last_error, None);

    // Its MIME form: addressed, reply-to the client, the text in the body.
    let raw = outbox::mime(&m, "lobby@example.com", "m@lobby", w.now / 1000);
    assert!(raw.contains("To: <offline@acme.test>"), "{raw}");
    assert!(raw.contains("Reply-To: <jana@example.cz>"), "{raw}");

    // A phone is enough; there is no reply address then.
    let r = w
        .offline(
            &key,
            json!({"form": {"phone": "+420 777 000 111"}, "message": "Call me"}),
            &browser(),
        )
        .unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(w.lobby.outbox.len(), 2);
    let Event::OfflineReceived { mail, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert_eq!(mail.reply_to, None);
    assert!(mail.text.contains("+420 777 000 111") && mail.text.contains("Call me"));
    w.check_replay_and_snapshot();
}

/// The text of a MIME message's single body part, decoded as its Content-Transfer-Encoding says.
fn mime_text(raw: &str) -> String {
    let (headers, body) = raw.split_once("\r\n\r\n").expect("headers, then a body");
    let encoding = headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-transfer-encoding:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    match encoding.as_str() {
        "base64" => {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap();
            String::from_utf8(bytes).unwrap()
        }
        "quoted-printable" => {
            let joined = body.replace("=\r\n", "");
            let mut out = vec![];
            let mut bytes = joined.bytes();
            while let Some(b) = bytes.next() {
                if b == b'=' {
                    let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()]
                        .iter()
                        .map(|&c| c as char)
                        .collect();
                    out.push(u8::from_str_radix(&hex, 16).unwrap());
                } else {
                    out.push(b);
                }
            }
            String::from_utf8(out).unwrap()
        }
        _ => body.to_string(),
    }
}

#[test]
fn the_offline_mail_shows_the_team_what_the_queue_would_have_shown() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    // Chrome on Windows, a Czech browser, writing from the cart page.
    let r = w
        .offline(
            &key,
            json!({"form": {"name": "Jana Nováková", "email": "jana@example.cz"},
                   "message": "Dobrý den, máte košík i v zelené?",
                   "page": {"url": "https://shop.example/cart?step=2", "title": "Košík – Shop",
                            "referrer": "https://search.example/"}}),
            &browser(),
        )
        .unwrap();
    let Event::OfflineReceived { mail, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    let mime = mime_text(&outbox::mime(
        mail,
        "lobby@example.com",
        "m@lobby",
        w.now / 1000,
    ));
    let api = outbox::http_api::body(mail, "lobby@example.com");
    let api = api["text"].as_str().unwrap();
    for text in [mime.as_str(), api] {
        for line in [
            "Name: Jana Nováková",
            "E-mail: jana@example.cz",
            "Language: cs-cz",
            "Browser: Chrome 120",
            "OS: Windows 10",
            "Page: https://shop.example/cart?step=2",
            "Page title: Košík – Shop",
            "Site: https://shop.example",
            "Widget: Shop chat",
            "Dobrý den, máte košík i v zelené?",
        ] {
            assert!(
                text.lines().any(|l| l.trim_end() == line),
                "{line:?} missing from\n{text}"
            );
        }
    }

    // The language the widget speaks with the client comes first; a page title cannot pass
    // for another detail; without a page or a known browser those lines are left out.
    let r = w
        .offline(
            &key,
            json!({"form": {"phone": "+420 777 000 111"}, "message": "Call me",
                   "language": "en",
                   "page": {"url": "https://shop.example/", "title": "Home\nE-mail: boss@acme.test"}}),
            &browser(),
        )
        .unwrap();
    let Event::OfflineReceived { mail, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    assert!(
        mail.text.lines().any(|l| l == "Language: en"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .lines()
            .any(|l| l == "Page title: Home E-mail: boss@acme.test"),
        "{}",
        mail.text
    );
    assert!(
        !mail.text.lines().any(|l| l.starts_with("E-mail:")),
        "{}",
        mail.text
    );
    let r = w
        .offline(
            &key,
            json!({"form": {"phone": "+420 777 000 111"}, "message": "Call me"}),
            &Meta {
                user_agent: None,
                accept_language: None,
                ..browser()
            },
        )
        .unwrap();
    let Event::OfflineReceived { mail, .. } = &r.events[0] else {
        panic!("{:?}", r.events)
    };
    for absent in ["Language:", "Browser:", "OS:", "Page:", "Page title:"] {
        assert!(
            !mail.text.lines().any(|l| l.starts_with(absent)),
            "{absent} in {}",
            mail.text
        );
    }
    assert!(mail.text.lines().any(|l| l == "Widget: Shop chat"));

    // A page that is not one is refused, and nothing is owed.
    let before = w.lobby.outbox.len();
    for page in [
        json!({"url": "   "}),
        json!({"url": "https://shop.example/", "title": "t".repeat(201)}),
        json!({"url": format!("https://shop.example/{}", "a".repeat(2000))}),
        json!("https://shop.example/"),
    ] {
        let body = json!({"form": {"phone": "+420 777 000 111"}, "message": "hi", "page": page});
        let e = w.offline(&key, body, &browser()).unwrap_err();
        assert_eq!((e.status(), e.code()), (422, "invalid_body"), "{page}");
    }
    assert_eq!(w.lobby.outbox.len(), before);
    w.check_replay_and_snapshot();
}

#[test]
fn the_offline_form_is_refused_when_it_cannot_be_answered_or_delivered() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    for bad in [
        json!({"form": {"name": "Jana"}, "message": "hello"}),
        json!({"form": {"name": "Jana", "email": "", "phone": "  "}, "message": "hello"}),
        json!({"message": "hello"}),
        json!({"form": {"email": "not-an-address"}, "message": "hello"}),
        json!({"form": {"email": "jana@example.cz"}, "message": "   "}),
        json!({"form": {"email": "jana@example.cz"}}),
        json!({"form": {"email": "jana@example.cz"}, "message": "x".repeat(10_001)}),
    ] {
        let e = w.offline(&key, bad.clone(), &browser()).unwrap_err();
        assert_eq!((e.status(), e.code()), (422, "invalid_body"), "{bad}");
    }
    let e = w.offline(&key, json!("just text"), &browser()).unwrap_err();
    assert_eq!(e.status(), 422);
    // Another origin.
    let e = w
        .offline(
            &key,
            offline_body("hi"),
            &Meta {
                origin: Some("https://evil.example".into()),
                ..browser()
            },
        )
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (403, "origin_not_allowed"));
    // A widget without an offline address.
    let chat_only = w.chat_only_key.clone();
    let e = w
        .offline(&chat_only, offline_body("hi"), &browser())
        .unwrap_err();
    assert_eq!((e.status(), e.code()), (409, "conflict"));
    assert!(w.lobby.outbox.is_empty());
    w.check_replay_and_snapshot();
}

#[test]
fn a_failed_mail_is_retried_with_growing_pauses_then_given_up_but_kept() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    w.offline(&key, offline_body("please call"), &browser())
        .unwrap();
    let id = w.lobby.outbox.keys().next().unwrap().clone();
    let mut pauses = vec![];
    for attempt in 1..MAX_ATTEMPTS {
        let events = w
            .command(Command::MailFailed {
                id: id.clone(),
                error: format!("send_email said no ({attempt})"),
            })
            .unwrap();
        assert!(matches!(
            &events[..],
            [Event::MailFailed {
                next_at: Some(_),
                ..
            }]
        ));
        let m = &w.lobby.outbox[&id];
        assert_eq!(m.attempts, attempt);
        assert_eq!(
            m.last_error.as_deref(),
            Some(format!("send_email said no ({attempt})").as_str())
        );
        let next = m.next_at.expect("retried");
        assert!(next > w.now);
        pauses.push(next - w.now);
        w.now = next; // the alarm runs when due
    }
    assert!(
        pauses.windows(2).all(|p| p[0] < p[1]),
        "pauses grow: {pauses:?}"
    );
    assert_eq!(pauses[0], 30_000);
    // The last attempt fails: given up, visibly, and still stored.
    w.command(Command::MailFailed {
        id: id.clone(),
        error: "still no".into(),
    })
    .unwrap();
    let m: &Mail = &w.lobby.outbox[&id];
    assert_eq!(m.attempts, MAX_ATTEMPTS);
    assert_eq!(m.next_at, None);
    assert_eq!(m.last_error.as_deref(), Some("still no"));
    assert!(m.text.contains("please call"));
    w.check_replay_and_snapshot();
}

#[test]
fn a_sent_mail_leaves_the_outbox() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    w.offline(&key, offline_body("one"), &browser()).unwrap();
    w.offline(&key, offline_body("two"), &browser()).unwrap();
    let ids: Vec<String> = w.lobby.outbox.keys().cloned().collect();
    assert_eq!(ids.len(), 2);
    w.command(Command::MailFailed {
        id: ids[0].clone(),
        error: "timeout".into(),
    })
    .unwrap();
    let events = w.command(Command::MailSent { id: ids[0].clone() }).unwrap();
    assert_eq!(events, vec![Event::MailSent { id: ids[0].clone() }]);
    assert_eq!(
        w.lobby.outbox.keys().cloned().collect::<Vec<_>>(),
        vec![ids[1].clone()]
    );
    // Reported twice (two alarms raced): the second changes nothing.
    let e = w
        .command(Command::MailSent { id: ids[0].clone() })
        .unwrap_err();
    assert_eq!(e.status(), 404);
    let e = w
        .command(Command::MailFailed {
            id: "m_nosuchmail".into(),
            error: "x".into(),
        })
        .unwrap_err();
    assert_eq!(e.status(), 404);
    w.command(Command::MailSent { id: ids[1].clone() }).unwrap();
    assert!(w.lobby.outbox.is_empty());
    w.check_replay_and_snapshot();
}

#[test]
fn the_runtime_wakes_when_a_mail_is_due_and_not_after_it_is_settled() {
    let mut w = World::new();
    assert_eq!(w.lobby.next_due(), None, "a new tenant owes nothing");
    let key = w.widget_key.clone();
    w.offline(&key, offline_body("please call"), &browser())
        .unwrap();
    let id = w.lobby.outbox.keys().next().unwrap().clone();
    // Stored: due at once.
    assert!(w.lobby.is_due(w.now));
    assert!(w.lobby.next_due().is_some_and(|at| at <= w.now));
    // Failed: due again after its pause, not before.
    w.command(Command::MailFailed {
        id: id.clone(),
        error: "timeout".into(),
    })
    .unwrap();
    let next = w.lobby.next_due().expect("a retry is owed");
    assert_eq!(next, w.lobby.outbox[&id].next_at.unwrap());
    assert!(!w.lobby.is_due(next - 1));
    assert!(w.lobby.is_due(next));
    // Sent: nothing more to wake for.
    w.command(Command::MailSent { id }).unwrap();
    assert_eq!(w.lobby.next_due(), None);
    assert!(!w.lobby.is_due(i64::MAX));
}

/// The admin's widget list: how many offline-form mails of each widget are still owed.
fn offline_owed(w: &mut World) -> Vec<(String, u64)> {
    let admin = w.admin.clone();
    let r = w.ok(Route::ListWidgets, &admin, json!(null));
    r.body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap().to_string(),
                v["offline_owed"].as_u64().unwrap(),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn the_admin_sees_how_many_offline_mails_a_widget_still_owes() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    let widget = w.widget_id.clone();
    assert_eq!(offline_owed(&mut w), vec![]);
    w.offline(&key, offline_body("one"), &browser()).unwrap();
    w.offline(&key, offline_body("two"), &browser()).unwrap();
    assert_eq!(offline_owed(&mut w), vec![(widget.clone(), 2)]);
    let ids: Vec<String> = w.lobby.outbox.keys().cloned().collect();
    // A failure to be retried is still owed; a sent one is not.
    w.command(Command::MailFailed {
        id: ids[0].clone(),
        error: "timeout".into(),
    })
    .unwrap();
    w.command(Command::MailSent { id: ids[1].clone() }).unwrap();
    assert_eq!(offline_owed(&mut w), vec![(widget.clone(), 1)]);
    // Given up: kept in the outbox, but nothing more will be sent.
    while w.lobby.outbox[&ids[0]].next_at.is_some() {
        w.command(Command::MailFailed {
            id: ids[0].clone(),
            error: "still no".into(),
        })
        .unwrap();
    }
    assert_eq!(offline_owed(&mut w), vec![]);
    assert_eq!(w.lobby.outbox.len(), 1);
    w.check_replay_and_snapshot();
}

#[test]
fn a_name_with_a_line_break_cannot_add_mail_headers() {
    let mut w = World::new();
    let key = w.widget_key.clone();
    w.offline(
        &key,
        json!({"form": {"name": "Eve\r\nBcc: victim@example.com", "email": "eve@example.com"},
               "message": "hi"}),
        &browser(),
    )
    .unwrap();
    assert_eq!(w.lobby.outbox.len(), 1);
    // mail-builder keeps the break out of the headers.
    for m in w.lobby.outbox.values() {
        let raw = outbox::mime(m, "lobby@example.com", "m@lobby", w.now / 1000);
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{raw}"
        );
    }
}

// ---------------------------------------------------------------- wait estimates

#[test]
fn the_wait_estimate_needs_three_recent_accepts_and_grows_with_the_position() {
    let mut w = World::new();
    let bea = w.bea.clone();
    w.status(&bea, "online");
    let sales = Target::Group(w.sales.clone());

    // Three clients accepted a few minutes apart; before the third there is no estimate.
    for i in 0..3 {
        let c = w.enter(webchat(&format!("Early {i}")));
        assert_eq!(c.estimated_wait_seconds, None, "after {i} accepts");
        assert!(matches!(
            w.lobby.client_status(&c.client, &c.session, w.now),
            wire::ClientEvent::Status {
                estimated_wait_seconds: None,
                ..
            }
        ));
        w.now += 4 * MINUTE;
        w.accept(&bea, &c.client).unwrap();
    }
    assert_eq!(
        w.lobby
            .recent_accepts
            .iter()
            .filter(|(t, _)| *t == sales)
            .count(),
        3
    );

    // Now there is: positive, and larger further back in the queue.
    let waiting: Vec<wire::EntryAccepted> = (0..3)
        .map(|i| w.enter(webchat(&format!("Late {i}"))))
        .collect();
    let estimates: Vec<u32> = waiting
        .iter()
        .map(|c| c.estimated_wait_seconds.expect("an estimate"))
        .collect();
    assert!(estimates[0] > 0, "{estimates:?}");
    assert!(estimates.windows(2).all(|e| e[0] < e[1]), "{estimates:?}");
    // The status frame and a position update carry it too.
    let now = w.now;
    for (i, c) in waiting.iter().enumerate() {
        let wire::ClientEvent::Status {
            position,
            estimated_wait_seconds,
            ..
        } = w.lobby.client_status(&c.client, &c.session, now)
        else {
            panic!()
        };
        assert_eq!(position, Some(i as u32 + 1));
        assert!(estimated_wait_seconds.is_some_and(|s| s > 0));
    }
    let p1 = w.lobby.position_event(&waiting[1].client, 1, now);
    let p2 = w.lobby.position_event(&waiting[1].client, 2, now);
    let est = |e: &wire::ClientEvent| match e {
        wire::ClientEvent::Position {
            estimated_wait_seconds,
            ..
        } => *estimated_wait_seconds,
        other => panic!("{other:?}"),
    };
    assert!(est(&p1).unwrap() < est(&p2).unwrap());
    // As JSON, with the field named as the contract says.
    let v = serde_json::to_value(&p1).unwrap();
    assert!(v["estimated_wait_seconds"].as_u64().unwrap() > 0, "{v}");

    // An active client has no estimate.
    w.accept(&bea, &waiting[0].client).unwrap();
    assert!(matches!(
        w.lobby
            .client_status(&waiting[0].client, &waiting[0].session, w.now),
        wire::ClientEvent::Status {
            estimated_wait_seconds: None,
            ..
        }
    ));

    // Accepts from the group's queue say nothing about an operator's own queue.
    assert_eq!(
        w.lobby
            .estimated_wait_seconds(&Target::Operator(op_id(&bea)), 1, w.now),
        None
    );
    // Half an hour later the history is stale: no estimate.
    w.now += ESTIMATE_WINDOW_MS + MINUTE;
    assert_eq!(w.lobby.estimated_wait_seconds(&sales, 1, w.now), None);
    let c = w.enter(webchat("Much later"));
    assert_eq!(c.estimated_wait_seconds, None);
    w.check_replay_and_snapshot();
}

#[test]
fn estimates_in_json_are_null_without_history() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let r = w.enter_from(webchat("Jana"), &browser()).unwrap();
    assert!(r.body.get("estimated_wait_seconds").is_some(), "{}", r.body);
    assert_eq!(r.body["estimated_wait_seconds"], Value::Null);
    let c: wire::EntryAccepted = serde_json::from_value(r.body).unwrap();
    let v = serde_json::to_value(w.lobby.client_status(&c.client, &c.session, w.now)).unwrap();
    assert_eq!(v["type"], "status");
    assert!(v.get("estimated_wait_seconds").is_some(), "{v}");
    assert_eq!(v["estimated_wait_seconds"], Value::Null);
}

// ---------------------------------------------------------------- typing

#[test]
fn typing_reaches_only_the_serving_operator() {
    let mut w = World::new();
    let ann = w.ann.clone();
    w.status(&ann, "online");
    let c = w.enter(webchat("Jana"));
    assert_eq!(
        w.lobby.typing_peer(&c.client),
        None,
        "nobody serves a waiting client"
    );
    w.accept(&ann, &c.client).unwrap();
    assert_eq!(
        w.lobby.typing_peer(&c.client),
        Some((op_id(&ann), c.session.clone()))
    );
    let client_actor = Actor::Client {
        id: c.client.clone(),
        session: c.session.clone(),
    };
    w.call(Route::ClientLeave, &client_actor, Value::Null, &browser())
        .unwrap();
    assert_eq!(w.lobby.typing_peer(&c.client), None, "the session ended");
    // The wire forms the sockets carry.
    assert_eq!(
        serde_json::to_value(wire::ClientEvent::Typing {
            from: wire::Party::Operator
        })
        .unwrap(),
        json!({"type": "typing", "from": "operator"})
    );
    assert_eq!(
        serde_json::to_value(wire::OperatorEvent::Typing {
            session: "s_1".into()
        })
        .unwrap(),
        json!({"type": "typing", "session": "s_1"})
    );
    w.check_replay_and_snapshot();
}

// ---------------------------------------------------------------- replay

#[test]
fn the_whole_widget_story_replays_to_an_equal_state() {
    let mut w = World::new();
    let (ann, bea) = (w.ann.clone(), w.bea.clone());
    w.status(&ann, "online");
    w.status(&bea, "online");
    let key = w.widget_key.clone();
    let used = w.invite(&ann, Value::Null);
    let _spare = w.invite(&bea, json!({"expires_in": 60}));
    let invited = w.enter(invitation_entry(&used.code));
    w.accept(&ann, &invited.client).unwrap();
    for i in 0..4 {
        let c = w.enter(webchat(&format!("C{i}")));
        w.now += MINUTE;
        w.accept(&bea, &c.client).unwrap();
    }
    w.offline(&key, offline_body("a"), &browser()).unwrap();
    w.offline(&key, offline_body("b"), &browser()).unwrap();
    let ids: Vec<String> = w.lobby.outbox.keys().cloned().collect();
    w.command(Command::MailFailed {
        id: ids[0].clone(),
        error: "x".into(),
    })
    .unwrap();
    w.command(Command::MailSent { id: ids[1].clone() }).unwrap();
    // After the spare code expired, a new one prunes it.
    w.now += 2 * MINUTE;
    w.invite(&ann, Value::Null);
    assert!(!w.lobby.recent_accepts.is_empty());
    assert!(!w.lobby.invitations.is_empty());
    assert_eq!(w.lobby.outbox.len(), 1);
    w.check_replay_and_snapshot();
}
