//! The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json`. It is written
//! next to the router so that a new route is described in the same change; a test checks that
//! every described path resolves to a route and every route's path is described.

use serde_json::{json, Value};

fn error_ref() -> Value {
    json!({"$ref": "#/components/schemas/Error"})
}

fn body(schema: Value) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema}}})
}

fn answer(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn errors(codes: &[u16]) -> serde_json::Map<String, Value> {
    codes
        .iter()
        .map(|c| {
            (
                c.to_string(),
                answer("error: {\"error\": {\"code\", \"message\"}}", error_ref()),
            )
        })
        .collect()
}

/// One operation: summary, security, request body, the success answer and the error codes.
fn op(
    summary: &str,
    security: Option<&str>,
    request: Option<Value>,
    ok: (u16, Value),
    errs: &[u16],
) -> Value {
    let mut responses = errors(errs);
    responses.insert(ok.0.to_string(), answer(summary, ok.1));
    let mut o = json!({"summary": summary, "responses": responses});
    if let Some(s) = security {
        o["security"] = json!([{ s: [] }]);
    }
    if let Some(r) = request {
        o["requestBody"] = body(r);
    }
    o
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn after_param() -> Value {
    json!({"name": "after", "in": "query", "required": false,
           "schema": {"type": "integer", "minimum": 0}})
}

fn s(t: &str) -> Value {
    json!({ "type": t })
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn nullable(t: &str) -> Value {
    json!({ "type": [t, "null"] })
}

/// Error answers every operation of a kind can give, added to each operation so that the document
/// lists every status the API really answers: a token of the wrong kind (403), an unknown id in
/// the path (404), a bad `after` (422), an unreadable or invalid body (400, 413, 422).
fn complete_errors(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let has_path_param = path.contains('{');
        let path_params_after = item["parameters"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|p| p["name"] == "after"));
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, o) in item.iter_mut() {
            if !["get", "post", "put"].contains(&method.as_str()) {
                continue;
            }
            let secured = o.get("security").is_some();
            let has_body = o.get("requestBody").is_some();
            let has_after = path_params_after
                || o["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "after"));
            let mut add = vec![];
            if secured {
                add.extend([401, 403]);
            }
            if has_path_param {
                add.push(404);
            }
            if has_after {
                add.push(422);
            }
            if has_body {
                add.extend([400, 413, 422]);
            }
            let responses = o["responses"].as_object_mut().expect("responses");
            for code in add {
                responses.entry(code.to_string()).or_insert_with(|| {
                    answer("error: {\"error\": {\"code\", \"message\"}}", error_ref())
                });
            }
        }
    }
}

/// The document.
pub fn document() -> Value {
    let mut doc = paths_and_schemas();
    complete_errors(&mut doc);
    doc
}

fn paths_and_schemas() -> Value {
    let error = obj(
        json!({"error": obj(json!({"code": s("string"), "message": s("string")}), &["code", "message"])}),
        &["error"],
    );
    let entry_kind = json!({"type": "string", "enum": ["webchat","video","callback","invitation","messenger","whatsapp","apple","vk","phone"]});
    let page = obj(
        json!({"url": s("string"), "title": nullable("string"), "referrer": nullable("string")}),
        &["url"],
    );
    let message = obj(
        json!({"seq": s("integer"), "from": {"type":"string","enum":["client","operator","system"]},
               "text": s("string"), "attachments": {"type":"array","items": s("object")}, "at": s("string"),
               "delivery": {"type": "string", "enum": ["sent", "delivered", "read", "failed"],
                            "description": "an operator's message to a messaging-channel client: what the provider last reported"},
               "operator": {"type": "object", "properties": {"id": s("string"), "name": s("string")}, "required": ["id", "name"],
                            "description": "an operator's message: the operator who wrote it (its name as the tenant knows it now)"},
               "client_message_id": {"type": "string", "description": "the `client_message_id` its sender posted it with"}}),
        &["seq", "from", "text", "at"],
    );
    let queue_item = obj(
        json!({"id": s("string"), "entry": entry_kind, "channel": s("string"),
               "language": nullable("string"), "browser": nullable("string"), "os": nullable("string"),
               "widget": nullable("string"), "name": nullable("string"), "phone": nullable("string"),
               "group": nullable("string"), "waiting_since": s("string"), "position": s("integer"),
               "session": s("string")}),
        &[
            "id",
            "entry",
            "channel",
            "waiting_since",
            "position",
            "session",
        ],
    );
    let created = obj(json!({"id": s("string")}), &["id"]);
    let status_ok = obj(json!({"status": s("string")}), &[]);
    let messages = obj(
        json!({"messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}}}),
        &["messages"],
    );
    let posted = obj(
        json!({"seq": s("integer"), "client_message_id": {"type": "string", "description": "the request's, when it gave one"}}),
        &["seq"],
    );
    let post_message = obj(
        json!({"text": s("string"), "attachments": {"type":"array","items": obj(json!({"url": s("string")}), &["url"])}}),
        &["text"],
    );
    let channel_view = obj(
        json!({"channel": {"type":"string","enum":["messenger","whatsapp","vk"]}, "group": s("string"),
               "webhook": s("string"), "page_id": s("string"), "phone_number_id": s("string"),
               "community_id": s("string"), "api_base": s("string")}),
        &["channel", "group", "webhook"],
    );
    let presence = json!({"type":"string","enum":["online","away","offline"]});
    // The event routes speak what `GET /healthz` names in `events`: a WebSocket (101) on
    // Cloudflare, Server-Sent Events (200 `text/event-stream`) on Spin. Each refuses the other
    // kind with 426: `upgrade_required` / `event_stream_required`.
    let websocket = |summary: &str, security: &str| {
        json!({"get": {
            "summary": summary,
            // `Last-Event-ID` is described here rather than declared: a WebSocket server never reads it.
            "description": "The transport is the one `GET /healthz` names in `events`. `websocket`: a WebSocket upgrade; JSON frames down, `{\"type\":\"ping\"}` (and `{\"type\":\"typing\"}`) up. `sse`: `Accept: text/event-stream`; one `data:` line of the same JSON per event, journaled frames with their sequence number as `id:`, so that a reconnecting EventSource resumes with `Last-Event-ID` (it takes precedence over `after`); nothing goes up the stream.",
            "parameters": [after_param(),
                {"name": "token", "in": "query", "required": false, "schema": {"type": "string"}}],
            "security": [{ security: [] }],
            "responses": {"101": {"description": "switching to the WebSocket protocol (`events`: `websocket`)"},
                          "200": {"description": "the stream of Server-Sent Events (`events`: `sse`), one JSON frame per `data:`, the journal seq as `id:`",
                                  "content": {"text/event-stream": {"schema": {"type": "object", "required": ["data"],
                                      "properties": {"data": {"type": "string", "contentMediaType": "application/json"},
                                                     "event": {"type": "string"}, "id": {"type": "string"}}}}}},
                          "401": answer("no or bad token", error_ref()),
                          "426": answer("not the transport this server speaks (`upgrade_required` on Cloudflare, `event_stream_required` on Spin)", error_ref())}
        }})
    };

    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {"title": "Lobby API", "version": "1.0.0",
                 "description": "Lobby, the edge-native omnichannel contact center: clients wait in a queue, operators preview, accept, redirect and converse."},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "platform": {"type": "http", "scheme": "bearer", "description": "LOBBY_PLATFORM_TOKEN"},
                "operator": {"type": "http", "scheme": "bearer", "description": "token from /api/v1/auth/login"},
                "client": {"type": "http", "scheme": "bearer", "description": "token from a widget entry"}
            },
            "schemas": {"Error": error, "Message": message, "QueueItem": queue_item, "Page": page}
        },
        "paths": {
            "/healthz": {"get": op("health, and how this server delivers live events: `events` is `websocket` (Cloudflare) or `sse` (Server-Sent Events, Spin)", None, None,
                (200, obj(json!({"status": s("string"), "events": {"type": "string", "enum": ["websocket", "sse"]}}), &["status", "events"])), &[])},
            "/api/v1/openapi.json": {"get": op("this document", None, None, (200, s("object")), &[])},
            "/api/v1/tenants": {"post": op("create a tenant with its first admin", Some("platform"),
                Some(obj(json!({"slug": s("string"), "name": s("string"),
                    "admin": obj(json!({"email": s("string"), "password": s("string"), "name": s("string")}), &["email","password","name"])}),
                    &["slug","name","admin"])),
                (201, obj(json!({"tenant": s("string")}), &["tenant"])), &[400, 401, 409, 413, 422])},
            "/api/v1/auth/login": {"post": op("sign in", None,
                Some(obj(json!({"tenant": s("string"), "email": s("string"), "password": s("string")}), &["tenant","email","password"])),
                (200, obj(json!({"token": s("string"), "expires_at": s("string"),
                    "operator": obj(json!({"id": s("string"), "name": s("string"), "role": s("string")}), &["id","name","role"])}),
                    &["token","operator"])), &[400, 401, 413, 422])},
            "/api/v1/groups": {
                "get": op("list groups", Some("operator"), None, (200, obj(json!({"groups": {"type":"array","items": s("object")}}), &["groups"])), &[401, 403]),
                "post": op("create a group (admin)", Some("operator"), Some(obj(json!({"name": s("string")}), &["name"])), (201, created.clone()), &[400, 401, 403, 413, 422])},
            "/api/v1/operators": {
                "get": op("list operators with status and load", Some("operator"), None, (200, obj(json!({"operators": {"type":"array","items": s("object")}}), &["operators"])), &[401, 403]),
                "post": op("create an operator (admin)", Some("operator"),
                    Some(obj(json!({"email": s("string"), "password": s("string"), "name": s("string"),
                        "role": {"type":"string","enum":["operator","admin"]}, "groups": {"type":"array","items": s("string")},
                        "limits": obj(json!({"chat": {"type":"integer","minimum":1}}), &["chat"])}), &["email","password","name","role"])),
                    (201, created.clone()), &[400, 401, 403, 404, 409, 413, 422])},
            "/api/v1/widgets": {
                "get": op("list widgets (admin)", Some("operator"), None, (200, obj(json!({"widgets": {"type":"array","items": s("object")}}), &["widgets"])), &[401, 403]),
                "post": op("create a widget (admin)", Some("operator"),
                    Some(obj(json!({"name": s("string"), "group": s("string"), "allowed_origins": {"type":"array","items": s("string")},
                        "offline_email": nullable("string")}), &["name","group"])),
                    (201, obj(json!({"id": s("string"), "key": s("string")}), &["id","key"])), &[400, 401, 403, 404, 413, 422])},
            "/api/v1/me": {"get": op("the signed-in operator", Some("operator"), None, (200, s("object")), &[401])},
            "/api/v1/me/status": {"put": op("set presence", Some("operator"), Some(obj(json!({"status": presence}), &["status"])), (200, status_ok.clone()), &[400, 401, 413, 422])},
            "/api/v1/ping": {"get": op("a round trip to the tenant's coordinator that changes nothing", Some("operator"), None, (200, obj(json!({"pong": s("boolean")}), &["pong"])), &[401])},
            "/api/v1/queue": {"get": op("the clients this operator may serve", Some("operator"), None,
                (200, obj(json!({"clients": {"type":"array","items": {"$ref": "#/components/schemas/QueueItem"}}}), &["clients"])), &[401])},
            "/api/v1/clients/{id}/preview": {"parameters": [path_param("id")], "get": op("preview a client", Some("operator"), None,
                (200, obj(json!({"client": s("object"), "past_sessions": s("array"), "browsing_history": s("array"), "tags": s("array"),
                    "call_parameters": s("object"), "notes": s("array"), "messages": s("array")}),
                    &["client","past_sessions","browsing_history","tags","call_parameters","notes","messages"])), &[401, 404])},
            "/api/v1/clients/{id}/tags": {"parameters": [path_param("id")], "post": op("tag a client's conversation", Some("operator"),
                Some(obj(json!({"tag": s("string")}), &["tag"])), (201, obj(json!({"tags": {"type":"array","items": s("string")}}), &["tags"])), &[400, 401, 404, 409, 413, 422])},
            "/api/v1/clients/{id}/notes": {"parameters": [path_param("id")], "post": op("add an operator's note on a client", Some("operator"),
                Some(obj(json!({"text": s("string")}), &["text"])), (201, obj(json!({"notes": s("array")}), &["notes"])), &[400, 401, 404, 409, 413, 422])},
            "/api/v1/operators/{id}": {"parameters": [path_param("id")], "put": op("change an operator's name, groups or chat limit (admin)", Some("operator"),
                // Each field is optional; null, like a missing field, leaves it as it is.
                Some(obj(json!({"name": nullable("string"), "groups": {"type":["array","null"],"items": s("string")},
                    "limits": {"type": ["object", "null"], "properties": {"chat": {"type":"integer","minimum":1}}, "required": ["chat"]}}), &[])),
                (200, s("object")), &[400, 401, 403, 404, 409, 413, 422])},
            "/api/v1/queue/{id}/accept": {"parameters": [path_param("id")], "post": op("accept a waiting client", Some("operator"), None,
                (200, obj(json!({"session": s("string")}), &["session"])), &[401, 403, 404, 409])},
            "/api/v1/queue/{id}/redirect": {"parameters": [path_param("id")], "post": op("redirect a client to a group or an operator", Some("operator"),
                Some(obj(json!({"group": s("string"), "operator": s("string"), "note": s("string")}), &[])), (200, status_ok.clone()), &[400, 401, 403, 404, 409, 413, 422])},
            "/api/v1/sessions": {"get": op("this operator's active sessions", Some("operator"), None, (200, obj(json!({"sessions": s("array")}), &["sessions"])), &[401])},
            "/api/v1/sessions/{id}/messages": {"parameters": [path_param("id")],
                "get": {"summary": "a session's messages", "parameters": [after_param()], "security": [{"operator": []}],
                        "responses": {"200": answer("messages", messages.clone()), "401": answer("no token", error_ref()), "404": answer("unknown", error_ref())}},
                "post": op("write to the client", Some("operator"), Some(post_message.clone()), (201, posted.clone()), &[400, 401, 403, 404, 409, 413, 422])},
            "/api/v1/sessions/{id}/close": {"parameters": [path_param("id")], "post": op("close a session", Some("operator"), None, (200, status_ok.clone()), &[401, 403, 404, 409])},
            "/api/v1/sessions/{id}/typing": {"parameters": [path_param("id")], "post": op("the operator is typing: the client sees it (over a WebSocket, `{\"type\":\"typing\",\"session\"}` up the socket does the same)", Some("operator"), None,
                (200, obj(json!({"relayed": s("boolean")}), &["relayed"])), &[401, 403, 404])},
            "/api/v1/operator/events": websocket("the operator's events (WebSocket or Server-Sent Events)", "operator"),
            "/api/v1/widgets/{key}/entries": {"parameters": [path_param("key")], "post": op("a client enters through a widget", None,
                Some(obj(json!({"entry": entry_kind, "form": obj(json!({"name": s("string"), "phone": s("string"), "email": s("string")}), &[]),
                    "language": s("string"), "page": {"$ref": "#/components/schemas/Page"}, "params": s("object"), "code": s("string")}), &["entry"])),
                (201, obj(json!({"client": s("string"), "token": s("string"), "status": s("string"), "position": s("integer"), "session": s("string")}), &["status"])),
                &[400, 403, 404, 413, 422])},
            "/api/v1/client/messages": {
                "get": {"summary": "the client's conversation", "parameters": [after_param()], "security": [{"client": []}],
                        "responses": {"200": answer("messages", messages), "401": answer("no token", error_ref())}},
                "post": op("the client writes", Some("client"), Some(post_message), (201, posted), &[400, 401, 403, 409, 413, 422])},
            "/api/v1/client/pages": {"post": op("report a page view (browsing history)", Some("client"),
                Some(obj(json!({"url": s("string"), "title": s("string")}), &["url"])), (202, status_ok.clone()), &[400, 401, 404, 413, 422])},
            "/api/v1/client/leave": {"post": op("the client leaves the queue or ends its session", Some("client"), None, (200, status_ok), &[401, 404])},
            "/api/v1/client/typing": {"post": op("the client is typing: its operator sees it (over a WebSocket, `{\"type\":\"typing\"}` up the socket does the same)", Some("client"), None,
                (200, obj(json!({"relayed": s("boolean")}), &["relayed"])), &[401, 403, 404])},
            "/api/v1/client/events": websocket("the client's events (WebSocket or Server-Sent Events)", "client"),
        }
    });
    let channels = json!({
            "/api/v1/channels": {"get": op("the configured messaging channels, without secrets (admin)", Some("operator"), None,
                (200, obj(json!({"channels": {"type":"array","items": channel_view.clone()}}), &["channels"])), &[401, 403])},
            "/api/v1/channels/{channel}": {"parameters": [{"name": "channel", "in": "path", "required": true,
                    "schema": {"type": "string", "enum": ["messenger", "whatsapp", "vk"]}}],
                "get": op("a channel's configuration, without secrets (admin)", Some("operator"), None, (200, channel_view.clone()), &[401, 403, 404]),
                "put": op("configure a messaging channel: credentials and the group its clients wait in (admin)", Some("operator"),
                    Some(json!({"oneOf": [
                        obj(json!({"page_id": s("string"), "app_secret": s("string"), "verify_token": s("string"),
                            "page_access_token": s("string"), "group": s("string"), "api_base": s("string")}),
                            &["page_id", "app_secret", "verify_token", "page_access_token", "group"]),
                        obj(json!({"phone_number_id": s("string"), "app_secret": s("string"), "verify_token": s("string"),
                            "access_token": s("string"), "group": s("string"), "api_base": s("string")}),
                            &["phone_number_id", "app_secret", "verify_token", "access_token", "group"]),
                        obj(json!({"community_id": s("string"), "confirmation": s("string"), "secret": s("string"),
                            "access_token": s("string"), "group": s("string"), "api_base": s("string")}),
                            &["community_id", "confirmation", "secret", "access_token", "group"])]})),
                    (200, channel_view), &[400, 401, 403, 404, 413, 422])},
    });
    let templates = json!({
        "/api/v1/channels/whatsapp/templates": {"get": op("the WhatsApp templates operators may send", Some("operator"), None,
            (200, obj(json!({"templates": {"type": "array", "items": obj(json!({"name": s("string"), "language": s("string"),
                "parameters": {"type": "array", "items": s("string")}}), &["name", "language"])}}), &["templates"])), &[401])},
        "/api/v1/sessions/{id}/template": {"parameters": [path_param("id")], "post": op(
            "send a WhatsApp template to the client (allowed outside the 24-hour window)", Some("operator"),
            Some(obj(json!({"name": s("string"), "values": {"type": "array", "items": s("string")}}), &["name"])),
            (201, obj(json!({"seq": s("integer")}), &["seq"])), &[400, 401, 403, 404, 409, 413, 422])},
    });
    let text =
        |d: &str| json!({"description": d, "content": {"text/plain": {"schema": s("string")}}});
    let tenant =
        json!({"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}});
    let meta_hook = |name: &str| {
        json!({"parameters": [tenant.clone()],
            "get": {"summary": format!("{name}: Meta's verification handshake (hub.mode, hub.verify_token, hub.challenge)"),
                "parameters": [
                    {"name": "hub.mode", "in": "query", "required": true, "schema": {"type": "string", "enum": ["subscribe"]}},
                    {"name": "hub.verify_token", "in": "query", "required": true, "schema": s("string")},
                    {"name": "hub.challenge", "in": "query", "required": true, "schema": s("string")}],
                "responses": {"200": text("the challenge"), "403": answer("wrong verify token", error_ref()),
                              "404": answer("the channel is not configured", error_ref())}},
            "post": {"summary": format!("{name}: a webhook delivery, signed with X-Hub-Signature-256 over the raw body"),
                "parameters": [{"name": "X-Hub-Signature-256", "in": "header", "required": true, "schema": s("string")}],
                "requestBody": body(s("object")),
                "responses": {"200": text("ok"), "400": answer("malformed", error_ref()),
                              "401": answer("no signature", error_ref()), "403": answer("wrong signature", error_ref()),
                              "404": answer("the channel is not configured", error_ref()),
                              "413": answer("too large", error_ref())}}})
    };
    let hooks = json!({
        "/hooks/{tenant}/messenger": meta_hook("Facebook Messenger"),
        "/hooks/{tenant}/whatsapp": meta_hook("WhatsApp Cloud API"),
        "/hooks/{tenant}/vk": {"parameters": [tenant],
            "post": {"summary": "VK Callback API: answered with the confirmation string for `confirmation`, `ok` for every other event; the body's `secret` must match",
                "requestBody": body(s("object")),
                "responses": {"200": text("the confirmation string, or ok"), "400": answer("malformed", error_ref()),
                              "401": answer("no secret", error_ref()), "403": answer("wrong secret or community", error_ref()),
                              "404": answer("the channel is not configured", error_ref())}}},
    });
    for more in [&channels, &templates, &hooks] {
        if let (Some(paths), Some(more)) = (doc["paths"].as_object_mut(), more.as_object()) {
            paths.extend(more.clone());
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::route;

    #[test]
    fn every_documented_path_is_routed() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let concrete = path
                .replace("{id}", "x_1")
                .replace("{key}", "acme.k")
                .replace("{tenant}", "acme");
            for method in ["get", "post", "put"] {
                if item.get(method).is_some() {
                    let routed = if concrete.starts_with("/hooks/") {
                        crate::channels::desk::hook_route(method, &concrete)
                            .is_some_and(|r| r.is_ok())
                    } else {
                        route(method, &concrete).is_ok()
                    };
                    assert!(routed, "{method} {path} is documented but not routed");
                }
            }
        }
    }

    #[test]
    fn the_api_md_routes_are_documented() {
        let doc = document();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/healthz",
            "/api/v1/tenants",
            "/api/v1/auth/login",
            "/api/v1/groups",
            "/api/v1/operators",
            "/api/v1/widgets",
            "/api/v1/me/status",
            "/api/v1/queue",
            "/api/v1/clients/{id}/preview",
            "/api/v1/queue/{id}/accept",
            "/api/v1/queue/{id}/redirect",
            "/api/v1/sessions/{id}/messages",
            "/api/v1/sessions/{id}/close",
            "/api/v1/operator/events",
            "/api/v1/widgets/{key}/entries",
            "/api/v1/client/messages",
            "/api/v1/client/pages",
            "/api/v1/client/events",
            "/api/v1/client/typing",
            "/api/v1/sessions/{id}/typing",
            "/api/v1/channels/{channel}",
        ] {
            assert!(
                paths.contains_key(p),
                "{p} missing from the OpenAPI document"
            );
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
