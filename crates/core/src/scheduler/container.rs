//! Structural checks of segment bytes from a peer when no hash list vouches for them: the
//! bytes must have the container structure the CDN's own segments of that rendition have.
//! This catches garbage and truncation, not a well-formed forgery (see docs/SECURITY.md).

/// A segment container recognised from bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// MPEG transport stream: 188-byte packets, each starting with 0x47.
    Ts,
    /// ISO BMFF (fMP4/CMAF): a chain of boxes, each `size u32, type [4]`.
    Mp4,
    /// Anything else (packed audio, text): no structure checked.
    Other,
}

const TS_PACKET: usize = 188;

/// Recognises the container of a segment.
pub fn sniff(data: &[u8]) -> Container {
    if data.len() >= TS_PACKET && data[0] == 0x47 && data.len() % TS_PACKET == 0 {
        Container::Ts
    } else if mp4_boxes_cover(data) {
        Container::Mp4
    } else {
        Container::Other
    }
}

/// Whether `data` is well formed as `container`.
pub fn well_formed(container: Container, data: &[u8]) -> bool {
    match container {
        Container::Ts => !data.is_empty() && data.len() % TS_PACKET == 0 && ts_synced(data),
        Container::Mp4 => mp4_boxes_cover(data),
        Container::Other => true,
    }
}

/// Whether every packet of `data` starts with the sync byte (by index: a chunks/all
/// chain costs more wasm).
fn ts_synced(data: &[u8]) -> bool {
    let mut at = 0;
    while at < data.len() {
        if data[at] != 0x47 {
            return false;
        }
        at += TS_PACKET;
    }
    true
}

/// Whether top-level boxes with printable types tile `data` exactly.
fn mp4_boxes_cover(data: &[u8]) -> bool {
    let mut at = 0usize;
    let mut boxes = 0;
    while at < data.len() {
        let Some(head) = data.get(at..at + 8) else {
            return false;
        };
        let mut size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as u64;
        if !head[4..8].iter().all(|b| b.is_ascii_graphic()) {
            return false;
        }
        if size == 1 {
            let Some(large) = data.get(at + 8..at + 16) else {
                return false;
            };
            size = u64::from_be_bytes(large.try_into().expect("8 bytes"));
        } else if size == 0 {
            size = (data.len() - at) as u64;
        }
        if size < 8 || size > (data.len() - at) as u64 {
            return false;
        }
        at += size as usize;
        boxes += 1;
    }
    boxes > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(packets: usize) -> Vec<u8> {
        let mut v = vec![0u8; packets * TS_PACKET];
        for p in v.chunks_mut(TS_PACKET) {
            p[0] = 0x47;
        }
        v
    }

    fn mp4() -> Vec<u8> {
        let mut v = Vec::new();
        for (ty, len) in [(b"moof", 24u32), (b"mdat", 40)] {
            v.extend_from_slice(&len.to_be_bytes());
            v.extend_from_slice(ty);
            v.extend(std::iter::repeat_n(7u8, len as usize - 8));
        }
        v
    }

    #[test]
    fn recognises_and_checks_transport_streams() {
        let good = ts(10);
        assert_eq!(sniff(&good), Container::Ts);
        assert!(well_formed(Container::Ts, &good));
        let mut flipped = good.clone();
        flipped[TS_PACKET * 3] = 0x00;
        assert!(!well_formed(Container::Ts, &flipped));
        assert!(!well_formed(Container::Ts, &good[..good.len() - 1]));
        assert!(!well_formed(Container::Ts, &[]));
    }

    #[test]
    fn recognises_and_checks_mp4_box_chains() {
        let good = mp4();
        assert_eq!(sniff(&good), Container::Mp4);
        assert!(well_formed(Container::Mp4, &good));
        assert!(!well_formed(Container::Mp4, &good[..good.len() - 3]));
        let mut bad = good.clone();
        bad[3] = 200;
        assert!(!well_formed(Container::Mp4, &bad));
        assert_eq!(sniff(b"WEBVTT\n\n"), Container::Other);
        assert!(well_formed(Container::Other, b"anything"));
    }
}
