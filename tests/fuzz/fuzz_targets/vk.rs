//! A vk webhook body, as any sender on the internet may post it: parsing never panics.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = lobby_core::channels::vk::parse(data);
});
