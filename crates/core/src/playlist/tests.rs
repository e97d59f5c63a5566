use super::*;

/// Reads text with the reference reader, then takes it in, as the simulator does.
trait UpdateText {
    fn update_text(&mut self, url: &str, text: &[u8]) -> Result<PlaylistUpdate, PlaylistError>;
}

impl UpdateText for Playlists {
    fn update_text(&mut self, url: &str, text: &[u8]) -> Result<PlaylistUpdate, PlaylistError> {
        let playlist = read(url, text)?;
        self.update(url, playlist)
    }
}

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
        .update_text("https://cdn.test/live/master.m3u8?t=1", MASTER.as_bytes())
        .unwrap();
    assert_eq!(up.variant, None);
    assert_eq!(
        p.master_url(),
        Some("https://cdn.test/live/master.m3u8?t=1")
    );
    let v0 = p
        .update_text(
            "https://cdn.test/live/v0/index.m3u8?token=other",
            media(0, 3, true).as_bytes(),
        )
        .unwrap();
    assert_eq!(v0.variant, Some(0));
    let v1 = p
        .update_text(
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
    let first = p.update_text(url, media(10, 6, false).as_bytes()).unwrap();
    assert!(first.live && !first.refresh);
    assert_eq!(first.new_segments.len(), 6);
    let next = p.update_text(url, media(12, 6, false).as_bytes()).unwrap();
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
    p.update_text("http://o.test/v/index.m3u8", text.as_bytes())
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
    p.update_text("https://cdn.test/live/master.m3u8", MASTER.as_bytes())
        .unwrap();
    let a = p
        .update_text(
            "https://cdn.test/live/audio/index.m3u8",
            media(0, 1, true).as_bytes(),
        )
        .unwrap();
    let mut q = Playlists::default();
    q.update_text("https://cdn.test/live/master.m3u8", MASTER.as_bytes())
        .unwrap();
    let b = q
        .update_text(
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
        match p.update_text("http://o.test/x.m3u8", bad.as_bytes()) {
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
        p.update_text("http://o.test/big.m3u8", text.as_bytes()),
        Err(PlaylistError::TooLarge(_))
    ));
}

#[test]
fn numbers_that_overflow_are_refused_and_change_nothing() {
    let mut p = Playlists::default();
    let url = "http://o.test/v/index.m3u8";
    p.update_text(url, media(0, 2, false).as_bytes()).unwrap();
    let sn = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXTINF:2,\na.ts\n#EXTINF:2,\nb.ts\n",
        u64::MAX
    );
    assert_eq!(
        p.update_text(url, sn.as_bytes()),
        Err(PlaylistError::Malformed("media sequence overflows"))
    );
    let range = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@{}\nall.ts\n",
        u64::MAX - 5
    );
    assert_eq!(
        p.update_text(url, range.as_bytes()),
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
    p.update_text("http://o.test/v/index.m3u8", text.as_bytes())
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

mod parser {
    use proptest::prelude::*;

    use super::super::parse::{parse, Media, Playlist};
    use super::*;

    fn media_of(text: &str) -> Media<'_> {
        match parse(text.as_bytes()) {
            Ok(Playlist::Media(m)) => m,
            other => panic!("not a media playlist: {other:?}"),
        }
    }

    fn refusal(text: &str) -> &'static str {
        match parse(text.as_bytes()) {
            Err(PlaylistError::Malformed(why)) => why,
            other => panic!("accepted {text:?}: {other:?}"),
        }
    }

    #[test]
    fn crlf_blank_lines_comments_and_unknown_tags_are_read_past() {
        let m = media_of(
            "#EXTM3U\r\n\r\n# a comment\r\n#EXT-X-VERSION:3\r\n#EXT-X-TARGETDURATION:6\r\n\
             #EXT-X-MEDIA-SEQUENCE:7\r\n#EXT-X-CUE-OUT:DURATION=30\r\n#EXTINF:5.5,title\r\n\
             #EXT-X-GAP\r\n  a.ts  \r\n#EXTINF:6\r\nb.ts\r\n#EXT-X-ENDLIST\r\n",
        );
        assert_eq!(m.target_duration, 6);
        assert!(m.end_list);
        let got: Vec<_> = m
            .segments
            .iter()
            .map(|s| (s.uri, s.sn, s.duration))
            .collect();
        assert_eq!(got, vec![("a.ts", 7, 5.5), ("b.ts", 8, 6.0)]);
    }

    #[test]
    fn durations_are_read_as_decimals() {
        for (text, want) in [
            ("2", 2.0),
            ("2.", 2.0),
            ("2.002", 2.002),
            ("0.000001", 0.000_001),
            ("10.00000000000000000000001", 10.0),
            ("-5", -5.0),
            ("3600.5,a, b, c", 3600.5),
        ] {
            let text = format!("#EXTM3U\n#EXTINF:{text}\na.ts\n");
            let m = media_of(&text);
            assert!((m.segments[0].duration - want).abs() < 1e-12, "{text}");
        }
        for bad in [
            "", ",", ".5", "-", "nan", "inf", "1e3", " 2", "2.0.0", "0x10", "٣",
        ] {
            let text = format!("#EXTM3U\n#EXTINF:{bad},\na.ts\n");
            assert_eq!(refusal(&text), "bad #EXTINF duration", "{bad:?}");
        }
    }

    #[test]
    fn byte_ranges_are_checked() {
        let m = media_of(
            "#EXTM3U\n#EXT-X-BYTERANGE:10@5\n#EXTINF:1,\na.ts\n#EXTINF:1,\nb.ts\n\
             #EXTINF:1,\n#EXT-X-BYTERANGE:7\na.ts\n#EXT-X-BYTERANGE:0@0\n#EXTINF:1,\nc.ts\n",
        );
        let ranges: Vec<_> = m.segments.iter().map(|s| s.range).collect();
        // The implicit offset follows the last ranged segment, as Playlists did with m3u8-rs.
        assert_eq!(
            ranges,
            vec![Some((5, 15)), None, Some((15, 22)), Some((0, 0))]
        );
        for bad in [
            "",
            "@5",
            "10@",
            "a@1",
            "1@a",
            "-1",
            "1@2@3",
            "18446744073709551616",
        ] {
            let text = format!("#EXTM3U\n#EXTINF:1,\n#EXT-X-BYTERANGE:{bad}\na.ts\n");
            assert_eq!(refusal(&text), "bad #EXT-X-BYTERANGE", "{bad:?}");
        }
    }

    #[test]
    fn integers_are_digits_that_fit() {
        let max = format!(
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXTINF:1,\na.ts\n",
            u64::MAX
        );
        assert_eq!(media_of(&max).segments[0].sn, u64::MAX);
        for bad in ["", "-1", "+1", "1.5", "18446744073709551616", "1 "] {
            let text = format!("#EXTM3U\n#EXT-X-TARGETDURATION:{bad}x\n");
            assert_eq!(refusal(&text), "bad #EXT-X-TARGETDURATION", "{bad:?}");
            let text = format!("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:{bad}x\n");
            assert_eq!(refusal(&text), "bad #EXT-X-MEDIA-SEQUENCE", "{bad:?}");
        }
    }

    #[test]
    fn segments_need_their_tags_and_uris() {
        assert_eq!(
            refusal("#EXTM3U\n#EXTINF:1,\na.ts\nb.ts\n"),
            "URI line without #EXTINF or #EXT-X-STREAM-INF"
        );
        assert_eq!(
            refusal("#EXTM3U\n#EXTINF:1,\n#EXTINF:1,\na.ts\n"),
            "#EXTINF without a URI line"
        );
        assert_eq!(
            refusal("#EXTM3U\n#EXTINF:1,\na.ts\n#EXTINF:1,\n"),
            "#EXTINF without a URI line"
        );
        assert_eq!(
            refusal("#EXTM3U\n#EXT-X-BYTERANGE:1\n#EXT-X-BYTERANGE:1\n#EXTINF:1,\na.ts\n"),
            "#EXT-X-BYTERANGE without a URI line"
        );
        assert_eq!(
            refusal("#EXTM3U\n#EXT-X-BYTERANGE:1\n"),
            "#EXTINF without a URI line"
        );
    }

    #[test]
    fn the_media_sequence_comes_once_before_the_segments() {
        for text in [
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:1\n#EXT-X-MEDIA-SEQUENCE:1\n",
            "#EXTM3U\n#EXTINF:1,\na.ts\n#EXT-X-MEDIA-SEQUENCE:1\n",
            "#EXTM3U\n#EXTINF:1,\n#EXT-X-MEDIA-SEQUENCE:1\na.ts\n",
        ] {
            assert_eq!(
                refusal(text),
                "#EXT-X-MEDIA-SEQUENCE repeated or after a segment"
            );
        }
    }

    #[test]
    fn playlists_start_with_the_header_and_are_utf8() {
        for bad in [
            "",
            "\n#EXTM3U\n",
            "#EXTM3U8\n",
            "\u{feff}#EXTM3U\n",
            "#EXT-X-VERSION:3\n",
        ] {
            assert_eq!(refusal(bad), "first line is not #EXTM3U", "{bad:?}");
        }
        assert_eq!(
            parse(b"#EXTM3U\n#EXTINF:1,\n\xff.ts\n"),
            Err(PlaylistError::Malformed("not UTF-8"))
        );
        assert_eq!(media_of("#EXTM3U"), Media::default());
    }

    #[test]
    fn master_playlists_are_read_strictly_where_it_matters() {
        let text = "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"English, main\",URI=\"audio/en.m3u8\"\n\
            #EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC\",INSTREAM-ID=\"CC1\"\n\
            #EXT-X-STREAM-INF:CODECS=\"avc1.4d401f,mp4a.40.2\",BANDWIDTH=800000,AUDIO=\"a\"\n\
            # a comment\n\
            v0.m3u8\n\
            #EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"if.m3u8\"\n\
            if.m3u8\n\
            #EXT-X-STREAM-INF:X-URI=\"no.m3u8\"\n\
            https://cdn.test/v1.m3u8\n\
            #EXT-X-STREAM-INF:PROGRAM-ID=1, BANDWIDTH=300000,\n\
            v2.m3u8\n";
        match parse(text.as_bytes()) {
            Ok(Playlist::Master(m)) => {
                // The stray `if.m3u8` line is skipped; a missing BANDWIDTH reads as 0.
                assert_eq!(
                    m.variants,
                    vec![
                        ("v0.m3u8", 800_000),
                        ("https://cdn.test/v1.m3u8", 0),
                        ("v2.m3u8", 300_000),
                    ]
                );
                assert_eq!(m.renditions, vec!["audio/en.m3u8"]);
            }
            other => panic!("{other:?}"),
        }
        for (bad, why) in [
            ("#EXT-X-STREAM-INF:BANDWIDTH=\"1\"\nv.m3u8", "bad BANDWIDTH"),
            ("#EXT-X-STREAM-INF:BANDWIDTH=1x\nv.m3u8", "bad BANDWIDTH"),
            ("#EXT-X-STREAM-INF:BANDWIDTH= 1\nv.m3u8", "bad BANDWIDTH"),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1,,X=1\nv.m3u8",
                "bad attribute list",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1,X\nv.m3u8",
                "bad attribute list",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1,X=\"a\nv.m3u8",
                "bad attribute list",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1,X=\"a\"b\nv.m3u8",
                "bad attribute list",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1,=1\nv.m3u8",
                "bad attribute list",
            ),
            ("#EXT-X-STREAM-INF:BANDWIDTH=\nv.m3u8", "bad attribute list"),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1\n",
                "#EXT-X-STREAM-INF without a URI line",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8",
                "#EXT-X-STREAM-INF without a URI line",
            ),
            ("#EXT-X-MEDIA:TYPE=AUDIO,URI=a.m3u8", "bad #EXT-X-MEDIA URI"),
            ("#EXT-X-MEDIA:TYPE=AUDIO,URI=\"\"", "bad #EXT-X-MEDIA URI"),
            (
                "v.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8",
                "URI line without #EXTINF or #EXT-X-STREAM-INF",
            ),
            (
                "#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXTINF:1,\na.ts",
                "master and media playlist tags mixed",
            ),
            (
                "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA:TYPE=AUDIO",
                "master and media playlist tags mixed",
            ),
            (
                "#EXT-X-SESSION-KEY:METHOD=NONE\n#EXT-X-KEY:METHOD=NONE",
                "master and media playlist tags mixed",
            ),
        ] {
            assert_eq!(refusal(&format!("#EXTM3U\n{bad}\n")), why, "{bad:?}");
        }
    }

    #[test]
    fn delta_updates_are_refused_rather_than_misnumbered() {
        assert_eq!(
            refusal("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"),
            "#EXT-X-SKIP (delta update) not supported"
        );
    }

    #[test]
    fn the_segment_limit_counts_every_segment_but_keeps_none_past_it() {
        let n = MAX_SEGMENTS_PER_PLAYLIST + 5;
        assert_eq!(
            parse(media(0, n as u64, true).as_bytes()),
            Err(PlaylistError::TooLarge(n))
        );
        let m = media(0, MAX_SEGMENTS_PER_PLAYLIST as u64, true);
        assert_eq!(media_of(&m).segments.len(), MAX_SEGMENTS_PER_PLAYLIST);
    }

    /// Lines from the parser's vocabulary, with odd values: what a fuzzer would try.
    fn line() -> impl Strategy<Value = String> {
        let value = prop_oneof![
            "[0-9]{0,21}",
            "-?[0-9]{1,4}\\.[0-9]{0,20}",
            "[0-9]{1,20}@[0-9]{0,21}",
            "[A-Z-]{0,6}=(\"[^\"\n]{0,6}\"?|[0-9a-z,\"]{0,6})(,[A-Z-]{0,6}=[0-9\"]{0,4}){0,3}",
            "[ -~]{0,10}",
        ];
        let tag = prop::sample::select(vec![
            "#EXTINF:",
            "#EXT-X-BYTERANGE:",
            "#EXT-X-TARGETDURATION:",
            "#EXT-X-MEDIA-SEQUENCE:",
            "#EXT-X-ENDLIST",
            "#EXT-X-STREAM-INF:BANDWIDTH=",
            "#EXT-X-STREAM-INF:",
            "#EXT-X-MEDIA:",
            "#EXT-X-MEDIA:URI=",
            "#EXT-X-SKIP:",
            "#EXT-X-KEY:",
            "#",
            "",
            "#EXTM3U",
        ]);
        (tag, value).prop_map(|(t, v)| format!("{t}{v}"))
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_without_panicking(
            bytes in prop::collection::vec(any::<u8>(), 0..400)
        ) {
            let mut text = b"#EXTM3U\n".to_vec();
            text.extend(&bytes);
            let _ = parse(&bytes);
            let _ = parse(&text);
        }

        #[test]
        fn what_is_read_is_consistent(
            lines in prop::collection::vec(line(), 0..40),
            crlf in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let text = format!("#EXTM3U{eol}{}", lines.join(eol));
            match parse(text.as_bytes()) {
                Ok(Playlist::Media(m)) => {
                    let first = m.segments.first().map_or(0, |s| s.sn);
                    for (i, s) in m.segments.iter().enumerate() {
                        prop_assert_eq!(s.sn, first + i as u64);
                        prop_assert!(!s.uri.is_empty() && !s.uri.starts_with('#'));
                        prop_assert!(s.range.is_none_or(|(a, b)| a <= b));
                    }
                }
                Ok(Playlist::Master(m)) => {
                    for (uri, _) in m.variants {
                        prop_assert!(!uri.is_empty() && !uri.starts_with('#'));
                    }
                    prop_assert!(m.renditions.iter().all(|u| !u.is_empty()));
                }
                Err(PlaylistError::Malformed(why)) => prop_assert!(why.len() <= 60),
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}

#[test]
fn lookups_prefer_the_latest_playlist_and_keep_ranged_and_plain_urls_apart() {
    let mut p = Playlists::default();
    let a = "#EXTM3U\n#EXTINF:2,\nshared.ts\n#EXTINF:2,\nshared.ts#5\n";
    let b = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@5\nshared.ts\n";
    p.update_text("http://o.test/a.m3u8", a.as_bytes()).unwrap();
    let vb = p
        .update_text("http://o.test/b.m3u8", b.as_bytes())
        .unwrap()
        .variant
        .unwrap();
    let url = "http://o.test/shared.ts";
    assert_eq!(p.segment_for(url, None).unwrap().id.sn, 0);
    assert_eq!(p.segment_for(url, Some(5)).unwrap().id.sn, 7);
    assert_eq!(p.segment_for(&format!("{url}#5"), None).unwrap().id.sn, 1);
    assert!(p.segment_for(url, Some(0)).is_none());
    let seg = SegmentId { variant: vb, sn: 7 };
    assert_eq!(p.segment(seg).unwrap().range, Some((5, 15)));
    assert!(!p.is_listed(SegmentId { variant: vb, sn: 6 }));
    assert!(!p.is_listed(SegmentId { variant: vb, sn: 8 }));
    assert_eq!(p.known_segments(), 3);
    // A playlist loaded again moves to the front of the lookups.
    let a2 = "#EXTM3U\n#EXTINF:2,\n#EXT-X-BYTERANGE:10@5\nshared.ts\n";
    let va = p
        .update_text("http://o.test/a.m3u8", a2.as_bytes())
        .unwrap()
        .variant
        .unwrap();
    assert_eq!(
        p.segment_for(url, Some(5)).unwrap().id,
        SegmentId { variant: va, sn: 0 }
    );
    assert!(p.segment_for(url, None).is_none());
    assert_eq!(p.known_segments(), 2);
}

/// A refresh keeps the resolved URLs of the segments it listed before only while the
/// playlist's URL and the segment's URI line are the same: a new token in the playlist
/// URL, or a rewritten URI line, is resolved again.
#[test]
fn a_refresh_resolves_new_uri_lines_and_new_base_urls_again() {
    let mut p = Playlists::default();
    let base = "http://o.test/live/index.m3u8";
    // Segment 13's URI is (once trimmed) a fragment: it resolves against the playlist
    // URL's query too, so a refresh from another query resolves it again.
    let text = |first| media(first, 4, false).replace("seg13.ts?token=xyz", "\u{a0}#s13");
    p.update_text(base, text(10).as_bytes()).unwrap();
    // Same URL, a URI line rewritten for a segment listed before.
    let rewritten = text(11).replace("seg12.ts?token=xyz", "../b/seg12.ts");
    p.update_text(base, rewritten.as_bytes()).unwrap();
    let url = |sn: u64| p.segment(SegmentId { variant: 0, sn }).unwrap().url.clone();
    assert_eq!(url(11), "http://o.test/live/seg11.ts?token=xyz");
    assert_eq!(url(12), "http://o.test/b/seg12.ts");
    assert_eq!(url(13), "http://o.test/live/index.m3u8#s13");
    assert_eq!(url(14), "http://o.test/live/seg14.ts?token=xyz");
    assert!(p.segment_for("http://o.test/b/seg12.ts", None).is_some());
    assert!(p
        .segment_for("http://o.test/live/seg12.ts?token=xyz", None)
        .is_none());
    // The same playlist with another query (the same playlist to the agent), same lines.
    let moved = "http://o.test/live/index.m3u8?edge=2";
    let text = text(12);
    p.update_text(moved, text.as_bytes()).unwrap();
    let url = |sn: u64| p.segment(SegmentId { variant: 0, sn }).unwrap().url.clone();
    assert_eq!(url(12), "http://o.test/live/seg12.ts?token=xyz");
    assert_eq!(url(13), "http://o.test/live/index.m3u8?edge=2#s13");
    assert_eq!(p.known_segments(), 4);
    // Every listed segment is found by its URL, exactly as after a first load.
    let mut fresh = Playlists::default();
    fresh.update_text(moved, text.as_bytes()).unwrap();
    for sn in 12..16 {
        let id = SegmentId { variant: 0, sn };
        assert_eq!(p.segment(id), fresh.segment(id));
        let u = &fresh.segment(id).unwrap().url;
        assert_eq!(p.segment_for(u, None).map(|s| s.id), Some(id));
    }
}

/// The cases the shim's reader (js/src/playlist.ts) must also read alike
/// (tests/unit/playlist.test.mjs runs them there).
#[test]
fn the_shared_fixtures_read_as_the_shim_reads_them() {
    use serde_json::json;
    let fixtures = include_str!("../../../../tests/fixtures/playlists.json");
    crate::fixtures::check_cases(fixtures, 20, |case| {
        let url = case["url"].as_str().unwrap();
        match read(url, case["text"].as_str().unwrap().as_bytes()) {
            Err(e) => json!({ "error": e.describe() }),
            Ok(Playlist::Master(m)) => json!({ "expect": {
                "master": true,
                "variants": m.variants.iter().map(|v| &v.0).collect::<Vec<_>>(),
                "bandwidths": m.variants.iter().map(|v| v.1).collect::<Vec<_>>(),
                "renditions": m.renditions,
            }}),
            Ok(Playlist::Media(m)) => {
                let mut media = json!({
                    "master": false,
                    "targetDuration": m.target_duration,
                    "endList": m.end_list,
                    "firstSn": m.first_sn,
                    "urls": m.segments.iter().map(|s| &s.url).collect::<Vec<_>>(),
                    "durations": m.segments.iter().map(|s| s.duration).collect::<Vec<_>>(),
                    "ranges": m.segments.iter().flat_map(|s| match s.range {
                        Some((a, b)) => [a as i64, b as i64],
                        None => [-1, -1],
                    }).collect::<Vec<_>>(),
                });
                if let Some(h) = m.hashes {
                    media["hashes"] = json!(h);
                }
                json!({ "expect": media })
            }
        }
    });
}

/// The agent checks a read playlist itself (the browser's reader is another program):
/// numbering that overflows, a range that ends before it starts and too many segments
/// are refused whole; durations are bounded.
#[test]
fn a_read_playlist_is_checked_before_it_changes_anything() {
    let seg = |url: &str, duration: f64, range| MediaSegment {
        url: url.into(),
        duration,
        range,
    };
    let url = "http://o.test/i.m3u8";
    let mut p = Playlists::default();
    let media = |first_sn, segments| {
        Playlist::Media(Media {
            target_duration: 2,
            first_sn,
            segments,
            ..Media::default()
        })
    };
    let two = vec![
        seg("http://o.test/a.ts", 2.0, None),
        seg("http://o.test/b.ts", 2.0, None),
    ];
    assert_eq!(
        p.update(url, media(u64::MAX, two.clone())),
        Err(PlaylistError::Malformed("media sequence overflows"))
    );
    assert_eq!(
        p.update(
            url,
            media(0, vec![seg("http://o.test/a.ts", 2.0, Some((10, 5)))])
        ),
        Err(PlaylistError::Malformed("byte range ends before it starts"))
    );
    let many = vec![seg("http://o.test/a.ts", 1.0, None); MAX_SEGMENTS_PER_PLAYLIST + 1];
    assert_eq!(
        p.update(url, media(0, many)),
        Err(PlaylistError::TooLarge(MAX_SEGMENTS_PER_PLAYLIST + 1))
    );
    assert_eq!(
        p.known_segments(),
        0,
        "nothing taken from a refused playlist"
    );
    let odd = vec![
        seg("http://o.test/a.ts", f64::NAN, None),
        seg("http://o.test/b.ts", -3.0, None),
        seg("http://o.test/c.ts", 1e300, Some((0, 0))),
    ];
    let up = p.update(url, media(u64::MAX - 3, odd)).unwrap();
    let durations: Vec<f64> = up.new_segments.iter().map(|s| s.duration).collect();
    assert_eq!(durations, [0.0, 0.0, MAX_SEGMENT_SECONDS]);
    assert_eq!(up.new_segments[2].id.sn, u64::MAX - 1);
    assert_eq!(
        p.segment_for("http://o.test/c.ts", Some(0))
            .map(|s| s.id.sn),
        Some(u64::MAX - 1)
    );
}
