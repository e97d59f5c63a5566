//! Inputs that trip a bug already found by these targets and reported, but not yet fixed
//! in the core. The targets skip them so that `make test-fuzz` keeps looking for *new*
//! bugs; set `HLSMESH_FUZZ_KNOWN_BUGS=1` to stop skipping (and reproduce). Each check
//! names the bug; delete it once the fix lands (its reproducer is in
//! `crates/fuzz/regressions/`).

use std::sync::OnceLock;

fn skipping() -> bool {
    static SKIP: OnceLock<bool> = OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("HLSMESH_FUZZ_KNOWN_BUGS").is_none())
}

/// Whether `Playlists::update` would hit a known bug on `text`.
pub fn playlist(text: &[u8]) -> bool {
    if !skipping() {
        return false;
    }
    let Ok(m3u8_rs::Playlist::MediaPlaylist(media)) = m3u8_rs::parse_playlist_res(text) else {
        return false;
    };
    // playlist-sn-overflow: `media_sequence + i` overflows (playlist/mod.rs).
    if media
        .media_sequence
        .checked_add(media.segments.len() as u64)
        .is_none()
    {
        return true;
    }
    // playlist-byterange-overflow: `start + length` of an `#EXT-X-BYTERANGE` overflows
    // (playlist/mod.rs), with `start` its offset or the end of the previous range.
    let mut next = 0u64;
    for seg in &media.segments {
        if let Some(r) = &seg.byte_range {
            let start = r.offset.unwrap_or(next);
            match start.checked_add(r.length) {
                Some(end) => next = end,
                None => return true,
            }
        }
    }
    false
}
