//! `playlist::read` and `Playlists::update` on arbitrary bytes: up to four playlists (split at "\0\0"), each
//! loaded from a URL the first byte picks, into one model, with every listed segment
//! then looked up by its URL.
#![no_main]

use hlsmesh_core::playlist::Playlists;
use libfuzzer_sys::fuzz_target;

const URLS: [&str; 4] = [
    "https://cdn.test/live/master.m3u8?tok=1",
    "https://cdn.test/live/v0/index.m3u8?token=abc",
    "https://cdn2.test/live/v1/index.m3u8",
    "http://o.test/index.m3u8",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let mut model = Playlists::default();
    for (i, text) in rest
        .split(|&b| b == 0)
        .filter(|t| !t.is_empty())
        .take(4)
        .enumerate()
    {
        let url = URLS[(usize::from(pick) >> (2 * i)) % URLS.len()];
        if let Some(update) = hlsmesh_fuzz::take_text(&mut model, url, text) {
            for seg in &update.new_segments {
                let _ = model.segment_for(&seg.url, seg.range.map(|r| r.0));
            }
        }
    }
});
