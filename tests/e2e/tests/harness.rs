//! The harness itself: `wrangler dev` starts on free ports, answers `/healthz`, dies as a whole
//! process group on `kill()`, and comes back on the same port with `restart()`.

use lobby_e2e::{runtime, Runtime, Server};

#[test]
fn server_starts_answers_healthz_and_restarts() {
    let server = Server::start();
    let health = server.get("/healthz").send().expect(200).value();
    assert_eq!(health["status"], "ok", "GET /healthz body: {health}");
    // Which transport the event routes speak: the operator app and the widget choose by it.
    let events = match runtime() {
        Runtime::Cloudflare => "websocket",
        Runtime::Spin => "sse",
    };
    assert_eq!(health["events"], events, "GET /healthz body: {health}");

    server.kill();
    assert!(!server.is_running());
    assert!(
        server.get("/healthz").try_send().is_err(),
        "the server still answers after its process group was killed"
    );

    server.restart();
    assert!(server.is_running());
    server.get("/healthz").send().expect(200);
}
