//! `lobby-spin-host`: a small local Spin host for tests and development (the `spin` CLI cannot be
//! installed here; see docs/toolchain.md and this crate's README.md for its gaps against Spin).
//!
//! ```text
//! lobby-spin-host [--manifest spin.toml] [--listen 127.0.0.1:3000]
//! ```
//!
//! It reads spin.toml, compiles each HTTP trigger's component (wasmtime 48, WASI 0.3), serves
//! the triggers over HTTP/1.1, and gives every request a fresh instance (as Spin does) with
//! WASI 0.2 + 0.3, `wasi:http` (outbound too), `spin:sqlite` and `spin:variables`.
//! Environment: `SPIN_VARIABLE_<NAME>` (application variables), `SPIN_HOST_SQLITE_PATH` (the
//! `default` database file), `SPIN_HOST_LISTEN` (instead of `--listen`), `SPIN_HOST_STATS` (a
//! file the host keeps up to date with how many SQLite statements the components ran, and how
//! long they took).

mod manifest;
mod rename;
mod spin_api;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreContextMut};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, ProxyHandler, ProxyPre, ShouldAccept, WorkerExpiration, WorkerState,
    WorkerStatus,
};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// A request must produce its response within this time; afterwards a streaming body (SSE) may
/// keep the instance for `POST_RETURN_LIMIT` more (Lobby's streams end by themselves
/// after `lobby_stream_seconds`).
const REQUEST_LIMIT: Duration = Duration::from_secs(60);
const POST_RETURN_LIMIT: Duration = Duration::from_secs(3600);

/// One store's data: WASI, WASI HTTP and the Spin interfaces.
pub struct Ctx {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: [(); 0],
    spin: spin_api::Shared,
}

impl WasiView for Ctx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Ctx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

fn http_view(c: &mut Ctx) -> WasiHttpCtxView<'_> {
    c.http()
}

/// A component ready to instantiate for one route.
struct Served {
    route: manifest::Route,
    engine: Engine,
    pre: ProxyPre<Ctx>,
    spin: spin_api::Shared,
}

impl HandlerState for Served {
    type StoreData = Ctx;
    type WorkerExpiration = Expiration;
    type WorkerState = OneRequest;

    async fn instantiate(&self) -> wasmtime::Result<Instance<Ctx, Expiration, OneRequest>> {
        let mut store = Store::new(
            &self.engine,
            Ctx {
                table: ResourceTable::new(),
                wasi: self.wasi()?,
                http: WasiHttpCtx::new(),
                hooks: [],
                spin: self.spin.clone(),
            },
        );
        let proxy = self.pre.instantiate_async(&mut store).await?;
        Ok(Instance {
            store,
            proxy,
            view: http_view,
            expiration: Expiration::default(),
            state: OneRequest,
        })
    }
}

impl Served {
    /// The instance's WASI context: stdout/stderr go to the host's, and each `files` mount is a
    /// read-only preopened folder (as Spin mounts a local application's files).
    fn wasi(&self) -> wasmtime::Result<WasiCtx> {
        let mut b = WasiCtx::builder();
        b.inherit_stdout().inherit_stderr();
        for m in &self.route.files {
            b.preopened_dir(&m.source, &m.destination, FsPerms::ReadOnly)?;
        }
        Ok(b.build())
    }
}

/// Spin runs every request in a fresh instance: a worker takes one request and ends.
struct OneRequest;

impl WorkerState for OneRequest {
    type StoreData = Ctx;
    type RequestData = ();

    fn should_accept_request(&self, _concurrent: usize, total: usize) -> ShouldAccept {
        if total == 0 {
            ShouldAccept::Yes
        } else {
            ShouldAccept::Never
        }
    }

    fn on_request_start(
        &self,
        _store: StoreContextMut<'_, Ctx>,
        _data: (),
        _task: wasmtime::component::GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + 'static + Send + Sync>> {
        Box::pin(tokio::time::sleep(REQUEST_LIMIT))
    }

    fn drop(&self, _store: Store<Ctx>, result: wasmtime::Result<()>) {
        if let Err(e) = result {
            eprintln!("[spin-host] instance ended with an error: {e:?}");
        }
    }
}

/// Ends a worker once it is idle (at once), or when its request or post-return work (a
/// streaming body) overruns its limit.
#[derive(Default)]
struct Expiration {
    timer: Option<(WorkerStatus, Instant, Pin<Box<tokio::time::Sleep>>)>,
}

impl WorkerExpiration for Expiration {
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        state: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let limit = match state {
            WorkerStatus::Idle => Duration::from_millis(500),
            WorkerStatus::Requests => REQUEST_LIMIT,
            WorkerStatus::PostReturn => POST_RETURN_LIMIT,
        };
        let this = self.get_mut();
        if !matches!(&this.timer, Some((s, t, _)) if *s == state && *t == start) {
            let deadline = tokio::time::Instant::from_std(start + limit);
            this.timer = Some((state, start, Box::pin(tokio::time::sleep_until(deadline))));
        }
        this.timer.as_mut().expect("set above").2.as_mut().poll(cx)
    }
}

fn plain(status: u16, text: String) -> hyper::Response<WasiBody> {
    let mut r = hyper::Response::new(
        Full::new(Bytes::from(text))
            .map_err(|e: Infallible| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = hyper::StatusCode::from_u16(status).expect("valid status");
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn serve(
    routes: Arc<Vec<ProxyHandler<Served>>>,
    client: SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<WasiBody>, Infallible> {
    let path = req.uri().path().to_string();
    let Some(handler) = routes
        .iter()
        .filter_map(|h| h.state().route.matches(&path).map(|n| (n, h)))
        .max_by_key(|(n, _)| *n)
        .map(|(_, h)| h)
    else {
        return Ok(plain(404, "no route\n".into()));
    };
    let route = &handler.state().route;
    let (mut parts, body) = req.into_parts();
    // Spin gives the guest an absolute URL and these headers.
    let host = parts
        .headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string();
    let full = format!(
        "http://{host}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    if let Ok(uri) = full.parse() {
        parts.uri = uri;
    }
    let base = route.route.trim_end_matches("/...");
    let path_info = path.strip_prefix(base).unwrap_or(&path).to_string();
    for (k, v) in [
        ("spin-full-url", full.clone()),
        ("spin-path-info", path_info),
        ("spin-matched-route", route.route.clone()),
        ("spin-raw-component-route", route.route.clone()),
        ("spin-component-route", base.to_string()),
        ("spin-base-path", "/".to_string()),
        ("spin-client-addr", client.to_string()),
    ] {
        if let Ok(v) = v.parse() {
            parts.headers.insert(k, v);
        }
    }
    let body = body.map_err(wasmtime_wasi_http::Error::from).boxed_unsync();
    let req = hyper::Request::from_parts(parts, body);
    match handler.handle((), req).await {
        Ok(resp) => Ok(resp),
        Err(e) => {
            eprintln!("[spin-host] {path}: {e:?}");
            Ok(plain(500, format!("component error: {e}\n")))
        }
    }
}

/// Writes the SQLite statistics (`spin_api::STATS`) to `path` every 50 ms, with the host's
/// monotonic time in µs, so that a reader can take rates over its own window without asking.
/// Written to a scratch file and renamed, so a reader never sees half a file.
async fn write_stats(path: PathBuf) {
    use std::sync::atomic::Ordering::Relaxed;
    let start = Instant::now();
    let scratch = path.with_extension("tmp");
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        let s = &spin_api::STATS;
        let text = format!(
            "micros {}\nstatements {}\npragmas {}\nsqlite_nanos {}\n",
            start.elapsed().as_micros(),
            s.statements.load(Relaxed),
            s.pragmas.load(Relaxed),
            s.nanos.load(Relaxed),
        );
        if std::fs::write(&scratch, text).is_ok() {
            let _ = std::fs::rename(&scratch, &path);
        }
    }
}

fn args() -> Result<(PathBuf, SocketAddr)> {
    let mut manifest = PathBuf::from("spin.toml");
    let mut listen = std::env::var("SPIN_HOST_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--manifest" | "-f" => manifest = it.next().context("--manifest needs a path")?.into(),
            "--listen" => listen = it.next().context("--listen needs an address")?,
            "-h" | "--help" => {
                println!("lobby-spin-host [--manifest spin.toml] [--listen 127.0.0.1:3000]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok((manifest, listen.parse().context("--listen")?))
}

#[tokio::main]
async fn main() -> Result<()> {
    let (manifest_path, listen) = args()?;
    let m = manifest::load(&manifest_path)?;
    let app_dir = manifest_path
        .parent()
        .map(|p| {
            if p.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                p.to_path_buf()
            }
        })
        .unwrap_or_else(|| PathBuf::from("."));
    let default_db = std::env::var_os("SPIN_HOST_SQLITE_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| app_dir.join(".spin/sqlite_db.db"));

    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_component_model_async(true);
    config.concurrency_support(true);
    let engine = Engine::new(&config)?;
    let mut linker = Linker::<Ctx>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_api::add_to_linker(&mut linker)?;

    let mut handlers = Vec::new();
    for route in m.routes {
        let started = Instant::now();
        let bytes = std::fs::read(&route.source).with_context(|| {
            format!(
                "reading {} (component {}): build it first",
                route.source.display(),
                route.component
            )
        })?;
        let (bytes, renamed) = rename::wasi_rc_to_final(&bytes)?;
        let component = Component::new(&engine, &bytes)
            .map_err(|e| anyhow::anyhow!("compiling {}: {e:?}", route.source.display()))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("linking component {}: {e:?}", route.component))?;
        let pre = ProxyPre::P3(wasmtime_wasi_http::p3::bindings::ServicePre::new(pre)?);
        let mut databases = BTreeMap::new();
        let mut keep_open = Vec::new();
        for label in &route.sqlite_databases {
            let path = if label == "default" {
                default_db.clone()
            } else {
                app_dir.join(format!(".spin/{label}.db"))
            };
            keep_open.push(std::sync::Mutex::new(spin_api::init_database(&path)?));
            databases.insert(label.clone(), path);
        }
        eprintln!(
            "[spin-host] {} -> component {} ({} KB, {} WASI rc names bridged, compiled in {:.1} s); databases {:?}; variables {:?}; files {:?}; outbound hosts (not enforced) {:?}",
            route.route,
            route.component,
            bytes.len() / 1024,
            renamed,
            started.elapsed().as_secs_f64(),
            databases,
            route.variables.keys().collect::<Vec<_>>(),
            route
                .files
                .iter()
                .map(|m| format!("{} -> {} (read-only)", m.source.display(), m.destination))
                .collect::<Vec<_>>(),
            route.allowed_outbound_hosts,
        );
        let spin = Arc::new(spin_api::SpinConfig {
            databases,
            variables: route.variables.clone(),
            keep_open,
        });
        handlers.push(ProxyHandler::new(Served {
            route,
            engine: engine.clone(),
            pre,
            spin,
        }));
    }
    let handlers = Arc::new(handlers);
    if let Some(path) = std::env::var_os("SPIN_HOST_STATS") {
        tokio::spawn(write_stats(PathBuf::from(path)));
    }
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    eprintln!(
        "[spin-host] serving {} on http://{listen}",
        m.application.name
    );
    loop {
        let (stream, client) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let handlers = handlers.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(handlers.clone(), client, req));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                if !e.is_incomplete_message() {
                    eprintln!("[spin-host] connection: {e}");
                }
            }
        });
    }
}
