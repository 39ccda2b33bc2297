//! `User-Agent` and `Accept-Language` headers as browsers (or anyone) send them: reading the
//! browser, the OS and the language never panics.
#![no_main]

use lobby_core::client_info;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = client_info::browser_and_os(Some(&text));
    let (explicit, header) = text.split_once('\n').unwrap_or((&text, &text));
    let _ = client_info::language(Some(explicit), Some(header));
    let _ = client_info::language(None, Some(header));
});
