//! Inputs that trip a bug already found by these targets and reported, but not yet fixed
//! in the core. The targets skip them so that `make test-fuzz` keeps looking for *new*
//! bugs; set `HLSMESH_FUZZ_KNOWN_BUGS=1` to stop skipping (and reproduce). Each check
//! names the bug; delete it once the fix lands (its reproducer is in
//! `crates/fuzz/regressions/`, replayed by `run.sh` as a regression test from then on).
//!
//! Fixed so far: playlist-sn-overflow and playlist-byterange-overflow (142f069),
//! past-deadline (c7c7762).

use std::sync::OnceLock;

fn skipping() -> bool {
    static SKIP: OnceLock<bool> = OnceLock::new();
    *SKIP.get_or_init(|| std::env::var_os("HLSMESH_FUZZ_KNOWN_BUGS").is_none())
}

/// Whether feeding `text` to an agent as a playlist could hit a known bug.
pub fn agent_playlist(text: &[u8]) -> bool {
    if !skipping() {
        return false;
    }
    // plausible-bound-overflow: `Scheduler::max_plausible_bytes` computes
    // `8 * expected_bytes + 256 KiB` unchecked, and `expected_bytes` saturates to
    // `usize::MAX` for an absurd declared BANDWIDTH, an absurd or infinite EXTINF, or a
    // huge byte range. Skip playlists that declare such numbers.
    const ABSURD: u64 = 1 << 40;
    match m3u8_rs::parse_playlist_res(text) {
        Ok(m3u8_rs::Playlist::MasterPlaylist(master)) => master
            .variants
            .iter()
            .any(|v| v.bandwidth >= ABSURD || v.average_bandwidth.is_some_and(|b| b >= ABSURD)),
        Ok(m3u8_rs::Playlist::MediaPlaylist(media)) => media.segments.iter().any(|s| {
            !s.duration.is_finite()
                || s.duration > 1e6
                || s.byte_range.as_ref().is_some_and(|r| r.length >= ABSURD)
        }),
        Err(_) => false,
    }
}

/// scheduler-wait-mismatch: with two loads of one segment waiting, `handle_timeout`
/// finds the segment due when *any* load's `wait_until` has passed, but `advance` decides
/// with the most urgent load (smallest `need_by`), whose `wait_until` can be later (its
/// rank was computed while a peer was connected); nothing starts and `poll_timeout` keeps
/// reporting the past `wait_until`. The agent target tolerates a past wake-up only then.
pub fn scheduler_wait_mismatch() -> bool {
    skipping()
}
