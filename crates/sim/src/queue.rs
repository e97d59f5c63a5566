//! The simulator's time queue: entries come out in (time, insertion order), exactly as
//! from a binary heap, but cheaper at scale.
//!
//! A hierarchical calendar. Fine buckets of [`WIDTH`] µs cover the current block of
//! [`BLOCK`] buckets and the next; coarse buckets of one block each cover the
//! [`COARSE`] blocks after those; entries further out wait in a binary heap, which is
//! consulted whenever a bucket becomes current. A coarse bucket is poured into the fine
//! buckets when its block becomes the next one. A fine bucket is sorted once, when it
//! becomes current (most entries of a big swarm's bucket arrive before then: network
//! delays are milliseconds), and entries pushed into the current bucket are inserted in
//! order. What is sorted is the bucket's order, a packed key and an index per entry, not
//! the entries themselves (a quarter of an entry's size: sorting the entries was 1.8% of
//! a 10,000-viewer run's time); the entries are then moved once into that order. Pushing and popping touch a few contiguous vectors instead of sifting through
//! a heap of hundreds of thousands of entries (player and agent timers seconds ahead
//! used to fill the heap).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Fine bucket width, µs.
const WIDTH: u64 = 1_000;
/// Fine buckets per block: about 2 s.
const BLOCK: u64 = 2048;
/// Fine buckets in the ring: the current block and the next.
const FINE: u64 = 2 * BLOCK;
/// Coarse buckets (blocks) beyond the fine ring: about 2 min more.
const COARSE: u64 = 64;
/// Bits of an order key below the entry's time within its bucket: its insertion number.
const SEQ_BITS: u32 = 54;

/// An entry's place in its bucket's order: time within the bucket ([`WIDTH`] < 2^10),
/// then insertion number. Only compared within one bucket.
fn order_key(at: u64, seq: u64) -> u64 {
    ((at % WIDTH) << SEQ_BITS) | seq
}

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
///
/// With K the current bucket's block: `fine` holds the later buckets of blocks K and
/// K + 1 (at `bucket % FINE`), `coarse` blocks K + 2 ..= K + COARSE (at `block %
/// COARSE`), `far` the rest (and, as K moves on, entries that have come nearer).
pub(crate) struct TimeQueue<T> {
    /// Index (time / WIDTH) of the current bucket.
    cur_bucket: u64,
    /// The current bucket's entries, sorted latest first (pop from the back).
    cur: Vec<Entry<T>>,
    /// The bucket becoming current, as its fine bucket held it (then emptied into `cur`).
    slots: Vec<Option<Entry<T>>>,
    /// Its order: each entry's [`order_key`] and index in `slots`, latest first.
    order: Vec<(u64, u32)>,
    /// Fine buckets, unsorted.
    fine: Vec<Vec<Option<Entry<T>>>>,
    /// Entries in `fine`.
    in_fine: usize,
    /// Coarse buckets, unsorted.
    coarse: Vec<Vec<Entry<T>>>,
    /// Entries in `coarse`.
    in_coarse: usize,
    /// Entries beyond the coarse buckets' horizon when pushed.
    far: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
    len: usize,
}

impl<T> TimeQueue<T> {
    pub(crate) fn new() -> Self {
        TimeQueue {
            cur_bucket: 0,
            cur: Vec::new(),
            slots: Vec::new(),
            order: Vec::new(),
            fine: (0..FINE).map(|_| Vec::new()).collect(),
            in_fine: 0,
            coarse: (0..COARSE).map(|_| Vec::new()).collect(),
            in_coarse: 0,
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
        assert!(self.seq < 1 << SEQ_BITS, "2^54 entries queued in one run");
        self.len += 1;
        let e = Entry {
            at,
            seq: self.seq,
            item,
        };
        let b = at / WIDTH;
        let block = b / BLOCK;
        let k = self.cur_bucket / BLOCK;
        if b <= self.cur_bucket {
            // Latest first: after (below) every entry due later, before every entry due
            // at the same time or earlier (this one was made last).
            let i = self.cur.partition_point(|x| x.at > at);
            self.cur.insert(i, e);
        } else if block <= k + 1 {
            self.fine[(b % FINE) as usize].push(Some(e));
            self.in_fine += 1;
        } else if block <= k + COARSE {
            self.coarse[(block % COARSE) as usize].push(e);
            self.in_coarse += 1;
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

    /// Moves the coarse bucket of `block` into the fine buckets.
    fn pour(&mut self, block: u64) {
        let slot = std::mem::take(&mut self.coarse[(block % COARSE) as usize]);
        self.in_coarse -= slot.len();
        self.in_fine += slot.len();
        for e in slot {
            debug_assert_eq!(e.at / WIDTH / BLOCK, block);
            self.fine[((e.at / WIDTH) % FINE) as usize].push(Some(e));
        }
    }

    /// Makes `next` the current bucket (its fine bucket and any far entries of it),
    /// pouring the block after it if `next` starts a new block.
    fn enter(&mut self, next: u64) {
        let k = self.cur_bucket / BLOCK;
        self.cur_bucket = next;
        if next / BLOCK > k && self.in_coarse > 0 {
            // Blocks up to K + 1 were poured already; with coarse entries waiting, the
            // current bucket moves at most one block at a time.
            debug_assert_eq!(next / BLOCK, k + 1);
            self.pour(next / BLOCK + 1);
        }
        let slot = &mut self.fine[(next % FINE) as usize];
        // Keep the slot's allocation: swap it with the emptied scratch vector.
        std::mem::swap(&mut self.slots, slot);
        self.in_fine -= self.slots.len();
        while let Some(Reverse(e)) = self.far.peek() {
            if e.at / WIDTH != next {
                break;
            }
            let Reverse(e) = self.far.pop().expect("peeked");
            self.slots.push(Some(e));
        }
    }

    /// Makes the next non-empty bucket current; `None` when nothing is queued.
    fn advance(&mut self) -> Option<()> {
        if self.len == 0 {
            return None;
        }
        loop {
            let k = self.cur_bucket / BLOCK;
            // The fine buckets end with block K + 1.
            let limit = (k + 2) * BLOCK;
            let far_bucket = self.far.peek().map(|Reverse(e)| e.at / WIDTH);
            let fine_bucket = (self.in_fine > 0).then(|| {
                let mut b = self.cur_bucket + 1;
                while self.fine[(b % FINE) as usize].is_empty() {
                    b += 1;
                }
                b
            });
            let next = match (fine_bucket, far_bucket) {
                (Some(f), Some(h)) => f.min(h),
                (Some(f), None) => f,
                (None, Some(h)) if h < limit || self.in_coarse == 0 => h,
                _ => {
                    // Nothing before the end of block K + 1: step to its last bucket
                    // (empty), which pours block K + 2.
                    self.enter(limit - 1);
                    continue;
                }
            };
            self.enter(next);
            if !self.slots.is_empty() {
                self.order.clear();
                self.order
                    .extend(self.slots.iter().enumerate().map(|(i, e)| {
                        let e = e.as_ref().expect("a bucket's entries are all waiting");
                        (order_key(e.at, e.seq), index(i))
                    }));
                // Keys are unique (insertion numbers are): an unstable sort is exact.
                self.order.sort_unstable_by_key(|&(key, _)| Reverse(key));
                let slots = &mut self.slots;
                self.cur.extend(
                    self.order
                        .iter()
                        .map(|&(_, i)| slots[i as usize].take().expect("each taken once")),
                );
                slots.clear();
                return Some(());
            }
        }
    }
}
/// An index into the current bucket.
fn index(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 2^32 entries in one bucket")
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
                let delay = match rand(7) {
                    0 => 0,
                    1 => rand(1_000),
                    2 => rand(100_000),
                    3 => rand(5_000_000),
                    4 => rand(60_000_000),
                    5 => rand(600_000_000),
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
