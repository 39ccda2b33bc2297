//! The static frontends on Spin: the operator app (`/app/`), the widget's loader (`/widget.js`)
//! and the widget itself (`/widget/`), as `frontend/dist` holds them after the frontend builds.
//!
//! spin.toml mounts that folder into the component read-only (`files = [{ source =
//! "frontend/dist", destination = "/" }]`), so the files are ordinary WASI files under
//! [`ROOT`]. As on Cloudflare (wrangler.toml `[assets]` with `run_worker_first` for `/api/*`,
//! `/hooks/*` and `/healthz`), a GET or HEAD of any other path is answered from those files when
//! one matches; everything else goes on to the API router.
//!
//! Paths: `/dir/` serves `dir/index.html`, `/dir` redirects to `/dir/` when that exists, `/name`
//! also finds `name.html`. Caching: every answer carries a strong `ETag` (the SHA-256 of the
//! content) and `Cache-Control: public, max-age=0, must-revalidate`, Cloudflare's default for
//! assets, so a browser revalidates and gets `304 Not Modified` while the file is unchanged. A URL
//! whose `?v=` is the first characters of that same hash (the widget's build stamps its script
//! and stylesheet URLs so) can never name other content: it is cached for a year, `immutable`.
//!
//! Compression: Cloudflare compresses its assets on the way out; here the frontend builds leave a
//! gzip copy beside each compressible file (`scripts/precompress.sh`), named after the content it
//! was made from (`F.<16 hex of F's SHA-256>.gz`). A client that accepts gzip gets that copy
//! (`Content-Encoding: gzip`, `Vary: Accept-Encoding`, its own ETag) — only when its name matches
//! the file as it is now, so a stale copy is never served.

use bytes::Bytes;
use sha2::{Digest, Sha256};
use spin_sdk::http::{HeaderMap, Response};

use crate::{respond, Body};

/// Where spin.toml mounts `frontend/dist` in the component's file system.
pub const ROOT: &str = "/";

/// Path prefixes that always belong to the component's own routes, never to files.
const DYNAMIC: [&str; 3] = ["/api/", "/hooks/", "/healthz"];

/// The shortest `?v=` accepted as a content version (the widget build uses 10 hex digits).
const MIN_VERSION_LEN: usize = 8;

/// The answer for `path` from the mounted files, or `None` when no file matches (the request then
/// goes to the API router, which answers 404 for unknown paths).
pub fn serve(
    method: &str,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Option<Response<Body>> {
    if !(method == "GET" || method == "HEAD") || DYNAMIC.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    let rel = relative(path)?;
    if is_copy(&rel) {
        return None; // served only in place of its file
    }
    let (file, bytes) = if rel.is_empty() || rel.ends_with('/') {
        let file = format!("{rel}index.html");
        let bytes = read(&file)?;
        (file, bytes)
    } else if let Some(bytes) = read(&rel) {
        (rel, bytes)
    } else if read(&format!("{rel}/index.html")).is_some() {
        let mut r = respond(307, Bytes::new());
        let location = match query {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        r.headers_mut().insert("Location", location.parse().ok()?);
        return Some(r);
    } else {
        let file = format!("{rel}.html");
        let bytes = read(&file)?;
        (file, bytes)
    };

    let hash = hex(&Sha256::digest(&bytes));
    // The gzip copy made from exactly these bytes, when the client takes gzip.
    let gzip = accepts_gzip(headers.get("Accept-Encoding").and_then(|v| v.to_str().ok()))
        .then(|| read(&format!("{file}.{}.gz", &hash[..16])))
        .flatten();
    let has_copy = gzip.is_some() || is_file(&format!("{file}.{}.gz", &hash[..16]));
    let etag = match gzip {
        Some(_) => format!("\"{}-gz\"", &hash[..32]),
        None => format!("\"{}\"", &hash[..32]),
    };
    let (bytes, encoded) = match gzip {
        Some(gz) => (gz, true),
        None => (bytes, false),
    };
    let versioned = query
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("v=")))
        .is_some_and(|v| v.len() >= MIN_VERSION_LEN && hash.starts_with(&v.to_ascii_lowercase()));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=0, must-revalidate"
    };
    let unchanged = headers
        .get("If-None-Match")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().trim_start_matches("W/") == etag)
        });
    let status = if unchanged { 304 } else { 200 };
    let length = bytes.len();
    let body = if unchanged || method == "HEAD" {
        Bytes::new()
    } else {
        Bytes::from(bytes)
    };
    let mut r = respond(status, body);
    let h = r.headers_mut();
    for (k, v) in [
        ("Content-Type", content_type(&file).to_string()),
        ("Cache-Control", cache.to_string()),
        ("ETag", etag),
        ("X-Content-Type-Options", "nosniff".to_string()),
    ] {
        h.insert(k, v.parse().ok()?);
    }
    if encoded {
        h.insert("Content-Encoding", "gzip".parse().ok()?);
    }
    if has_copy {
        h.insert("Vary", "Accept-Encoding".parse().ok()?);
    }
    if status == 200 {
        h.insert("Content-Length", length.to_string().parse().ok()?);
    }
    Some(r)
}

/// A gzip copy's own name (`F.<16 hex>.gz`, see `scripts/precompress.sh`).
fn is_copy(rel: &str) -> bool {
    rel.strip_suffix(".gz")
        .and_then(|r| r.rsplit_once('.'))
        .is_some_and(|(_, h)| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether an `Accept-Encoding` value takes gzip (`gzip` or `*`, unless with `q=0`).
fn accepts_gzip(value: Option<&str>) -> bool {
    let Some(value) = value else { return false };
    let mut gzip = None;
    let mut any = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => gzip = Some(q > 0.0),
            "*" => any = Some(q > 0.0),
            _ => {}
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// The request path as a path relative to [`ROOT`]: percent-decoded, `/`-separated, without
/// empty, `.`, `..` or hidden (`.name`) segments, so that nothing outside the mounted folder
/// nor a build's temporary folder is ever named. A trailing `/` is kept.
fn relative(path: &str) -> Option<String> {
    // (`+` is a plain character in a path, not a space.)
    let decoded =
        lobby_core::request::percent_decode(&path.trim_start_matches('/').replace('+', "%2B"));
    if decoded.contains(['\\', '\0']) {
        return None;
    }
    let dir = decoded.ends_with('/');
    let mut parts = Vec::new();
    for seg in decoded.split('/').filter(|s| !s.is_empty()) {
        if seg.starts_with('.') {
            return None;
        }
        parts.push(seg);
    }
    let mut rel = parts.join("/");
    if dir && !rel.is_empty() {
        rel.push('/');
    }
    Some(rel)
}

/// A regular file's bytes, `None` when it does not exist or is a folder.
fn read(rel: &str) -> Option<Vec<u8>> {
    if !is_file(rel) {
        return None;
    }
    std::fs::read(std::path::Path::new(ROOT).join(rel)).ok()
}

fn is_file(rel: &str) -> bool {
    std::fs::metadata(std::path::Path::new(ROOT).join(rel)).is_ok_and(|m| m.is_file())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The media type by extension (what `frontend/dist` holds, plus the usual web files).
fn content_type(file: &str) -> &'static str {
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_mount() {
        assert_eq!(relative("/app/").as_deref(), Some("app/"));
        assert_eq!(relative("/").as_deref(), Some(""));
        assert_eq!(relative("/widget/app.js").as_deref(), Some("widget/app.js"));
        assert_eq!(
            relative("//widget//app.js").as_deref(),
            Some("widget/app.js")
        );
        assert_eq!(relative("/a%20b.css").as_deref(), Some("a b.css"));
        for bad in [
            "/../etc/passwd",
            "/app/%2e%2e/%2e%2e/x",
            "/.app-build.x/index.html",
            "/app/./x",
            "/a%5cb",
            "/a%00b",
        ] {
            assert_eq!(relative(bad), None, "{bad}");
        }
    }

    #[test]
    fn gzip_copies_are_not_files_of_their_own() {
        assert!(is_copy("app/lobby_operator_bg.wasm.6167e0d4dfbd2eaf.gz"));
        assert!(!is_copy("downloads/archive.tar.gz"));
        assert!(!is_copy("app/app.css"));
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(accepts_gzip(Some("gzip, deflate, br, zstd")));
        assert!(accepts_gzip(Some("br;q=1.0, gzip;q=0.8")));
        assert!(accepts_gzip(Some("*")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("*, gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(Some("br")));
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn media_types() {
        assert_eq!(
            content_type("app/lobby_operator_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(content_type("widget.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("README"), "application/octet-stream");
    }
}
