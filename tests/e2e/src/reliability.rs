//! What the reliability tests (races, crashes, reconnects, fan-out, the API checker) share: their
//! scale from the environment and their section of RELIABILITY.md (`make prove`).

use std::io::Write;

use crate::server::{runtime, Runtime};

/// A count from the environment (`name`), or `default` when unset or not a number.
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The runtime under test, as RELIABILITY.md's headings name it.
pub fn runtime_name() -> &'static str {
    match runtime() {
        Runtime::Cloudflare => "wrangler dev",
        Runtime::Spin => "Spin host",
    }
}

/// With `LOBBY_RELIABILITY_OUT=<file>` (set by scripts/prove.sh), appends `## heading` and the
/// figures to that file; otherwise does nothing.
pub fn report(heading: &str, figures: &str) {
    let Ok(path) = std::env::var("LOBBY_RELIABILITY_OUT") else {
        return;
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    let _ = writeln!(f, "## {heading}\n\n{figures}.\n");
}
