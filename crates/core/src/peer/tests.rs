use super::*;

const SWARM: Id20 = [1; 20];
const A: Id20 = [b'a'; 20];
const B: Id20 = [b'b'; 20];

fn seg(sn: u64) -> SegmentId {
    SegmentId { variant: 0, sn }
}

/// Two sessions wired back to back, frames moved by hand.
fn pair() -> (PeerSession, PeerSession) {
    let mut a = PeerSession::new(SWARM, A, Instant::ZERO);
    let mut b = PeerSession::new(SWARM, B, Instant::ZERO);
    let (ea, eb) = pump(&mut a, &mut b);
    assert_eq!(ea, vec![PeerEvent::Ready]);
    assert_eq!(eb, vec![PeerEvent::Ready]);
    (a, b)
}

/// Moves every queued frame both ways until both are quiet; returns what each saw.
fn pump(a: &mut PeerSession, b: &mut PeerSession) -> (Vec<PeerEvent>, Vec<PeerEvent>) {
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        while let Some(f) = a.poll_transmit() {
            b.handle_frame(f, &mut eb);
            moved = true;
        }
        while let Some(f) = b.poll_transmit() {
            a.handle_frame(f, &mut ea);
            moved = true;
        }
        a.handle_buffered(0);
        b.handle_buffered(0);
        if !moved {
            return (ea, eb);
        }
    }
}

#[test]
fn a_segment_moves_in_chunks_and_arrives_whole() {
    let (mut a, mut b) = pair();
    let data: Bytes = (0..200_000u32).map(|i| i as u8).collect::<Vec<_>>().into();
    b.request(9, seg(4), 0, u32::MAX);
    let (ea, _) = pump(&mut a, &mut b);
    assert_eq!(
        ea,
        vec![PeerEvent::Request {
            req: 9,
            seg: seg(4),
            offset: 0
        }]
    );
    a.serve(9, data.clone(), 0, 0);
    let (_, eb) = pump(&mut a, &mut b);
    let completed: Vec<_> = eb
        .iter()
        .filter_map(|e| match e {
            PeerEvent::Completed { req, data } => Some((*req, data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(completed, vec![(9, data)]);
    assert_eq!(b.downloads_open(), 0);
}

/// A segment that fits one chunk is delivered as the frame's own bytes: no copy.
#[test]
fn a_one_chunk_segment_arrives_without_a_copy() {
    let (mut a, mut b) = pair();
    let data = Bytes::from(vec![7u8; 1000]);
    b.request(3, seg(1), 0, u32::MAX);
    pump(&mut a, &mut b);
    a.serve(3, data.clone(), 0, 0);
    let frame = a.poll_transmit().expect("the chunk");
    let mut events = Vec::new();
    b.handle_frame(frame.clone(), &mut events);
    let [PeerEvent::Completed { req: 3, data: got }] = &events[..] else {
        panic!("{events:?}");
    };
    assert_eq!(*got, data);
    let frame_range = frame.as_ptr_range();
    assert!(frame_range.contains(&got.as_ptr()));
    assert_eq!(b.downloads_open(), 0);
}

#[test]
fn sending_stops_at_the_high_water_mark_until_the_channel_drains() {
    let (mut a, _b) = pair();
    a.serve(1, Bytes::from(vec![0u8; 4 * SEND_HIGH_WATER]), 0, 0);
    let mut sent = 0;
    let mut readings = Vec::new();
    while let Some(f) = a.poll_transmit() {
        sent += f.len();
        readings.push(sent);
    }
    assert!((SEND_HIGH_WATER..SEND_HIGH_WATER + hlsmesh_proto::MAX_FRAME).contains(&sent));
    assert!(a.poll_transmit().is_none());
    // The edge's reading after each send, seen late: nothing drained yet.
    for r in readings {
        a.handle_buffered(r);
    }
    assert!(a.poll_transmit().is_none());
    a.handle_buffered(SEND_LOW_WATER);
    assert!(
        a.poll_transmit().is_some(),
        "resumes once the buffer drained"
    );
}

#[test]
fn a_cancelled_request_keeps_its_prefix_and_ignores_late_chunks() {
    let (mut a, mut b) = pair();
    b.request(3, seg(1), 0, u32::MAX);
    pump(&mut a, &mut b);
    a.serve(3, Bytes::from(vec![7u8; 150_000]), 0, 0);
    // Deliver only the first chunk.
    let first = a.poll_transmit().unwrap();
    let mut eb = Vec::new();
    b.handle_frame(first, &mut eb);
    assert!(matches!(eb[0], PeerEvent::Progress { req: 3, .. }));
    let prefix = b.cancel(3);
    assert_eq!(prefix.len(), hlsmesh_proto::MAX_CHUNK_DATA);
    let (ea, eb) = pump(&mut a, &mut b);
    assert!(ea.is_empty());
    assert!(
        eb.is_empty(),
        "late chunks after cancel must be dropped quietly: {eb:?}"
    );
}

#[test]
fn protocol_violations_are_reported() {
    let mut s = PeerSession::new(SWARM, A, Instant::ZERO);
    let mut ev = Vec::new();
    s.handle_frame(Message::Have { segments: vec![] }.encode(), &mut ev);
    assert_eq!(ev, vec![PeerEvent::Violation("message before hello")]);

    let mut ev = Vec::new();
    let other_swarm = Message::Hello {
        version: PROTOCOL_VERSION,
        swarm: [9; 20],
        peer: B,
    };
    PeerSession::new(SWARM, A, Instant::ZERO).handle_frame(other_swarm.encode(), &mut ev);
    assert_eq!(ev, vec![PeerEvent::Violation("peer is on another stream")]);

    let mut ev = Vec::new();
    let old = Message::Hello {
        version: PROTOCOL_VERSION + 1,
        swarm: SWARM,
        peer: B,
    };
    PeerSession::new(SWARM, A, Instant::ZERO).handle_frame(old.encode(), &mut ev);
    assert_eq!(ev, vec![PeerEvent::Violation("protocol version differs")]);

    let (_, mut b) = pair();
    let mut ev = Vec::new();
    b.handle_frame(Bytes::from_static(b"garbage!"), &mut ev);
    assert_eq!(ev, vec![PeerEvent::Violation("malformed frame")]);
}

#[test]
fn out_of_order_chunks_and_request_floods_are_violations() {
    let (mut a, mut b) = pair();
    b.request(1, seg(1), 0, u32::MAX);
    let mut ev = Vec::new();
    let skip = Message::Chunk {
        req: 1,
        total: 100,
        offset: 10,
        data: Bytes::from_static(&[0; 10]),
    };
    b.handle_frame(skip.encode(), &mut ev);
    assert_eq!(ev, vec![PeerEvent::Violation("chunk out of order")]);

    let mut ev = Vec::new();
    for req in 0..100 {
        a.handle_frame(
            Message::Request {
                req,
                seg: seg(1),
                offset: 0,
            }
            .encode(),
            &mut ev,
        );
    }
    assert!(ev.contains(&PeerEvent::Violation("request flood")));
}

#[test]
fn uploads_beyond_the_per_peer_limit_are_refused() {
    let (mut a, mut b) = pair();
    for req in 0..(MAX_UPLOADS_PER_PEER as u32 + 2) {
        b.request(req, seg(u64::from(req)), 0, u32::MAX);
    }
    pump(&mut a, &mut b);
    for req in 0..(MAX_UPLOADS_PER_PEER as u32 + 2) {
        a.serve(req, Bytes::from(vec![1u8; 10]), 0, 0);
    }
    let (_, eb) = pump(&mut a, &mut b);
    let absent = eb
        .iter()
        .filter(|e| matches!(e, PeerEvent::Absent { .. }))
        .count();
    let done = eb
        .iter()
        .filter(|e| matches!(e, PeerEvent::Completed { .. }))
        .count();
    assert_eq!((done, absent), (MAX_UPLOADS_PER_PEER, 2));
}

#[test]
fn have_and_lost_track_what_the_peer_holds() {
    let (mut a, mut b) = pair();
    a.announce_have(&[seg(1), seg(2)]);
    let (_, eb) = pump(&mut a, &mut b);
    assert_eq!(eb, vec![PeerEvent::Have(vec![seg(1), seg(2)])]);
    assert!(b.has(&seg(2)));
    assert_eq!(b.latest_variant(), Some(0));
    a.announce_lost(&[seg(2)]);
    pump(&mut a, &mut b);
    assert!(b.has(&seg(1)) && !b.has(&seg(2)));
}

#[test]
fn a_peer_claiming_more_than_the_limit_is_refused_before_its_bytes_are_kept() {
    let (mut a, mut b) = pair();
    b.request(5, seg(2), 0, 1000);
    pump(&mut a, &mut b);
    a.serve(5, Bytes::from(vec![1u8; 5000]), 0, 0);
    let (_, eb) = pump(&mut a, &mut b);
    assert_eq!(
        eb.first(),
        Some(&PeerEvent::Violation("claims an implausibly large segment"))
    );
}

#[test]
fn cancelling_does_not_reset_the_flood_counter() {
    let (mut a, _b) = pair();
    let mut ev = Vec::new();
    for req in 0..200u32 {
        a.handle_frame(
            Message::Request {
                req,
                seg: seg(1),
                offset: 0,
            }
            .encode(),
            &mut ev,
        );
        a.handle_frame(Message::Cancel { req: 10_000 + req }.encode(), &mut ev);
    }
    assert!(ev.contains(&PeerEvent::Violation("request flood")));
}

#[test]
fn uploads_go_one_after_the_other_oldest_first() {
    let (mut a, _b) = pair();
    while a.poll_transmit().is_some() {}
    a.serve(1, Bytes::from(vec![1u8; 150_000]), 0, 7);
    a.serve(2, Bytes::from(vec![2u8; 150_000]), 0, 8);
    assert_eq!(a.next_upload(), Some(7));
    let mut order = Vec::new();
    while let Some(f) = a.poll_transmit() {
        if let Message::Chunk { req, .. } = Message::decode(f).unwrap() {
            order.push(req);
        }
    }
    assert_eq!(order, vec![1, 1, 1, 2, 2, 2], "not interleaved");
}

/// A session with an empty channel that serves one upload of `len` bytes and sends all
/// of it; the channel's `bufferedAmount` after each send, as the edge reports it.
fn sent_whole(len: usize) -> (PeerSession, Vec<usize>) {
    let (mut a, _b) = pair();
    while a.poll_transmit().is_some() {}
    a.handle_buffered(0);
    a.serve(1, Bytes::from(vec![1u8; len]), 0, 1);
    let mut readings = Vec::new();
    let mut sent = 0;
    while let Some(f) = a.poll_transmit() {
        sent += f.len();
        readings.push(sent);
    }
    assert!(!a.has_uploads());
    (a, readings)
}

#[test]
fn late_buffer_readings_do_not_make_a_finished_upload_look_drained() {
    let (mut a, mut readings) = sent_whole(400_000);
    assert!(a.is_uploading(), "400 kB still in the channel");
    // The first reading (one chunk buffered) arrives after all were sent: stale.
    let last = readings.pop().unwrap();
    for r in readings {
        a.handle_buffered(r);
        assert!(a.is_uploading(), "a stale reading of {r} bytes counted");
    }
    a.handle_buffered(last);
    assert!(a.is_uploading());
    // Then the channel drains.
    a.handle_buffered(UPLOAD_TAIL - 1);
    assert!(!a.is_uploading());
}

#[test]
fn a_segment_under_the_low_water_mark_keeps_the_upload_slot_until_it_drains() {
    // 200 kB, a 2 s segment at 800 kb/s: all of it goes into the channel at once.
    let (mut a, readings) = sent_whole(200_000);
    let sent = *readings.last().unwrap();
    assert!(sent < SEND_LOW_WATER);
    for r in readings {
        a.handle_buffered(r);
    }
    assert!(
        a.is_uploading(),
        "{sent} bytes queued: the next upload would share the uplink"
    );
    a.handle_buffered(UPLOAD_TAIL);
    assert!(a.is_uploading());
    a.handle_buffered(UPLOAD_TAIL - 1);
    assert!(!a.is_uploading(), "its tail may overlap the next upload");
}

#[test]
fn expired_segments_are_forgotten_without_a_lost() {
    let (mut a, mut b) = pair();
    a.announce_have(&[seg(1), seg(2), seg(3)]);
    pump(&mut a, &mut b);
    assert!(b.has(&seg(1)));
    b.forget(|s| s.sn < 3);
    assert!(!b.has(&seg(1)) && !b.has(&seg(2)));
    assert!(b.has(&seg(3)));
}

#[test]
fn a_segment_the_peer_announced_is_not_announced_back_unless_our_rendition_changed() {
    let (mut a, mut b) = pair();
    pump(&mut a, &mut b);
    b.announce_have_unless_known(&[seg(2)], &mut Vec::new());
    assert!(b.poll_transmit().is_some(), "a does not hold 2: told");
    a.announce_have(&[seg(1)]);
    pump(&mut a, &mut b);
    b.announce_have_unless_known(&[seg(1)], &mut Vec::new());
    assert!(b.poll_transmit().is_none(), "a announced 1 itself");
    // b switches rendition: a segment of it that a holds is told all the same, since a
    // takes b to play the rendition of b's latest `Have`.
    let other = SegmentId {
        variant: 1,
        ..seg(1)
    };
    a.announce_have(&[other]);
    pump(&mut a, &mut b);
    b.announce_have_unless_known(&[other], &mut Vec::new());
    pump(&mut b, &mut a);
    assert_eq!(a.latest_variant(), Some(1), "the switch reached a");
    b.announce_have_unless_known(&[other], &mut Vec::new());
    assert!(b.poll_transmit().is_none(), "told once: not again");
}

/// A `Have` broadcast encodes its frames once: every session queues the same bytes.
#[test]
fn a_broadcast_have_is_encoded_once_for_all_peers() {
    let (mut a, mut b) = pair();
    let (mut c, mut d) = pair();
    pump(&mut a, &mut b);
    pump(&mut c, &mut d);
    let mut frames = Vec::new();
    a.announce_have_unless_known(&[seg(5)], &mut frames);
    c.announce_have_unless_known(&[seg(5)], &mut frames);
    assert_eq!(frames.len(), 1);
    let (fa, fc) = (a.poll_transmit().unwrap(), c.poll_transmit().unwrap());
    assert_eq!(fa.as_ptr(), fc.as_ptr());
    let mut events = Vec::new();
    b.handle_frame(fa, &mut events);
    assert_eq!(events, vec![PeerEvent::Have(vec![seg(5)])]);
}
