//! Segments held in memory, bounded in bytes. Whatever it holds is offered to peers;
//! what it evicts is withdrawn from them.

use crate::vecmap::VecMap;

use bytes::Bytes;
use hlsmesh_proto::SegmentId;

/// Default bound: room for a few minutes of a mid-bitrate rendition.
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

struct Entry {
    data: Bytes,
    stamp: u64,
}

/// Byte-bounded segment store, least recently used out first.
pub struct Cache {
    limit: usize,
    used: usize,
    clock: u64,
    entries: VecMap<SegmentId, Entry>,
    /// The segments by last use: the stamps come from `tick`, so each goes at the end.
    by_age: VecMap<u64, SegmentId>,
}

impl Cache {
    /// An empty cache holding at most `limit` bytes.
    pub fn new(limit: usize) -> Cache {
        Cache {
            limit,
            used: 0,
            clock: 0,
            entries: VecMap::new(),
            by_age: VecMap::new(),
        }
    }

    /// Bytes held now; never above [`Cache::limit`].
    pub fn used(&self) -> usize {
        self.used
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Segments held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `seg` is held.
    pub fn contains(&self, seg: &SegmentId) -> bool {
        self.entries.contains_key(seg)
    }

    /// The segment's bytes, marking it recently used.
    pub fn get(&mut self, seg: &SegmentId) -> Option<Bytes> {
        let stamp = self.tick();
        let e = self.entries.get_mut(seg)?;
        self.by_age.remove(&e.stamp);
        e.stamp = stamp;
        self.by_age.push_last(stamp, *seg);
        Some(e.data.clone())
    }

    /// Every segment held, oldest use first.
    pub fn ids(&self) -> Vec<SegmentId> {
        let mut out = Vec::new();
        for s in self.by_age.values() {
            out.push(*s);
        }
        out
    }

    /// Stores `seg`, evicting least recently used segments to stay within the bound.
    /// Returns the evicted ids; a segment larger than the whole bound is not stored.
    pub fn insert(&mut self, seg: SegmentId, data: Bytes) -> Vec<SegmentId> {
        self.insert_evicting(seg, data, |_| false)
    }

    /// Like [`Cache::insert`], but evicts segments `useless` says nobody needs any more
    /// (oldest use first) before touching the others.
    pub fn insert_evicting(
        &mut self,
        seg: SegmentId,
        data: Bytes,
        useless: impl Fn(&SegmentId) -> bool,
    ) -> Vec<SegmentId> {
        let mut evicted = Vec::new();
        if data.len() > self.limit {
            return evicted;
        }
        if let Some(old) = self.entries.remove(&seg) {
            self.by_age.remove(&old.stamp);
            self.used -= old.data.len();
        }
        while self.used + data.len() > self.limit {
            // The oldest useless entry, else the oldest.
            let mut found = None;
            for (stamp, id) in &self.by_age {
                if useless(id) {
                    found = Some((*stamp, *id));
                    break;
                }
            }
            let (stamp, victim) = match found {
                Some(v) => v,
                None => {
                    let (stamp, id) = self
                        .by_age
                        .first_key_value()
                        .expect("over the bound means non-empty");
                    (*stamp, *id)
                }
            };
            self.by_age.remove(&stamp);
            let e = self.entries.remove(&victim).expect("indexed");
            self.used -= e.data.len();
            evicted.push(victim);
        }
        let stamp = self.tick();
        self.used += data.len();
        self.by_age.push_last(stamp, seg);
        self.entries.insert(seg, Entry { data, stamp });
        evicted
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(sn: u64) -> SegmentId {
        SegmentId { variant: 0, sn }
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut c = Cache::new(30);
        c.insert(id(1), Bytes::from(vec![0; 10]));
        c.insert(id(2), Bytes::from(vec![0; 10]));
        c.insert(id(3), Bytes::from(vec![0; 10]));
        c.get(&id(1));
        assert_eq!(c.insert(id(4), Bytes::from(vec![0; 10])), vec![id(2)]);
        assert!(c.contains(&id(1)) && !c.contains(&id(2)));
        assert!(c.insert(id(5), Bytes::from(vec![0; 31])).is_empty());
        assert!(!c.contains(&id(5)), "larger than the bound is not stored");
    }

    #[test]
    fn evicts_useless_segments_before_recently_used_ones() {
        let mut c = Cache::new(30);
        c.insert(id(1), Bytes::from(vec![0; 10]));
        c.insert(id(2), Bytes::from(vec![0; 10]));
        c.insert(id(3), Bytes::from(vec![0; 10]));
        let evicted = c.insert_evicting(id(4), Bytes::from(vec![0; 10]), |s| s.sn == 3);
        assert_eq!(evicted, vec![id(3)]);
        let evicted = c.insert_evicting(id(5), Bytes::from(vec![0; 10]), |_| false);
        assert_eq!(evicted, vec![id(1)], "then least recently used");
    }

    proptest! {
        #[test]
        fn never_exceeds_the_bound(ops in prop::collection::vec((0u64..20, 0usize..400, any::<bool>()), 1..200)) {
            let mut c = Cache::new(1000);
            for (sn, len, read) in ops {
                if read { c.get(&id(sn)); } else { c.insert_evicting(id(sn), Bytes::from(vec![1; len]), |s| s.sn % 3 == 0); }
                prop_assert!(c.used() <= c.limit());
                let total: usize = c.ids().iter().map(|s| c.entries[s].data.len()).sum();
                prop_assert_eq!(total, c.used());
                prop_assert_eq!(c.ids().len(), c.len());
            }
        }
    }
}
