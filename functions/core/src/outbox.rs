//! E-mails Lobby owes someone (the offline form's messages to the widget's address). A message
//! is stored first, then sent; a failed send is retried with growing pauses and given up only
//! after [`MAX_ATTEMPTS`], visibly. The adapter sends, the core decides when.

use serde::{Deserialize, Serialize};

use crate::time::Millis;

/// Pauses before the 2nd, 3rd, … attempt.
const BACKOFF_MS: [Millis; 6] = [
    30_000,
    2 * 60_000,
    10 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    6 * 3_600_000,
];
pub const MAX_ATTEMPTS: u32 = BACKOFF_MS.len() as u32 + 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Mail {
    pub id: String,
    pub to: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub created_at: Millis,
    pub attempts: u32,
    /// When to try next; `None` once given up.
    pub next_at: Option<Millis>,
    pub last_error: Option<String>,
    /// The widget whose offline form it came from (its admin sees how many are still owed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub widget: Option<String>,
}

/// Whether `mail` is still to be sent: stored, not yet accepted by the mail service, not given up.
pub fn owed(mail: &Mail) -> bool {
    mail.next_at.is_some()
}

/// The offline form's e-mail to the widget's team: what the waiting queue would have shown of
/// the client (contact, language, browser and OS, the page, the widget), then its message.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineForm<'a> {
    pub widget: &'a str,
    pub name: Option<&'a str>,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub language: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub os: Option<&'a str>,
    pub page: Option<&'a lobby_wire::Page>,
    /// The `Origin` of the page, as the browser sent it.
    pub site: Option<&'a str>,
    pub message: &'a str,
}

impl OfflineForm<'_> {
    pub fn subject(&self) -> String {
        let who = self.name.or(self.email).or(self.phone).unwrap_or_default();
        format!(
            "Offline message from {} ({})",
            one_line(who),
            one_line(self.widget)
        )
    }

    /// The plain text: one `Label: value` line per known detail, then the message as written.
    /// A value is kept on its line, so that nothing the client or its page sends (a name, a
    /// page title) can pass for another detail.
    pub fn text(&self) -> String {
        let mut text = format!(
            "A message left through the offline form of {}.\n\n",
            one_line(self.widget)
        );
        let details = [
            ("Name", self.name),
            ("E-mail", self.email),
            ("Phone", self.phone),
            ("Language", self.language),
            ("Browser", self.browser),
            ("OS", self.os),
            ("Page", self.page.map(|p| p.url.as_str())),
            ("Page title", self.page.and_then(|p| p.title.as_deref())),
            ("Site", self.site),
            ("Widget", Some(self.widget)),
        ];
        for (label, value) in details {
            if let Some(v) = value.map(one_line).filter(|v| !v.is_empty()) {
                text += &format!("{label}: {v}\n");
            }
        }
        text += &format!("\n{}\n", self.message);
        text
    }
}

/// A value for one line: control characters (line breaks, tabs) become spaces.
fn one_line(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    v.trim().to_string()
}

/// When the attempt after `attempts` failures is due, or `None` to give up.
pub fn next_attempt(attempts: u32, now: Millis) -> Option<Millis> {
    BACKOFF_MS
        .get(attempts.saturating_sub(1) as usize)
        .map(|pause| now + pause)
}

/// The message as RFC 5322 text (UTF-8 headers and body encoded as the standard asks), built with
/// `mail-builder`. `message_id` and `date` come from the caller (no clock here).
pub fn mime(mail: &Mail, from: &str, message_id: &str, date_secs: i64) -> String {
    let mut b = mail_builder::MessageBuilder::new()
        .from(("Lobby", from))
        .to(mail.to.as_str())
        .subject(mail.subject.as_str())
        .message_id(message_id)
        .date(date_secs)
        .text_body(mail.text.as_str());
    if let Some(r) = &mail.reply_to {
        b = b.reply_to(r.as_str());
    }
    b.write_to_string().unwrap_or_default()
}

/// The mails whose next attempt is due at `now`, oldest first.
pub fn due<'a>(outbox: impl IntoIterator<Item = &'a Mail>, now: Millis) -> Vec<Mail> {
    let mut due: Vec<Mail> = outbox
        .into_iter()
        .filter(|m| m.next_at.is_some_and(|t| t <= now))
        .cloned()
        .collect();
    due.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    due
}

/// Where a runtime without an e-mail binding (Spin) sends a mail: an HTTP e-mail API with
/// Resend's documented shape (`POST {api}/emails`, `Authorization: Bearer <key>`, a JSON body),
/// which other providers copy.
pub mod http_api {
    use super::Mail;
    use serde_json::{json, Value};

    /// The path under the API's base URL.
    pub const PATH: &str = "/emails";

    /// The JSON body: sender, recipient, subject, plain text and the client's address to reply to.
    pub fn body(mail: &Mail, from: &str) -> Value {
        let mut b = json!({
            "from": format!("Lobby <{from}>"),
            "to": [mail.to],
            "subject": mail.subject,
            "text": mail.text,
        });
        if let Some(r) = &mail.reply_to {
            b["reply_to"] = json!([r]);
        }
        b
    }

    /// The `Idempotency-Key` header: a retry of the same mail (after a lost answer, or from two
    /// instances at once) is sent once by the provider.
    pub fn idempotency_key(mail: &Mail) -> String {
        format!("lobby-mail/{}", mail.id)
    }

    /// Whether an answer's status means the mail was accepted.
    pub fn accepted(status: u16) -> bool {
        (200..300).contains(&status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> Mail {
        Mail {
            id: "m_1".into(),
            to: "support@acme.test".into(),
            reply_to: Some("jana@example.cz".into()),
            subject: "Zpráva od Jany Nováková".into(),
            text: "Dobrý den, volejte prosím zítra. 😊".into(),
            created_at: 0,
            attempts: 0,
            next_at: Some(0),
            last_error: None,
            widget: None,
        }
    }

    #[test]
    fn retries_back_off_then_give_up() {
        assert_eq!(next_attempt(1, 0), Some(30_000));
        assert_eq!(next_attempt(2, 0), Some(120_000));
        assert_eq!(next_attempt(MAX_ATTEMPTS - 1, 0), Some(6 * 3_600_000));
        assert_eq!(next_attempt(MAX_ATTEMPTS, 0), None);
    }

    #[test]
    fn mime_has_encoded_headers_and_the_text() {
        let m = mime(&mail(), "lobby@acme.test", "m_1@lobby", 1_700_000_000);
        assert!(m.contains("To: <support@acme.test>"), "{m}");
        assert!(m.contains("Reply-To: <jana@example.cz>"), "{m}");
        assert!(m.contains("Message-ID: <m_1@lobby>"), "{m}");
        assert!(m.contains("Subject: =?utf-8?"), "{m}");
        assert!(m.contains("Date: Tue, 14 Nov 2023"), "{m}");
        use base64::Engine;
        let body = m.split("\r\n\r\n").nth(1).unwrap().trim();
        let text = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), mail().text);
    }

    #[test]
    fn due_mails_oldest_first_and_not_the_given_up_ones() {
        let mut a = mail();
        a.id = "m_a".into();
        a.created_at = 5;
        a.next_at = Some(100);
        let mut b = mail();
        b.id = "m_b".into();
        b.created_at = 1;
        b.next_at = Some(50);
        let mut later = mail();
        later.id = "m_later".into();
        later.next_at = Some(101);
        let mut given_up = mail();
        given_up.id = "m_gone".into();
        given_up.next_at = None;
        let all = [a, b, later, given_up];
        let ids: Vec<String> = due(&all, 100).into_iter().map(|m| m.id).collect();
        assert_eq!(ids, ["m_b", "m_a"]);
        assert!(due(&all, 49).is_empty());
    }

    #[test]
    fn the_http_api_body_has_the_documented_fields() {
        let body = http_api::body(&mail(), "lobby@acme.test");
        assert_eq!(
            body,
            serde_json::json!({
                "from": "Lobby <lobby@acme.test>",
                "to": ["support@acme.test"],
                "subject": "Zpráva od Jany Nováková",
                "text": "Dobrý den, volejte prosím zítra. 😊",
                "reply_to": ["jana@example.cz"],
            })
        );
        let mut m = mail();
        m.reply_to = None;
        assert!(http_api::body(&m, "x@y.z").get("reply_to").is_none());
        assert_eq!(http_api::idempotency_key(&m), "lobby-mail/m_1");
        assert!(http_api::accepted(200) && http_api::accepted(202));
        assert!(!http_api::accepted(429) && !http_api::accepted(500) && !http_api::accepted(301));
    }
}
