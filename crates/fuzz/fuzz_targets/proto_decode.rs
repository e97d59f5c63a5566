//! The wire decoder on arbitrary bytes: it never panics, and whatever it accepts
//! re-encodes to exactly the bytes it came from (one meaning, one encoding).
#![no_main]

use bytes::Bytes;
use hlsmesh_proto::{Message, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = Message::decode(Bytes::copy_from_slice(data)) {
        let again = msg.encode();
        assert!(again.len() <= MAX_FRAME);
        assert_eq!(
            &again[..],
            data,
            "decode/encode is not the identity for {msg:?}"
        );
    }
});
