//! How much an operator may serve at once. An operator serves up to `chat` chat-like sessions
//! (WebChat, Callback, messaging channels); a video or phone call is served alone: it can be
//! accepted only with no other active session, and while it lasts nothing else can be.

use lobby_wire::EntryKind;

/// Why an accept is refused for capacity, in words for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Already serving `limit` chats.
    ChatLimit { limit: u32 },
    /// A call (video or phone) is active and is served alone.
    InCall,
    /// A call needs an operator with no other active session.
    CallNeedsFreeOperator,
}

impl Refusal {
    pub fn message(self) -> String {
        match self {
            Refusal::ChatLimit { limit } => format!(
                "you are already serving {limit} chat{} at once, your limit; close one first",
                if limit == 1 { "" } else { "s" }
            ),
            Refusal::InCall => {
                "you are in a call, which is served alone; finish it first".to_string()
            }
            Refusal::CallNeedsFreeOperator => {
                "a call can be accepted only with no other active session".to_string()
            }
        }
    }
}

/// May an operator serving `active` (the kinds of its active sessions) with chat limit
/// `chat_limit` take one more session of kind `new`?
pub fn check(active: &[EntryKind], chat_limit: u32, new: EntryKind) -> Result<(), Refusal> {
    if active.iter().any(|k| k.is_exclusive()) {
        return Err(Refusal::InCall);
    }
    if new.is_exclusive() {
        return if active.is_empty() {
            Ok(())
        } else {
            Err(Refusal::CallNeedsFreeOperator)
        };
    }
    if active.len() as u32 >= chat_limit {
        return Err(Refusal::ChatLimit { limit: chat_limit });
    }
    Ok(())
}

/// Does a set of active sessions respect the rules? (The invariant the model test checks.)
pub fn within_limits(active: &[EntryKind], chat_limit: u32) -> bool {
    let calls = active.iter().filter(|k| k.is_exclusive()).count();
    match calls {
        0 => active.len() as u32 <= chat_limit,
        1 => active.len() == 1,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EntryKind::*;

    #[test]
    fn chats_up_to_the_limit() {
        assert!(check(&[], 3, Webchat).is_ok());
        assert!(check(&[Webchat, Messenger], 3, Callback).is_ok());
        assert_eq!(
            check(&[Webchat, Messenger, Vk], 3, Webchat),
            Err(Refusal::ChatLimit { limit: 3 })
        );
        assert_eq!(
            check(&[Webchat], 1, Webchat),
            Err(Refusal::ChatLimit { limit: 1 })
        );
    }

    #[test]
    fn a_call_is_served_alone() {
        assert!(check(&[], 3, Video).is_ok());
        assert!(check(&[], 3, Phone).is_ok());
        assert_eq!(
            check(&[Webchat], 3, Video),
            Err(Refusal::CallNeedsFreeOperator)
        );
        assert_eq!(check(&[Video], 3, Webchat), Err(Refusal::InCall));
        assert_eq!(check(&[Phone], 3, Video), Err(Refusal::InCall));
    }

    #[test]
    fn refusals_explain_themselves() {
        assert!(Refusal::ChatLimit { limit: 1 }
            .message()
            .contains("1 chat at once"));
        assert!(Refusal::InCall.message().contains("call"));
    }

    #[test]
    fn within_limits_matches_check() {
        assert!(within_limits(&[Video], 3));
        assert!(!within_limits(&[Video, Webchat], 3));
        assert!(!within_limits(&[Webchat; 4], 3));
        assert!(within_limits(&[Webchat; 3], 3));
    }
}
