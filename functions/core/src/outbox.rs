//! E-mails Lobby owes someone (the offline form's messages to the widget's address). A message
//! is stored first, then sent; a failed send is retried with growing pauses and given up only
//! after [`MAX_ATTEMPTS`], visibly. The adapter sends, the core decides when.

use serde::{Deserialize, Serialize};

use crate::lobby::Millis;

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
}
