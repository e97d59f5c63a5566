//! What the agent knows of the stream: the variants of the master playlist and the
//! segments each media playlist lists, so that a URL hls.js asks for maps to a
//! [`SegmentId`] every viewer agrees on.
//!
//! The agent takes playlists already read ([`Playlist`]: absolute URLs, numbered
//! segments, byte ranges placed); it never reads playlist text. In the browser the shim
//! reads them (`js/src/playlist.ts`, with the page's URL resolver); [`read`] is the
//! reference reader the simulator, the tests and the fuzzers use, and
//! `tests/fixtures/playlists.json` holds cases both readers must agree on.

use hlsmesh_proto::SegmentId;

use crate::text::number_in;
use crate::url::{path_of, resolve, without_query};

mod parse;

/// A playlist as read from its text: what the agent uses of it.
#[derive(Clone, Debug, PartialEq)]
pub enum Playlist {
    /// A master playlist.
    Master(Master),
    /// A media playlist.
    Media(Media),
}

/// What the agent uses of a master playlist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Master {
    /// `#EXT-X-STREAM-INF` variants in order: absolute URL and `BANDWIDTH` in bits per
    /// second (0 when not declared).
    pub variants: Vec<(String, u64)>,
    /// The absolute URLs of the `#EXT-X-MEDIA` renditions, in order.
    pub renditions: Vec<String>,
}

/// What the agent uses of a media playlist.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Media {
    /// `#EXT-X-TARGETDURATION`, seconds (0 when absent).
    pub target_duration: u64,
    /// Whether `#EXT-X-ENDLIST` is present.
    pub end_list: bool,
    /// Sequence number of the first segment (`#EXT-X-MEDIA-SEQUENCE`); the others follow
    /// one by one.
    pub first_sn: u64,
    /// The segments, in order (at most [`MAX_SEGMENTS_PER_PLAYLIST`]).
    pub segments: Vec<MediaSegment>,
    /// The absolute URL of the integrity sidecar when an `#EXT-X-HLSMESH-HASHES` tag
    /// names one (see [`crate::integrity::sidecar_url`]).
    pub hashes: Option<String>,
}

/// One segment of a [`Media`] playlist.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaSegment {
    /// Absolute URL (tokens included).
    pub url: String,
    /// `#EXTINF` duration in seconds, as written (bounded by the agent).
    pub duration: f64,
    /// `#EXT-X-BYTERANGE`, end exclusive, the implicit offset resolved.
    pub range: Option<(u64, u64)>,
}

/// Reads playlist text loaded from `url` (the reference reader; see the module docs).
pub fn read(url: &str, text: &[u8]) -> Result<Playlist, PlaylistError> {
    Ok(match parse::parse(text)? {
        parse::Playlist::Master(m) => Playlist::Master(Master {
            variants: m
                .variants
                .iter()
                .map(|&(u, bandwidth)| (resolve(url, u), bandwidth))
                .collect(),
            renditions: m.renditions.iter().map(|u| resolve(url, u)).collect(),
        }),
        parse::Playlist::Media(m) => Playlist::Media(Media {
            target_duration: m.target_duration,
            end_list: m.end_list,
            first_sn: m.segments.first().map_or(0, |s| s.sn),
            segments: m
                .segments
                .iter()
                .map(|s| MediaSegment {
                    url: resolve(url, s.uri),
                    duration: s.duration,
                    range: s.range,
                })
                .collect(),
            hashes: m.hashes.map(|u| resolve(url, u)),
        }),
    })
}

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
    highest_sn: Option<u64>,
}

impl Playlists {
    /// The master playlist URL, when one was loaded.
    pub fn master_url(&self) -> Option<&str> {
        self.master_url.as_deref()
    }

    /// Takes in a playlist hls.js loaded from `url` (after redirects).
    pub fn update(
        &mut self,
        url: &str,
        playlist: Playlist,
    ) -> Result<PlaylistUpdate, PlaylistError> {
        match playlist {
            Playlist::Master(master) => {
                self.master_url = Some(url.to_string());
                self.bandwidth.clear();
                self.variants.clear();
                for (u, b) in &master.variants {
                    self.bandwidth.push(*b);
                    self.variants.push(without_query(u).to_string());
                }
                for u in &master.renditions {
                    self.variants.push(without_query(u).to_string());
                }
                Ok(PlaylistUpdate::default())
            }
            Playlist::Media(media) => self.update_media(url, media),
        }
    }

    /// Takes in a media playlist once it is checked, so that nothing here fails
    /// half-way through a change.
    fn update_media(
        &mut self,
        url: &str,
        mut media: Media,
    ) -> Result<PlaylistUpdate, PlaylistError> {
        let n = media.segments.len();
        if n > MAX_SEGMENTS_PER_PLAYLIST {
            return Err(PlaylistError::TooLarge(n));
        }
        if media.first_sn.checked_add(n as u64).is_none() {
            return Err(PlaylistError::Malformed("media sequence overflows"));
        }
        // Plain loops here: the adaptors (any, position, a zip over the segments'
        // IntoIter) cost more wasm.
        for s in &media.segments {
            if let Some((a, b)) = s.range {
                if a > b {
                    return Err(PlaylistError::Malformed("byte range ends before it starts"));
                }
            }
        }
        let key = without_query(url);
        let variant = self.variant_of(key);
        // The state moves to the back: lookups prefer the most recently loaded playlist.
        let mut old = None;
        for i in 0..self.media.len() {
            if self.media[i].key == key {
                old = Some(self.media.remove(i));
                break;
            }
        }
        let highest = old.as_ref().and_then(|m| m.highest_sn);
        let mut segments = Vec::with_capacity(n);
        let mut url_hashes = Vec::with_capacity(n);
        // The numbers do not overflow (checked above).
        for (i, seg) in media.segments.iter_mut().enumerate() {
            let sn = media.first_sn + i as u64;
            url_hashes.push(fnv1a(&seg.url));
            segments.push(SegmentInfo {
                id: SegmentId { variant, sn },
                url: std::mem::take(&mut seg.url),
                duration: sane_duration(seg.duration),
                range: seg.range,
            });
        }
        let mut new_segments = Vec::new();
        for s in &segments {
            if highest.is_none_or(|h| s.id.sn > h) {
                new_segments.push(s.clone());
            }
        }
        let update = PlaylistUpdate {
            variant: Some(variant),
            live: !media.end_list,
            target_duration: media.target_duration as f64,
            new_segments,
            refresh: highest.is_some(),
        };
        let last = segments.last().map(|s| s.id.sn);
        self.media.push(MediaState {
            key: old.map_or_else(|| key.to_string(), |m| m.key),
            variant,
            url_hashes,
            segments,
            // Option's max without its derived comparison: the larger when both are there.
            highest_sn: match last {
                Some(l) => Some(highest.map_or(l, |h| h.max(l))),
                None => highest,
            },
        });
        Ok(update)
    }

    /// The segment hls.js asks for with `url` (and byte range start, if any).
    pub fn segment_for(&self, url: &str, range_start: Option<u64>) -> Option<&SegmentInfo> {
        let hash = fnv1a(url);
        for m in self.media.iter().rev() {
            for (&h, s) in m.url_hashes.iter().zip(&m.segments).rev() {
                if h == hash && s.url == url && s.range.map(|r| r.0) == range_start {
                    return Some(s);
                }
            }
        }
        None
    }

    /// The segment with this id, if a playlist lists it now.
    pub fn segment(&self, id: SegmentId) -> Option<&SegmentInfo> {
        for m in self.media.iter().rev() {
            let Some(first) = m.segments.first() else {
                continue;
            };
            if m.variant != id.variant || id.sn < first.id.sn {
                continue;
            }
            if let Some(s) = usize::try_from(id.sn - first.id.sn)
                .ok()
                .and_then(|i| m.segments.get(i))
            {
                return Some(s);
            }
        }
        None
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
    // A plain loop (a bytes/fold chain costs more wasm).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in s.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
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
