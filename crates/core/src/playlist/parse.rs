//! A strict, line-by-line reader of the HLS playlist tags the agent uses (RFC 8216),
//! written for code size: no parser combinators, no hash maps, no dates, no float
//! parser from the standard library, and errors that are static strings. It borrows
//! URIs from the text.
//!
//! Read: `#EXTM3U` (required first line), `#EXTINF`, `#EXT-X-BYTERANGE`,
//! `#EXT-X-TARGETDURATION`, `#EXT-X-MEDIA-SEQUENCE`, `#EXT-X-ENDLIST`, the `URI` of
//! hlsmesh's `#EXT-X-HLSMESH-HASHES` (media);
//! `#EXT-X-STREAM-INF` with its URI line and `BANDWIDTH`, the `URI` of `#EXT-X-MEDIA`
//! (master). Other master tags (`#EXT-X-I-FRAME-STREAM-INF`, `#EXT-X-SESSION-DATA`,
//! `#EXT-X-SESSION-KEY`) and media tags (`#EXT-X-DISCONTINUITY`, `#EXT-X-KEY`,
//! `#EXT-X-MAP`, …) only tell which kind of playlist this is. `#EXT-X-SKIP` (a delta
//! update) is refused, as the segments after it could not be numbered. Every other tag
//! and comment is skipped, as the RFC asks of clients.
//!
//! Strict where the agent's segment ids depend on it: a tag the agent reads must be
//! well formed, every `#EXTINF` and `#EXT-X-STREAM-INF` needs its URI line and every
//! URI line of a media playlist its `#EXTINF`, master and media tags do not mix,
//! `#EXT-X-MEDIA-SEQUENCE` comes once and before the first segment, and sequence
//! numbers and byte ranges must not overflow. Lenient where real masters are sloppy
//! and nothing depends on it (a refused master leaves the agent without variants):
//! stray URI lines in a master are skipped, `BANDWIDTH` may be missing, attribute
//! lists may have spaces after commas and a trailing comma.

use super::{PlaylistError, MAX_SEGMENTS_PER_PLAYLIST};

/// A parsed playlist, borrowing from its text.
#[derive(Debug, PartialEq)]
pub(super) enum Playlist<'a> {
    Master(Master<'a>),
    Media(Media<'a>),
}

/// What the agent reads of a master playlist.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Master<'a> {
    /// `#EXT-X-STREAM-INF` variants in order: URI line and `BANDWIDTH`.
    pub variants: Vec<(&'a str, u64)>,
    /// The `URI`s of `#EXT-X-MEDIA` renditions, in order.
    pub renditions: Vec<&'a str>,
}

/// What the agent reads of a media playlist.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Media<'a> {
    /// `#EXT-X-TARGETDURATION`, seconds (0 when absent).
    pub target_duration: u64,
    /// Whether `#EXT-X-ENDLIST` is present.
    pub end_list: bool,
    /// The segments, in order (at most [`MAX_SEGMENTS_PER_PLAYLIST`]).
    pub segments: Vec<Segment<'a>>,
    /// The `URI` of the first well-formed `#EXT-X-HLSMESH-HASHES` tag, as written.
    pub hashes: Option<&'a str>,
}

/// One media segment, numbered and with its byte range placed.
#[derive(Debug, PartialEq)]
pub(super) struct Segment<'a> {
    /// The URI line, as written.
    pub uri: &'a str,
    /// Media sequence number.
    pub sn: u64,
    /// `#EXTINF` duration in seconds, as written (not yet bounded).
    pub duration: f64,
    /// `#EXT-X-BYTERANGE`, end exclusive, the implicit offset resolved.
    pub range: Option<(u64, u64)>,
}

fn malformed(why: &'static str) -> PlaylistError {
    PlaylistError::Malformed(why)
}

/// Reads a playlist.
pub(super) fn parse(text: &[u8]) -> Result<Playlist<'_>, PlaylistError> {
    let text = core::str::from_utf8(text).map_err(|_| malformed("not UTF-8"))?;
    let mut lines = lines(text).map(str::trim_ascii);
    if lines.next() != Some("#EXTM3U") {
        return Err(malformed("first line is not #EXTM3U"));
    }
    // Some(true) once a master tag was seen, Some(false) once a media tag was.
    let mut is_master = None;
    let mut master = Master::default();
    let mut media = Media::default();
    let mut media_sequence = None;
    let mut count = 0u64;
    let mut next_range_start = 0u64;
    // Tags waiting for their URI line.
    let mut bandwidth: Option<u64> = None;
    let mut duration: Option<f64> = None;
    let mut byte_range: Option<(u64, Option<u64>)> = None;

    for line in lines.filter(|l| !l.is_empty()) {
        if !line.starts_with('#') {
            if let Some(bandwidth) = bandwidth.take() {
                master.variants.push((line, bandwidth));
            } else if let Some(duration) = duration.take() {
                let sn = media_sequence
                    .unwrap_or(0u64)
                    .checked_add(count)
                    .ok_or(malformed("media sequence overflows"))?;
                let range = match byte_range.take() {
                    Some((length, offset)) => {
                        let start = offset.unwrap_or(next_range_start);
                        let end = start
                            .checked_add(length)
                            .ok_or(malformed("byte range overflows"))?;
                        next_range_start = end;
                        Some((start, end))
                    }
                    None => None,
                };
                if media.segments.len() < MAX_SEGMENTS_PER_PLAYLIST {
                    media.segments.push(Segment {
                        uri: line,
                        sn,
                        duration,
                        range,
                    });
                }
                count += 1;
            } else if is_master != Some(true) {
                return Err(malformed("URI line without #EXTINF or #EXT-X-STREAM-INF"));
            }
            // A stray line in a master (after an I-frame or rendition tag, say) names
            // nothing the agent reads; refusing the master would cost more.
            continue;
        }
        let (tag, value) = split_once(line, b':').unwrap_or((line, ""));
        let master_tag = match tag {
            "#EXTINF" => {
                let seconds = decimal(split_once(value, b',').map_or(value, |(d, _)| d));
                let seconds = seconds.ok_or(malformed("bad #EXTINF duration"))?;
                if duration.replace(seconds).is_some() {
                    return Err(malformed("#EXTINF without a URI line"));
                }
                false
            }
            "#EXT-X-BYTERANGE" => {
                let (length, offset) = match value.split_once('@') {
                    Some((length, offset)) => (length, Some(offset)),
                    None => (value, None),
                };
                let range =
                    integer(length).zip(offset.map_or(Some(None), |o| integer(o).map(Some)));
                let range = range.ok_or(malformed("bad #EXT-X-BYTERANGE"))?;
                if byte_range.replace(range).is_some() {
                    return Err(malformed("#EXT-X-BYTERANGE without a URI line"));
                }
                false
            }
            "#EXT-X-TARGETDURATION" => {
                media.target_duration =
                    integer(value).ok_or(malformed("bad #EXT-X-TARGETDURATION"))?;
                false
            }
            "#EXT-X-MEDIA-SEQUENCE" => {
                if media_sequence.is_some() || count > 0 || duration.is_some() {
                    return Err(malformed(
                        "#EXT-X-MEDIA-SEQUENCE repeated or after a segment",
                    ));
                }
                media_sequence =
                    Some(integer(value).ok_or(malformed("bad #EXT-X-MEDIA-SEQUENCE"))?);
                false
            }
            "#EXT-X-ENDLIST" => {
                media.end_list = true;
                false
            }
            // hlsmesh's own tag (the integrity sidecar's location); a malformed one is
            // ignored, and the sidecar is looked for at its default URL.
            "#EXT-X-HLSMESH-HASHES" => {
                if media.hashes.is_none() {
                    media.hashes = attribute(value, "URI")
                        .ok()
                        .flatten()
                        .and_then(|u| u.strip_prefix('"')?.strip_suffix('"'))
                        .filter(|u| !u.is_empty());
                }
                continue;
            }
            "#EXT-X-SKIP" => return Err(malformed("#EXT-X-SKIP (delta update) not supported")),
            "#EXT-X-STREAM-INF" => {
                // Required by the RFC, but hls.js plays without; 0 means "not declared".
                let bits = match attribute(value, "BANDWIDTH")? {
                    Some(bits) => integer(bits).ok_or(malformed("bad BANDWIDTH"))?,
                    None => 0,
                };
                if bandwidth.replace(bits).is_some() {
                    return Err(malformed("#EXT-X-STREAM-INF without a URI line"));
                }
                true
            }
            "#EXT-X-MEDIA" => {
                if let Some(uri) = attribute(value, "URI")? {
                    let uri = uri.strip_prefix('"').and_then(|u| u.strip_suffix('"'));
                    let uri = uri.filter(|u| !u.is_empty());
                    master
                        .renditions
                        .push(uri.ok_or(malformed("bad #EXT-X-MEDIA URI"))?);
                }
                true
            }
            "#EXT-X-I-FRAME-STREAM-INF" | "#EXT-X-SESSION-DATA" | "#EXT-X-SESSION-KEY" => true,
            // Media playlist tags the agent does not read, named so that a master
            // carrying them is refused rather than half read.
            "#EXT-X-DISCONTINUITY"
            | "#EXT-X-DISCONTINUITY-SEQUENCE"
            | "#EXT-X-PLAYLIST-TYPE"
            | "#EXT-X-I-FRAMES-ONLY"
            | "#EXT-X-KEY"
            | "#EXT-X-MAP"
            | "#EXT-X-PROGRAM-DATE-TIME"
            | "#EXT-X-DATERANGE" => false,
            _ => continue,
        };
        if *is_master.get_or_insert(master_tag) != master_tag {
            return Err(malformed("master and media playlist tags mixed"));
        }
    }
    if bandwidth.is_some() {
        return Err(malformed("#EXT-X-STREAM-INF without a URI line"));
    }
    if duration.is_some() || byte_range.is_some() {
        return Err(malformed("#EXTINF without a URI line"));
    }
    if count > MAX_SEGMENTS_PER_PLAYLIST as u64 {
        return Err(PlaylistError::TooLarge(count as usize));
    }
    Ok(if is_master == Some(true) {
        Playlist::Master(master)
    } else {
        Playlist::Media(media)
    })
}

/// The lines of `text`, split at `\n` (a `\r` before it goes with the caller's trim;
/// after a final `\n` comes one empty line). A byte loop: playlist lines are a dozen
/// bytes, less than the standard line iterator's per-line setup costs (a media
/// playlist is read at every live refresh, by every viewer).
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    core::iter::from_fn(move || {
        let r = rest?;
        Some(match split_once(r, b'\n') {
            Some((line, after)) => {
                rest = Some(after);
                line
            }
            None => {
                rest = None;
                r
            }
        })
    })
}

/// `s.split_once(c)` for an ASCII `c`, by a byte loop (see [`lines`]).
fn split_once(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == c)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The raw value (quotes kept) of attribute `name` in an attribute list
/// (`NAME=VALUE,NAME="quoted, with commas"`); an error if the list is malformed.
/// Tolerated, as servers in the wild write them: spaces after a comma (Apple's old
/// examples) and a trailing comma (Wowza).
fn attribute<'a>(list: &'a str, name: &str) -> Result<Option<&'a str>, PlaylistError> {
    let bad = || malformed("bad attribute list");
    let mut found = None;
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest.split_once('=').ok_or_else(bad)?;
        let value_len = if let Some(quoted) = after.strip_prefix('"') {
            quoted.find('"').ok_or_else(bad)? + 2
        } else {
            after.find(',').unwrap_or(after.len())
        };
        let (value, after) = after.split_at(value_len);
        rest = match after.strip_prefix(',') {
            Some(next) => next,
            None if after.is_empty() => after,
            None => return Err(bad()),
        };
        let name_ok = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
        if key.is_empty() || !key.bytes().all(name_ok) || value.is_empty() {
            return Err(bad());
        }
        if key == name && found.is_none() {
            found = Some(value);
        }
    }
    Ok(found)
}

/// A decimal integer (`0`–`9` only, at least one digit), if it fits a `u64`.
fn integer(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |n, b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// A decimal number as `#EXTINF` writes it: `-`? digits (`.` digits?)?. Not through
/// `str::parse::<f64>`, whose correctly rounded algorithm and tables cost 13.7 KB of
/// gzipped wasm (measured); this is within an ulp or so for durations, and huge values
/// (bounded later) need no precision.
fn decimal(s: &str) -> Option<f64> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(s) => (true, s),
        None => (false, s),
    };
    let (whole, fraction) = split_once(s, b'.').unwrap_or((s, ""));
    if whole.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Fraction digits past the fifteenth add less than 1e-15 s.
    let fraction = &fraction[..fraction.len().min(15)];
    let scale = fraction.bytes().fold(1.0, |p, _| p * 10.0);
    let value = digits(whole)? + digits(fraction)? / scale;
    Some(if negative { -value } else { value })
}

/// The value of a run of ASCII digits (possibly empty) as an `f64`.
fn digits(s: &str) -> Option<f64> {
    s.bytes().try_fold(0.0, |n, b| {
        b.is_ascii_digit().then(|| n * 10.0 + f64::from(b - b'0'))
    })
}
