//! The server describes its own API: `GET /api/v1/openapi.json` is an OpenAPI 3 document with
//! every route of the contract and the routes the tests and integrators rely on.

use lobby_e2e::shared;
use serde_json::Value;

/// `(method, path)` of every route of the contract that the server serves so far, plus the listing and
/// client routes it adds. Invitations and the widget's config join this list once described.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("post", "/api/v1/tenants"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/groups"),
    ("post", "/api/v1/operators"),
    ("post", "/api/v1/widgets"),
    ("put", "/api/v1/me/status"),
    ("get", "/api/v1/queue"),
    ("get", "/api/v1/clients/{id}/preview"),
    ("post", "/api/v1/queue/{id}/accept"),
    ("post", "/api/v1/queue/{id}/redirect"),
    ("get", "/api/v1/sessions/{id}/messages"),
    ("post", "/api/v1/sessions/{id}/messages"),
    ("post", "/api/v1/sessions/{id}/close"),
    ("get", "/api/v1/operator/events"),
    ("post", "/api/v1/widgets/{key}/entries"),
    ("post", "/api/v1/client/messages"),
    ("post", "/api/v1/client/pages"),
    ("get", "/api/v1/client/events"),
    // Beyond the contract tables, but part of what the server serves.
    ("get", "/api/v1/groups"),
    ("get", "/api/v1/operators"),
    ("get", "/api/v1/widgets"),
    ("get", "/api/v1/client/messages"),
    ("post", "/api/v1/client/leave"),
    ("get", "/api/v1/ping"),
    ("get", "/api/v1/openapi.json"),
    ("post", "/api/v1/widgets/{key}/offline"),
    // Channel configuration (the channels issue).
    ("get", "/api/v1/channels"),
    ("get", "/api/v1/channels/{channel}"),
    ("put", "/api/v1/channels/{channel}"),
    ("get", "/api/v1/channels/whatsapp/templates"),
    ("post", "/api/v1/sessions/{id}/template"),
    // The channels' webhooks (each speaks its provider's protocol).
    ("get", "/hooks/{tenant}/messenger"),
    ("post", "/hooks/{tenant}/messenger"),
    ("get", "/hooks/{tenant}/whatsapp"),
    ("post", "/hooks/{tenant}/whatsapp"),
    ("post", "/hooks/{tenant}/vk"),
];

/// `/a/{x}/b` → `/a/{}/b`: parameter names are the server's choice.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[test]
fn openapi_document_lists_every_route() {
    let server = shared();
    let resp = server.get("/api/v1/openapi.json").send().expect(200);
    assert!(resp.is_json(), "Content-Type {:?}", resp.content_type);
    let doc: Value = resp.json();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3."),
        "\"openapi\" is {:?}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string(), "info.title missing");
    let paths = doc["paths"].as_object().expect("\"paths\" is an object");
    let by_shape: Vec<(String, &Value)> = paths.iter().map(|(p, v)| (shape(p), v)).collect();
    let find = |path: &str| {
        by_shape
            .iter()
            .find(|(p, _)| *p == shape(path))
            .map(|(_, v)| *v)
    };

    let mut missing = Vec::new();
    for (method, path) in ROUTES {
        match find(path) {
            Some(item) if item.get(*method).is_some() => {}
            Some(_) => missing.push(format!(
                "{} {path} (path listed, method not)",
                method.to_uppercase()
            )),
            None => missing.push(format!("{} {path}", method.to_uppercase())),
        }
    }
    let listed: Vec<&String> = paths.keys().collect();
    assert!(
        missing.is_empty(),
        "routes missing from openapi.json:\n  {}\npaths listed: {listed:?}",
        missing.join("\n  ")
    );
}
