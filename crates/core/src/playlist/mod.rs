//! What the agent knows of the stream: the variants of the master playlist and the
//! segments each media playlist lists, so that a URL hls.js asks for maps to a
//! [`SegmentId`] every viewer agrees on.

use hlsmesh_proto::SegmentId;

use crate::text::number_in;
use crate::url::{path_of, resolve, without_query};

mod parse;

/// A segment as the media playlist lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentInfo {
    /// Stream-wide identity.
    pub id: SegmentId,
    /// Absolute URL, as listed (tokens included).
    pub url: String,
    /// Duration in seconds (`#EXTINF`).
    pub duration: f64,
    /// Byte range within `url`, end exclusive (`#EXT-X-BYTERANGE`).
    pub range: Option<(u64, u64)>,
}

/// What a playlist load changed.
#[derive(Debug, Default, PartialEq)]
pub struct PlaylistUpdate {
    /// The variant this media playlist belongs to (None for a master playlist).
    pub variant: Option<u16>,
    /// Segments not listed before, in playlist order.
    pub new_segments: Vec<SegmentInfo>,
    /// Whether the playlist may still grow (no `#EXT-X-ENDLIST`).
    pub live: bool,
    /// Target duration in seconds.
    pub target_duration: f64,
    /// Whether this media playlist was loaded before (a live refresh).
    pub refresh: bool,
}

/// Why a playlist was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlaylistError {
    /// The text is not an HLS playlist the agent can read (what is wrong, in a few words).
    Malformed(&'static str),
    /// The playlist lists more segments than the agent keeps track of.
    TooLarge(usize),
}

impl PlaylistError {
    /// What is wrong, in words (what `Display` writes, built without `core::fmt`).
    pub fn describe(&self) -> String {
        match self {
            PlaylistError::Malformed(what) => crate::text::cat(&["malformed playlist: ", what]),
            PlaylistError::TooLarge(n) => {
                number_in("playlist lists ", *n as u64, " segments, over the limit")
            }
        }
    }
}

crate::text::display_by_describe!(PlaylistError);

/// Most segments tracked per media playlist; a longer VOD is still playable, its
/// later segments simply come from the CDN.
pub const MAX_SEGMENTS_PER_PLAYLIST: usize = 20_000;

/// Variants, and the segments each media playlist lists now.
///
/// No maps: a handful of media playlists, each a run of consecutive sequence numbers,
/// so an id is found by arithmetic and a URL by a scan of URL hashes (once per player
/// load: under 2 µs natively among 2,700 segments), in less code than hash maps.
#[derive(Debug, Default)]
pub struct Playlists {
    master_url: Option<String>,
    /// Variant playlist URLs (query stripped) in master order: the index is the variant id.
    variants: Vec<String>,
    /// Declared `BANDWIDTH` of each `#EXT-X-STREAM-INF` variant, bits per second.
    bandwidth: Vec<u64>,
    /// The media playlists loaded, least recently updated first.
    media: Vec<MediaState>,
}

#[derive(Debug)]
struct MediaState {
    /// Its URL without query.
    key: String,
    variant: u16,
    /// The segments it lists now, in order (consecutive sequence numbers).
    segments: Vec<SegmentInfo>,
    /// FNV-1a of each segment's URL, so that a lookup by URL compares integers.
    url_hashes: Vec<u64>,
    /// Each segment's URI line as written, and the URL the playlist was loaded from: a
    /// refresh from the same URL resolves only the lines it has not seen.
    uris: Vec<Box<str>>,
    loaded_from: String,
    highest_sn: Option<u64>,
}

impl Playlists {
    /// The master playlist URL, when one was loaded.
    pub fn master_url(&self) -> Option<&str> {
        self.master_url.as_deref()
    }

    /// Reads a playlist hls.js loaded from `url`.
    pub fn update(&mut self, url: &str, text: &[u8]) -> Result<PlaylistUpdate, PlaylistError> {
        match parse::parse(text)? {
            parse::Playlist::Master(master) => {
                self.master_url = Some(url.to_string());
                self.bandwidth = master.variants.iter().map(|v| v.1).collect();
                self.variants = master
                    .variants
                    .iter()
                    .map(|v| v.0)
                    .chain(master.renditions)
                    .map(|u| without_query(&resolve(url, u)).to_string())
                    .collect();
                Ok(PlaylistUpdate::default())
            }
            parse::Playlist::Media(media) => Ok(self.update_media(url, media)),
        }
    }

    /// Takes in a media playlist the parser has checked (sequence numbers and byte
    /// ranges included), so that nothing here can fail half-way through a change.
    fn update_media(&mut self, url: &str, media: parse::Media<'_>) -> PlaylistUpdate {
        let key = without_query(url);
        let variant = self.variant_of(key);
        // The state moves to the back: lookups prefer the most recently loaded playlist.
        let mut old = match self.media.iter().position(|m| m.key == key) {
            Some(i) => Some(self.media.remove(i)),
            None => None,
        };
        let highest = old.as_ref().and_then(|m| m.highest_sn);
        // A segment listed before, from the same URL and with the same URI line, keeps
        // its resolved URL (a live refresh resolves only its new segments).
        let same_base = old.as_ref().is_some_and(|m| m.loaded_from == url);
        let old_first = old
            .as_ref()
            .and_then(|m| m.segments.first())
            .map(|s| s.id.sn);
        let n = media.segments.len();
        let (mut segments, mut url_hashes, mut uris) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for seg in &media.segments {
            let known = match (&mut old, old_first) {
                (Some(m), Some(first)) if same_base && seg.sn >= first => {
                    let i = usize::try_from(seg.sn - first).unwrap_or(usize::MAX);
                    match m.uris.get_mut(i) {
                        Some(u) if **u == *seg.uri => Some((
                            core::mem::take(&mut m.segments[i].url),
                            m.url_hashes[i],
                            core::mem::take(u),
                        )),
                        _ => None,
                    }
                }
                _ => None,
            };
            let (resolved, hash, uri) = known.unwrap_or_else(|| {
                let resolved = resolve(url, seg.uri);
                let hash = fnv1a(&resolved);
                (resolved, hash, seg.uri.into())
            });
            segments.push(SegmentInfo {
                id: SegmentId {
                    variant,
                    sn: seg.sn,
                },
                url: resolved,
                duration: sane_duration(seg.duration),
                range: seg.range,
            });
            url_hashes.push(hash);
            uris.push(uri);
        }
        let update = PlaylistUpdate {
            variant: Some(variant),
            live: !media.end_list,
            target_duration: media.target_duration as f64,
            new_segments: segments
                .iter()
                .filter(|s| highest.is_none_or(|h| s.id.sn > h))
                .cloned()
                .collect(),
            refresh: highest.is_some(),
        };
        let last = segments.last().map(|s| s.id.sn);
        let (key, loaded_from) = match old {
            Some(m) => (m.key, m.loaded_from),
            None => (key.to_string(), String::new()),
        };
        self.media.push(MediaState {
            key,
            variant,
            url_hashes,
            uris,
            loaded_from: if same_base {
                loaded_from
            } else {
                url.to_string()
            },
            segments,
            highest_sn: highest.max(last),
        });
        update
    }

    /// The segment hls.js asks for with `url` (and byte range start, if any).
    pub fn segment_for(&self, url: &str, range_start: Option<u64>) -> Option<&SegmentInfo> {
        let hash = fnv1a(url);
        self.media.iter().rev().find_map(|m| {
            m.url_hashes
                .iter()
                .zip(&m.segments)
                .rev()
                .find(|&(&h, s)| h == hash && s.url == url && s.range.map(|r| r.0) == range_start)
                .map(|(_, s)| s)
        })
    }

    /// The segment with this id, if a playlist lists it now.
    pub fn segment(&self, id: SegmentId) -> Option<&SegmentInfo> {
        self.media
            .iter()
            .rev()
            .filter(|m| m.variant == id.variant)
            .find_map(|m| {
                let first = m.segments.first()?.id.sn;
                m.segments
                    .get(usize::try_from(id.sn.checked_sub(first)?).ok()?)
            })
    }

    /// Whether a playlist lists this segment now (a live segment that slid out of the
    /// window is needed by nobody).
    pub fn is_listed(&self, id: SegmentId) -> bool {
        self.segment(id).is_some()
    }

    /// The variant's declared bandwidth in bits per second, when the master gives one.
    pub fn declared_bandwidth(&self, variant: u16) -> Option<u64> {
        self.bandwidth
            .get(usize::from(variant))
            .copied()
            .filter(|b| *b > 0)
    }

    /// Number of segments the media playlists list now.
    pub fn known_segments(&self) -> usize {
        self.media.iter().map(|m| m.segments.len()).sum()
    }

    fn variant_of(&self, media_key: &str) -> u16 {
        if self.variants.is_empty() && self.master_url.is_none() {
            return 0;
        }
        match self.variants.iter().position(|v| v == media_key) {
            Some(i) => i.min(0x7fff) as u16,
            // A playlist the master does not list: name it by its path, which every
            // viewer of the same stream computes alike.
            None => 0x8000 | (fnv1a(path_of(media_key)) & 0x7fff) as u16,
        }
    }
}

fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Longest segment duration believed; anything longer (or negative, or not a number)
/// is a broken or hostile playlist and counts as this, or as zero.
const MAX_SEGMENT_SECONDS: f64 = 3600.0;

fn sane_duration(d: f64) -> f64 {
    if d.is_finite() {
        d.clamp(0.0, MAX_SEGMENT_SECONDS)
    } else if d == f64::INFINITY {
        MAX_SEGMENT_SECONDS
    } else {
        0.0
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
