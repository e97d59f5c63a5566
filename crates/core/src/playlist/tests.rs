use super::*;

const MASTER: &str = "#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=426x240
v0/index.m3u8?token=abc
#EXT-X-STREAM-INF:BANDWIDTH=600000,RESOLUTION=640x360
https://cdn2.test/live/v1/index.m3u8
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=90000,URI=\"iframes.m3u8\"
";

fn media(first: u64, n: u64, end: bool) -> String {
    let mut s = format!("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{first}\n");
    for sn in first..first + n {
        s += &format!("#EXTINF:2.000,\nseg{sn}.ts?token=xyz\n");
    }
    if end {
        s += "#EXT-X-ENDLIST\n";
    }
    s
}

#[test]
fn variants_are_numbered_in_master_order_ignoring_tokens_and_iframe_streams() {
    let mut p = Playlists::default();
    let up = p
        .update("https://cdn.test/live/master.m3u8?t=1", MASTER.as_bytes())
        .unwrap();
    assert_eq!(up.variant, None);
    assert_eq!(
        p.master_url(),
        Some("https://cdn.test/live/master.m3u8?t=1")
    );
    let v0 = p
        .update(
            "https://cdn.test/live/v0/index.m3u8?token=other",
            media(0, 3, true).as_bytes(),
        )
        .unwrap();
    assert_eq!(v0.variant, Some(0));
    let v1 = p
        .update(
            "https://cdn2.test/live/v1/index.m3u8",
            media(0, 3, true).as_bytes(),
        )
        .unwrap();
    assert_eq!(v1.variant, Some(1));
    let seg = p
        .segment_for("https://cdn.test/live/v0/seg1.ts?token=xyz", None)
        .unwrap();
    assert_eq!(seg.id, SegmentId { variant: 0, sn: 1 });
    assert_eq!(seg.duration, 2.0);
}

#[test]
fn a_live_refresh_reports_only_new_segments_and_forgets_expired_ones() {
    let mut p = Playlists::default();
    let url = "http://o.test/live/index.m3u8";
    let first = p.update(url, media(10, 6, false).as_bytes()).unwrap();
    assert!(first.live && !first.refresh);
    assert_eq!(first.new_segments.len(), 6);
    let next = p.update(url, media(12, 6, false).as_bytes()).unwrap();
    assert!(next.refresh);
    let sns: Vec<u64> = next.new_segments.iter().map(|s| s.id.sn).collect();
    assert_eq!(sns, vec![16, 17]);
    assert!(p
        .segment_for("http://o.test/live/seg10.ts?token=xyz", None)
        .is_none());
    assert!(p
        .segment_for("http://o.test/live/seg17.ts?token=xyz", None)
        .is_some());
    assert_eq!(p.known_segments(), 6);
}

#[test]
fn byte_ranges_follow_on_from_the_previous_segment() {
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:100@0\nall.ts\n#EXTINF:2,\n#EXT-X-BYTERANGE:50\nall.ts\n#EXT-X-ENDLIST\n";
    let mut p = Playlists::default();
    p.update("http://o.test/v/index.m3u8", text.as_bytes())
        .unwrap();
    let a = p.segment_for("http://o.test/v/all.ts", Some(0)).unwrap();
    let b = p.segment_for("http://o.test/v/all.ts", Some(100)).unwrap();
    assert_eq!(a.range, Some((0, 100)));
    assert_eq!(b.range, Some((100, 150)));
    assert_eq!(b.id.sn, 1);
}

#[test]
fn a_media_playlist_the_master_does_not_list_gets_a_stable_high_variant() {
    let mut p = Playlists::default();
    p.update("https://cdn.test/live/master.m3u8", MASTER.as_bytes())
        .unwrap();
    let a = p
        .update(
            "https://cdn.test/live/audio/index.m3u8",
            media(0, 1, true).as_bytes(),
        )
        .unwrap();
    let mut q = Playlists::default();
    q.update("https://cdn.test/live/master.m3u8", MASTER.as_bytes())
        .unwrap();
    let b = q
        .update(
            "https://other.test/live/audio/index.m3u8?x=1",
            media(0, 1, true).as_bytes(),
        )
        .unwrap();
    assert!(a.variant.unwrap() >= 0x8000);
    assert_eq!(a.variant, b.variant, "two viewers must agree on the id");
}

#[test]
fn malformed_playlists_are_refused_with_a_reason() {
    let mut p = Playlists::default();
    for bad in ["", "not a playlist", "<html></html>"] {
        match p.update("http://o.test/x.m3u8", bad.as_bytes()) {
            Err(PlaylistError::Malformed(reason)) => assert!(reason.len() <= 120),
            other => panic!("accepted {bad:?}: {other:?}"),
        }
    }
}

#[test]
fn oversized_playlists_are_refused() {
    let mut p = Playlists::default();
    let text = media(0, MAX_SEGMENTS_PER_PLAYLIST as u64 + 1, true);
    assert!(matches!(
        p.update("http://o.test/big.m3u8", text.as_bytes()),
        Err(PlaylistError::TooLarge(_))
    ));
}

#[test]
fn numbers_that_overflow_are_refused_and_change_nothing() {
    let mut p = Playlists::default();
    let url = "http://o.test/v/index.m3u8";
    p.update(url, media(0, 2, false).as_bytes()).unwrap();
    let sn = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
        u64::MAX
    );
    assert_eq!(
        p.update(url, sn.as_bytes()),
        Err(PlaylistError::Malformed("media sequence overflows"))
    );
    let range = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@{}\nall.ts\n",
        u64::MAX - 5
    );
    assert_eq!(
        p.update(url, range.as_bytes()),
        Err(PlaylistError::Malformed("byte range overflows"))
    );
    assert!(
        p.segment_for("http://o.test/v/seg1.ts?token=xyz", None)
            .is_some(),
        "state kept"
    );
}

#[test]
fn absurd_durations_are_bounded() {
    let mut p = Playlists::default();
    let text = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:99999999,\na.ts\n#EXTINF:-5,\nb.ts\n#EXT-X-ENDLIST\n";
    p.update("http://o.test/v/index.m3u8", text.as_bytes())
        .unwrap();
    assert_eq!(
        p.segment_for("http://o.test/v/a.ts", None)
            .unwrap()
            .duration,
        3600.0
    );
    assert_eq!(
        p.segment_for("http://o.test/v/b.ts", None)
            .unwrap()
            .duration,
        0.0
    );
}
