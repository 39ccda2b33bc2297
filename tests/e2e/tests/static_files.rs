//! The frontends are served by the runtime itself: the operator app at `/app/`, the widget's
//! loader at `/widget.js` and the widget at `/widget/`, from `frontend/dist` (Cloudflare's
//! `[assets]`; on Spin the component reads the folder spin.toml mounts). Needs the frontends
//! built (scripts/build-frontend.sh, frontend/widget/build.sh), as `make test` does first.

use lobby_e2e::{repo_root, runtime, shared, Runtime};
use reqwest::blocking::{Client, Response};
use std::io::Read;

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION,
    VARY,
};

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

fn header(r: &Response, name: reqwest::header::HeaderName) -> String {
    r.headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn the_operator_app_and_the_widget_are_served_with_their_media_types() {
    let dist = repo_root().join("frontend/dist");
    assert!(
        dist.join("app/index.html").is_file() && dist.join("widget/index.html").is_file(),
        "build the frontends first (scripts/build-frontend.sh, frontend/widget/build.sh)"
    );
    let server = shared();
    let http = client();
    for (path, file, media) in [
        ("/app/", "app/index.html", "text/html"),
        (
            "/app/lobby_operator_bg.wasm",
            "app/lobby_operator_bg.wasm",
            "application/wasm",
        ),
        (
            "/app/lobby_operator.js",
            "app/lobby_operator.js",
            "javascript",
        ),
        ("/app/app.css", "app/app.css", "text/css"),
        ("/widget.js", "widget.js", "javascript"),
        ("/widget/", "widget/index.html", "text/html"),
        ("/widget/app.js", "widget/app.js", "javascript"),
    ] {
        let r = http.get(server.url(path)).send().expect("GET");
        assert_eq!(r.status(), 200, "GET {path}");
        let ct = header(&r, CONTENT_TYPE);
        assert!(ct.contains(media), "GET {path}: Content-Type {ct}");
        let body = r.bytes().expect("body");
        let want = std::fs::read(dist.join(file)).expect("the built file");
        assert!(body[..] == want[..], "GET {path} is not {file}");
    }
    // Unknown files are the API's 404, not a file; the API is never shadowed by a file.
    let r = http
        .get(server.url("/app/no-such-file.js"))
        .send()
        .expect("GET");
    assert_eq!(r.status(), 404);
    let r = http.get(server.url("/healthz")).send().expect("GET");
    assert!(header(&r, CONTENT_TYPE).contains("application/json"));
}

/// What the Spin component adds on its own (Cloudflare's assets have their own rules): 307 from
/// a folder without its slash, ETag revalidation, a year of caching for a URL whose `?v=`
/// matches the content, nothing outside the mounted folder.
#[test]
fn spin_static_files_revalidate_and_stay_inside_the_mount() {
    if runtime() != Runtime::Spin {
        return;
    }
    let server = shared();
    let http = client();
    let r = http.get(server.url("/widget")).send().expect("GET");
    assert_eq!(r.status(), 307);
    assert_eq!(header(&r, LOCATION), "/widget/");

    let r = http.get(server.url("/widget.js")).send().expect("GET");
    let etag = header(&r, ETAG);
    assert!(etag.starts_with('"') && etag.len() > 10, "ETag {etag}");
    assert_eq!(
        header(&r, CACHE_CONTROL),
        "public, max-age=0, must-revalidate"
    );
    let again = http
        .get(server.url("/widget.js"))
        .header(IF_NONE_MATCH, &etag)
        .send()
        .expect("GET");
    assert_eq!(again.status(), 304);
    assert!(again.bytes().expect("body").is_empty());
    let other = http
        .get(server.url("/widget.js"))
        .header(IF_NONE_MATCH, "\"something-else\"")
        .send()
        .expect("GET");
    assert_eq!(other.status(), 200);

    // The widget page names its script with a content hash: that URL may be kept for a year.
    let page = http
        .get(server.url("/widget/"))
        .send()
        .expect("GET")
        .text()
        .expect("text");
    let start = page.find("/widget/app.js?v=").expect("a versioned app.js");
    let end = page[start..].find('"').expect("closing quote") + start;
    let r = http.get(server.url(&page[start..end])).send().expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    // A version that does not match the content is not cached for long.
    let r = http
        .get(server.url("/widget/app.js?v=0000000000"))
        .send()
        .expect("GET");
    assert_eq!(
        header(&r, CACHE_CONTROL),
        "public, max-age=0, must-revalidate"
    );

    for path in [
        "/app/%2e%2e/%2e%2e/etc/passwd",
        "/..%2f..%2fetc/passwd",
        "/%2e%2e/spin.toml",
    ] {
        let r = http.get(server.url(path)).send().expect("GET");
        assert_eq!(r.status(), 404, "GET {path}");
    }
}

#[test]
fn compressible_files_go_out_gzipped_to_a_browser_that_takes_gzip() {
    let dist = repo_root().join("frontend/dist");
    let server = shared();
    let http = client();
    for (path, file) in [
        ("/app/lobby_operator_bg.wasm", "app/lobby_operator_bg.wasm"),
        ("/widget/app.js", "widget/app.js"),
        ("/widget/", "widget/index.html"),
    ] {
        let want = std::fs::read(dist.join(file)).expect("the built file");
        // The copy is not a file of its own (Cloudflare: .assetsignore; Spin: refused by name).
        let name = file.rsplit('/').next().unwrap();
        let copy = std::fs::read_dir(dist.join(file).parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(&format!("{name}.")) && n.ends_with(".gz"))
            .unwrap_or_else(|| panic!("scripts/precompress.sh made no copy of {file}"));
        let copy_path = format!("{}{copy}", &path[..path.rfind('/').unwrap() + 1]);
        let r = http.get(server.url(&copy_path)).send().expect("GET");
        assert_eq!(r.status(), 404, "GET {copy_path}");
        // No Accept-Encoding: the file as it is.
        let plain = http.get(server.url(path)).send().expect("GET");
        assert_eq!(plain.status(), 200, "GET {path}");
        assert_eq!(header(&plain, CONTENT_ENCODING), "", "GET {path}");
        let plain_etag = header(&plain, ETAG);
        assert_eq!(plain.bytes().expect("body").as_ref(), want.as_slice());

        let r = http
            .get(server.url(path))
            .header(ACCEPT_ENCODING, "gzip")
            .send()
            .expect("GET");
        assert_eq!(r.status(), 200, "GET {path} (gzip)");
        let encoding = header(&r, CONTENT_ENCODING);
        if encoding.is_empty() && runtime() == Runtime::Cloudflare {
            continue; // wrangler dev may send it as it is
        }
        assert_eq!(encoding, "gzip", "GET {path} with Accept-Encoding: gzip");
        if runtime() == Runtime::Spin {
            assert!(header(&r, VARY).contains("Accept-Encoding"), "{path}");
            let etag = header(&r, ETAG);
            assert_ne!(etag, plain_etag, "each encoding has its own ETag");
            let again = http
                .get(server.url(path))
                .header(ACCEPT_ENCODING, "gzip")
                .header(IF_NONE_MATCH, &etag)
                .send()
                .expect("GET");
            assert_eq!(again.status(), 304, "{path}");
        }
        let body = r.bytes().expect("body");
        if path.ends_with(".wasm") {
            assert!(
                body.len() * 2 < want.len(),
                "{path}: {} bytes gzip of {}",
                body.len(),
                want.len()
            );
        }
        let mut got = Vec::new();
        flate2::read::GzDecoder::new(body.as_ref())
            .read_to_end(&mut got)
            .expect("a gzip body");
        assert!(got == want, "{path}: the gzip body is the file");
    }
}
