//! `url::resolve` and `url::without_query` on arbitrary strings (base and reference are
//! split at the first NUL).
#![no_main]

use hlsmesh_core::url::{resolve, without_query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (base, reference) = text
        .split_once('\0')
        .unwrap_or(("https://cdn.test/live/index.m3u8?t=1", &text));
    let out = resolve(base, reference);
    let stripped = without_query(&out);
    assert!(out.starts_with(stripped));
    assert!(!stripped.contains(['?', '#']));
    // Resolving against a resolved URL must not panic either.
    let _ = resolve(&out, reference);
});
