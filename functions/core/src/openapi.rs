//! The OpenAPI 3.1 document of the API, served at `GET /api/v1/openapi.json`. It is generated
//! from the route tables ([`crate::routes::OPERATIONS`], [`crate::channels::desk::HOOKS`]) and
//! the JSON Schemas of the wire types they name, natively (the `schema` feature, which only the
//! core's tests build), and stored as `functions/core/openapi.json`. The runtimes serve that
//! file, so their Wasm carries neither the generator nor the schemas' code. A test fails when
//! the stored file is not what the tables generate: `make openapi` rewrites it.

use serde_json::Value;

/// The stored document, as served.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// The document.
pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON (the core's tests read it)")
}

#[cfg(feature = "schema")]
pub use generator::{generate, implied_errors};

#[cfg(feature = "schema")]
mod generator {
    use schemars::generate::{Contract, SchemaSettings};
    use schemars::SchemaGenerator;
    use serde_json::{json, Map, Value};

    use crate::api::Access;
    use crate::channels::desk::HOOKS;
    use crate::routes::{path_param_schema, Answer, Body, Doc, Make, Says, Schema, OPERATIONS};

    const ERROR_TEXT: &str = "error: {\"error\": {\"code\", \"message\"}}";

    /// The document, with its objects' keys sorted (the stored file is compared as text).
    pub fn generate() -> Value {
        // Requests and answers are described by what a reader of the JSON may rely on
        // (`Contract::Deserialize`): a field with a default may be absent.
        let mut gen = SchemaSettings::draft2020_12()
            .with(|s| {
                s.definitions_path = "/components/schemas".into();
                s.contract = Contract::Deserialize;
                s.meta_schema = None;
            })
            .into_generator();
        let mut paths = Map::new();
        for op in OPERATIONS {
            let item = path_item(&mut paths, op.path);
            item.insert(
                op.method.to_ascii_lowercase(),
                operation(&mut gen, op.path, security(op.access), &op.doc),
            );
        }
        for hook in HOOKS {
            let item = path_item(&mut paths, hook.path);
            item.insert(
                hook.method.to_ascii_lowercase(),
                operation(&mut gen, hook.path, None, &hook.doc),
            );
        }
        let schemas = gen.take_definitions(true);
        sorted(json!({
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
                "schemas": schemas,
            },
            "paths": paths,
        }))
    }

    /// The security scheme a route's callers present.
    fn security(access: Access) -> Option<&'static str> {
        match access {
            Access::Platform => Some("platform"),
            Access::Admin | Access::Operator => Some("operator"),
            Access::Client => Some("client"),
            Access::Public | Access::Login | Access::Widget => None,
        }
    }

    /// Error answers every operation of a kind can give, added to each so that the document
    /// lists every status the API really answers: a token of the wrong kind (401, 403), an
    /// unknown id in the path (404), a bad `after` (422), an unreadable or invalid body (400,
    /// 413, 422).
    pub fn implied_errors(path: &str, secured: bool, doc: &Doc) -> Vec<u16> {
        let mut add = vec![];
        if secured {
            add.extend([401, 403]);
        }
        if path.contains('{') {
            add.push(404);
        }
        if doc.parameters.iter().any(|p| p.name == "after") {
            add.push(422);
        }
        if doc.request.is_some() {
            add.extend([400, 413, 422]);
        }
        add
    }

    /// A path's item, created with its path parameters.
    fn path_item<'a>(paths: &'a mut Map<String, Value>, path: &str) -> &'a mut Map<String, Value> {
        paths
            .entry(path)
            .or_insert_with(|| {
                let params: Vec<Value> = path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                    .map(|name| {
                        json!({"name": name, "in": "path", "required": true,
                               "schema": path_param_schema(name)})
                    })
                    .collect();
                if params.is_empty() {
                    json!({})
                } else {
                    json!({ "parameters": params })
                }
            })
            .as_object_mut()
            .expect("a path item is an object")
    }

    fn operation(
        gen: &mut SchemaGenerator,
        path: &str,
        security: Option<&str>,
        doc: &Doc,
    ) -> Value {
        let mut o = Map::new();
        o.insert("summary".into(), doc.summary.into());
        if let Some(d) = doc.description {
            o.insert("description".into(), d.into());
        }
        if !doc.parameters.is_empty() {
            let params: Vec<Value> = doc
                .parameters
                .iter()
                .map(|p| {
                    json!({"name": p.name, "in": p.location, "required": p.required,
                           "schema": schema(gen, p.schema)})
                })
                .collect();
            o.insert("parameters".into(), params.into());
        }
        if let Some(s) = security {
            o.insert("security".into(), json!([{ s: [] }]));
        }
        if let Some(r) = doc.request {
            let mut body = json!({ "required": r.required });
            if let Some(c) = content(gen, r.body) {
                body["content"] = c;
            }
            o.insert("requestBody".into(), body);
        }
        let mut responses = Map::new();
        for a in doc.answers {
            responses.insert(a.status.to_string(), answer(gen, doc.summary, a));
        }
        let errors = doc.errors.iter().copied();
        for status in errors.chain(implied_errors(path, security.is_some(), doc)) {
            let error = Answer {
                status,
                says: Says::Error,
                body: Body::Error,
            };
            if !responses.contains_key(&status.to_string()) {
                responses.insert(status.to_string(), answer(gen, doc.summary, &error));
            }
        }
        o.insert("responses".into(), responses.into());
        o.into()
    }

    fn answer(gen: &mut SchemaGenerator, summary: &str, a: &Answer) -> Value {
        let description = match a.says {
            Says::Summary => summary,
            Says::Error => ERROR_TEXT,
            Says::Text(t) => t,
        };
        let mut v = json!({ "description": description });
        if let Some(c) = content(gen, a.body) {
            v["content"] = c;
        }
        v
    }

    fn content(gen: &mut SchemaGenerator, body: Body) -> Option<Value> {
        let object = |field: &str, value: Value| json!({"type": "object", "properties": {field: value}, "required": [field]});
        let (media, schema) = match body {
            Body::Empty => return None,
            Body::Error => (
                "application/json",
                gen.subschema_for::<lobby_wire::ErrorBody>().to_value(),
            ),
            Body::Json(s) => ("application/json", schema(gen, s)),
            Body::ListOf(field, s) => (
                "application/json",
                object(field, json!({"type": "array", "items": schema(gen, s)})),
            ),
            Body::Field(field, s) => ("application/json", object(field, schema(gen, s))),
            Body::Text => ("text/plain", json!({"type": "string"})),
            Body::EventStream => (
                "text/event-stream",
                json!({"type": "object", "required": ["data"],
                       "properties": {"data": {"type": "string", "contentMediaType": "application/json"},
                                      "event": {"type": "string"}, "id": {"type": "string"}}}),
            ),
        };
        Some(json!({ media: { "schema": schema } }))
    }

    fn schema(gen: &mut SchemaGenerator, s: Schema) -> Value {
        match s.make {
            Make::Wire(f) => f(gen).to_value(),
            Make::Json(f) => f(),
        }
    }

    /// Objects' keys in order, whichever map serde_json was built with.
    fn sorted(v: Value) -> Value {
        match v {
            Value::Object(o) => {
                let mut entries: Vec<(String, Value)> = o.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
            v => v,
        }
    }
}

#[cfg(all(test, feature = "schema"))]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::api::{route, Access};
    use crate::channels::desk::{hook_route, HOOKS};
    use crate::routes::{Doc, OPERATIONS};

    /// The file as the generator writes it.
    fn generated_text() -> String {
        serde_json::to_string_pretty(&generate()).expect("JSON") + "\n"
    }

    #[test]
    fn the_stored_document_is_the_generated_one() {
        let fresh = generated_text();
        if std::env::var_os("LOBBY_WRITE_OPENAPI").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
            std::fs::write(path, &fresh).expect("write openapi.json");
            return;
        }
        assert!(
            DOCUMENT == fresh,
            "functions/core/openapi.json is not what the route tables and wire types generate: \
             run `make openapi` and commit the file"
        );
    }

    /// Every operation of both tables, as `(method, path, secured, doc)`.
    fn table() -> Vec<(String, &'static str, bool, &'static Doc)> {
        let api = OPERATIONS.iter().map(|op| {
            let secured = !matches!(op.access, Access::Public | Access::Login | Access::Widget);
            (op.method.to_ascii_lowercase(), op.path, secured, &op.doc)
        });
        let hooks = HOOKS
            .iter()
            .map(|h| (h.method.to_ascii_lowercase(), h.path, false, &h.doc));
        api.chain(hooks).collect()
    }

    #[test]
    fn every_routed_operation_is_described_with_its_statuses() {
        let doc = document();
        for (method, path, secured, d) in table() {
            let op = &doc["paths"][path][&method];
            assert!(
                op.is_object(),
                "{method} {path} is routed but not described"
            );
            assert_eq!(op["summary"], d.summary, "{method} {path}");
            let statuses = d
                .answers
                .iter()
                .map(|a| a.status)
                .chain(d.errors.iter().copied());
            for status in statuses.chain(implied_errors(path, secured, d)) {
                assert!(
                    op["responses"].get(status.to_string()).is_some(),
                    "{method} {path}: {status} is missing from the document"
                );
            }
            assert_eq!(op.get("security").is_some(), secured, "{method} {path}");
        }
        for p in [
            "/api/v1/widgets/{key}/config",
            "/api/v1/widgets/{key}/offline",
            "/api/v1/invitations",
        ] {
            assert!(doc["paths"].get(p).is_some(), "{p}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn nothing_described_is_unrouted() {
        let doc = document();
        let routed: BTreeSet<(String, &str)> =
            table().into_iter().map(|(m, p, ..)| (m, p)).collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            let concrete = path
                .replace("{id}", "x_1")
                .replace("{key}", "acme.k")
                .replace("{tenant}", "acme")
                .replace("{channel}", "vk");
            for method in item.as_object().unwrap().keys() {
                if method == "parameters" {
                    continue;
                }
                assert!(
                    routed.contains(&(method.clone(), path.as_str())),
                    "{method} {path} is described but not in a route table"
                );
                let resolves = match hook_route(method, &concrete) {
                    Some(hook) => hook.is_ok(),
                    None => route(method, &concrete).is_ok_and(|r| r.operation().path == path),
                };
                assert!(resolves, "{method} {path} is described but not routed");
            }
        }
    }

    #[test]
    fn the_accept_route_says_that_it_needs_presence_online() {
        let doc = document();
        let accept = &doc["paths"]["/api/v1/queue/{id}/accept"]["post"];
        let text = accept["description"].as_str().unwrap();
        for code in ["not_online", "already_accepted", "capacity", "`away`"] {
            assert!(text.contains(code), "{code} is not explained: {text}");
        }
        assert!(accept["responses"].get("409").is_some());
    }

    #[test]
    fn the_offline_route_takes_the_page_and_says_what_the_mail_shows() {
        let doc = document();
        let offline = &doc["paths"]["/api/v1/widgets/{key}/offline"]["post"];
        let schema = &offline["requestBody"]["content"]["application/json"]["schema"];
        let name = schema["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
        let props = &doc["components"]["schemas"][name]["properties"];
        for field in ["form", "message", "language", "page"] {
            assert!(props.get(field).is_some(), "{field}: {props}");
        }
        let text = offline["description"].as_str().unwrap();
        for shown in ["language", "browser and OS", "page", "widget's name"] {
            assert!(text.contains(shown), "{shown}: {text}");
        }
        assert!(offline["responses"].get("202").is_some());
    }
}
