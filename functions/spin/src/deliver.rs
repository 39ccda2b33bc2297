//! What the tenant owes the outside world, sent from Spin: the outbox's mails (the offline form)
//! and the channels' provider calls (replies to Messenger, WhatsApp and VK, profile lookups).
//! The core stores each before it is sent and decides on retries; this module sends and journals
//! each outcome (`MailSent` / `MailFailed`, `OutboundResult`), as the Durable Object's alarm does
//! on Cloudflare.
//!
//! Spin has no alarms: what is due is sent right after a call to the tenant commits (so a reply
//! leaves at once, without holding up the answer), and by the event streams every 5 s (so retries
//! happen while anyone works). Each send is claimed for a minute beside the journal, so two
//! instances never send the same thing at once.
//!
//! Mail: Spin has no e-mail binding, so mails go to an HTTP e-mail API with Resend's documented
//! shape: `POST {lobby_mail_api}/emails` with `Authorization: Bearer {lobby_mail_key}`, an
//! `Idempotency-Key` per mail (which also covers a claim that ran out mid-send) and the JSON of
//! `outbox::http_api::body`, from `lobby_mail_from`. Without a key mails wait in the outbox.
//! Provider calls: the exact request `Lobby::outbound_request` builds (VK's `random_id` is derived
//! from the stored call, so a repeated send is delivered once).

use http_body_util::BodyExt;
use lobby_core::channels::{self, HttpRequest};
use lobby_core::outbox::{self, http_api, Mail};
use lobby_core::{ApiError, Command, Millis};

use crate::journal::Journal;
use crate::{now_millis, variable};

/// How long a claim keeps other instances off a mail.
const CLAIM_MS: Millis = 60_000;
/// Where mails go when `lobby_mail_api` is not set.
const DEFAULT_API: &str = "https://api.resend.com";

/// One thing to send.
enum Owed {
    Mail(Mail),
    /// A provider call: its id and request (or why none could be built).
    Call(String, Result<HttpRequest, String>),
}

/// Sends what is owed after the answer has gone: the caller does not wait for the provider.
pub fn soon(tenant: &str) {
    let tenant = tenant.to_string();
    spin_sdk::wasip3::spawn(async move {
        if let Err(e) = send_due(&tenant).await {
            eprintln!("lobby: sending what {tenant} owes: {e}");
        }
    });
}

/// Sends what the tenant owes now and journals how each went.
pub async fn send_due(tenant: &str) -> Result<(), ApiError> {
    let key = variable("lobby_mail_key").await;
    let api = match variable("lobby_mail_api").await {
        a if a.is_empty() => DEFAULT_API.to_string(),
        a => a,
    };
    let from = match variable("lobby_mail_from").await {
        f if f.is_empty() => "lobby@example.com".to_string(),
        f => f,
    };
    let journal = Journal::open(tenant).await?;

    // Claim what is due.
    let now = now_millis();
    journal.begin_write().await?;
    let claimed = (|| {
        let (lobby, _, _) = journal.load()?;
        let mut mine = Vec::new();
        if !key.is_empty() {
            for mail in outbox::due(lobby.outbox.values(), now) {
                if journal.claim(&mail.id, now, now + CLAIM_MS)? {
                    mine.push(Owed::Mail(mail));
                }
            }
        }
        for id in lobby.due_outgoing(now) {
            if journal.claim(&id, now, now + CLAIM_MS)? {
                let request = lobby.outbound_request(&id);
                mine.push(Owed::Call(id, request));
            }
        }
        Ok::<_, ApiError>(mine)
    })();
    let claimed = match claimed {
        Ok(c) => {
            journal.commit()?;
            c
        }
        Err(e) => {
            journal.rollback();
            return Err(e);
        }
    };
    if claimed.is_empty() {
        return Ok(());
    }

    // Send, outside any transaction.
    let mut outcomes = Vec::with_capacity(claimed.len());
    for owed in claimed {
        outcomes.push(match owed {
            Owed::Mail(mail) => {
                let outcome = send_mail(&api, &key, &from, &mail).await;
                if let Err(e) = &outcome {
                    eprintln!("lobby: mail {} to {}: {e}", mail.id, mail.to);
                }
                let cmd = match outcome {
                    Ok(()) => Command::MailSent {
                        id: mail.id.clone(),
                    },
                    Err(error) => Command::MailFailed {
                        id: mail.id.clone(),
                        error,
                    },
                };
                (mail.id, cmd)
            }
            Owed::Call(id, request) => {
                let (status, body, error) = match request {
                    Ok(r) => match call(&r).await {
                        Ok((status, body)) => (status, body, None),
                        Err(e) => (0, vec![], Some(e)),
                    },
                    Err(e) => (0, vec![], Some(e)),
                };
                let cmd = Command::OutboundResult {
                    id: id.clone(),
                    status,
                    body,
                    error,
                };
                (id, cmd)
            }
        });
    }

    // Journal the outcomes.
    let now = now_millis();
    journal.begin_write().await?;
    let recorded = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        let mut events = Vec::new();
        for (id, cmd) in &outcomes {
            // An error: already settled (the claim had expired and another instance finished).
            if let Ok(evs) = lobby.handle(cmd, now) {
                events.extend(evs);
            }
            journal.release(id)?;
        }
        let stored = journal.append(last, now, events)?;
        journal.maybe_snapshot(&lobby, last + stored.len() as u64, snapshot)
    })();
    match recorded {
        Ok(()) => journal.commit(),
        Err(e) => {
            journal.rollback();
            Err(e)
        }
    }
}

/// One mail to the API: `Ok` when it was accepted, else why not.
async fn send_mail(api: &str, key: &str, from: &str, mail: &Mail) -> Result<(), String> {
    let url = format!("{}{}", api.trim_end_matches('/'), http_api::PATH);
    let body = serde_json::to_string(&http_api::body(mail, from)).map_err(|e| e.to_string())?;
    let request = http::Request::post(&url)
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", http_api::idempotency_key(mail))
        .body(body)
        .map_err(|e| e.to_string())?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| format!("{url}: {e:?}"))?;
    let status = response.status().as_u16();
    if http_api::accepted(status) {
        return Ok(());
    }
    let text = match response.into_body().collect().await {
        Ok(b) => String::from_utf8_lossy(&b.to_bytes())
            .chars()
            .take(300)
            .collect(),
        Err(_) => String::new(),
    };
    Err(format!("the e-mail API answered {status}: {text}"))
}

/// One provider call as built by the core; its status and body, or why there was no answer.
async fn call(r: &HttpRequest) -> Result<(u16, Vec<u8>), String> {
    let mut request = http::Request::builder()
        .method(match r.method {
            channels::Method::Get => "GET",
            channels::Method::Post => "POST",
        })
        .uri(&r.url);
    for (k, v) in &r.headers {
        request = request.header(k, v);
    }
    let request = request
        .body(http_body_util::Full::new(bytes::Bytes::from(
            r.body.clone(),
        )))
        .map_err(|e| e.to_string())?;
    let response = spin_sdk::http::send(request)
        .await
        .map_err(|e| format!("{}: {e:?}", r.url))?;
    let status = response.status().as_u16();
    let body = match response.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => vec![],
    };
    Ok((status, body))
}
