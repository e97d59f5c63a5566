//! An hls.js-like player: one load at a time, a forward buffer, playback in real time,
//! stalls when the buffer runs dry, and a throughput ABR. Pure state; the engine feeds it
//! time and deliveries and carries out what it asks.

use hlsmesh_core::LoadId;
use serde::Serialize;

use crate::scenario::{Abr, Scenario};

/// What one viewer lived through.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ViewerMetrics {
    /// Access class index.
    pub class: usize,
    /// Arrival, seconds of simulated time.
    pub joined_s: f64,
    /// Departure (or end of run), seconds.
    pub left_s: f64,
    /// From arrival to the first segment in the buffer (playback starts), ms.
    pub ttff_ms: Option<f64>,
    /// Times the buffer ran dry after playback started.
    pub stalls: u32,
    /// Time spent stalled, seconds.
    pub stall_s: f64,
    /// Sum and count of samples of (live edge − playhead), seconds.
    pub latency_sum: f64,
    /// Samples in `latency_sum`.
    pub latency_n: u32,
    /// Segment bytes the player got, by source the agent reported (nominal).
    pub bytes_cdn: u64,
    /// Peer-delivered segment bytes (nominal).
    pub bytes_peer: u64,
    /// Cache-delivered segment bytes (nominal; filled earlier by a peer or the CDN).
    pub bytes_cache: u64,
    /// Loads the agent failed, fetched by the player itself from the CDN.
    pub fallbacks: u32,
    /// Rendition switches.
    pub switches: u32,
    /// Time spent playing with less than [`LOW_BUFFER_S`] buffered, seconds: how long a
    /// late or slow response would have stalled the viewer.
    pub low_buffer_s: f64,
}

/// The buffer under which [`ViewerMetrics::low_buffer_s`] counts playing time, seconds.
pub const LOW_BUFFER_S: f64 = 2.0;

impl ViewerMetrics {
    /// Seconds between arrival and departure.
    pub fn session_s(&self) -> f64 {
        (self.left_s - self.joined_s).max(0.0)
    }
}

/// A load in progress.
#[derive(Clone, Copy, Debug)]
pub struct Loading {
    /// The embedder's id.
    pub id: LoadId,
    /// Segment number.
    pub sn: u64,
    /// Rendition.
    pub level: usize,
    /// When it was asked for (µs).
    pub since: u64,
}

/// Player state of one viewer.
#[derive(Clone, Debug, Default)]
pub struct Player {
    /// Rendition now.
    pub level: usize,
    /// A media playlist has been loaded.
    pub ready: bool,
    /// Newest segment in the player's view of the playlist.
    pub known_last: u64,
    /// Next segment to load.
    pub next_sn: u64,
    /// The load in progress.
    pub loading: Option<Loading>,
    /// Playback has begun.
    pub started: bool,
    /// Playing now (false before start and while stalled).
    pub playing: bool,
    /// Playhead at `anchor_t`, media seconds.
    pub anchor_pos: f64,
    /// µs.
    pub anchor_t: u64,
    /// End of the buffer, media seconds.
    pub buffered_end: f64,
    /// When the current stall began (µs).
    pub stall_since: Option<u64>,
    /// Generation of the scheduled wake-up; older ones are stale.
    pub gen: u32,
    /// Throughput estimate, kb/s (0: none yet).
    pub est_kbps: f64,
    /// The title ended and the buffer played out.
    pub finished: bool,
    /// Until when `m.low_buffer_s` is counted (µs).
    pub accounted_t: u64,
    /// Metrics.
    pub m: ViewerMetrics,
}

impl Player {
    /// Playhead at `now` (µs).
    pub fn position(&self, now: u64) -> f64 {
        if self.playing {
            let p = self.anchor_pos + now.saturating_sub(self.anchor_t) as f64 / 1e6;
            p.min(self.buffered_end)
        } else {
            self.anchor_pos
        }
    }

    /// Seconds of media buffered ahead of the playhead.
    pub fn ahead(&self, now: u64) -> f64 {
        (self.buffered_end - self.position(now)).max(0.0)
    }

    /// When the buffer runs dry if nothing arrives (µs), while playing.
    pub fn empty_at(&self) -> Option<u64> {
        self.playing
            .then(|| self.anchor_t + ((self.buffered_end - self.anchor_pos).max(0.0) * 1e6) as u64)
    }

    /// Adds to [`ViewerMetrics::low_buffer_s`] the playing time under [`LOW_BUFFER_S`]
    /// since the last call. Called before anything changes the buffer or stops playback:
    /// in between the buffer only drains, one second per second.
    pub fn account(&mut self, now: u64) {
        let since = std::mem::replace(&mut self.accounted_t, now);
        if !self.playing {
            return;
        }
        let from = since.max(self.anchor_t);
        let dt = now.saturating_sub(from) as f64 / 1e6;
        let b0 = self.ahead(from);
        let low_from = (b0 - LOW_BUFFER_S).max(0.0);
        self.m.low_buffer_s += (dt.min(b0) - low_from).max(0.0);
    }

    /// Checks for a dry buffer at `now`; true if a stall began.
    pub fn check_stall(&mut self, now: u64) -> bool {
        self.account(now);
        if self.playing && self.position(now) >= self.buffered_end - 1e-6 {
            self.anchor_pos = self.buffered_end;
            self.anchor_t = now;
            self.playing = false;
            self.stall_since = Some(now);
            self.m.stalls += 1;
            return true;
        }
        false
    }

    /// Whether the player wants another segment now.
    pub fn wants_load(&self, now: u64, sc: &Scenario) -> bool {
        self.ready
            && !self.finished
            && self.loading.is_none()
            && self.next_sn <= self.known_last
            && (!self.started || self.ahead(now) < sc.max_buffer_s)
    }

    /// A segment arrived (µs `now`).
    pub fn on_segment(&mut self, now: u64, sn: u64, seg_s: f64) {
        self.account(now);
        let start = sn as f64 * seg_s;
        let end = start + seg_s;
        if !self.started {
            self.started = true;
            self.playing = true;
            self.anchor_pos = start;
            self.anchor_t = now;
            self.buffered_end = end;
        } else {
            let pos = self.position(now);
            self.buffered_end = self.buffered_end.max(end);
            if let Some(since) = self.stall_since.take() {
                self.m.stall_s += now.saturating_sub(since) as f64 / 1e6;
            }
            self.anchor_pos = pos;
            self.anchor_t = now;
            self.playing = true;
        }
        self.next_sn = self.next_sn.max(sn + 1);
    }

    /// Feeds a load's timing to the ABR (bytes `nominal`, begun at `since` as hls.js
    /// sees it) and picks the rendition of the next load.
    /// Returns the new level when it changes.
    pub fn abr(&mut self, now: u64, nominal: u64, since: u64, sc: &Scenario) -> Option<usize> {
        if sc.abr == Abr::Off {
            return None;
        }
        let el = now.saturating_sub(since) as f64 / 1e6;
        if el > 0.005 {
            let kbps = nominal as f64 * 8.0 / 1000.0 / el;
            self.est_kbps = if self.est_kbps == 0.0 {
                kbps
            } else {
                0.7 * self.est_kbps + 0.3 * kbps
            };
        }
        let r = &sc.renditions_kbps;
        let l = self.level;
        let new = if l + 1 < r.len() && self.est_kbps * 0.7 >= r[l + 1] && self.ahead(now) >= 8.0 {
            l + 1
        } else if l > 0 && self.est_kbps > 0.0 && self.est_kbps * 0.85 < r[l] {
            l - 1
        } else {
            l
        };
        self.switch(new)
    }

    /// A stall: step down one rendition.
    pub fn abr_stall(&mut self, sc: &Scenario) -> Option<usize> {
        if sc.abr == Abr::Off || self.level == 0 {
            return None;
        }
        self.est_kbps = 0.0;
        self.switch(self.level - 1)
    }

    fn switch(&mut self, new: usize) -> Option<usize> {
        if new == self.level {
            return None;
        }
        self.level = new;
        self.m.switches += 1;
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000;

    #[test]
    fn low_buffer_time_counts_only_playing_time_under_two_seconds() {
        let mut p = Player::default();
        // Starts at 0 with one 2 s segment: at the threshold, so every second of it is low.
        p.on_segment(0, 0, 2.0);
        // 1 s later: 1 s under 2 s buffered.
        p.on_segment(S, 1, 2.0);
        assert!(
            (p.m.low_buffer_s - 1.0).abs() < 1e-9,
            "{}",
            p.m.low_buffer_s
        );
        // 3 s buffered at 1 s; at 4 s nothing more came: low from 2 s to 3 s, then dry at
        // 4 s, a stall.
        assert!(p.check_stall(4 * S));
        assert!(
            (p.m.low_buffer_s - 3.0).abs() < 1e-9,
            "{}",
            p.m.low_buffer_s
        );
        // Stalled time is not playing time: nothing added while it lasts.
        p.account(6 * S);
        assert!(
            (p.m.low_buffer_s - 3.0).abs() < 1e-9,
            "{}",
            p.m.low_buffer_s
        );
        // Playing again from 6 s with 2 s buffered; a segment at 6.5 s tops it up to
        // 3.5 s, and 1 s later 2.5 s remain: only the first 0.5 s was low.
        p.on_segment(6 * S, 2, 2.0);
        p.on_segment(6 * S + S / 2, 3, 2.0);
        p.account(7 * S + S / 2);
        assert!(
            (p.m.low_buffer_s - 3.5).abs() < 1e-9,
            "{}",
            p.m.low_buffer_s
        );
    }
}
