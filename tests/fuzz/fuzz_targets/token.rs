//! A bearer token or `Authorization` header as a caller may send it: checking never panics, and
//! nothing but a token this secret signed is accepted.
#![no_main]

use lobby_core::auth;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = auth::bearer(Some(text));
    if let Ok(claims) =
        auth::verify_token(text, b"the fuzzing deployment secret, 32+", 1_700_000_000)
    {
        // Only a signature made with the secret passes: re-signing the claims must give the
        // same token back.
        assert_eq!(
            auth::sign_token(&claims, b"the fuzzing deployment secret, 32+"),
            text,
            "a token that was not signed with the secret was accepted"
        );
    }
});
