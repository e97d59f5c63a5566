//! The integrity sidecar (`integrity::HashList::parse`) on arbitrary text, then lookups
//! and verification by sequence number and by URL. Sidecars come from the CDN, but a parser must never panic on any input.
#![no_main]

use hlsmesh_core::integrity::{HashList, Key, Verdict, HEADER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Half the inputs get the header for free, so the fuzzer spends its time on entries.
    let with_header = format!("{HEADER}\n{text}");
    for t in [&*text, &with_header] {
        let Ok(list) = HashList::parse(t) else {
            continue;
        };
        for e in list.entries() {
            assert_eq!(list.expected(Key::Sn(e.sn)), Some(e));
            let verdict = list.verify(Key::Sn(e.sn), data);
            assert!(verdict != Verdict::Unknown);
            if let Some(uri) = &e.uri {
                let url = format!("https://cdn.test/live/v0/{uri}?token=x");
                let _ = list.verify(Key::Url(&url), data);
            }
        }
        assert!(list.entries().windows(2).all(|w| w[0].sn < w[1].sn));
    }
});
