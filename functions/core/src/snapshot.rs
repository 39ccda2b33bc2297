//! The journal's snapshot rule, shared by both runtimes' journals: a tenant's state is the last
//! snapshot plus every event after it. A new snapshot is written once [`EVERY`] events have piled
//! up since the last one, so that loading a tenant never replays more than that; it is stored as
//! JSON in parts of at most [`PART_BYTES`] bytes (a Durable Object's SQLite row holds at most
//! 2 MB), each part cut at a character boundary so that every part is valid UTF-8 text.

use crate::lobby::Lobby;

/// How many events may pile up after the snapshot before a new one is written.
pub const EVERY: u64 = 500;
/// A snapshot is stored in parts of at most this many bytes.
pub const PART_BYTES: usize = 512 * 1024;

/// Whether the state after event `seq` should be snapshotted, the last snapshot being at
/// `snapshot_seq` (0: none yet).
pub fn due(seq: u64, snapshot_seq: u64) -> bool {
    seq >= snapshot_seq.saturating_add(EVERY)
}

/// The state as the parts to store, in order.
pub fn parts(lobby: &Lobby) -> Result<Vec<String>, serde_json::Error> {
    let body = serde_json::to_string(lobby)?;
    Ok(split(&body, PART_BYTES)
        .into_iter()
        .map(str::to_string)
        .collect())
}

/// The state from its stored parts, in order (none: a tenant without a snapshot yet), with its
/// derived indexes rebuilt.
pub fn restore<'a>(parts: impl IntoIterator<Item = &'a str>) -> Result<Lobby, serde_json::Error> {
    let body: String = parts.into_iter().collect();
    let mut lobby = if body.is_empty() {
        Lobby::new()
    } else {
        serde_json::from_str::<Lobby>(&body)?
    };
    lobby.reindex();
    Ok(lobby)
}

/// `text` in consecutive non-empty pieces of at most `max` bytes, each cut at a character
/// boundary (a character longer than `max` makes a piece of its own).
pub fn split(text: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut cut = rest.len().min(max.max(1));
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.chars().next().map_or(rest.len(), char::len_utf8);
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn due_every_500_events() {
        assert!(!due(0, 0));
        assert!(!due(499, 0));
        assert!(due(500, 0));
        assert!(!due(999, 500));
        assert!(due(1000, 500));
        assert!(!due(u64::MAX - 1, u64::MAX - 10));
    }

    #[test]
    fn a_multibyte_character_is_never_cut() {
        // "č" is two bytes: a cut after 3 bytes would fall inside the second one.
        assert_eq!(split("ččč", 3), vec!["č", "č", "č"]);
        assert_eq!(split("aččb", 4), vec!["ač", "čb"]);
        // A character longer than the limit is a piece of its own.
        assert_eq!(split("😀a", 2), vec!["😀", "a"]);
        assert!(split("", 10).is_empty());
    }

    #[test]
    fn a_large_state_is_stored_in_parts_and_restored() {
        let mut lobby = Lobby::new();
        lobby.reindex();
        let empty = parts(&lobby).unwrap();
        assert_eq!(empty.len(), 1);
        assert!(restore(empty.iter().map(String::as_str)).unwrap() == lobby);
        // A tenant with no snapshot yet starts empty.
        assert!(restore(std::iter::empty()).unwrap() == lobby);
        // Broken text is an error, not an empty tenant.
        assert!(restore(["{\"operators\":"]).is_err());
    }

    proptest! {
        #[test]
        fn pieces_join_to_the_text(text in "\\PC{0,400}", max in 1usize..40) {
            let pieces = split(&text, max);
            prop_assert_eq!(pieces.concat(), text.clone());
            for p in &pieces {
                prop_assert!(!p.is_empty());
                prop_assert!(p.len() <= max || p.chars().count() == 1);
            }
        }
    }
}
