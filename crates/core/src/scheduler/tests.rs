use super::*;
use crate::playlist::SegmentInfo;

fn transfer(range: Option<(u64, u64)>, prefix: &'static [u8]) -> Transfer {
    Transfer {
        info: SegmentInfo {
            id: SegmentId { variant: 0, sn: 1 },
            url: "http://o.test/s.ts".into(),
            duration: 2.0,
            range,
        },
        via: Via::Cdn { fetch: FetchId(1) },
        prefix: Bytes::from_static(prefix),
        started: Instant::ZERO,
        first_byte: None,
        prefetch: false,
    }
}

fn resp(status: u16, body: &'static [u8]) -> HttpResponse {
    HttpResponse {
        status,
        body: Bytes::from_static(body),
    }
}

#[test]
fn assembles_peer_prefix_and_cdn_remainder() {
    let t = transfer(None, b"abc");
    assert_eq!(
        assemble(&t, resp(206, b"def")).unwrap(),
        (Bytes::from_static(b"abcdef"), 3)
    );
    // A server that ignores Range sends everything: keep its copy.
    assert_eq!(
        assemble(&t, resp(200, b"abcdef")).unwrap(),
        (Bytes::from_static(b"abcdef"), 6)
    );
    assert!(assemble(&transfer(None, b""), resp(206, b"x")).is_err());
}

#[test]
fn byte_ranged_segments_are_cut_from_whole_responses_and_checked_in_partial_ones() {
    let t = transfer(Some((2, 6)), b"");
    assert_eq!(
        assemble(&t, resp(200, b"01234567")).unwrap().0,
        Bytes::from_static(b"2345")
    );
    assert_eq!(
        assemble(&t, resp(206, b"2345")).unwrap().0,
        Bytes::from_static(b"2345")
    );
    assert!(assemble(&t, resp(206, b"23")).is_err());
    assert!(assemble(&t, resp(200, b"0123")).is_err());
    let resumed = transfer(Some((2, 6)), b"23");
    assert_eq!(
        assemble(&resumed, resp(206, b"45")).unwrap().0,
        Bytes::from_static(b"2345")
    );
}
