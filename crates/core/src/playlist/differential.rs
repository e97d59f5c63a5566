//! The differential oracle: valid playlists, generated with the tags and attributes real
//! streams use, must read the same through our parser as through m3u8-rs (the parser
//! the agent used before, kept as a dev-dependency) on every field the agent uses.
//! m3u8-rs's output goes through the derivation `Playlists::update` did from it
//! (I-frame variants dropped, sequence numbers and byte ranges placed with checked
//! arithmetic), so an overflow must be refused with the same reason.
//!
//! Durations: m3u8-rs reads `#EXTINF` as `f32`, we read `f64`, so they agree to `f32`
//! precision. Titles have no commas (m3u8-rs reads the text after a comma in a title as
//! a URI line).

use proptest::prelude::*;

use super::parse::{parse, Playlist};
use super::PlaylistError;

/// URI, sequence number, duration, byte range.
type SeenSegment = (String, u64, f64, Option<(u64, u64)>);

/// What the agent uses of a playlist, from either parser.
#[derive(Debug, PartialEq)]
enum Seen {
    Master {
        variants: Vec<(String, u64)>,
        renditions: Vec<String>,
    },
    Media {
        target_duration: u64,
        end_list: bool,
        segments: Vec<SeenSegment>,
    },
}

fn ours(text: &str) -> Result<Seen, PlaylistError> {
    Ok(match parse(text.as_bytes())? {
        Playlist::Master(m) => Seen::Master {
            variants: m.variants.iter().map(|&(u, b)| (u.into(), b)).collect(),
            renditions: m.renditions.iter().map(|&u| u.into()).collect(),
        },
        Playlist::Media(m) => Seen::Media {
            target_duration: m.target_duration,
            end_list: m.end_list,
            segments: m
                .segments
                .iter()
                .map(|s| (s.uri.into(), s.sn, s.duration, s.range))
                .collect(),
        },
    })
}

/// m3u8-rs's reading, through what `Playlists::update` made of it before.
fn theirs(text: &str) -> Result<Seen, PlaylistError> {
    let parsed = m3u8_rs::parse_playlist_res(text.as_bytes())
        .map_err(|_| PlaylistError::Malformed("m3u8-rs refused it"))?;
    Ok(match parsed {
        m3u8_rs::Playlist::MasterPlaylist(m) => Seen::Master {
            variants: m
                .variants
                .iter()
                .filter(|v| !v.is_i_frame)
                .map(|v| (v.uri.clone(), v.bandwidth))
                .collect(),
            renditions: m
                .alternatives
                .iter()
                .filter_map(|a| a.uri.clone())
                .collect(),
        },
        m3u8_rs::Playlist::MediaPlaylist(m) => {
            let mut segments = Vec::new();
            let mut next_range_start = 0u64;
            for (i, seg) in m.segments.iter().enumerate() {
                let sn = m
                    .media_sequence
                    .checked_add(i as u64)
                    .ok_or(PlaylistError::Malformed("media sequence overflows"))?;
                let range = match &seg.byte_range {
                    Some(r) => {
                        let start = r.offset.unwrap_or(next_range_start);
                        let end = start
                            .checked_add(r.length)
                            .ok_or(PlaylistError::Malformed("byte range overflows"))?;
                        next_range_start = end;
                        Some((start, end))
                    }
                    None => None,
                };
                segments.push((seg.uri.clone(), sn, f64::from(seg.duration), range));
            }
            Seen::Media {
                target_duration: m.target_duration,
                end_list: m.end_list,
                segments,
            }
        }
    })
}

/// Equal, durations to `f32` precision.
fn agree(ours: &Seen, theirs: &Seen) -> bool {
    match (ours, theirs) {
        (
            Seen::Media {
                target_duration: t1,
                end_list: e1,
                segments: s1,
            },
            Seen::Media {
                target_duration: t2,
                end_list: e2,
                segments: s2,
            },
        ) => {
            t1 == t2
                && e1 == e2
                && s1.len() == s2.len()
                && s1.iter().zip(s2).all(|(a, b)| {
                    a.0 == b.0
                        && a.1 == b.1
                        && a.3 == b.3
                        && (a.2 - b.2).abs() <= 1e-6 * a.2.abs().max(1.0)
                })
        }
        _ => ours == theirs,
    }
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9_]{1,8}\\.ts",
        "seg[0-9]{1,4}\\.m4s\\?token=[a-zA-Z0-9]{1,8}",
        "https://cdn[0-9]\\.test/[a-z]{1,5}/seg[0-9]{1,4}\\.ts",
        "\\.\\./v[0-9]/s[0-9]{1,3}\\.aac",
        "/abs/[a-z]{1,4}/[a-z0-9]{1,6}\\.ts",
        "//edge\\.test/[a-z]{1,6}\\.ts#frag",
    ]
}

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..100_000).prop_map(|n| n.to_string()),
        (0u32..100_000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b:03}")),
        (0u32..30, 0u64..u64::MAX).prop_map(|(a, b)| format!("{a}.{b}")),
        Just("2.002".to_string()),
        Just("6.006".to_string()),
    ]
}

/// A byte range line's value: length, optionally `@offset`; sometimes near `u64::MAX`.
fn byte_range() -> impl Strategy<Value = String> {
    let number = prop_oneof![
        60 => 0u64..1 << 40,
        1 => u64::MAX - 1000..=u64::MAX,
    ];
    (number.clone(), prop::option::of(number)).prop_map(|(len, off)| match off {
        Some(off) => format!("{len}@{off}"),
        None => len.to_string(),
    })
}

/// Tags that may precede a segment's URI besides `#EXTINF` and `#EXT-X-BYTERANGE`.
fn segment_extra() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("#EXT-X-DISCONTINUITY".to_string()),
        Just("#EXT-X-MAP:URI=\"init.mp4\"".to_string()),
        Just("#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"".to_string()),
        Just(
            "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x0123456789abcdef0123456789abcdef"
                .into()
        ),
        Just("#EXT-X-KEY:METHOD=NONE".to_string()),
        Just("#EXT-X-PROGRAM-DATE-TIME:2026-11-23T04:00:00.000Z".to_string()),
        Just("#EXT-X-CUE-OUT:DURATION=30".to_string()),
        Just("#EXT-X-GAP".to_string()),
        "# [a-z ]{0,12}",
    ]
}

/// One segment's lines, its tags in any order, its URI last.
fn segment() -> impl Strategy<Value = Vec<String>> {
    (
        duration(),
        prop::option::of("[A-Za-z0-9 _-]{0,12}"),
        prop::option::of(byte_range()),
        prop::collection::vec(segment_extra(), 0..3),
        uri(),
    )
        .prop_flat_map(|(duration, title, range, mut tags, uri)| {
            tags.push(match title {
                Some(title) => format!("#EXTINF:{duration},{title}"),
                None => format!("#EXTINF:{duration},"),
            });
            if let Some(range) = range {
                tags.push(format!("#EXT-X-BYTERANGE:{range}"));
            }
            (Just(tags).prop_shuffle(), Just(uri))
        })
        .prop_map(|(mut lines, uri)| {
            lines.push(uri);
            lines
        })
}

fn media() -> impl Strategy<Value = Vec<String>> {
    let sequence = prop_oneof![
        3 => Just(None),
        3 => any::<u64>().prop_map(Some),
        1 => (u64::MAX - 40..=u64::MAX).prop_map(Some),
    ];
    let header = (
        prop_oneof![any::<u64>(), 1u64..20],
        sequence,
        prop::collection::vec(
            prop_oneof![
                Just("#EXT-X-VERSION:7".to_string()),
                Just("#EXT-X-INDEPENDENT-SEGMENTS".to_string()),
                Just("#EXT-X-PLAYLIST-TYPE:VOD".to_string()),
                Just("#EXT-X-PLAYLIST-TYPE:EVENT".to_string()),
                (0u32..1000).prop_map(|n| format!("#EXT-X-DISCONTINUITY-SEQUENCE:{n}")),
                Just("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES".to_string()),
            ],
            0..3,
        ),
    )
        .prop_flat_map(|(target, sequence, mut tags)| {
            tags.push(format!("#EXT-X-TARGETDURATION:{target}"));
            if let Some(sequence) = sequence {
                tags.push(format!("#EXT-X-MEDIA-SEQUENCE:{sequence}"));
            }
            Just(tags).prop_shuffle()
        });
    (
        header,
        prop::collection::vec(segment(), 0..30),
        any::<bool>(),
    )
        .prop_map(|(mut lines, segments, end)| {
            lines.extend(segments.into_iter().flatten());
            if end {
                lines.push("#EXT-X-ENDLIST".into());
            }
            lines
        })
}

/// An attribute list, its attributes in any order; sometimes with spaces after the
/// commas or a trailing comma, as some servers write them.
fn attributes(required: Vec<String>, optional: Vec<String>) -> impl Strategy<Value = String> {
    let n = optional.len();
    (
        Just(required),
        prop::sample::subsequence(optional, 0..=n),
        prop::sample::select(vec![",", ",", ", "]),
        prop::bool::weighted(0.2),
    )
        .prop_flat_map(|(mut attrs, optional, comma, trailing)| {
            attrs.extend(optional);
            (Just(attrs).prop_shuffle(), Just(comma), Just(trailing))
        })
        .prop_map(|(attrs, comma, trailing)| {
            let mut list = attrs.join(comma);
            if trailing {
                list.push(',');
            }
            list
        })
}

fn master_item() -> impl Strategy<Value = Vec<String>> {
    let variant = (any::<u64>(), uri(), prop::option::of("# [a-z ]{0,12}")).prop_flat_map(
        |(bandwidth, uri, comment)| {
            let attrs = attributes(
                vec![format!("BANDWIDTH={bandwidth}")],
                vec![
                    format!("AVERAGE-BANDWIDTH={}", bandwidth / 2),
                    "CODECS=\"avc1.4d401f,mp4a.40.2\"".into(),
                    "RESOLUTION=640x360".into(),
                    "FRAME-RATE=29.970".into(),
                    "AUDIO=\"aud\"".into(),
                    "PROGRAM-ID=1".into(),
                ],
            );
            (attrs, Just(uri), Just(comment)).prop_map(|(attrs, uri, comment)| {
                let mut lines = vec![format!("#EXT-X-STREAM-INF:{attrs}")];
                lines.extend(comment);
                lines.push(uri);
                lines
            })
        },
    );
    let rendition = (
        prop::sample::select(vec!["AUDIO", "VIDEO", "SUBTITLES"]),
        prop::option::of(uri()),
    )
        .prop_flat_map(|(kind, uri)| {
            let mut required = vec![
                format!("TYPE={kind}"),
                "GROUP-ID=\"g\"".into(),
                "NAME=\"English, main\"".into(),
            ];
            required.extend(uri.map(|u| format!("URI=\"{u}\"")));
            attributes(
                required,
                vec![
                    "LANGUAGE=\"en\"".into(),
                    "DEFAULT=YES".into(),
                    "AUTOSELECT=NO".into(),
                ],
            )
            .prop_map(|a| vec![format!("#EXT-X-MEDIA:{a}")])
        });
    prop_oneof![
        4 => variant,
        2 => rendition,
        1 => Just(vec![
            "#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"cc\",NAME=\"CC\",INSTREAM-ID=\"CC1\""
                .to_string()
        ]),
        1 => (any::<u64>(), uri()).prop_map(|(b, u)| vec![format!(
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={b},URI=\"{u}\""
        )]),
        1 => Just(vec!["#EXT-X-SESSION-DATA:DATA-ID=\"com.x\",VALUE=\"v\"".to_string()]),
        1 => Just(vec!["#EXT-X-INDEPENDENT-SEGMENTS".to_string()]),
    ]
}

fn master() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(master_item(), 1..12).prop_map(|items| {
        let mut lines = vec!["#EXT-X-VERSION:6".to_string()];
        lines.extend(items.into_iter().flatten());
        lines
    })
}

/// A whole playlist: `#EXTM3U`, the lines, LF or CRLF, the odd blank line.
fn playlist() -> impl Strategy<Value = String> {
    (
        prop_oneof![3 => media(), 1 => master()],
        any::<bool>(),
        prop::collection::vec(any::<prop::sample::Index>(), 0..3),
    )
        .prop_map(|(mut lines, crlf, blanks)| {
            for blank in blanks {
                let at = 1 + blank.index(lines.len().max(1));
                lines.insert(at.min(lines.len()), String::new());
            }
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = format!("#EXTM3U{eol}");
            for line in lines {
                text += &line;
                text += eol;
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn our_parser_reads_valid_playlists_as_m3u8_rs_does(text in playlist()) {
        let theirs = theirs(&text);
        prop_assert!(theirs.is_ok() || matches!(
            theirs,
            Err(PlaylistError::Malformed("media sequence overflows" | "byte range overflows"))
        ), "m3u8-rs refused a generated playlist:\n{}", text);
        let ours = ours(&text);
        match (&ours, &theirs) {
            (Ok(a), Ok(b)) => prop_assert!(agree(a, b), "{:?}\n!=\n{:?}\nfor\n{}", a, b, text),
            _ => prop_assert_eq!(&ours, &theirs, "for\n{}", text),
        }
    }
}

#[test]
fn the_generator_covers_what_it_should() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut masters, mut ranged, mut overflows, mut segments) = (0, 0, 0, 0);
    for _ in 0..500 {
        let text = playlist().new_tree(&mut runner).unwrap().current();
        match ours(&text) {
            Ok(Seen::Master { .. }) => masters += 1,
            Ok(Seen::Media { segments: s, .. }) => {
                segments += s.len();
                ranged += s.iter().filter(|s| s.3.is_some()).count();
            }
            Err(_) => overflows += 1,
        }
    }
    let counts = (masters, ranged, overflows, segments);
    assert!(
        masters > 50 && ranged > 500 && overflows > 10 && segments > 3000,
        "{counts:?}"
    );
}
