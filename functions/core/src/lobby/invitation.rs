//! Invitations inside a tenant: an operator makes a code, and a client who enters it waits for
//! that operator alone. A code is used once and expires; the codes themselves and the guard
//! against guessing them are [`crate::invitation`]'s.

use lobby_wire::EntryKind;

use crate::error::ApiError;
use crate::time::Millis;

use super::{Command, Event, Lobby, Target};

impl Lobby {
    pub(super) fn decide_invitation(
        &self,
        cmd: &Command,
        at: Millis,
    ) -> Result<Vec<Event>, ApiError> {
        match cmd {
            Command::EnterByInvitation {
                client,
                session,
                details,
                code,
            } => {
                let inv = self.invitations.get(code).ok_or_else(|| {
                    ApiError::InvalidCode("this invitation code is not valid".into())
                })?;
                if inv.used {
                    return Err(ApiError::CodeUsed);
                }
                if inv.expires_at <= at {
                    return Err(ApiError::CodeExpired);
                }
                let mut events = vec![Event::InvitationUsed { code: code.clone() }];
                events.extend(self.decide(
                    &Command::Enter {
                        client: client.clone(),
                        session: session.clone(),
                        entry: EntryKind::Invitation,
                        details: details.clone(),
                        target: Target::Operator(inv.operator.clone()),
                    },
                    at,
                )?);
                Ok(events)
            }
            Command::CreateInvitation(inv) => {
                self.operator(&inv.operator)?;
                if self
                    .invitations
                    .get(&inv.code)
                    .is_some_and(|i| i.expires_at > at)
                {
                    return Err(ApiError::Conflict("this code is in use".into()));
                }
                Ok(vec![Event::InvitationCreated {
                    invitation: inv.clone(),
                }])
            }
            _ => Err(ApiError::Internal("not an invitation command".into())),
        }
    }

    pub(super) fn apply_invitation(&mut self, event: &Event, at: Millis) {
        match event {
            Event::InvitationCreated { invitation } => {
                // Used codes stay until they expire, so that a second use is told "used".
                self.invitations.retain(|_, i| i.expires_at > at);
                self.invitations
                    .insert(invitation.code.clone(), invitation.clone());
            }
            Event::InvitationUsed { code } => {
                if let Some(i) = self.invitations.get_mut(code) {
                    i.used = true;
                }
            }
            _ => {}
        }
    }
}
