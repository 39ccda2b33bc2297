//! The invitation route: an operator makes a six-digit code (unused, unexpired codes are never
//! handed out twice) for a client who will enter it and wait for that operator alone.

use lobby_wire as wire;

use crate::error::{parse_json, ApiError};
use crate::lobby::{Command, Lobby};

use super::{Call, Reply, Route};

impl Lobby {
    pub(super) fn call_invitation(&mut self, call: Call) -> Result<Reply, ApiError> {
        let Call {
            route,
            actor,
            body,
            ctx,
            ..
        } = call;
        let e = ctx.entropy;
        let reply = match route {
            Route::CreateInvitation => {
                let op = self.acting_operator(actor)?.id.clone();
                let req: wire::CreateInvitation = if body.iter().all(u8::is_ascii_whitespace) {
                    wire::CreateInvitation::default()
                } else {
                    parse_json(body)?
                };
                use crate::invitation as inv;
                let ttl = req.expires_in.unwrap_or(inv::DEFAULT_TTL_SECONDS);
                if !(inv::MIN_TTL_SECONDS..=inv::MAX_TTL_SECONDS).contains(&ttl) {
                    return Err(ApiError::invalid(format!(
                        "expires_in must be between {} and {} seconds",
                        inv::MIN_TTL_SECONDS,
                        inv::MAX_TTL_SECONDS
                    )));
                }
                // Eight tries at a code no live invitation holds.
                let expires_at = ctx.now + ttl * 1000;
                let mut last = Err(ApiError::Conflict("no free invitation code".into()));
                for slot in 0..8 {
                    let code = inv::code_from(&e[slot * 8..slot * 8 + 8]);
                    last = self
                        .handle(
                            &Command::CreateInvitation(inv::Invitation {
                                code: code.clone(),
                                operator: op.clone(),
                                expires_at,
                                used: false,
                            }),
                            ctx.now,
                        )
                        .map(|events| (code, events));
                    if last.is_ok() {
                        break;
                    }
                }
                let (code, events) = last?;
                Reply::with(
                    201,
                    wire::InvitationCreated {
                        code,
                        expires_at: crate::time::rfc3339(expires_at),
                    },
                    events,
                )
            }
            _ => return Err(ApiError::Internal("not an invitation route".into())),
        };
        Ok(reply)
    }
}
