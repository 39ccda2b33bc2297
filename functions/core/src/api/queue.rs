//! The waiting queue's routes: a page's widget (its settings, and a client's entry with what the
//! browser tells of it), an operator's status, the queue and a client's preview, accept,
//! redirect, and a client's leaving. Ids of clients an operator may not see answer 404.

use lobby_wire as wire;
use serde_json::json;

use crate::auth::{self, Claims, TokenRole};
use crate::client_info;
use crate::error::{parse_json, ApiError};
use crate::lobby::{Command, Details, Lobby, Target};

use super::{client_of, email_field, id, optional_field, Call, Ctx, Meta, Reply, Route};

impl Lobby {
    pub(super) fn call_queue(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            actor,
            body,
            meta,
            ctx,
        } = call;
        let reply = match route {
            Route::WidgetConfig { key } => {
                let w = self.widget_for_page(key, meta)?;
                Reply::ok(wire::WidgetConfig {
                    name: w.name.clone(),
                    buttons: w.buttons.clone(),
                    form: w.form,
                    online: self.anyone_online(&Target::Group(w.group.clone())),
                    languages: vec!["en".into(), "cs".into()],
                })
            }
            Route::WidgetEntry { key } => self.enter(key, body, meta, ctx)?,
            Route::SetStatus => {
                let op = self.acting_operator(actor)?.id.clone();
                let req: wire::SetStatus = parse_json(body)?;
                let events = self.handle(
                    &Command::SetPresence {
                        operator: op,
                        presence: req.status,
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": req.status }), events)
            }
            Route::Queue => {
                let op = self.acting_operator(actor)?;
                let clients: Vec<wire::QueueItem> = self
                    .queue_for(op)
                    .into_iter()
                    .map(|(c, pos)| self.queue_item(c, pos))
                    .collect();
                Reply::ok(wire::QueueList { clients })
            }
            Route::Preview { client } => {
                let op = self.acting_operator(actor)?;
                let c = self.visible_client(op, client)?;
                let messages =
                    self.shown_messages(&c.session, ctx.messages.messages(&c.session, 0, 1000));
                Reply::ok(self.preview(c, messages))
            }
            Route::Accept { client } => {
                let op = self.acting_operator(actor)?.id.clone();
                self.visible_or_taken(&op, client)?;
                let events = self.handle(
                    &Command::Accept {
                        operator: op,
                        client: client.clone(),
                    },
                    ctx.now,
                )?;
                let session = self.clients[client].session.clone();
                Reply::with(200, wire::Accepted { session }, events)
            }
            Route::Redirect { client } => {
                let op = self.acting_operator(actor)?.id.clone();
                self.visible_or_taken(&op, client)?;
                let req: wire::Redirect = parse_json(body)?;
                let to = match (&req.group, &req.operator) {
                    (Some(g), None) => Target::Group(g.clone()),
                    (None, Some(o)) => Target::Operator(o.clone()),
                    _ => {
                        return Err(ApiError::invalid(
                            "give either \"group\" or \"operator\" to redirect to",
                        ))
                    }
                };
                let note = optional_field("note", &req.note)?;
                let events = self.handle(
                    &Command::Redirect {
                        operator: op,
                        client: client.clone(),
                        to,
                        note,
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": "waiting" }), events)
            }
            Route::ClientLeave => {
                let (client, _) = client_of(actor)?;
                let events = self.handle(
                    &Command::Leave {
                        client: client.to_string(),
                    },
                    ctx.now,
                )?;
                Reply::with(200, json!({ "status": "closed" }), events)
            }
            _ => return Err(ApiError::Internal("not a queue route".into())),
        };
        Ok(reply)
    }

    /// For accept and redirect: a client the operator could serve, or one already taken
    /// (which the command then refuses with `already_accepted`).
    fn visible_or_taken(&self, op: &str, client: &str) -> Result<(), ApiError> {
        let op = self.operator(op)?;
        match self.clients.get(client) {
            Some(c) if self.may_see(op, c) => Ok(()),
            Some(c) if matches!(c.state, crate::lobby::ClientState::Active { .. }) => Ok(()),
            _ => Err(ApiError::not_found(format!("client {client}"))),
        }
    }

    fn enter(&mut self, key: &str, body: &[u8], meta: &Meta, ctx: &Ctx) -> Result<Reply, ApiError> {
        let widget = self.widget_for_page(key, meta)?.clone();
        let req: wire::WidgetEntry = parse_json(body)?;
        use wire::EntryKind::*;
        match req.entry {
            Webchat | Video | Callback if widget.buttons.contains(&req.entry) => {}
            Webchat | Video | Callback => {
                return Err(ApiError::invalid(format!(
                    "this widget does not offer {:?} entries",
                    req.entry
                )))
            }
            Invitation => {}
            other => {
                return Err(ApiError::invalid(format!(
                    "{other:?} clients arrive through their channel, not a widget"
                )))
            }
        }
        let code = match (req.entry, req.code.as_deref().map(str::trim)) {
            (Invitation, Some(c)) if crate::invitation::well_formed(c) => Some(c.to_string()),
            (Invitation, _) => {
                return Err(ApiError::invalid(
                    "an invitation entry needs the six-digit code the operator gave you",
                ))
            }
            _ => None,
        };
        let name = optional_field("form.name", &req.form.name)?;
        let phone = optional_field("form.phone", &req.form.phone)?;
        let email = match req.form.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(m) => Some(email_field(m)?),
        };
        if req.entry == Callback && phone.is_none() {
            return Err(ApiError::invalid("a callback needs form.phone"));
        }
        let rules = widget.form;
        for (field, rule, value) in [
            ("name", rules.name, name.is_some()),
            ("phone", rules.phone, phone.is_some()),
            ("email", rules.email, email.is_some()),
        ] {
            if rule == wire::FieldRule::Required && !value {
                return Err(ApiError::invalid(format!("form.{field} is required")));
            }
        }
        if serde_json::to_vec(&req.params).map_or(0, |v| v.len()) > 16 * 1024 {
            return Err(ApiError::invalid("params are larger than 16 KiB"));
        }
        // An invitation waits for its operator; a wrong code is counted against the address.
        let target = match &code {
            None => Target::Group(widget.group.clone()),
            Some(c) => {
                let address = meta.address.as_deref().unwrap_or("unknown");
                if !self.guard.allows(address, ctx.now) {
                    return Err(ApiError::RateLimited(
                        "too many wrong invitation codes; try again in a few minutes".into(),
                    ));
                }
                match self.invitations.get(c) {
                    Some(i) if !i.used && i.expires_at > ctx.now => {
                        Target::Operator(i.operator.clone())
                    }
                    found => {
                        self.guard.wrong(address, ctx.now);
                        return Err(match found {
                            None => {
                                ApiError::InvalidCode("this invitation code is not valid".into())
                            }
                            Some(i) if i.used => ApiError::CodeUsed,
                            Some(_) => ApiError::CodeExpired,
                        });
                    }
                }
            }
        };
        if !self.anyone_online(&target) {
            return Ok(Reply::ok(json!({ "status": "offline" })));
        }
        let (browser, os) = client_info::browser_and_os(meta.user_agent.as_deref());
        let contact = email
            .as_ref()
            .map(|m| format!("email:{}", m.to_lowercase()))
            .or_else(|| phone.as_ref().map(|p| format!("phone:{p}")));
        let details = Details {
            language: client_info::language(
                req.language.as_deref(),
                meta.accept_language.as_deref(),
            ),
            browser,
            os,
            widget: Some(widget.id.clone()),
            name,
            phone,
            email,
            page: req.page.clone(),
            params: req.params.clone(),
            contact,
            channel_user: None,
        };
        let client = id("c", ctx.entropy, 0);
        let session = id("s", ctx.entropy, 1);
        let cmd = match code {
            Some(code) => Command::EnterByInvitation {
                client: client.clone(),
                session: session.clone(),
                details,
                code,
            },
            None => Command::Enter {
                client: client.clone(),
                session: session.clone(),
                entry: req.entry,
                details,
                target: target.clone(),
            },
        };
        let events = self.handle(&cmd, ctx.now)?;
        let position = self.position(&self.clients[&client]).unwrap_or(0);
        let estimated_wait_seconds = self.estimated_wait_seconds(&target, position, ctx.now);
        let tenant = self.tenant.as_ref().expect("checked").slug.clone();
        let token = auth::sign_token(
            &Claims {
                tenant,
                sub: client.clone(),
                role: TokenRole::Client,
                exp: ctx.now / 1000 + auth::CLIENT_TOKEN_SECONDS,
                session: Some(session.clone()),
            },
            ctx.token_secret,
        );
        Ok(Reply::with(
            201,
            wire::EntryAccepted {
                client,
                token,
                status: wire::ClientStatus::Waiting,
                position,
                session,
                estimated_wait_seconds,
            },
            events,
        ))
    }
}
