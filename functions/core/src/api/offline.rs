//! The offline form's route: a client leaves a message when no one serves; it is stored and
//! owed by e-mail to the widget's address.

use lobby_wire as wire;
use serde_json::json;

use crate::client_info;
use crate::error::{parse_json, ApiError};
use crate::lobby::{Command, Lobby};

use super::{email_field, id, optional_field, text_field, Call, Reply, Route, MAX_MESSAGE_CHARS};

impl Lobby {
    pub(super) fn call_offline(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            body,
            meta,
            ctx,
            ..
        } = call;
        let e = ctx.entropy;
        let reply = match route {
            Route::WidgetOffline { key } => {
                let w = self.widget_for_page(key, meta)?.clone();
                let req: wire::OfflineMessage = parse_json(body)?;
                let message = text_field("message", &req.message, MAX_MESSAGE_CHARS)?;
                let name = optional_field("form.name", &req.form.name)?;
                let phone = optional_field("form.phone", &req.form.phone)?;
                let email = match req.form.email.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(m) => Some(email_field(m)?),
                };
                if email.is_none() && phone.is_none() {
                    return Err(ApiError::invalid(
                        "leave an e-mail or a phone number so that we can answer",
                    ));
                }
                let page = match &req.page {
                    None => None,
                    Some(p) => Some(wire::Page {
                        url: text_field("page.url", &p.url, 2000)?,
                        title: optional_field("page.title", &p.title)?,
                        referrer: None,
                    }),
                };
                let to = w.offline_email.clone().ok_or_else(|| {
                    ApiError::Conflict("this widget has no offline form address".into())
                })?;
                // What the queue would have shown of this client, as an entry learns it.
                let language =
                    client_info::language(req.language.as_deref(), meta.accept_language.as_deref());
                let (browser, os) = client_info::browser_and_os(meta.user_agent.as_deref());
                let form = crate::outbox::OfflineForm {
                    widget: &w.name,
                    name: name.as_deref(),
                    email: email.as_deref(),
                    phone: phone.as_deref(),
                    language: language.as_deref(),
                    browser: browser.as_deref(),
                    os: os.as_deref(),
                    page: page.as_ref(),
                    site: meta.origin.as_deref(),
                    message: &message,
                };
                let mail = crate::outbox::Mail {
                    id: id("m", e, 0),
                    to,
                    reply_to: email.clone(),
                    subject: form.subject(),
                    text: form.text(),
                    created_at: ctx.now,
                    attempts: 0,
                    next_at: Some(ctx.now),
                    last_error: None,
                    // Applying the event fills it in from the event's widget.
                    widget: None,
                };
                let events = self.handle(
                    &Command::ReceiveOffline {
                        widget: w.id.clone(),
                        mail,
                    },
                    ctx.now,
                )?;
                Reply::with(202, json!({ "status": "received" }), events)
            }
            _ => return Err(ApiError::Internal("not an offline form route".into())),
        };
        Ok(reply)
    }
}
