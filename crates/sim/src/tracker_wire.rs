//! How many bytes the simulated tracker's messages would take on the wire: the length of
//! the JSON text frames the browser shim writes and WebTorrent trackers send
//! (`js/src/tracker-wire.ts`), counted without building the text. The agents exchange
//! typed messages; only the control-overhead figure needs their size.

use hlsmesh_core::proto::Id20;
use hlsmesh_core::tracker::messages::{AnnounceEvent, TrackerMessage, TrackerRequest};

/// `s` as a JSON string literal (as `JSON.stringify` escapes it), in UTF-8 bytes.
fn chars_len(chars: impl Iterator<Item = char>) -> u64 {
    2 + chars
        .map(|c| match c {
            '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8() as u64,
        })
        .sum::<u64>()
}

fn str_len(s: &str) -> u64 {
    chars_len(s.chars())
}

/// An id's 20 byte-characters as a JSON string.
fn id_len(id: &Id20) -> u64 {
    chars_len(id.iter().map(|&b| char::from(b)))
}

/// A whole number's decimal digits.
fn num_len(n: u64) -> u64 {
    u64::from(n.checked_ilog10().unwrap_or(0) + 1)
}

fn lit(s: &str) -> u64 {
    s.len() as u64
}

/// The frame an agent sends for `request`.
pub(crate) fn request_len(request: &TrackerRequest) -> u64 {
    match request {
        TrackerRequest::Announce {
            info_hash,
            peer_id,
            event,
            offers,
            uploaded,
            downloaded,
        } => {
            let mut n = lit(r#"{"action":"announce","info_hash":"#)
                + id_len(info_hash)
                + lit(r#","peer_id":"#)
                + id_len(peer_id)
                + lit(r#","numwant":"#)
                + num_len(offers.len() as u64)
                + lit(r#","uploaded":"#)
                + num_len(*uploaded)
                + lit(r#","downloaded":"#)
                + num_len(*downloaded)
                + lit(r#","left":0}"#);
            n += match event {
                None => 0,
                Some(AnnounceEvent::Started) => lit(r#","event":"started""#),
                Some(AnnounceEvent::Stopped) => lit(r#","event":"stopped""#),
            };
            if !offers.is_empty() {
                n += lit(r#","offers":[]"#) + offers.len() as u64 - 1;
                for o in offers {
                    n += lit(r#"{"offer":{"type":"offer","sdp":"#)
                        + str_len(&o.sdp)
                        + lit(r#"},"offer_id":}"#)
                        + id_len(&o.offer_id);
                }
            }
            n
        }
        TrackerRequest::Answer {
            info_hash,
            peer_id,
            to_peer,
            offer_id,
            sdp,
        } => {
            lit(
                r#"{"action":"announce","info_hash":,"peer_id":,"to_peer_id":,"offer_id":,"answer":{"type":"answer","sdp":}}"#,
            ) + id_len(info_hash)
                + id_len(peer_id)
                + id_len(to_peer)
                + id_len(offer_id)
                + str_len(sdp)
        }
        _ => 0,
    }
}

/// The frame the tracker sends for `message` in swarm `hash`.
pub(crate) fn message_len(hash: &Id20, message: &TrackerMessage) -> u64 {
    let relay = |kind: &str, peer: &Id20, offer_id: &Id20, sdp: &str| {
        lit(r#"{"action":"announce","info_hash":,"":{"type":"","sdp":},"offer_id":,"peer_id":}"#)
            + 2 * lit(kind)
            + id_len(hash)
            + str_len(sdp)
            + id_len(offer_id)
            + id_len(peer)
    };
    match message {
        TrackerMessage::Announced {
            interval,
            complete,
            incomplete,
        } => {
            lit(r#"{"action":"announce","info_hash":,"interval":,"complete":,"incomplete":}"#)
                + id_len(hash)
                + [interval, complete, incomplete]
                    .iter()
                    .map(|n| n.map_or(4, num_len))
                    .sum::<u64>()
        }
        TrackerMessage::Offer {
            peer,
            offer_id,
            sdp,
        } => relay("offer", peer, offer_id, sdp),
        TrackerMessage::Answer {
            peer,
            offer_id,
            sdp,
        } => relay("answer", peer, offer_id, sdp),
        TrackerMessage::Failure(s) | TrackerMessage::Warning(s) | TrackerMessage::Unreadable(s) => {
            lit(r#"{"failure reason":}"#) + str_len(s)
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hlsmesh_core::tracker::messages::OutgoingOffer;
    use serde_json::json;

    fn id_string(id: &Id20) -> String {
        id.iter().map(|&b| char::from(b)).collect()
    }

    /// Ids with every kind of byte: escaped controls, quotes, two-byte UTF-8.
    fn ids() -> [Id20; 4] {
        let mut a = [0u8; 20];
        for (i, b) in a.iter_mut().enumerate() {
            *b = (i * 13) as u8;
        }
        [a, [b'"'; 20], [0xE9; 20], *b"-HM0001-abcdefghijkl"]
    }

    #[test]
    fn announces_and_answers_count_what_serde_json_writes() {
        let [h, p, o, t] = ids();
        let announce = TrackerRequest::Announce {
            info_hash: h,
            peer_id: p,
            event: Some(AnnounceEvent::Started),
            offers: vec![
                OutgoingOffer {
                    offer_id: o,
                    sdp: "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n".into(),
                },
                OutgoingOffer {
                    offer_id: t,
                    sdp: "o 3 4".into(),
                },
            ],
            uploaded: 0,
            downloaded: 123_456_789,
        };
        let text = json!({
            "action": "announce", "info_hash": id_string(&h), "peer_id": id_string(&p),
            "numwant": 2, "uploaded": 0, "downloaded": 123_456_789u64, "left": 0,
            "event": "started",
            "offers": [
                {"offer": {"type": "offer", "sdp": "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"}, "offer_id": id_string(&o)},
                {"offer": {"type": "offer", "sdp": "o 3 4"}, "offer_id": id_string(&t)},
            ],
        })
        .to_string();
        assert_eq!(request_len(&announce), text.len() as u64);
        let bare = TrackerRequest::Announce {
            info_hash: h,
            peer_id: p,
            event: None,
            offers: Vec::new(),
            uploaded: 10,
            downloaded: 0,
        };
        let text = json!({
            "action": "announce", "info_hash": id_string(&h), "peer_id": id_string(&p),
            "numwant": 0, "uploaded": 10, "downloaded": 0, "left": 0,
        })
        .to_string();
        assert_eq!(request_len(&bare), text.len() as u64);
        let answer = TrackerRequest::Answer {
            info_hash: h,
            peer_id: p,
            to_peer: t,
            offer_id: o,
            sdp: "a 1 2 o 3 4".into(),
        };
        let text = json!({
            "action": "announce", "info_hash": id_string(&h), "peer_id": id_string(&p),
            "to_peer_id": id_string(&t), "offer_id": id_string(&o),
            "answer": {"type": "answer", "sdp": "a 1 2 o 3 4"},
        })
        .to_string();
        assert_eq!(request_len(&answer), text.len() as u64);
    }

    #[test]
    fn tracker_messages_count_what_serde_json_writes() {
        let [h, p, o, _] = ids();
        let announced = TrackerMessage::Announced {
            interval: Some(60),
            complete: Some(1234),
            incomplete: Some(0),
        };
        let text = json!({
            "action": "announce", "info_hash": id_string(&h), "interval": 60,
            "complete": 1234, "incomplete": 0,
        })
        .to_string();
        assert_eq!(message_len(&h, &announced), text.len() as u64);
        let offer = TrackerMessage::Offer {
            peer: p,
            offer_id: o,
            sdp: "o 1 2".into(),
        };
        let text = json!({
            "action": "announce", "info_hash": id_string(&h), "peer_id": id_string(&p),
            "offer": {"type": "offer", "sdp": "o 1 2"}, "offer_id": id_string(&o),
        })
        .to_string();
        assert_eq!(message_len(&h, &offer), text.len() as u64);
    }
}
