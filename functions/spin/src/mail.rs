//! E-mail on Spin. Spin has no e-mail binding, so the mails the core owes (the offline form's
//! messages to a widget's address, `lobby_core::outbox`) go to an HTTP e-mail API with Resend's
//! documented shape: `POST {lobby_mail_api}/emails` with `Authorization: Bearer {lobby_mail_key}`,
//! an `Idempotency-Key` per mail and the JSON of `outbox::http_api::body`, from
//! `lobby_mail_from`. Without a key nothing is sent and the mails wait in the outbox.
//!
//! Spin has no alarms either: what is due is sent right after a call to the tenant commits (so
//! the offline form's mail leaves at once), and by the operators' event streams every 5 s (so
//! retries happen while anyone works). Each send is claimed for a minute beside the journal, so
//! two instances never send the same mail at once; a claim that expired mid-send is covered by
//! the provider's idempotency key. Each outcome is journaled (`MailSent` / `MailFailed`), and the
//! core decides on retries and on giving up, as on Cloudflare.

use http_body_util::BodyExt;
use lobby_core::outbox::{self, http_api, Mail};
use lobby_core::{ApiError, Command, Lobby, Millis};

use crate::journal::Journal;
use crate::{now_millis, variable};

/// How long a claim keeps other instances off a mail.
const CLAIM_MS: Millis = 60_000;
/// Where mails go when `lobby_mail_api` is not set.
const DEFAULT_API: &str = "https://api.resend.com";

/// Whether `lobby` owes a mail now (cheap: no I/O).
pub fn any_due(lobby: &Lobby, now: Millis) -> bool {
    lobby
        .outbox
        .values()
        .any(|m| m.next_at.is_some_and(|t| t <= now))
}

/// Sends the tenant's due mails and journals how each went.
pub async fn send_due(tenant: &str) -> Result<(), ApiError> {
    let key = variable("lobby_mail_key").await;
    if key.is_empty() {
        return Ok(());
    }
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
        for mail in outbox::due(lobby.outbox.values(), now) {
            if journal.claim_mail(&mail.id, now, now + CLAIM_MS)? {
                mine.push(mail);
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
    for mail in &claimed {
        let outcome = send(&api, &key, &from, mail).await;
        if let Err(e) = &outcome {
            eprintln!("lobby: mail {} to {}: {e}", mail.id, mail.to);
        }
        outcomes.push((mail.id.clone(), outcome));
    }

    // Journal the outcomes.
    let now = now_millis();
    journal.begin_write().await?;
    let recorded = (|| {
        let (mut lobby, last, snapshot) = journal.load()?;
        let mut events = Vec::new();
        for (id, outcome) in &outcomes {
            let cmd = match outcome {
                Ok(()) => Command::MailSent { id: id.clone() },
                Err(error) => Command::MailFailed {
                    id: id.clone(),
                    error: error.clone(),
                },
            };
            // An error: already settled (the claim had expired and another instance finished).
            if let Ok(evs) = lobby.handle(&cmd, now) {
                events.extend(evs);
            }
            journal.release_mail(id)?;
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
async fn send(api: &str, key: &str, from: &str, mail: &Mail) -> Result<(), String> {
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
