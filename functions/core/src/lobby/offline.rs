//! The offline form: a message left when no one serves, stored and owed by e-mail to the
//! widget's address, then settled by the adapter's report of each attempt (with backoff).

use crate::error::ApiError;
use crate::outbox;
use crate::time::Millis;

use super::{Command, Event, Lobby};

impl Lobby {
    pub(super) fn decide_offline(&self, cmd: &Command, at: Millis) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::ReceiveOffline { widget, mail } => {
                self.widgets
                    .get(widget)
                    .ok_or_else(|| ApiError::not_found(format!("widget {widget}")))?;
                Ok(vec![Event::OfflineReceived {
                    widget: widget.clone(),
                    mail: mail.clone(),
                }])
            }
            Command::MailSent { id } => {
                self.outbox
                    .get(id)
                    .ok_or_else(|| ApiError::not_found(format!("mail {id}")))?;
                Ok(vec![Event::MailSent { id: id.clone() }])
            }
            Command::MailFailed { id, error } => {
                let m = self
                    .outbox
                    .get(id)
                    .ok_or_else(|| ApiError::not_found(format!("mail {id}")))?;
                Ok(vec![Event::MailFailed {
                    id: id.clone(),
                    error: error.clone(),
                    next_at: outbox::next_attempt(m.attempts + 1, at),
                }])
            }
            _ => Err(ApiError::Internal("not an offline form command".into())),
        }
    }

    pub(super) fn apply_offline(&mut self, event: &Event) {
        match event {
            Event::OfflineReceived { widget, mail } => {
                // The event names the widget (also in journals older than Mail::widget).
                let mail = outbox::Mail {
                    widget: Some(widget.clone()),
                    ..mail.clone()
                };
                self.outbox.insert(mail.id.clone(), mail);
            }
            Event::MailSent { id } => {
                self.outbox.remove(id);
            }
            Event::MailFailed { id, error, next_at } => {
                if let Some(m) = self.outbox.get_mut(id) {
                    m.attempts += 1;
                    m.last_error = Some(error.clone());
                    m.next_at = *next_at;
                }
            }
            _ => {}
        }
    }
}
