//! A tenant's configuration, as its admin sets it up: the tenant itself with its first admin,
//! groups, operators (their groups and chat limits) and widgets. Ids and e-mails are unique;
//! a chat limit never goes below what the operator serves at the moment.

use crate::error::ApiError;

use super::{Command, Event, Lobby};

impl Lobby {
    pub(super) fn decide_administration(&self, cmd: &Command) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::CreateTenant { tenant, admin } => {
                if self.tenant.is_some() {
                    return Err(ApiError::TenantExists);
                }
                Ok(vec![
                    Event::TenantCreated {
                        tenant: tenant.clone(),
                    },
                    Event::OperatorCreated {
                        operator: admin.clone(),
                    },
                ])
            }
            Command::CreateGroup(group) => {
                if self.groups.contains_key(&group.id) {
                    return Err(ApiError::Conflict("a group with this id exists".into()));
                }
                Ok(vec![Event::GroupCreated {
                    group: group.clone(),
                }])
            }
            Command::CreateOperator(op) => {
                if self.operator_by_email(&op.email).is_some() {
                    return Err(ApiError::Conflict(format!(
                        "an operator with e-mail {} exists",
                        op.email
                    )));
                }
                if self.operators.contains_key(&op.id) {
                    return Err(ApiError::Conflict("an operator with this id exists".into()));
                }
                for g in &op.groups {
                    self.group(g)?;
                }
                if op.chat_limit == 0 {
                    return Err(ApiError::invalid("limits.chat must be at least 1"));
                }
                Ok(vec![Event::OperatorCreated {
                    operator: op.clone(),
                }])
            }
            Command::UpdateOperator {
                operator,
                name,
                groups,
                chat_limit,
            } => {
                self.operator(operator)?;
                for g in groups.iter().flatten() {
                    self.group(g)?;
                }
                if let Some(limit) = chat_limit {
                    // Lowering a limit below what the operator serves now would put it over
                    // its limit; the admin waits until a session ends.
                    let chats = self
                        .active_kinds(operator)
                        .iter()
                        .filter(|k| !k.is_exclusive())
                        .count() as u32;
                    if *limit == 0 {
                        return Err(ApiError::invalid("limits.chat must be at least 1"));
                    }
                    if *limit < chats {
                        return Err(ApiError::Conflict(format!(
                            "the operator serves {chats} chats now; the limit cannot go below that"
                        )));
                    }
                }
                Ok(vec![Event::OperatorUpdated {
                    operator: operator.clone(),
                    name: name.clone(),
                    groups: groups.clone(),
                    chat_limit: *chat_limit,
                }])
            }
            Command::CreateWidget(w) => {
                self.group(&w.group)?;
                if self.widgets.contains_key(&w.id) || self.widget_by_key(&w.key).is_some() {
                    return Err(ApiError::Conflict("a widget with this id exists".into()));
                }
                Ok(vec![Event::WidgetCreated { widget: w.clone() }])
            }
            _ => Err(ApiError::Internal("not an administration command".into())),
        }
    }

    pub(super) fn apply_administration(&mut self, event: &Event) {
        match event {
            Event::TenantCreated { tenant } => self.tenant = Some(tenant.clone()),
            Event::GroupCreated { group } => {
                self.groups.insert(group.id.clone(), group.clone());
            }
            Event::OperatorCreated { operator } => {
                self.index
                    .email
                    .insert(operator.email.trim().to_lowercase(), operator.id.clone());
                self.operators.insert(operator.id.clone(), operator.clone());
            }
            Event::WidgetCreated { widget } => {
                self.index
                    .widget_key
                    .insert(widget.key.clone(), widget.id.clone());
                self.widgets.insert(widget.id.clone(), widget.clone());
            }
            Event::OperatorUpdated {
                operator,
                name,
                groups,
                chat_limit,
            } => {
                if let Some(o) = self.operators.get_mut(operator) {
                    if let Some(n) = name {
                        o.name = n.clone();
                    }
                    if let Some(g) = groups {
                        o.groups = g.clone();
                    }
                    if let Some(l) = chat_limit {
                        o.chat_limit = *l;
                    }
                }
            }
            _ => {}
        }
    }
}
