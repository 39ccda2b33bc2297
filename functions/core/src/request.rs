//! What every HTTP request goes through before a tenant's coordinator sees it, on both runtimes:
//! the body limit, the UTF-8 check, where the token comes from (the `Authorization` header; an
//! event stream's `token` query parameter; on Cloudflare also `Sec-WebSocket-Protocol`),
//! [`api::authorize`], what the call knows of its client ([`Meta`]: the client's address by the
//! trusted-proxy rule of [`client_address`]), the event streams' transport checks, and the CORS
//! headers of every answer. The adapters read the request into a [`Request`], call [`prepare`]
//! and do the I/O that the [`Prepared`] answer names; the tenant's coordinator then runs
//! [`Lobby::serve`] and persists what its [`Outcome`] carries.

use std::net::{IpAddr, SocketAddr};

use lobby_wire::{EventTransport, Health};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{self, Actor, Ctx, Meta, Reply, Route, Secrets, MAX_BODY_BYTES};
use crate::auth::bearer;
use crate::channels::desk::{hook_route, HookRequest};
use crate::channels::Channel;
use crate::error::ApiError;
use crate::invitation::Guard;
use crate::lobby::Lobby;

/// Which runtime serves the request. They differ in how live events travel, in which header
/// the platform sets to the address that connected, and in how settings are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Workers and Durable Objects: WebSockets; Cloudflare's edge sets `CF-Connecting-IP`.
    Cloudflare,
    /// One Spin component per request: Server-Sent Events; the host sets `spin-client-addr`.
    Spin,
}

impl Runtime {
    pub fn events(self) -> EventTransport {
        match self {
            Runtime::Cloudflare => EventTransport::Websocket,
            Runtime::Spin => EventTransport::Sse,
        }
    }

    /// The header the platform itself sets to the address of whoever connected to it (replacing
    /// any the client sent), unlike `X-Forwarded-For`, which any client can write.
    fn peer_header(self) -> &'static str {
        match self {
            Runtime::Cloudflare => "CF-Connecting-IP",
            Runtime::Spin => "spin-client-addr",
        }
    }

    /// How a deployment sets `setting` (e.g. `token_secret`) on this runtime, for error messages.
    pub fn setting_name(self, setting: &str) -> String {
        match self {
            Runtime::Cloudflare => format!("LOBBY_{}", setting.to_ascii_uppercase()),
            Runtime::Spin => format!("the Spin variable lobby_{setting}"),
        }
    }
}

/// A request as an adapter read it. `header` looks a header up by name, case-insensitively;
/// a header sent several times is one value joined with `", "` (as HTTP allows). `body` is
/// what was read of it: nothing for methods without a body ([`reads_body`]), and never more than
/// one byte past [`MAX_BODY_BYTES`] (enough for the 413).
pub struct Request<'a> {
    pub runtime: Runtime,
    /// As sent (any case).
    pub method: &'a str,
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    pub header: &'a dyn Fn(&str) -> Option<String>,
    pub body: &'a [u8],
}

impl Request<'_> {
    fn header(&self, name: &str) -> Option<String> {
        (self.header)(name)
    }

    fn query(&self, name: &str) -> Option<String> {
        query_param(self.query, name)
    }
}

/// The deployment's settings, as the adapter read them (Worker secrets and vars, Spin
/// variables); checked here, when a request needs them.
pub struct Settings<'a> {
    pub platform_token: &'a str,
    pub token_secret: &'a str,
    /// Comma-separated addresses of the proxies in front of Lobby whose `X-Forwarded-For`
    /// is believed (empty: none).
    pub trusted_proxies: &'a str,
}

/// What the adapter does with a request.
#[derive(Debug, PartialEq)]
pub enum Prepared {
    /// A CORS preflight: 204 with [`cors`].
    Preflight,
    /// A redirect (302) to this path: the operator app lives under `/app/`.
    Redirect(&'static str),
    /// A channel's webhook delivery for `tenant`'s coordinator, raw as it came: it speaks the
    /// provider's protocol, not the API's.
    Hook {
        tenant: String,
        channel: Channel,
        request: HookRequest,
    },
    /// Answered without a tenant (the health check, the OpenAPI document).
    Answer { status: u16, body: Value },
    /// A call for `tenant`'s coordinator ([`Lobby::serve`]).
    Call { tenant: String, call: Call },
    /// An event stream of `tenant`: a WebSocket on Cloudflare (answer the upgrade with
    /// `Sec-WebSocket-Protocol: protocol` when there is one), Server-Sent Events on Spin.
    Stream {
        tenant: String,
        call: Call,
        protocol: Option<&'static str>,
    },
}

/// An authenticated call, as the edge hands it to the tenant's coordinator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    pub route: Route,
    pub actor: Actor,
    pub meta: Meta,
    #[serde(default)]
    pub body: String,
}

/// The subprotocol a browser names when it passes its token in `Sec-WebSocket-Protocol`
/// (`new WebSocket(url, ["lobby", token])`); the upgrade must answer with it.
pub const WS_PROTOCOL: &str = "lobby";

/// Where `/` and `/app` send a browser.
pub const APP_PATH: &str = "/app/";

/// Every method the API answers (see the test that holds it to the OpenAPI document), and the
/// preflight's own.
pub const CORS_METHODS: &str = "GET, POST, PUT, OPTIONS";
/// What a page may send: the token, JSON, and a reconnecting EventSource's `Last-Event-ID`.
pub const CORS_HEADERS: &str = "Authorization, Content-Type, Last-Event-ID";

/// The CORS headers of every API answer. Every route takes its credentials from the request
/// (`Authorization`, an event stream's `token`), never from cookies, so any origin may read the
/// answers; which pages may create entries is the widget's `allowed_origins`, checked by the core.
pub fn cors(origin: Option<&str>) -> [(&'static str, String); 5] {
    [
        (
            "Access-Control-Allow-Origin",
            origin.unwrap_or("*").to_string(),
        ),
        ("Vary", "Origin".into()),
        ("Access-Control-Allow-Methods", CORS_METHODS.into()),
        ("Access-Control-Allow-Headers", CORS_HEADERS.into()),
        ("Access-Control-Max-Age", "600".into()),
    ]
}

/// Whether the adapter reads the body of a request with this method.
pub fn reads_body(method: &str) -> bool {
    method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("PUT")
}

/// 413 when the declared `Content-Length` is beyond `limit`: an adapter that would rather not
/// read such a body asks this first (`limit` is [`MAX_BODY_BYTES`], or more for one that reads
/// a body to its end so that a client still sending gets the answer).
pub fn check_declared_length(content_length: Option<&str>, limit: usize) -> Result<(), ApiError> {
    match content_length.and_then(|l| l.trim().parse::<usize>().ok()) {
        Some(len) if len > limit => Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES)),
        _ => Ok(()),
    }
}

/// The token secret, which the deployment must set (at least 16 characters).
pub fn token_secret(runtime: Runtime, raw: &str) -> Result<&str, ApiError> {
    if raw.len() < 16 {
        return Err(ApiError::Internal(format!(
            "{} is not set (at least 16 characters)",
            runtime.setting_name("token_secret")
        )));
    }
    Ok(raw)
}

/// Decides what a request is and, for a tenant's route, who calls and with what.
pub fn prepare(req: &Request, settings: &Settings, now_secs: i64) -> Result<Prepared, ApiError> {
    let method = req.method.to_ascii_uppercase();
    if method == "OPTIONS" {
        return Ok(Prepared::Preflight);
    }
    if req.path == "/" || req.path == "/app" {
        return Ok(Prepared::Redirect(APP_PATH));
    }
    check_declared_length(req.header("Content-Length").as_deref(), MAX_BODY_BYTES)?;
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    if let Some(hook) = hook_route(&method, req.path) {
        let (tenant, channel) = hook?;
        return Ok(Prepared::Hook {
            tenant,
            channel,
            request: HookRequest {
                query: req.query.unwrap_or_default().to_string(),
                signature: req.header("X-Hub-Signature-256"),
                body: req.body.to_vec(),
                method,
            },
        });
    }
    let route = api::route(&method, req.path)?;
    match route {
        Route::Healthz => {
            let health = Health {
                status: "ok".into(),
                events: req.runtime.events(),
            };
            let body = serde_json::to_value(health).expect("wire types serialize");
            return Ok(Prepared::Answer { status: 200, body });
        }
        Route::OpenApi => {
            let body = crate::openapi::document();
            return Ok(Prepared::Answer { status: 200, body });
        }
        _ => {}
    }
    let body = std::str::from_utf8(req.body)
        .map_err(|_| ApiError::InvalidJson("the body is not UTF-8".into()))?;
    let stream = route.is_websocket();
    let (token, protocol) = token(req, stream);
    let (tenant, actor) = api::authorize(
        &route,
        token.as_deref(),
        body.as_bytes(),
        &Secrets {
            platform_token: settings.platform_token,
            token_secret: token_secret(req.runtime, settings.token_secret)?.as_bytes(),
        },
        now_secs,
    )?;
    let tenant = tenant.ok_or_else(|| ApiError::Internal("no tenant for a tenant route".into()))?;
    let trusted = TrustedProxies::parse(settings.trusted_proxies).map_err(|e| {
        ApiError::Internal(format!(
            "{}: {e}",
            req.runtime.setting_name("trusted_proxies")
        ))
    })?;
    let meta = Meta {
        user_agent: req.header("User-Agent"),
        origin: req.header("Origin"),
        accept_language: req.header("Accept-Language"),
        after: after(req, stream)?,
        address: client_address(req, &trusted),
    };
    if !stream {
        let body = body.to_string();
        let call = Call {
            route,
            actor,
            meta,
            body,
        };
        return Ok(Prepared::Call { tenant, call });
    }
    transport_check(req)?;
    let call = Call {
        route,
        actor,
        meta,
        body: String::new(),
    };
    Ok(Prepared::Stream {
        tenant,
        call,
        protocol,
    })
}

/// The caller's token, and the subprotocol to answer a WebSocket with when the token came in
/// `Sec-WebSocket-Protocol: lobby, <token>` (a browser's WebSocket cannot set headers; the
/// query parameter works too but lands in access logs).
fn token(req: &Request, stream: bool) -> (Option<String>, Option<&'static str>) {
    if let Some(t) = bearer(req.header("Authorization").as_deref()) {
        return (Some(t.to_string()), None);
    }
    if !stream {
        return (None, None);
    }
    if let Some(t) = req.query("token") {
        return (Some(t), None);
    }
    if req.runtime.events() != EventTransport::Websocket {
        return (None, None);
    }
    let offered = req.header("Sec-WebSocket-Protocol");
    match offered
        .as_deref()
        .and_then(|o| o.split(',').map(str::trim).find(|p| *p != WS_PROTOCOL))
    {
        Some(t) => (Some(t.to_string()), Some(WS_PROTOCOL)),
        None => (None, None),
    }
}

/// `after` of message lists and streams. An EventSource that reconnects sends the last `id:`
/// it saw as `Last-Event-ID`, which is newer than the `after` of its URL.
fn after(req: &Request, stream: bool) -> Result<Option<u64>, ApiError> {
    let last_event_id = (stream && req.runtime.events() == EventTransport::Sse)
        .then(|| req.header("Last-Event-ID"))
        .flatten()
        .filter(|v| !v.is_empty());
    last_event_id
        .or_else(|| req.query("after"))
        .map(|a| api::parse_after(&a))
        .transpose()
}

/// An event route speaks the runtime's transport only.
fn transport_check(req: &Request) -> Result<(), ApiError> {
    let upgrade = req
        .header("Upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    match req.runtime.events() {
        EventTransport::Websocket if !upgrade => Err(ApiError::UpgradeRequired),
        // Hosts strip the hop-by-hop `Upgrade` header before a component sees it;
        // `Sec-WebSocket-Key` stays.
        EventTransport::Sse if upgrade || req.header("Sec-WebSocket-Key").is_some() => {
            Err(ApiError::EventStreamRequired)
        }
        _ => Ok(()),
    }
}

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    /// Comma-separated IP addresses; empty entries are skipped.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(|a| ip(a).ok_or_else(|| format!("`{a}` is not an IP address")))
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

/// The client's address, which the wrong-invitation-code guard counts by. The address that
/// connected is the one the platform reports (`CF-Connecting-IP` on Cloudflare, `spin-client-addr`
/// on Spin). Only when that is a configured proxy is `X-Forwarded-For` read, from its end: each
/// proxy appends the address it saw, so the last hop not itself a trusted proxy is the client,
/// and whatever the client wrote in front of it is ignored. Anyone else's `X-Forwarded-For` is
/// the client's own word and ignored: believing it would let a guesser pass a new address with
/// each try.
pub fn client_address(req: &Request, trusted: &TrustedProxies) -> Option<String> {
    let peer = req.header(req.runtime.peer_header())?;
    let Some(mut client) = ip(&peer) else {
        return Some(peer.trim().to_string());
    };
    if trusted.contains(client) {
        let forwarded = req.header("X-Forwarded-For").unwrap_or_default();
        for hop in forwarded.rsplit(',') {
            // A hop that is no address ends the chain: the nearest sure address stands.
            let Some(hop) = ip(hop) else { break };
            client = hop;
            if !trusted.contains(hop) {
                break;
            }
        }
    }
    Some(client.to_string())
}

/// An IP address as headers write it: bare, `ip:port`, `[v6]` or `[v6]:port`; an IPv4 address
/// in IPv6 form counts as the IPv4 address.
fn ip(text: &str) -> Option<IpAddr> {
    let t = text.trim();
    let ip = t
        .parse::<IpAddr>()
        .ok()
        .or_else(|| t.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| t.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(ip.to_canonical())
}

/// The value of query parameter `name`, decoded (`+` is a space), from a raw query string.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

/// Decodes `%XX` escapes and `+` (a space, as forms encode it); invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a call gives its coordinator: the answer (or the refusal), and what to store besides
/// the answer's events.
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Reply, ApiError>,
    /// The wrong-invitation-code guard to store, when the call changed it. A refused call can
    /// carry it (a wrong code is counted and refused): store it even then.
    pub guard: Option<Guard>,
}

impl Lobby {
    /// Runs a call the edge prepared ([`Lobby::call`]) and reports what the coordinator must
    /// persist.
    pub fn serve(&mut self, call: &Call, ctx: &Ctx) -> Outcome {
        let result = self.call(
            &call.route,
            &call.actor,
            call.body.as_bytes(),
            &call.meta,
            ctx,
        );
        Outcome {
            result,
            guard: self.guard.take_update(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{sign_token, Claims, TokenRole};

    const SECRET: &str = "a token secret for the tests, 32+";
    const NOW: i64 = 1_700_000_000;

    /// A request as a test writes it.
    struct Req {
        runtime: Runtime,
        method: &'static str,
        path: &'static str,
        query: Option<String>,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    }

    fn req(runtime: Runtime, method: &'static str, path: &'static str) -> Req {
        Req {
            runtime,
            method,
            path,
            query: None,
            headers: vec![],
            body: vec![],
        }
    }

    impl Req {
        fn header(mut self, name: &'static str, value: &str) -> Self {
            self.headers.push((name, value.to_string()));
            self
        }

        fn query(mut self, q: &str) -> Self {
            self.query = Some(q.to_string());
            self
        }

        fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
            self.body = b.into();
            self
        }

        fn prepare_with(
            &self,
            trusted_proxies: &str,
            token_secret: &str,
        ) -> Result<Prepared, ApiError> {
            let header = |name: &str| {
                let all: Vec<&str> = self
                    .headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str())
                    .collect();
                (!all.is_empty()).then(|| all.join(", "))
            };
            let view = Request {
                runtime: self.runtime,
                method: self.method,
                path: self.path,
                query: self.query.as_deref(),
                header: &header,
                body: &self.body,
            };
            let settings = Settings {
                platform_token: "platform",
                token_secret,
                trusted_proxies,
            };
            prepare(&view, &settings, NOW)
        }

        fn prepare(&self) -> Result<Prepared, ApiError> {
            self.prepare_with("", SECRET)
        }

        #[track_caller]
        fn call(&self) -> Call {
            match self.prepare() {
                Ok(Prepared::Call { call, .. } | Prepared::Stream { call, .. }) => call,
                other => panic!("not a call: {other:?}"),
            }
        }

        #[track_caller]
        fn refused(&self) -> (u16, &'static str) {
            match self.prepare() {
                Err(e) => (e.status(), e.code()),
                Ok(p) => panic!("not refused: {p:?}"),
            }
        }

        /// The address a widget entry gets, with these proxies trusted.
        #[track_caller]
        fn address(&self, trusted_proxies: &str) -> Option<String> {
            match self.prepare_with(trusted_proxies, SECRET) {
                Ok(Prepared::Call { call, .. }) => call.meta.address,
                other => panic!("not a call: {other:?}"),
            }
        }
    }

    fn operator_token() -> String {
        let claims = Claims {
            tenant: "acme".into(),
            sub: "op_1".into(),
            role: TokenRole::Operator,
            exp: NOW + 3600,
            session: None,
        };
        sign_token(&claims, SECRET.as_bytes())
    }

    fn entry(runtime: Runtime) -> Req {
        req(runtime, "POST", "/api/v1/widgets/acme.k1/entries").body(r#"{"entry":"webchat"}"#)
    }

    const BOTH: [Runtime; 2] = [Runtime::Cloudflare, Runtime::Spin];

    #[test]
    fn preflight_redirect_and_answers_without_a_tenant() {
        for rt in BOTH {
            let p = req(rt, "options", "/api/v1/queue").prepare().unwrap();
            assert_eq!(p, Prepared::Preflight);
            for path in ["/", "/app"] {
                assert_eq!(
                    req(rt, "GET", path).prepare().unwrap(),
                    Prepared::Redirect("/app/")
                );
            }
            let Prepared::Answer { status, body } = req(rt, "GET", "/healthz").prepare().unwrap()
            else {
                panic!("healthz is answered at the edge")
            };
            assert_eq!(status, 200);
            let events = if rt == Runtime::Cloudflare {
                "websocket"
            } else {
                "sse"
            };
            assert_eq!(body, serde_json::json!({"status": "ok", "events": events}));
            // No token secret is needed for what has no tenant.
            let p = req(rt, "GET", "/api/v1/openapi.json").prepare_with("", "");
            assert!(matches!(p, Ok(Prepared::Answer { status: 200, .. })));
        }
    }

    #[test]
    fn a_body_beyond_the_limit_or_not_utf8_is_refused() {
        for rt in BOTH {
            let declared = entry(rt).header("Content-Length", &(MAX_BODY_BYTES + 1).to_string());
            assert_eq!(declared.refused(), (413, "payload_too_large"));
            let read = entry(rt).body(vec![b' '; MAX_BODY_BYTES + 1]);
            assert_eq!(read.refused(), (413, "payload_too_large"));
            let hook = req(rt, "POST", "/hooks/acme/vk").body(vec![b' '; MAX_BODY_BYTES + 1]);
            assert_eq!(hook.refused(), (413, "payload_too_large"));
            let latin1 = entry(rt).body(b"{\"entry\":\"w\xe9bchat\"}".to_vec());
            assert_eq!(latin1.refused(), (400, "invalid_json"));
            // At the limit it is the route's to judge.
            assert!(entry(rt).body(vec![b' '; MAX_BODY_BYTES]).prepare().is_ok());
        }
        assert!(check_declared_length(Some("5000"), 4000).is_err());
        assert!(check_declared_length(Some("4000"), 4000).is_ok());
        assert!(check_declared_length(Some("nonsense"), 4000).is_ok());
        assert!(check_declared_length(None, 4000).is_ok());
    }

    #[test]
    fn the_token_comes_from_the_header_or_for_streams_the_query_or_the_subprotocol() {
        let token = operator_token();
        for rt in BOTH {
            let queue = req(rt, "GET", "/api/v1/queue");
            assert_eq!(queue.refused(), (401, "unauthorized"));
            let bearer =
                req(rt, "GET", "/api/v1/queue").header("Authorization", &format!("Bearer {token}"));
            assert_eq!(
                bearer.call().actor,
                Actor::Operator {
                    id: "op_1".into(),
                    admin: false
                }
            );
            // `?token=` is for event streams only (it would land in access logs elsewhere).
            let query = req(rt, "GET", "/api/v1/queue").query(&format!("token={token}"));
            assert_eq!(query.refused(), (401, "unauthorized"));
        }
        let stream = |rt| {
            req(rt, "GET", "/api/v1/operator/events")
                .header("Upgrade", "websocket")
                .query(&format!("after=3&token={}", token.replace('.', "%2E")))
        };
        let Ok(Prepared::Stream {
            tenant,
            call,
            protocol,
        }) = stream(Runtime::Cloudflare).prepare()
        else {
            panic!("a stream")
        };
        assert_eq!(
            (tenant.as_str(), protocol, call.meta.after),
            ("acme", None, Some(3))
        );
        let Ok(Prepared::Stream { .. }) = req(Runtime::Spin, "GET", "/api/v1/operator/events")
            .query(&format!("token={token}"))
            .prepare()
        else {
            panic!("a stream")
        };
        // A browser's WebSocket passes it as a subprotocol; the upgrade answers with `lobby`.
        let offered = req(Runtime::Cloudflare, "GET", "/api/v1/operator/events")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Protocol", &format!("lobby, {token}"));
        let Ok(Prepared::Stream { protocol, .. }) = offered.prepare() else {
            panic!("a stream")
        };
        assert_eq!(protocol, Some("lobby"));
        let spin = req(Runtime::Spin, "GET", "/api/v1/operator/events")
            .header("Sec-WebSocket-Protocol", &format!("lobby, {token}"));
        assert_eq!(spin.refused(), (401, "unauthorized"));
    }

    #[test]
    fn a_reconnecting_event_source_resumes_from_last_event_id() {
        let token = operator_token();
        let stream = |rt| {
            req(rt, "GET", "/api/v1/operator/events")
                .header("Last-Event-ID", "9")
                .query(&format!("after=3&token={token}"))
        };
        assert_eq!(stream(Runtime::Spin).call().meta.after, Some(9));
        // A WebSocket has no Last-Event-ID to send: the header means nothing there.
        let ws = stream(Runtime::Cloudflare).header("Upgrade", "websocket");
        assert_eq!(ws.call().meta.after, Some(3));
        let empty = req(Runtime::Spin, "GET", "/api/v1/operator/events")
            .header("Last-Event-ID", "")
            .query(&format!("after=3&token={token}"));
        assert_eq!(empty.call().meta.after, Some(3));
        let bad = req(Runtime::Spin, "GET", "/api/v1/operator/events")
            .header("Last-Event-ID", "-1")
            .query(&format!("token={token}"));
        assert_eq!(bad.refused(), (422, "invalid_body"));
    }

    #[test]
    fn an_event_route_speaks_only_the_runtimes_transport() {
        let token = operator_token();
        let events =
            |rt| req(rt, "GET", "/api/v1/operator/events").query(&format!("token={token}"));
        assert_eq!(
            events(Runtime::Cloudflare).refused(),
            (426, "upgrade_required")
        );
        let ws = events(Runtime::Cloudflare).header("Upgrade", "WebSocket");
        assert!(matches!(ws.prepare(), Ok(Prepared::Stream { .. })));
        assert!(matches!(
            events(Runtime::Spin).prepare(),
            Ok(Prepared::Stream { .. })
        ));
        let upgrade = events(Runtime::Spin).header("Upgrade", "websocket");
        assert_eq!(upgrade.refused(), (426, "event_stream_required"));
        let key = events(Runtime::Spin).header("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ==");
        assert_eq!(key.refused(), (426, "event_stream_required"));
        // Who calls is checked first.
        let anonymous = req(Runtime::Cloudflare, "GET", "/api/v1/operator/events");
        assert_eq!(anonymous.refused(), (401, "unauthorized"));
    }

    #[test]
    fn the_call_carries_what_the_client_sent() {
        for rt in BOTH {
            let call = entry(rt)
                .header("User-Agent", "Firefox")
                .header("Origin", "https://shop.example")
                .header("Accept-Language", "cs")
                .call();
            assert_eq!(
                call.route,
                Route::WidgetEntry {
                    key: "acme.k1".into()
                }
            );
            assert_eq!(call.actor, Actor::Anonymous);
            assert_eq!(call.body, r#"{"entry":"webchat"}"#);
            assert_eq!(call.meta.user_agent.as_deref(), Some("Firefox"));
            assert_eq!(call.meta.origin.as_deref(), Some("https://shop.example"));
            assert_eq!(call.meta.accept_language.as_deref(), Some("cs"));
        }
    }

    #[test]
    fn a_webhook_goes_to_its_tenant_raw() {
        let hook = req(Runtime::Spin, "post", "/hooks/acme/messenger")
            .query("a=1&b=%20")
            .header("X-Hub-Signature-256", "sha256=ab")
            .body(vec![0xff, 0x00]);
        let Ok(Prepared::Hook {
            tenant,
            channel,
            request,
        }) = hook.prepare()
        else {
            panic!("a hook")
        };
        assert_eq!((tenant.as_str(), channel), ("acme", Channel::Messenger));
        assert_eq!(request.method, "POST");
        assert_eq!(request.query, "a=1&b=%20");
        assert_eq!(request.signature.as_deref(), Some("sha256=ab"));
        assert_eq!(request.body, vec![0xff, 0x00], "not read as text");
        let put = req(Runtime::Cloudflare, "PUT", "/hooks/acme/vk");
        assert_eq!(put.refused(), (405, "method_not_allowed"));
    }

    #[test]
    fn a_missing_token_secret_or_a_bad_proxy_list_is_the_deployments_error() {
        let e = entry(Runtime::Spin).prepare_with("", "short").unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(
            e.to_string()
                .contains("the Spin variable lobby_token_secret"),
            "{e}"
        );
        let e = entry(Runtime::Cloudflare).prepare_with("", "").unwrap_err();
        assert!(e.to_string().contains("LOBBY_TOKEN_SECRET"), "{e}");
        let e = entry(Runtime::Cloudflare)
            .prepare_with("10.0.0.1, proxy.example", SECRET)
            .unwrap_err();
        assert_eq!(e.status(), 500);
        assert!(e.to_string().contains("LOBBY_TRUSTED_PROXIES"), "{e}");
        assert!(e.to_string().contains("proxy.example"), "{e}");
    }

    // ------------------------------------------------------------ the client's address

    #[test]
    fn on_spin_a_forwarding_header_from_a_client_is_ignored() {
        let direct = entry(Runtime::Spin)
            .header("spin-client-addr", "203.0.113.9:51234")
            .header("X-Forwarded-For", "198.51.100.1")
            .header("CF-Connecting-IP", "198.51.100.2");
        assert_eq!(direct.address("").as_deref(), Some("203.0.113.9"));
        assert_eq!(direct.address("10.0.0.1").as_deref(), Some("203.0.113.9"));
        // Rotating the header changes nothing.
        for n in 0..20 {
            let r = entry(Runtime::Spin)
                .header("spin-client-addr", "203.0.113.9:4000")
                .header("X-Forwarded-For", &format!("198.51.100.{n}"));
            assert_eq!(r.address("10.0.0.1").as_deref(), Some("203.0.113.9"));
        }
        assert_eq!(entry(Runtime::Spin).address(""), None);
    }

    #[test]
    fn from_a_configured_proxy_the_last_hop_it_did_not_add_itself_is_the_client() {
        let via = |xff: &str| {
            entry(Runtime::Spin)
                .header("spin-client-addr", "10.0.0.1:8080")
                .header("X-Forwarded-For", xff)
        };
        let trusted = "10.0.0.1, 10.0.0.2";
        assert_eq!(
            via("198.51.100.7").address(trusted).as_deref(),
            Some("198.51.100.7")
        );
        // What the client wrote in front of the proxy's hop is ignored.
        assert_eq!(
            via("1.1.1.1, 2.2.2.2, 198.51.100.7")
                .address(trusted)
                .as_deref(),
            Some("198.51.100.7")
        );
        // A chain of trusted proxies is walked through.
        assert_eq!(
            via("6.6.6.6, 198.51.100.7, 10.0.0.2")
                .address(trusted)
                .as_deref(),
            Some("198.51.100.7")
        );
        // Only proxies: the farthest one is the best known.
        assert_eq!(
            via("10.0.0.2").address(trusted).as_deref(),
            Some("10.0.0.2")
        );
        // Something that is no address stops the walk at the last sure one.
        assert_eq!(
            via("198.51.100.7, junk").address(trusted).as_deref(),
            Some("10.0.0.1")
        );
        // Without the header the proxy itself is all that is known.
        let bare = entry(Runtime::Spin).header("spin-client-addr", "10.0.0.1:8080");
        assert_eq!(bare.address(trusted).as_deref(), Some("10.0.0.1"));
        // The header sent twice reads as one list (the later line is the nearer hop).
        let twice = via("1.1.1.1").header("X-Forwarded-For", "198.51.100.8");
        assert_eq!(twice.address(trusted).as_deref(), Some("198.51.100.8"));
    }

    #[test]
    fn on_cloudflare_the_connecting_address_is_the_client_unless_it_is_a_configured_proxy() {
        let r = entry(Runtime::Cloudflare)
            .header("CF-Connecting-IP", "203.0.113.9")
            .header("X-Forwarded-For", "198.51.100.1")
            .header("spin-client-addr", "198.51.100.2:1");
        assert_eq!(r.address("").as_deref(), Some("203.0.113.9"));
        let proxied = entry(Runtime::Cloudflare)
            .header("CF-Connecting-IP", "192.0.2.10")
            .header("X-Forwarded-For", "6.6.6.6, 198.51.100.1, 192.0.2.10");
        assert_eq!(
            proxied.address("192.0.2.10").as_deref(),
            Some("198.51.100.1")
        );
        assert_eq!(proxied.address("").as_deref(), Some("192.0.2.10"));
    }

    #[test]
    fn addresses_are_compared_in_one_form() {
        let v6 = |peer: &str| entry(Runtime::Spin).header("spin-client-addr", peer);
        assert_eq!(
            v6("[2001:DB8::1]:443").address("").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            v6("[::ffff:192.0.2.1]:1").address("").as_deref(),
            Some("192.0.2.1")
        );
        let via = v6("[::1]:9").header("X-Forwarded-For", "[2001:db8::7]:1234");
        assert_eq!(via.address("::1").as_deref(), Some("2001:db8::7"));
        assert_eq!(via.address("127.0.0.1").as_deref(), Some("::1"));
        assert_eq!(
            TrustedProxies::parse(" 10.0.0.1 ,, ::ffff:10.0.0.2 ").unwrap(),
            TrustedProxies(vec![
                "10.0.0.1".parse().unwrap(),
                "10.0.0.2".parse().unwrap()
            ])
        );
        assert_eq!(
            TrustedProxies::parse("").unwrap(),
            TrustedProxies::default()
        );
    }

    proptest::proptest! {
        /// Whatever a client writes: from a peer that is no trusted proxy the peer is the
        /// address; from one that is, it is the peer or a hop of the header, never something
        /// else, and the hops a client could have prepended beyond an untrusted one never count.
        #[test]
        fn the_address_is_the_peer_or_a_hop_the_trusted_chain_vouches_for(
            peer in 0usize..4,
            hops in proptest::collection::vec(0usize..6, 0..6),
            trusted in proptest::collection::vec(0usize..4, 0..3),
        ) {
            const POOL: [&str; 6] = ["10.0.0.1", "10.0.0.2", "198.51.100.7", "2001:db8::9", "junk", ""];
            let xff = hops.iter().map(|h| POOL[*h]).collect::<Vec<_>>().join(", ");
            let list = trusted.iter().map(|t| POOL[*t]).collect::<Vec<_>>().join(",");
            let connected = match POOL[peer] {
                v6 if v6.contains(':') => format!("[{v6}]:1"),
                v4 => format!("{v4}:1"),
            };
            let r = entry(Runtime::Spin)
                .header("spin-client-addr", &connected)
                .header("X-Forwarded-For", &xff);
            let address = r.address(&list).unwrap();
            let is_trusted = |a: &str| trusted.iter().any(|t| ip(POOL[*t]) == ip(a));
            if !is_trusted(POOL[peer]) {
                proptest::prop_assert_eq!(address.clone(), ip(POOL[peer]).unwrap().to_string());
            }
            // The hops nearer than the answer are all trusted proxies.
            let mut nearer = hops.iter().rev().map(|h| POOL[*h]);
            if address != ip(POOL[peer]).unwrap().to_string() {
                let at = nearer.position(|h| ip(h).map(|i| i.to_string()) == Some(address.clone()));
                proptest::prop_assert!(at.is_some(), "{address} is not a hop of {xff}");
                for h in hops.iter().rev().map(|h| POOL[*h]).take(at.unwrap()) {
                    proptest::prop_assert!(is_trusted(h), "{h} before {address} in {xff}");
                }
            }
        }
    }

    // ------------------------------------------------------------ CORS

    /// The CORS methods are every method of the served contract, each of which the router
    /// really answers on its path.
    #[test]
    fn cors_allows_every_method_the_api_answers() {
        let doc = crate::openapi::document();
        let mut methods = std::collections::BTreeSet::new();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let concrete = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x1" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            // A path item's other keys (`parameters`, `summary`) are no operations.
            let operations = ops.as_object().unwrap().keys().filter(|k| {
                [
                    "get", "put", "post", "delete", "options", "head", "patch", "trace",
                ]
                .contains(&k.as_str())
            });
            for method in operations {
                let m = method.to_ascii_uppercase();
                let answered = api::route(&m, &concrete).is_ok()
                    || hook_route(&m, &concrete).is_some_and(|r| r.is_ok());
                assert!(answered, "{m} {concrete}");
                methods.insert(m);
            }
        }
        methods.insert("OPTIONS".into());
        let allowed: std::collections::BTreeSet<String> =
            CORS_METHODS.split(", ").map(String::from).collect();
        assert_eq!(allowed, methods);
        let h = cors(Some("https://shop.example"));
        assert_eq!(
            h[0],
            (
                "Access-Control-Allow-Origin",
                "https://shop.example".to_string()
            )
        );
        assert_eq!(cors(None)[0].1, "*");
        assert!(h
            .iter()
            .any(|(k, v)| *k == "Access-Control-Allow-Headers" && v.contains("Last-Event-ID")));
    }

    #[test]
    fn query_parameters_are_decoded() {
        assert_eq!(
            query_param(Some("a=1&token=x%2Ey+z"), "token").as_deref(),
            Some("x.y z")
        );
        assert_eq!(query_param(Some("after"), "after").as_deref(), Some(""));
        assert_eq!(query_param(None, "after"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
