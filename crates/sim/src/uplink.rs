//! A viewer's uplink, shared equally by the data channels that have frames queued on it
//! (processor sharing: the fluid limit of their congestion controllers taking turns
//! packet by packet), and kept as one virtual clock.
//!
//! The clock `v` counts the nominal bytes that each sending channel has been able to
//! send: it runs at `rate / active` bytes per µs while `active` channels send. A channel
//! that starts a frame of `size` bytes at clock `v0` has sent it when the clock reaches
//! `v0 + size`, however often others start and stop meanwhile; so the uplink needs one
//! queued event, at the earliest such finish, not one per slice of every frame. Pure
//! arithmetic on injected time: no queue, no channels, no frames.

/// A channel's head frame counts as sent once this few nominal bytes of it are left: the
/// finishes are computed in floating point and queued at whole microseconds.
const SENT_TOLERANCE: f64 = 1e-3;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FairShare {
    /// Bytes per µs.
    rate: f64,
    /// Channels with frames queued.
    active: u32,
    /// The virtual clock at `t`.
    v: f64,
    /// µs from which the clock runs: the last time it was brought up to date, moved later
    /// by each small frame sent past the queue (the sending channels lose that much of
    /// the uplink). With no channel sending, when the uplink is free again.
    t: f64,
}

impl FairShare {
    /// An idle uplink of `rate` bytes per µs.
    pub(crate) fn new(rate: f64) -> FairShare {
        FairShare {
            rate,
            ..FairShare::default()
        }
    }

    /// Bytes per µs.
    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// Channels with frames queued.
    pub(crate) fn active(&self) -> u32 {
        self.active
    }

    /// Brings the clock up to `now` and returns it.
    pub(crate) fn clock(&mut self, now: u64) -> f64 {
        let now = now as f64;
        if self.active > 0 && now > self.t {
            self.v += (now - self.t) * self.rate / f64::from(self.active);
            self.t = now;
        }
        self.v
    }

    /// A channel starts sending a frame of `size` bytes at `now`: returns the clock at
    /// which the frame has left.
    pub(crate) fn start(&mut self, now: u64, size: u64) -> f64 {
        let v = self.clock(now);
        if self.active == 0 {
            // It runs from when the small frames sent before have left.
            self.t = self.t.max(now as f64);
        }
        self.active += 1;
        v + size as f64
    }

    /// A channel stops sending at `now` (its queue ran dry, or it closed).
    pub(crate) fn stop(&mut self, now: u64) {
        self.clock(now);
        self.active -= 1;
    }

    /// No channel sends any more (the viewer left).
    pub(crate) fn clear(&mut self) {
        self.active = 0;
    }

    /// A small frame of `size` bytes, on a channel with nothing queued, leaves past the
    /// queue at `now`: returns when it has left. It goes after the small frames before
    /// it: on a free uplink at the uplink's rate; beside sending channels with an equal
    /// share, and they lose `size / rate` µs of the uplink (the clock starts that much
    /// later).
    pub(crate) fn send_small(&mut self, now: u64, size: u64) -> u64 {
        let size = size as f64;
        if self.active == 0 {
            self.t = self.t.max(now as f64) + size / self.rate;
            self.t as u64
        } else {
            // After `clock`, `t` is not before now: later by the small frames pending.
            self.clock(now);
            let depart = self.t + size * f64::from(self.active + 1) / self.rate;
            self.t += size / self.rate;
            depart as u64
        }
    }

    /// Whether a frame that leaves at clock `finish` has left by the clock's last update.
    pub(crate) fn has_left(&self, finish: f64) -> bool {
        finish <= self.v + SENT_TOLERANCE
    }

    /// Bytes of a frame that leaves at clock `finish` still to send (at the clock's last
    /// update).
    pub(crate) fn left(&self, finish: f64) -> f64 {
        (finish - self.v).max(0.0)
    }

    /// The first whole µs after `now` at which the clock reaches `finish` if the
    /// sending channels stay as they are (after `now`: a frame that has left by `now`
    /// is taken by the event at `now`; and at rates where a byte's time is under the
    /// float precision of `t`, a `now` could come back for ever).
    pub(crate) fn due(&self, now: u64, finish: f64) -> u64 {
        let at = self.t + self.left(finish) * f64::from(self.active.max(1)) / self.rate;
        (at.ceil() as u64).max(now + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::FairShare;

    #[test]
    fn a_frame_alone_leaves_at_the_uplink_rate() {
        let mut up = FairShare::new(2.0);
        let f = up.start(100, 1_000);
        assert_eq!(up.due(100, f), 600);
        up.clock(599);
        assert!(!up.has_left(f));
        up.clock(600);
        assert!(up.has_left(f));
    }

    #[test]
    fn channels_share_equally_and_no_capacity_is_lost() {
        // 1 byte per µs; A (1,000 bytes) and B (500) start together: B leaves at 1,000
        // (half the rate each), A at 1,500, alone for its last 500.
        let mut up = FairShare::new(1.0);
        let a = up.start(0, 1_000);
        let b = up.start(0, 500);
        assert_eq!(up.due(0, b), 1_000);
        up.clock(1_000);
        assert!(up.has_left(b) && !up.has_left(a));
        up.stop(1_000);
        assert_eq!(up.due(1_000, a), 1_500);
    }

    #[test]
    fn a_channel_joining_later_slows_the_others_from_then_on() {
        let mut up = FairShare::new(1.0);
        let a = up.start(0, 1_000);
        assert_eq!(up.due(0, a), 1_000);
        // At 500, A has 500 left; B joins with 1,000 and both run at half the rate.
        let b = up.start(500, 1_000);
        assert_eq!(up.due(500, a), 1_500);
        up.clock(1_500);
        assert!(up.has_left(a));
        up.stop(1_500);
        // B sent 500 beside A and sends its last 500 alone.
        assert_eq!(up.left(b), 500.0);
        assert_eq!(up.due(1_500, b), 2_000);
    }

    #[test]
    fn small_frames_take_their_share_and_delay_the_others_by_their_size() {
        let mut up = FairShare::new(1.0);
        let a = up.start(0, 1_000);
        // Beside one sending channel, 100 bytes take 200 µs at half the rate, and A
        // finishes 100 µs later than alone.
        assert_eq!(up.send_small(0, 100), 200);
        assert_eq!(up.due(0, a), 1_100);
    }

    #[test]
    fn small_frames_beside_a_sending_channel_go_one_after_another() {
        // Three at once beside one sending channel: each leaves with half the uplink
        // after the one before it took its share; the uplink carries no more than its
        // rate (300 small bytes and 100 of A's by 400 µs).
        let mut up = FairShare::new(1.0);
        let a = up.start(0, 1_000);
        assert_eq!(up.send_small(0, 100), 200);
        assert_eq!(up.send_small(0, 100), 300);
        assert_eq!(up.send_small(0, 100), 400);
        up.clock(400);
        assert_eq!(up.left(a), 900.0);
        assert_eq!(up.due(400, a), 1_300);
    }

    #[test]
    fn small_frames_on_a_free_uplink_go_one_after_another() {
        let mut up = FairShare::new(1.0);
        assert_eq!(up.send_small(0, 100), 100);
        assert_eq!(up.send_small(0, 100), 200);
        // A large frame starts when they have left.
        let a = up.start(50, 1_000);
        assert_eq!(up.due(50, a), 1_200);
        // Later, the uplink is free again at once.
        up.stop(1_200);
        assert_eq!(up.send_small(5_000, 100), 5_100);
    }

    #[test]
    fn due_is_after_now() {
        let mut up = FairShare::new(1.0);
        let a = up.start(0, 10);
        assert_eq!(up.due(20, a), 21);
        // A frame a fraction of a µs from leaving at a rate far beyond any access link.
        let mut fast = FairShare::new(1e6);
        let b = fast.start(3_600_000_000, 1);
        assert_eq!(fast.due(3_600_000_000, b), 3_600_000_001);
    }
}
