//! Mostly-valid m3u8 text from fuzz bytes: the tags hls.js and our parser see in real
//! streams, with numbers pushed to their edges and the odd line of junk, so that the
//! fuzzer spends its time past the parser's first line.

use std::fmt::Write;

use crate::Src;

/// Segment URIs as playlists write them: relative, tokenised, rooted, absolute, odd.
fn uri(src: &mut Src<'_>, i: u64) -> String {
    match src.below(10) {
        0 => format!("../v{}/seg{i}.ts", src.below(3)),
        1 => format!("/live/seg{i}.ts?token={}", src.u16()),
        2 => format!("https://cdn{}.test/live/seg{i}.ts", src.below(3)),
        3 => format!("//edge.test/seg{i}.ts"),
        4 => src.short_str().replace(['\n', '\r'], ""),
        5 => "all.ts".to_string(),
        6 => format!("seg{i}.m4s?a=1#frag"),
        _ => format!("seg{i}.ts?token=xyz"),
    }
}

fn number(src: &mut Src<'_>) -> String {
    match src.below(8) {
        0 => "-1".to_string(),
        1 => u64::MAX.to_string(),
        2 => "18446744073709551616".to_string(),
        3 => format!("{}.{}", src.u8(), src.u8()),
        4 => String::new(),
        _ => src.interesting_u64().to_string(),
    }
}

fn duration(src: &mut Src<'_>) -> String {
    match src.below(8) {
        0 => "nan".to_string(),
        1 => "-2.0".to_string(),
        2 => "1e309".to_string(),
        3 => String::new(),
        _ => format!("{}.{:03}", src.below(10), src.u8()),
    }
}

/// A media playlist.
pub fn media(src: &mut Src<'_>) -> String {
    let mut s = String::from("#EXTM3U\n");
    if src.below(2) == 0 {
        let _ = writeln!(s, "#EXT-X-VERSION:{}", src.below(10));
    }
    let _ = writeln!(s, "#EXT-X-TARGETDURATION:{}", number(src));
    let first = if src.below(4) == 0 {
        0
    } else {
        src.interesting_u64()
    };
    if src.below(4) != 0 {
        let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{first}");
    }
    if src.below(4) == 0 {
        let _ = writeln!(s, "#EXT-X-DISCONTINUITY-SEQUENCE:{}", number(src));
    }
    if src.below(4) == 0 {
        s += ["#EXT-X-PLAYLIST-TYPE:VOD\n", "#EXT-X-PLAYLIST-TYPE:EVENT\n"][src.below(2) as usize];
    }
    let count = u64::from(src.below(40));
    for i in 0..count {
        if src.is_empty() {
            break;
        }
        let flags = src.u8();
        if flags & 1 != 0 {
            s += "#EXT-X-DISCONTINUITY\n";
        }
        if flags & 2 != 0 {
            s += "#EXT-X-MAP:URI=\"init.mp4\"\n";
        }
        if flags & 4 != 0 {
            s += "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"\n";
        }
        if flags & 8 != 0 {
            s += "#EXT-X-PROGRAM-DATE-TIME:2026-11-23T04:00:00.000Z\n";
        }
        let _ = writeln!(s, "#EXTINF:{},", duration(src));
        if flags & 16 != 0 {
            let len = number(src);
            if flags & 32 != 0 {
                let _ = writeln!(s, "#EXT-X-BYTERANGE:{len}@{}", number(src));
            } else {
                let _ = writeln!(s, "#EXT-X-BYTERANGE:{len}");
            }
        }
        if flags & 64 != 0 {
            // A line of junk where a tag or URI would be.
            s += &src.short_str();
            s.push('\n');
        }
        s += &uri(src, first.wrapping_add(i));
        s.push('\n');
    }
    if src.below(2) == 0 {
        s += "#EXT-X-ENDLIST\n";
    }
    s
}

/// A master playlist.
pub fn master(src: &mut Src<'_>) -> String {
    let mut s = String::from("#EXTM3U\n");
    let count = src.below(6);
    for i in 0..count {
        match src.below(4) {
            0 => {
                let _ = writeln!(
                    s,
                    "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"a{i}\",URI=\"{}\"",
                    uri(src, u64::from(i)).replace('"', "")
                );
            }
            1 => {
                let _ = writeln!(
                    s,
                    "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={},URI=\"iframes{i}.m3u8\"",
                    number(src)
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION=640x360",
                    number(src)
                );
                let v = match src.below(4) {
                    0 => src.short_str().replace(['\n', '\r'], ""),
                    1 => format!("https://cdn2.test/live/v{i}/index.m3u8"),
                    _ => format!("v{i}/index.m3u8?token=abc"),
                };
                s += &v;
                s.push('\n');
            }
        }
    }
    s
}

/// Either kind of playlist.
pub fn playlist(src: &mut Src<'_>) -> String {
    if src.below(4) == 0 {
        master(src)
    } else {
        media(src)
    }
}
