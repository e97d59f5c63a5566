//! The simulator's time queue: entries come out in (time, insertion order), exactly as
//! from a binary heap, but cheaper at scale.
//!
//! A calendar of buckets of [`WIDTH`] µs covers the next [`BUCKETS`] × [`WIDTH`] µs;
//! entries further out wait in a binary heap until their bucket comes up. A bucket is
//! sorted once, when it becomes current (most entries of a big swarm's bucket arrive
//! before then: network delays are milliseconds), and entries pushed into the current
//! bucket are inserted in order. Pushing and popping touch a few contiguous vectors
//! instead of sifting through a heap of hundreds of thousands of entries.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Bucket width, µs.
const WIDTH: u64 = 1_000;
/// Buckets in the calendar (a power of two): a horizon of about 4 s.
const BUCKETS: usize = 4096;

/// One queued item at `at` µs; `seq` orders items of the same time by insertion.
pub(crate) struct Entry<T> {
    pub at: u64,
    pub seq: u64,
    pub item: T,
}

impl<T> Entry<T> {
    fn key(&self) -> (u64, u64) {
        (self.at, self.seq)
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> Ordering {
        self.key().cmp(&o.key())
    }
}

/// A min-queue on (time, insertion order).
pub(crate) struct TimeQueue<T> {
    /// Index (time / WIDTH) of the current bucket.
    cur_bucket: u64,
    /// The current bucket's entries, sorted latest first (pop from the back).
    cur: Vec<Entry<T>>,
    /// Buckets `cur_bucket + 1 .. cur_bucket + BUCKETS`, unsorted, at `bucket % BUCKETS`.
    ring: Vec<Vec<Entry<T>>>,
    /// Entries in `ring`.
    in_ring: usize,
    /// Entries beyond the ring's horizon.
    far: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
    len: usize,
}

impl<T> TimeQueue<T> {
    pub(crate) fn new() -> Self {
        TimeQueue {
            cur_bucket: 0,
            cur: Vec::new(),
            ring: (0..BUCKETS).map(|_| Vec::new()).collect(),
            in_ring: 0,
            far: BinaryHeap::new(),
            seq: 0,
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Queues `item` at `at`, which must not be earlier than the last entry popped.
    pub(crate) fn push(&mut self, at: u64, item: T) {
        self.seq += 1;
        self.len += 1;
        let e = Entry {
            at,
            seq: self.seq,
            item,
        };
        let b = at / WIDTH;
        if b <= self.cur_bucket {
            // Latest first: after (below) every entry due later, before every entry due
            // at the same time or earlier (this one was made last).
            let i = self.cur.partition_point(|x| x.at > at);
            self.cur.insert(i, e);
        } else if b < self.cur_bucket + BUCKETS as u64 {
            self.ring[(b % BUCKETS as u64) as usize].push(e);
            self.in_ring += 1;
        } else {
            self.far.push(Reverse(e));
        }
    }

    /// The earliest entry (the first queued among equals).
    pub(crate) fn pop(&mut self) -> Option<Entry<T>> {
        if self.cur.is_empty() {
            self.advance()?;
        }
        self.len -= 1;
        self.cur.pop()
    }

    /// Makes the next non-empty bucket current; `None` when nothing is queued.
    fn advance(&mut self) -> Option<()> {
        if self.len == 0 {
            return None;
        }
        loop {
            let far_bucket = self.far.peek().map(|Reverse(e)| e.at / WIDTH);
            let next = if self.in_ring == 0 {
                far_bucket.expect("entries are somewhere")
            } else {
                let mut b = self.cur_bucket + 1;
                while self.ring[(b % BUCKETS as u64) as usize].is_empty() {
                    b += 1;
                }
                far_bucket.map_or(b, |f| f.min(b))
            };
            self.cur_bucket = next;
            let slot = &mut self.ring[(next % BUCKETS as u64) as usize];
            // Keep the slot's allocation: swap it with the drained current vector.
            std::mem::swap(&mut self.cur, slot);
            self.in_ring -= self.cur.len();
            while let Some(Reverse(e)) = self.far.peek() {
                if e.at / WIDTH != next {
                    break;
                }
                let Reverse(e) = self.far.pop().expect("peeked");
                self.cur.push(e);
            }
            if !self.cur.is_empty() {
                self.cur.sort_unstable_by_key(|e| Reverse(e.key()));
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same order as a binary heap on (time, insertion order), whatever the mix of
    /// near, far and same-time entries pushed while popping.
    #[test]
    fn pops_in_time_then_insertion_order() {
        let mut q = TimeQueue::new();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut rand = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut now = 0;
        let mut popped = 0;
        for round in 0..200_000u64 {
            let pushes = if round < 1000 { 2 } else { rand(3) };
            for _ in 0..pushes {
                let delay = match rand(6) {
                    0 => 0,
                    1 => rand(1_000),
                    2 => rand(100_000),
                    3 => rand(5_000_000),
                    4 => rand(60_000_000),
                    _ => rand(10) * WIDTH,
                };
                seq += 1;
                q.push(now + delay, seq);
                reference.push(Reverse((now + delay, seq)));
            }
            if let Some(Reverse((at, s))) = reference.pop() {
                let e = q.pop().expect("same length");
                assert_eq!((e.at, e.item), (at, s));
                now = at;
                popped += 1;
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some(Reverse((at, s))) = reference.pop() {
            let e = q.pop().expect("same length");
            assert_eq!((e.at, e.item), (at, s));
        }
        assert!(q.pop().is_none());
        assert!(popped > 100_000);
    }
}
