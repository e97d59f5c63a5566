//! Tracker frames: `tracker::messages::parse` on arbitrary text, for our swarm and for
//! another; and the id string form round-trips for any 20 bytes.
#![no_main]

use hlsmesh_core::swarm_hash;
use hlsmesh_core::tracker::messages::{id_from_str, id_to_string, parse, TrackerEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 20 {
        let id: [u8; 20] = data[..20].try_into().expect("20 bytes");
        assert_eq!(id_from_str(&id_to_string(&id)), Some(id));
    }
    let text = String::from_utf8_lossy(data);
    for hash in [swarm_hash("fuzz-swarm"), [b'x'; 20]] {
        if let Ok(events) = parse(&text, &hash) {
            for ev in events {
                if let TrackerEvent::Offer { sdp, .. } | TrackerEvent::Answer { sdp, .. } = ev {
                    assert!(sdp.len() <= text.len());
                }
            }
        }
    }
});
