//! The server describes its own API: `GET /api/v1/openapi.json` is an OpenAPI 3 document with
//! every operation of the route tables the router matches (the API's and the webhooks'), and the
//! very document the core stores.

use lobby_core::channels::desk::HOOKS;
use lobby_core::routes::OPERATIONS;
use lobby_e2e::shared;
use serde_json::Value;

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

    let routes = OPERATIONS
        .iter()
        .map(|op| (op.method, op.path))
        .chain(HOOKS.iter().map(|h| (h.method, h.path)));
    let mut missing = Vec::new();
    for (method, path) in routes {
        let method = method.to_ascii_lowercase();
        match find(path) {
            Some(item) if item.get(&method).is_some() => {}
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
    assert_eq!(
        doc,
        lobby_core::openapi::document(),
        "the server serves another document than functions/core/openapi.json"
    );
}
