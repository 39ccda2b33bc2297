//! The administration routes: creating a tenant with its first admin, signing in, and what an
//! admin configures and an operator may list (groups, operators, widgets), plus `me`. Inputs are
//! checked here (lengths, e-mails, origins, passwords) before the tenant decides.

use lobby_wire as wire;
use serde_json::json;

use crate::auth::{self, Claims, TokenRole};
use crate::error::{parse_json, ApiError};
use crate::lobby::{Command, Group, Lobby, Operator, Tenant, Widget, DEFAULT_CHAT_LIMIT};

use super::{
    email_field, id, normalize_origin, password_field, text_field, valid_slug, Call, Reply, Route,
    MAX_FIELD_CHARS,
};

impl Lobby {
    pub(super) fn call_administration(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            actor,
            body,
            ctx,
            ..
        } = call;
        let e = ctx.entropy;
        let reply = match route {
            Route::CreateTenant => {
                let req: wire::CreateTenant = parse_json(body)?;
                let slug = valid_slug(&req.slug)?;
                let name = text_field("name", &req.name, MAX_FIELD_CHARS)?;
                let admin = self.new_operator(
                    id("op", e, 0),
                    &wire::CreateOperator {
                        email: req.admin.email.clone(),
                        password: req.admin.password.clone(),
                        name: req.admin.name.clone(),
                        role: wire::Role::Admin,
                        groups: vec![],
                        limits: None,
                    },
                    &e[8..24],
                )?;
                let cmd = Command::CreateTenant {
                    tenant: Tenant {
                        slug: slug.clone(),
                        name,
                    },
                    admin,
                };
                let events = self.handle(&cmd, ctx.now)?;
                Reply::with(201, wire::TenantCreated { tenant: slug }, events)
            }
            Route::Login => {
                let req: wire::Login = parse_json(body)?;
                let wrong = || ApiError::Unauthorized("wrong tenant, e-mail or password".into());
                let op = self.operator_by_email(&req.email).ok_or_else(wrong)?;
                if !auth::verify_password(&req.password, &op.password_hash) {
                    return Err(wrong());
                }
                let exp = ctx.now / 1000 + auth::OPERATOR_TOKEN_SECONDS;
                let claims = Claims {
                    tenant: req.tenant.clone(),
                    sub: op.id.clone(),
                    role: match op.role {
                        wire::Role::Admin => TokenRole::Admin,
                        wire::Role::Operator => TokenRole::Operator,
                    },
                    exp,
                    session: None,
                };
                Reply::ok(wire::LoggedIn {
                    token: auth::sign_token(&claims, ctx.token_secret),
                    operator: wire::OperatorRef {
                        id: op.id.clone(),
                        name: op.name.clone(),
                        role: op.role,
                    },
                    expires_at: crate::time::rfc3339(exp * 1000),
                })
            }
            Route::Me => {
                let op = self.acting_operator(actor)?;
                Reply::ok(self.operator_info(op))
            }
            Route::ListGroups => {
                self.acting_operator(actor)?;
                let groups: Vec<wire::GroupInfo> = self
                    .groups
                    .values()
                    .map(|g| wire::GroupInfo {
                        id: g.id.clone(),
                        name: g.name.clone(),
                    })
                    .collect();
                Reply::ok(json!({ "groups": groups }))
            }
            Route::CreateGroup => {
                self.acting_operator(actor)?;
                let req: wire::CreateGroup = parse_json(body)?;
                let group = Group {
                    id: id("g", e, 0),
                    name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
                };
                let events = self.handle(&Command::CreateGroup(group.clone()), ctx.now)?;
                Reply::with(201, wire::Created { id: group.id }, events)
            }
            Route::ListOperators => {
                let viewer = self.acting_operator(actor)?;
                let ops: Vec<wire::OperatorInfo> = self
                    .operators
                    .values()
                    .map(|o| self.operator_info_for(viewer, o))
                    .collect();
                Reply::ok(json!({ "operators": ops }))
            }
            Route::CreateOperator => {
                self.acting_operator(actor)?;
                let req: wire::CreateOperator = parse_json(body)?;
                for g in &req.groups {
                    self.group(g)?;
                }
                let op = self.new_operator(id("op", e, 0), &req, &e[8..24])?;
                let events = self.handle(&Command::CreateOperator(op.clone()), ctx.now)?;
                Reply::with(201, wire::Created { id: op.id }, events)
            }
            Route::UpdateOperator { operator } => {
                let req: wire::UpdateOperator = parse_json(body)?;
                let name = match &req.name {
                    Some(n) => Some(text_field("name", n, MAX_FIELD_CHARS)?),
                    None => None,
                };
                let events = self.handle(
                    &Command::UpdateOperator {
                        operator: operator.clone(),
                        name,
                        groups: req.groups.clone(),
                        chat_limit: req.limits.map(|l| l.chat),
                    },
                    ctx.now,
                )?;
                let op = self.operator(operator)?;
                Reply::with(200, self.operator_info(op), events)
            }
            Route::ListWidgets => {
                self.acting_operator(actor)?;
                let ws: Vec<wire::WidgetInfo> = self
                    .widgets
                    .values()
                    .map(|w| wire::WidgetInfo {
                        id: w.id.clone(),
                        key: w.key.clone(),
                        name: w.name.clone(),
                        group: w.group.clone(),
                        allowed_origins: w.allowed_origins.clone(),
                        offline_email: w.offline_email.clone(),
                        buttons: w.buttons.clone(),
                        form: w.form,
                        offline_owed: self
                            .outbox
                            .values()
                            .filter(|m| m.widget.as_ref() == Some(&w.id) && crate::outbox::owed(m))
                            .count(),
                    })
                    .collect();
                Reply::ok(json!({ "widgets": ws }))
            }
            Route::CreateWidget => {
                self.acting_operator(actor)?;
                let req: wire::CreateWidget = parse_json(body)?;
                let slug = &self.tenant.as_ref().expect("checked above").slug;
                let mut origins = vec![];
                for o in &req.allowed_origins {
                    let n = normalize_origin(o);
                    if !(n.starts_with("http://") || n.starts_with("https://")) || n.len() > 300 {
                        return Err(ApiError::invalid(format!(
                            "allowed_origins: {o} is not an http(s) origin"
                        )));
                    }
                    origins.push(n);
                }
                let offline_email = match req.offline_email.as_deref() {
                    None | Some("") => None,
                    Some(m) => Some(email_field(m)?),
                };
                let buttons = match &req.buttons {
                    None => crate::lobby::default_buttons(),
                    Some(b) => {
                        use wire::EntryKind::*;
                        let mut out: Vec<wire::EntryKind> = vec![];
                        for k in b {
                            if !matches!(k, Webchat | Video | Callback) {
                                return Err(ApiError::invalid(format!(
                                    "buttons: a widget offers webchat, video and callback, not {k:?}"
                                )));
                            }
                            if !out.contains(k) {
                                out.push(*k);
                            }
                        }
                        if out.is_empty() {
                            return Err(ApiError::invalid("buttons: at least one"));
                        }
                        out
                    }
                };
                let wid = id("w", e, 0);
                let widget = Widget {
                    // 128 random bits after the tenant's slug.
                    key: format!("{slug}.{}{}", &id("k", e, 1)[2..], &id("k", e, 2)[2..]),
                    id: wid.clone(),
                    name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
                    group: req.group.clone(),
                    allowed_origins: origins,
                    offline_email,
                    buttons,
                    form: req.form.unwrap_or_default(),
                };
                let events = self.handle(&Command::CreateWidget(widget.clone()), ctx.now)?;
                Reply::with(
                    201,
                    wire::WidgetCreated {
                        id: wid,
                        key: widget.key,
                    },
                    events,
                )
            }
            _ => return Err(ApiError::Internal("not an administration route".into())),
        };
        Ok(reply)
    }

    fn new_operator(
        &self,
        id: String,
        req: &wire::CreateOperator,
        salt: &[u8],
    ) -> Result<Operator, ApiError> {
        let chat_limit = req.limits.map_or(DEFAULT_CHAT_LIMIT, |l| l.chat);
        if !(1..=100).contains(&chat_limit) {
            return Err(ApiError::invalid("limits.chat must be between 1 and 100"));
        }
        Ok(Operator {
            id,
            email: email_field(&req.email)?,
            name: text_field("name", &req.name, MAX_FIELD_CHARS)?,
            role: req.role,
            groups: req.groups.clone(),
            chat_limit,
            password_hash: auth::hash_password(password_field(&req.password)?, salt)?,
            presence: Default::default(),
        })
    }
}
