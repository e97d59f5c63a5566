//! WebTorrent tracker messages: JSON text frames over one WebSocket.
//!
//! Ids (`info_hash`, `peer_id`, `offer_id`) are 20-character strings whose characters
//! are bytes (U+0000–U+00FF). Only the fields the protocol defines are read; trackers
//! differ in what else they send and in message order, and nothing here depends on that.

use crate::json;

use hlsmesh_proto::Id20;

/// Largest tracker message read; SDP offers are a few KiB, a swarm response less.
pub const MAX_TRACKER_MESSAGE: usize = 256 * 1024;

/// What a tracker said.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TrackerEvent {
    /// Answer to our announce.
    Announced {
        /// Seconds until the tracker wants the next announce.
        interval: Option<u64>,
        /// Peers that report `left: 0`.
        complete: Option<u64>,
        /// Peers still downloading.
        incomplete: Option<u64>,
    },
    /// Another viewer's offer, relayed to us.
    Offer {
        /// The offerer.
        peer: Id20,
        /// Ties the answer to the offer.
        offer_id: Id20,
        /// Complete (non-trickle) SDP.
        sdp: String,
    },
    /// Another viewer's answer to one of our offers.
    Answer {
        /// The answerer.
        peer: Id20,
        /// Which of our offers.
        offer_id: Id20,
        /// Complete SDP.
        sdp: String,
    },
    /// The tracker refused a request.
    Failure(String),
    /// The tracker warned about a request.
    Warning(String),
}

/// Why a tracker message was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrackerError {
    /// Not JSON, or not an object.
    NotJson(String),
    /// Over [`MAX_TRACKER_MESSAGE`].
    TooLarge(usize),
    /// An id that is not 20 byte-characters.
    BadId(&'static str),
}

impl TrackerError {
    /// What is wrong, in words (what `Display` writes, built without `core::fmt`).
    pub fn describe(&self) -> String {
        match self {
            TrackerError::NotJson(why) => ["tracker message is not a JSON object: ", why].concat(),
            TrackerError::TooLarge(n) => {
                crate::text::number_in("tracker message of ", *n as u64, " bytes is over the limit")
            }
            TrackerError::BadId(what) => ["invalid ", what, " in tracker message"].concat(),
        }
    }
}

crate::text::display_by_describe!(TrackerError);

/// A member that must be absent, `null`, or of the type `read` accepts.
fn field<'v, T>(
    msg: &'v json::Value<'_>,
    key: &str,
    read: impl Fn(&'v json::Value<'_>) -> Option<T>,
) -> Result<Option<T>, TrackerError> {
    match msg.get(key) {
        None | Some(json::Value::Null) => Ok(None),
        Some(v) => read(v).map(Some).ok_or_else(|| {
            let mut why = String::from("invalid type for ");
            why.push_str(key);
            TrackerError::NotJson(why)
        }),
    }
}

/// The SDP of an `offer` or `answer` member (`{"type": …, "sdp": …}`).
fn sdp_of(v: &json::Value<'_>) -> Option<String> {
    v.get("type")?.as_str()?;
    Some(v.get("sdp")?.as_str()?.to_owned())
}

/// Parses one text frame from the tracker into what it means for us.
///
/// Messages for another swarm (another `info_hash`) yield nothing. Members the protocol
/// does not define are ignored; a defined member of the wrong type refuses the message.
pub fn parse(text: &str, our_hash: &Id20) -> Result<Vec<TrackerEvent>, TrackerError> {
    if text.len() > MAX_TRACKER_MESSAGE {
        return Err(TrackerError::TooLarge(text.len()));
    }
    let msg = json::parse(text).map_err(|e| TrackerError::NotJson(e.describe()))?;
    if !matches!(msg, json::Value::Object(_)) {
        return Err(TrackerError::NotJson("not an object".into()));
    }
    let string = |key| field(&msg, key, |v| v.as_str());
    let number = |key| field(&msg, key, |v| v.as_u64());
    let (action, info_hash, peer_id, offer_id) = (
        string("action")?,
        string("info_hash")?,
        string("peer_id")?,
        string("offer_id")?,
    );
    let (interval, complete, incomplete) = (
        number("interval")?,
        number("complete")?,
        number("incomplete")?,
    );
    let offer = field(&msg, "offer", sdp_of)?;
    let answer = field(&msg, "answer", sdp_of)?;
    let mut events = Vec::new();
    if let Some(reason) = string("failure reason")? {
        events.push(TrackerEvent::Failure(reason.to_owned()));
        return Ok(events);
    }
    if let Some(w) = string("warning message")? {
        events.push(TrackerEvent::Warning(w.to_owned()));
    }
    if let Some(hash) = info_hash {
        if id_from_str(hash).as_ref() != Some(our_hash) {
            return Ok(events);
        }
    }
    if action.is_some_and(|a| a != "announce") {
        return Ok(events);
    }
    match (offer, answer) {
        (Some(sdp), _) => events.push(TrackerEvent::Offer {
            peer: required_id(peer_id, "peer_id")?,
            offer_id: required_id(offer_id, "offer_id")?,
            sdp,
        }),
        (None, Some(sdp)) => events.push(TrackerEvent::Answer {
            peer: required_id(peer_id, "peer_id")?,
            offer_id: required_id(offer_id, "offer_id")?,
            sdp,
        }),
        (None, None) => {
            if interval.is_some() || complete.is_some() || incomplete.is_some() {
                events.push(TrackerEvent::Announced {
                    interval,
                    complete,
                    incomplete,
                });
            }
        }
    }
    Ok(events)
}

fn required_id(s: Option<&str>, what: &'static str) -> Result<Id20, TrackerError> {
    s.and_then(id_from_str).ok_or(TrackerError::BadId(what))
}

/// A 20-byte id from its tracker string form (each character one byte).
pub fn id_from_str(s: &str) -> Option<Id20> {
    let mut id = [0u8; 20];
    let mut n = 0;
    for c in s.chars() {
        let b = u8::try_from(u32::from(c)).ok()?;
        *id.get_mut(n)? = b;
        n += 1;
    }
    (n == 20).then_some(id)
}

/// The tracker string form of a 20-byte id.
pub fn id_to_string(id: &Id20) -> String {
    id.iter().map(|&b| char::from(b)).collect()
}

/// One offer carried by an announce.
pub struct OutgoingOffer<'a> {
    /// Our id for it, echoed in the answer.
    pub offer_id: Id20,
    /// Complete SDP.
    pub sdp: &'a str,
}

/// Transfer totals reported in every announce.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnnounceTotals {
    /// Bytes uploaded to peers.
    pub uploaded: u64,
    /// Bytes downloaded (peers and CDN).
    pub downloaded: u64,
}

/// Announce event names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnnounceEvent {
    /// First announce of a session.
    Started,
    /// Leaving the swarm.
    Stopped,
}

/// An announce with offers. `left` is 0: a streaming viewer never completes, and
/// trackers count a peer without `left` as incomplete forever.
pub fn announce(
    info_hash: &Id20,
    peer_id: &Id20,
    event: Option<AnnounceEvent>,
    offers: &[OutgoingOffer<'_>],
    totals: AnnounceTotals,
) -> String {
    let mut out =
        String::with_capacity(256 + offers.iter().map(|o| o.sdp.len() + 96).sum::<usize>());
    let mut o = json::ObjectWriter::new(&mut out);
    o.string("action", "announce")
        .string("info_hash", &id_to_string(info_hash))
        .string("peer_id", &id_to_string(peer_id))
        .uint("numwant", offers.len() as u64)
        .uint("uploaded", totals.uploaded)
        .uint("downloaded", totals.downloaded)
        .uint("left", 0);
    if let Some(e) = event {
        o.string(
            "event",
            match e {
                AnnounceEvent::Started => "started",
                AnnounceEvent::Stopped => "stopped",
            },
        );
    }
    if !offers.is_empty() {
        let list = o.key("offers");
        list.push('[');
        for (i, offer) in offers.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let mut item = json::ObjectWriter::new(list);
            sdp_member(&mut item, "offer", "offer", offer.sdp);
            item.string("offer_id", &id_to_string(&offer.offer_id));
            item.finish();
        }
        list.push(']');
    }
    o.finish();
    out
}

/// `key: {"type": kind, "sdp": sdp}`.
fn sdp_member(o: &mut json::ObjectWriter<'_>, key: &str, kind: &str, sdp: &str) {
    let mut inner = json::ObjectWriter::new(o.key(key));
    inner.string("type", kind).string("sdp", sdp);
    inner.finish();
}

/// The announce that carries our answer to `to_peer`'s offer `offer_id`.
pub fn answer(
    info_hash: &Id20,
    peer_id: &Id20,
    to_peer: &Id20,
    offer_id: &Id20,
    sdp: &str,
) -> String {
    let mut out = String::with_capacity(256 + sdp.len());
    let mut o = json::ObjectWriter::new(&mut out);
    o.string("action", "announce")
        .string("info_hash", &id_to_string(info_hash))
        .string("peer_id", &id_to_string(peer_id))
        .string("to_peer_id", &id_to_string(to_peer))
        .string("offer_id", &id_to_string(offer_id));
    sdp_member(&mut o, "answer", "answer", sdp);
    o.finish();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: Id20 = [0xAB; 20];

    fn s(id: &Id20) -> String {
        serde_json::to_string(&id_to_string(id)).unwrap()
    }

    #[test]
    fn ids_round_trip_through_json_for_every_byte() {
        let mut id = [0u8; 20];
        for start in (0u16..256).step_by(20) {
            for (i, b) in id.iter_mut().enumerate() {
                *b = ((start as usize + i) % 256) as u8;
            }
            let json = s(&id);
            let back: String = serde_json::from_str(&json).unwrap();
            assert_eq!(id_from_str(&back), Some(id));
        }
        assert_eq!(id_from_str("short"), None);
        assert_eq!(id_from_str(&"é".repeat(19)), None);
        assert_eq!(id_from_str(&"€".repeat(20)), None);
    }

    #[test]
    fn parses_announce_response_offer_answer_and_failure() {
        let peer = [b'p'; 20];
        let oid = [b'o'; 20];
        let resp = format!(
            r#"{{"action":"announce","info_hash":{},"interval":120,"complete":3,"incomplete":0}}"#,
            s(&HASH)
        );
        assert_eq!(
            parse(&resp, &HASH).unwrap(),
            vec![TrackerEvent::Announced {
                interval: Some(120),
                complete: Some(3),
                incomplete: Some(0)
            }]
        );
        let offer = format!(
            r#"{{"action":"announce","info_hash":{},"peer_id":{},"offer_id":{},"offer":{{"type":"offer","sdp":"v=0"}}}}"#,
            s(&HASH),
            s(&peer),
            s(&oid)
        );
        assert_eq!(
            parse(&offer, &HASH).unwrap(),
            vec![TrackerEvent::Offer {
                peer,
                offer_id: oid,
                sdp: "v=0".into()
            }]
        );
        let answer = offer.replace("\"offer\":", "\"answer\":");
        assert!(matches!(
            parse(&answer, &HASH).unwrap()[0],
            TrackerEvent::Answer { .. }
        ));
        assert_eq!(
            parse(r#"{"failure reason":"Invalid request"}"#, &HASH).unwrap(),
            vec![TrackerEvent::Failure("Invalid request".into())]
        );
    }

    #[test]
    fn ignores_other_swarms_and_rejects_garbage() {
        let other = format!(
            r#"{{"action":"announce","info_hash":{},"interval":5}}"#,
            s(&[1; 20])
        );
        assert!(parse(&other, &HASH).unwrap().is_empty());
        assert!(matches!(
            parse("not json", &HASH),
            Err(TrackerError::NotJson(_))
        ));
        assert!(matches!(
            parse("[1,2]", &HASH),
            Err(TrackerError::NotJson(_))
        ));
        let bad_peer = format!(
            r#"{{"info_hash":{},"peer_id":"x","offer_id":{},"offer":{{"type":"offer","sdp":""}}}}"#,
            s(&HASH),
            s(&HASH)
        );
        assert_eq!(parse(&bad_peer, &HASH), Err(TrackerError::BadId("peer_id")));
        let huge = " ".repeat(MAX_TRACKER_MESSAGE + 1);
        assert!(matches!(
            parse(&huge, &HASH),
            Err(TrackerError::TooLarge(_))
        ));
    }

    #[test]
    fn announce_carries_the_fields_trackers_require() {
        let text = announce(
            &HASH,
            &[b'a'; 20],
            Some(AnnounceEvent::Started),
            &[OutgoingOffer {
                offer_id: [b'o'; 20],
                sdp: "v=0\r\n",
            }],
            AnnounceTotals {
                uploaded: 5,
                downloaded: 7,
            },
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["action"], "announce");
        assert_eq!(v["left"], 0);
        assert_eq!(v["uploaded"], 5);
        assert_eq!(v["downloaded"], 7);
        assert_eq!(v["event"], "started");
        assert_eq!(v["numwant"], 1);
        assert_eq!(v["offers"][0]["offer"]["type"], "offer");
        assert_eq!(id_from_str(v["info_hash"].as_str().unwrap()), Some(HASH));
        let ans = answer(&HASH, &[b'a'; 20], &[b'b'; 20], &[b'o'; 20], "v=0");
        let v: serde_json::Value = serde_json::from_str(&ans).unwrap();
        assert_eq!(v["answer"]["type"], "answer");
        assert_eq!(v["to_peer_id"], "bbbbbbbbbbbbbbbbbbbb");
    }

    #[test]
    fn null_members_are_absent_and_mistyped_ones_refuse_the_message() {
        let with_nulls = format!(
            r#"{{"action":null,"info_hash":{},"interval":7,"offer":null,"x":[{{}}]}}"#,
            s(&HASH)
        );
        assert_eq!(
            parse(&with_nulls, &HASH).unwrap(),
            vec![TrackerEvent::Announced {
                interval: Some(7),
                complete: None,
                incomplete: None
            }]
        );
        for bad in [
            r#"{"interval":"7"}"#,
            r#"{"interval":-1}"#,
            r#"{"complete":1.5}"#,
            r#"{"peer_id":5}"#,
            r#"{"offer":{"type":"offer"}}"#,
            r#"{"failure reason":{}}"#,
        ] {
            assert!(
                matches!(parse(bad, &HASH), Err(TrackerError::NotJson(_))),
                "{bad}"
            );
        }
    }
}
