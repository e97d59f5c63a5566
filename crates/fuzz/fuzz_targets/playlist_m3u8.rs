//! `playlist::read` and `Playlists::update` on mostly-valid m3u8 text built from the input (a master, then
//! media playlists and their live refreshes), so the fuzzer explores the model rather
//! than the parser's first line.
#![no_main]

use hlsmesh_core::playlist::Playlists;
use hlsmesh_fuzz::{m3u8, Src};
use libfuzzer_sys::fuzz_target;

const URLS: [&str; 4] = [
    "https://cdn.test/live/master.m3u8?tok=1",
    "https://cdn.test/live/v0/index.m3u8?token=abc",
    "https://cdn2.test/live/v1/index.m3u8",
    "https://cdn.test/live/audio/index.m3u8",
];

fuzz_target!(|data: &[u8]| {
    let mut src = Src::new(data);
    let mut model = Playlists::default();
    for _ in 0..6 {
        if src.is_empty() {
            break;
        }
        let url = URLS[usize::from(src.below(4))];
        let text = m3u8::playlist(&mut src);
        if let Some(update) = hlsmesh_fuzz::take_text(&mut model, url, text.as_bytes()) {
            for seg in &update.new_segments {
                let _ = model.segment_for(&seg.url, seg.range.map(|r| r.0));
            }
        }
    }
});
