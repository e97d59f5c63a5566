//! Segment integrity from a publisher-provided hash list: a small text sidecar beside the
//! media playlist that gives each segment's SHA-256 and size, so bytes from a stranger
//! can be checked before they reach the player or are passed on.
//!
//! # The sidecar format (`hlsmesh-hashes`, version 1)
//!
//! ```text
//! #HLSMESH-HASHES:1
//! # comments and blank lines are ignored
//! 10 183440 5f1d…(64 hex digits)… seg10.ts
//! 11 180012 9ab2…(64 hex digits)… seg11.ts
//! ```
//!
//! - The first line is `#HLSMESH-HASHES:1`. Other lines starting with `#` are comments.
//! - Each entry is `<media sequence> <size in bytes> <sha256, 64 hex digits> [<uri>]`,
//!   fields separated by spaces or tabs. The media sequence number is the segment's
//!   identity (as on the wire, [`hlsmesh_proto::SegmentId::sn`]), so tokens, query
//!   strings and CDN hosts do not matter. The URI, as the playlist writes it without its
//!   query or fragment, is optional and lets a segment be looked up by URL too.
//! - The digest covers exactly the bytes the playlist's entry names: for an
//!   `#EXT-X-BYTERANGE` segment, that range.
//! - One file per media playlist. Its location: the URI of an
//!   `#EXT-X-HLSMESH-HASHES:URI="…"` tag in the media playlist, resolved against the
//!   playlist's URL; without the tag, the playlist's path with `.hashes` appended (the
//!   playlist's query string kept, for CDNs that require the token). See [`sidecar_url`].
//! - A live stream rewrites its sidecar with its playlist; an entry for a segment the
//!   playlist no longer lists is harmless.
//!
//! Entries are in increasing media sequence order (each number once). Limits: at most
//! [`MAX_SIDECAR_BYTES`] of text, [`MAX_ENTRIES`] entries and [`MAX_LINE`] bytes a line.
//!
//! `crates/hashlist` writes this file from a media playlist and its segments.

use crate::text::number_in;
use crate::url::{path_of, without_query};

/// Largest sidecar read.
pub const MAX_SIDECAR_BYTES: usize = 4 * 1024 * 1024;
/// Most entries in one sidecar (a 27-hour VOD of 2 s segments).
pub const MAX_ENTRIES: usize = 50_000;
/// Longest line.
pub const MAX_LINE: usize = 4096;
/// The first line of every sidecar.
pub const HEADER: &str = "#HLSMESH-HASHES:1";

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// Why a sidecar was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum IntegrityError {
    /// Over [`MAX_SIDECAR_BYTES`].
    TooLarge(usize),
    /// The first line is not [`HEADER`].
    MissingHeader,
    /// A header of another version.
    UnsupportedVersion(String),
    /// More than [`MAX_ENTRIES`] entries.
    TooManyEntries,
    /// Entries given whose media sequence numbers do not increase.
    Unordered,
    /// A line that does not read as an entry.
    BadLine {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl IntegrityError {
    /// What is wrong, in words (what `Display` writes, built without `core::fmt`).
    pub fn describe(&self) -> String {
        match self {
            IntegrityError::TooLarge(n) => {
                number_in("hash list of ", *n as u64, " bytes is over the limit")
            }
            IntegrityError::MissingHeader => {
                crate::text::cat(&["not a hash list: the first line must be ", HEADER])
            }
            IntegrityError::UnsupportedVersion(v) => {
                crate::text::cat(&["hash list version `", v, "` is not supported"])
            }
            IntegrityError::TooManyEntries => {
                number_in("hash list has more than ", MAX_ENTRIES as u64, " entries")
            }
            IntegrityError::Unordered => "hash list entries not in increasing order".into(),
            IntegrityError::BadLine { line, reason } => number_in(
                "hash list line ",
                *line as u64,
                &crate::text::cat(&[": ", reason]),
            ),
        }
    }
}

crate::text::display_by_describe!(IntegrityError);

/// What the publisher says one segment is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Media sequence number.
    pub sn: u64,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes.
    pub digest: Digest,
    /// The URI as the playlist writes it, without query or fragment, when given.
    pub uri: Option<String>,
}

/// How to find a segment in the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// By media sequence number (preferred: it is the segment's identity).
    Sn(u64),
    /// By the URL the player asked for (absolute or as the playlist writes it); its query
    /// and fragment are ignored. Matches an entry whose URI is the URL's path or the
    /// URL's path ends with `/` + that URI. An entry named twice (byte ranges of one
    /// file) is ambiguous and matches nothing.
    Url(&'a str),
}

/// The outcome of checking bytes against the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Size and digest match.
    Ok,
    /// The list knows the segment and the bytes differ from it (size or digest).
    Mismatch,
    /// The list says nothing about this segment.
    Unknown,
}

/// A parsed sidecar.
#[derive(Debug, Clone, Default)]
pub struct HashList {
    /// Sorted by media sequence number (looked up by binary search: no hash map code in
    /// the wasm for this).
    entries: Vec<Expected>,
}

impl HashList {
    /// Reads a sidecar.
    pub fn parse(text: &str) -> Result<HashList, IntegrityError> {
        if text.len() > MAX_SIDECAR_BYTES {
            return Err(IntegrityError::TooLarge(text.len()));
        }
        let mut text_lines = text.lines();
        let header = text_lines.next().unwrap_or("").trim_end();
        let header = header.strip_prefix('\u{feff}').unwrap_or(header);
        match header.strip_prefix("#HLSMESH-HASHES:") {
            Some("1") => {}
            Some(v) => {
                return Err(IntegrityError::UnsupportedVersion(
                    v.chars().take(16).collect(),
                ))
            }
            None => return Err(IntegrityError::MissingHeader),
        }
        let mut list = HashList::default();
        for (i, line) in text_lines.enumerate() {
            let line_no = i + 2;
            let bad = |reason| IntegrityError::BadLine {
                line: line_no,
                reason,
            };
            if line.len() > MAX_LINE {
                return Err(bad("line too long"));
            }
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split([' ', '\t']).filter(|f| !f.is_empty());
            let sn = fields
                .next()
                .and_then(parse_decimal)
                .ok_or(bad("media sequence is not a number"))?;
            let size = fields
                .next()
                .and_then(parse_decimal)
                .ok_or(bad("size is not a number"))?;
            let digest = fields
                .next()
                .and_then(parse_hex_digest)
                .ok_or(bad("digest is not 64 hex digits"))?;
            let uri = fields.next().map(|u| without_query(u).to_string());
            if fields.next().is_some() {
                return Err(bad("unexpected field after the URI"));
            }
            if list.entries.len() == MAX_ENTRIES {
                return Err(IntegrityError::TooManyEntries);
            }
            // Entries come in increasing order, so lookups are a binary search (neither a
            // hash map nor a sort in the wasm for this).
            if list.entries.last().is_some_and(|last| last.sn >= sn) {
                return Err(bad("media sequence not above the previous entry's"));
            }
            list.entries.push(Expected {
                sn,
                size,
                digest,
                uri,
            });
        }
        Ok(list)
    }

    /// A list of entries read elsewhere (the browser's shim reads the text): refused when
    /// there are over [`MAX_ENTRIES`] or their sequence numbers do not increase.
    pub fn from_entries(entries: Vec<Expected>) -> Result<HashList, IntegrityError> {
        if entries.len() > MAX_ENTRIES {
            return Err(IntegrityError::TooManyEntries);
        }
        if entries.windows(2).any(|w| w[0].sn >= w[1].sn) {
            return Err(IntegrityError::Unordered);
        }
        Ok(HashList { entries })
    }

    /// Entries, by media sequence number.
    pub fn entries(&self) -> &[Expected] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the list has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the list says about a segment, if anything.
    pub fn expected(&self, key: Key<'_>) -> Option<&Expected> {
        match key {
            Key::Sn(sn) => self.by_sn(sn),
            Key::Url(url) => {
                let path = path_of(without_query(url));
                let mut found = None;
                for e in &self.entries {
                    let Some(uri) = e.uri.as_deref() else {
                        continue;
                    };
                    let uri = path_of(uri);
                    let hit = path == uri
                        || (path.len() > uri.len()
                            && path.ends_with(uri)
                            && path.as_bytes()[path.len() - uri.len() - 1] == b'/'
                            && !uri.as_bytes().starts_with(b"/"));
                    if hit {
                        if found.is_some() {
                            return None;
                        }
                        found = Some(e);
                    }
                }
                found
            }
        }
    }

    /// The entry for media sequence number `sn`.
    fn by_sn(&self, sn: u64) -> Option<&Expected> {
        self.entries
            .binary_search_by_key(&sn, |e| e.sn)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Checks `bytes` (the whole segment, or the whole byte range) against the list.
    pub fn verify(&self, key: Key<'_>, bytes: &[u8]) -> Verdict {
        check(self.expected(key), bytes)
    }

    /// [`HashList::verify`] by media sequence number, as the scheduler checks peers'
    /// segments (the lookup by URL is not in the wasm then).
    pub(crate) fn verify_sn(&self, sn: u64, bytes: &[u8]) -> Verdict {
        check(self.by_sn(sn), bytes)
    }

    /// Checks a digest computed incrementally (see [`Sha256`]) and the segment's size.
    pub fn verify_digest(&self, key: Key<'_>, size: u64, digest: &Digest) -> Verdict {
        match self.expected(key) {
            None => Verdict::Unknown,
            Some(e) if e.size == size && e.digest == *digest => Verdict::Ok,
            Some(_) => Verdict::Mismatch,
        }
    }
}

/// `bytes` against what the list says of them.
fn check(expected: Option<&Expected>, bytes: &[u8]) -> Verdict {
    match expected {
        None => Verdict::Unknown,
        Some(e) if e.size != bytes.len() as u64 => Verdict::Mismatch,
        Some(e) if sha256(bytes) == e.digest => Verdict::Ok,
        Some(_) => Verdict::Mismatch,
    }
}

/// Reads sidecar bytes as an embedder answers [`crate::Output::FetchHashList`]: the list,
/// or why not, in the words the browser's reader (`js/src/hashlist.ts`) uses.
pub fn read_sidecar(bytes: &[u8]) -> Result<HashList, String> {
    if bytes.len() > MAX_SIDECAR_BYTES {
        return Err(IntegrityError::TooLarge(bytes.len()).describe());
    }
    let text = core::str::from_utf8(bytes).map_err(|_| String::from("hash list is not UTF-8"))?;
    HashList::parse(text).map_err(|e| e.describe())
}

/// Writes one sidecar entry line (no newline), as [`HashList::parse`] reads it.
pub fn format_entry(sn: u64, bytes: &[u8], uri: Option<&str>) -> String {
    let mut line = format!("{sn} {} {}", bytes.len(), to_hex(&sha256(bytes)));
    if let Some(uri) = uri {
        line.push(' ');
        line.push_str(without_query(uri));
    }
    line
}

/// Where a media playlist's sidecar is: `named` (the `#EXT-X-HLSMESH-HASHES:URI="…"`
/// tag's URI, resolved by the playlist's reader) when the playlist names one, else
/// `playlist_url`'s path + `.hashes` (query kept).
pub fn sidecar_url(playlist_url: &str, named: Option<&str>) -> String {
    if let Some(url) = named {
        return url.to_string();
    }
    let path_end = crate::url::query_start(playlist_url);
    let query = &playlist_url[path_end..];
    let query = &query[..crate::url::position(query, b'#')];
    crate::text::cat(&[&playlist_url[..path_end], ".hashes", query])
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_hex_digest(s: &str) -> Option<Digest> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(out)
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Lower-case hex of a digest.
pub fn to_hex(d: &Digest) -> String {
    crate::text::hex(d)
}

/// SHA-256 of `data` in one call.
pub fn sha256(data: &[u8]) -> Digest {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// SHA-256 (FIPS 180-4), fed incrementally: a chunk at a time as a segment arrives.
/// Hand-written to keep the wasm small (a few hundred bytes of code, no dependency); the
/// blocks and the padding go through the engine SHA-1 uses too.
#[derive(Clone, Debug)]
pub struct Sha256 {
    blocks: crate::sha1::Blocks,
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::new()
    }
}

impl Sha256 {
    /// A fresh hash.
    pub fn new() -> Sha256 {
        Sha256 {
            blocks: crate::sha1::Blocks::new(
                [
                    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c,
                    0x1f83d9ab, 0x5be0cd19,
                ],
                compress,
            ),
        }
    }

    /// Feeds more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.blocks.update(data);
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let mut out = [0u8; 32];
        crate::sha1::write_be(&self.blocks.finish(), &mut out);
        out
    }
}

/// SHA-256's compression of one 64-byte block into `state`.
fn compress(state: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    crate::sha1::read_be(block, &mut w);
    for i in 16..64 {
        let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
        let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16]
            .wrapping_add(s0)
            .wrapping_add(w[i - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *state;
    for i in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = h
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[i])
            .wrapping_add(w[i]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        h = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    // By index: a zip with an array's by-value iterator costs more wasm.
    for (i, v) in [a, b, c, d, e, f, g, h].iter().enumerate() {
        state[i] = state[i].wrapping_add(*v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Digest {
        parse_hex_digest(s).unwrap()
    }

    // FIPS 180-4 / NIST CAVP examples.
    #[test]
    fn nist_vectors() {
        assert_eq!(
            sha256(b""),
            hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert_eq!(
            sha256(b"abc"),
            hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            sha256(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        );
        assert_eq!(
            sha256(b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            hex("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        );
        assert_eq!(
            sha256(&vec![b'a'; 1_000_000]),
            hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        );
    }

    proptest! {
        #[test]
        fn incremental_equals_one_shot(data in prop::collection::vec(any::<u8>(), 0..600), cuts in prop::collection::vec(0usize..600, 0..6)) {
            let mut h = Sha256::new();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut at = 0;
            for c in cuts {
                h.update(&data[at..c]);
                at = c;
            }
            h.update(&data[at..]);
            prop_assert_eq!(h.finish(), sha256(&data));
        }

        #[test]
        fn every_written_entry_reads_back_and_verifies(
            segs in prop::collection::vec((any::<u64>(), prop::collection::vec(any::<u8>(), 0..300)), 0..20)
        ) {
            // Entries go in increasing order, each number once.
            let segs: std::collections::BTreeMap<u64, Vec<u8>> = segs.into_iter().collect();
            let mut text = format!("{HEADER}\n");
            for (sn, data) in &segs {
                text += &format_entry(*sn, data, Some(&format!("seg{sn}.ts?token=1")));
                text.push('\n');
            }
            let list = HashList::parse(&text).unwrap();
            prop_assert_eq!(list.len(), segs.len());
            for (sn, data) in &segs {
                prop_assert_eq!(list.verify(Key::Sn(*sn), data), Verdict::Ok);
                let url = format!("https://cdn.test/live/seg{sn}.ts?token=2");
                prop_assert_eq!(list.verify(Key::Url(&url), data), Verdict::Ok);
                let mut tampered = data.clone();
                match tampered.first_mut() {
                    Some(b) => *b ^= 1,
                    None => tampered.push(0),
                }
                prop_assert_eq!(list.verify(Key::Sn(*sn), &tampered), Verdict::Mismatch);
            }
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in ".{0,400}") {
            let _ = HashList::parse(&text);
            let _ = HashList::parse(&format!("{HEADER}\n{text}"));
        }
    }

    const D: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn verdicts() {
        let list = HashList::parse(&format!("{HEADER}\n# abc\n\n7 3 {D} seg7.ts\n")).unwrap();
        assert_eq!(list.verify(Key::Sn(7), b"abc"), Verdict::Ok);
        assert_eq!(list.verify(Key::Sn(7), b"abd"), Verdict::Mismatch);
        assert_eq!(list.verify(Key::Sn(7), b"abcd"), Verdict::Mismatch);
        assert_eq!(list.verify(Key::Sn(8), b"abc"), Verdict::Unknown);
        assert_eq!(
            list.verify(Key::Url("http://x.test/live/seg7.ts?tok=9"), b"abc"),
            Verdict::Ok
        );
        assert_eq!(list.verify(Key::Url("seg7.ts"), b"abc"), Verdict::Ok);
        assert_eq!(
            list.verify(Key::Url("http://x.test/live/xseg7.ts"), b"abc"),
            Verdict::Unknown
        );
        assert_eq!(
            list.verify_digest(Key::Sn(7), 3, &sha256(b"abc")),
            Verdict::Ok
        );
    }

    #[test]
    fn byte_ranges_of_one_file_are_found_by_sequence_not_by_url() {
        let list = HashList::parse(&format!("{HEADER}\n1 3 {D} all.ts\n2 3 {D} all.ts\n")).unwrap();
        assert_eq!(list.verify(Key::Sn(2), b"abc"), Verdict::Ok);
        assert_eq!(list.verify(Key::Url("all.ts"), b"abc"), Verdict::Unknown);
    }

    #[test]
    fn refuses_bad_lists_with_reasons() {
        use IntegrityError::*;
        assert_eq!(HashList::parse("").unwrap_err(), MissingHeader);
        assert_eq!(HashList::parse("1 2 x").unwrap_err(), MissingHeader);
        assert_eq!(
            HashList::parse("#HLSMESH-HASHES:2\n").unwrap_err(),
            UnsupportedVersion("2".into())
        );
        let bad = |body: &str| HashList::parse(&format!("{HEADER}\n{body}")).unwrap_err();
        assert_eq!(
            bad("x 3 abc"),
            BadLine {
                line: 2,
                reason: "media sequence is not a number"
            }
        );
        assert_eq!(
            bad("1 -3 abc"),
            BadLine {
                line: 2,
                reason: "size is not a number"
            }
        );
        assert_eq!(
            bad(&format!("1 3 {}", &D[1..])),
            BadLine {
                line: 2,
                reason: "digest is not 64 hex digits"
            }
        );
        assert_eq!(
            bad(&format!("1 3 {D} a.ts extra")),
            BadLine {
                line: 2,
                reason: "unexpected field after the URI"
            }
        );
        let order = BadLine {
            line: 3,
            reason: "media sequence not above the previous entry's",
        };
        assert_eq!(bad(&format!("1 3 {D}\n1 3 {D}")), order);
        assert_eq!(bad(&format!("2 3 {D}\n1 3 {D}")), order);
        assert_eq!(
            bad(&"#".repeat(MAX_LINE + 1)),
            BadLine {
                line: 2,
                reason: "line too long"
            }
        );
        assert_eq!(
            bad("99999999999999999999999 3 x"),
            BadLine {
                line: 2,
                reason: "media sequence is not a number"
            }
        );
        let huge = format!("{HEADER}\n{}", " ".repeat(MAX_SIDECAR_BYTES));
        assert!(matches!(HashList::parse(&huge), Err(TooLarge(_))));
        let many: String = (0..=MAX_ENTRIES).map(|i| format!("{i} 0 {D}\n")).collect();
        assert_eq!(
            HashList::parse(&format!("{HEADER}\n{many}")).unwrap_err(),
            TooManyEntries
        );
    }

    #[test]
    fn many_entries_are_found_by_binary_search() {
        let many: String = (0..MAX_ENTRIES as u64)
            .map(|i| format!("{} 3 {D}\n", i * 3))
            .collect();
        let list = HashList::parse(&format!("{HEADER}\n{many}")).unwrap();
        assert_eq!(list.len(), MAX_ENTRIES);
        assert!(list.entries().windows(2).all(|w| w[0].sn < w[1].sn));
        for sn in [0, 3, 777 * 3, (MAX_ENTRIES as u64 - 1) * 3] {
            assert_eq!(list.verify(Key::Sn(sn), b"abc"), Verdict::Ok);
            assert_eq!(list.verify(Key::Sn(sn + 1), b"abc"), Verdict::Unknown);
        }
    }

    #[test]
    fn accepts_crlf_bom_and_tabs() {
        let text = format!("\u{feff}{HEADER}\r\n7\t3\t{D}\tseg7.ts\r\n");
        let list = HashList::parse(&text).unwrap();
        assert_eq!(list.verify(Key::Url("seg7.ts"), b"abc"), Verdict::Ok);
    }

    #[test]
    fn finds_the_sidecar() {
        let named = |text: &str| match crate::playlist::read(
            "https://cdn.test/live/v0/index.m3u8?token=abc",
            text.as_bytes(),
        ) {
            Ok(crate::playlist::Playlist::Media(m)) => m.hashes,
            other => panic!("not a media playlist: {other:?}"),
        };
        assert_eq!(
            sidecar_url(
                "https://cdn.test/live/v0/index.m3u8?token=abc",
                named("#EXTM3U\n").as_deref()
            ),
            "https://cdn.test/live/v0/index.m3u8.hashes?token=abc"
        );
        let tagged = "#EXTM3U\n#EXT-X-HLSMESH-HASHES:URI=\"../hashes/v0.txt?k=1\"\n";
        assert_eq!(
            named(tagged).as_deref(),
            Some("https://cdn.test/live/hashes/v0.txt?k=1")
        );
        assert_eq!(
            sidecar_url("https://cdn.test/x.m3u8", named(tagged).as_deref()),
            "https://cdn.test/live/hashes/v0.txt?k=1"
        );
        // Another attribute named like it, or a malformed tag: the default location.
        assert_eq!(named("#EXTM3U\n#EXT-X-HLSMESH-HASHES:X-URI=\"no\"\n"), None);
        assert_eq!(named("#EXTM3U\n#EXT-X-HLSMESH-HASHES:URI=\"a,\n"), None);
        assert_eq!(
            sidecar_url("https://cdn.test/i.m3u8#x", None),
            "https://cdn.test/i.m3u8.hashes"
        );
    }

    /// The cases the shim's reader (js/src/hashlist.ts) must also read alike
    /// (tests/unit/hashlist.test.mjs runs them there).
    #[test]
    fn the_shared_fixtures_read_as_the_shim_reads_them() {
        use serde_json::json;
        let fixtures = include_str!("../../../tests/fixtures/hashlists.json");
        crate::fixtures::check_cases(fixtures, 12, |case| {
            match read_sidecar(case["text"].as_str().unwrap().as_bytes()) {
                Err(e) => json!({ "error": e }),
                Ok(list) => json!({ "expect": list.entries().iter().map(|e| json!({
                    "sn": e.sn, "size": e.size, "digest": to_hex(&e.digest), "uri": e.uri,
                })).collect::<Vec<_>>() }),
            }
        });
        assert_eq!(
            read_sidecar(b"#HLSMESH-HASHES:1\n\xff\n").unwrap_err(),
            "hash list is not UTF-8"
        );
    }

    #[test]
    fn entries_read_elsewhere_are_checked() {
        let e = |sn| Expected {
            sn,
            size: 1,
            digest: [0; 32],
            uri: None,
        };
        assert_eq!(HashList::from_entries(vec![e(1), e(3)]).unwrap().len(), 2);
        assert_eq!(
            HashList::from_entries(vec![e(3), e(3)]).unwrap_err(),
            IntegrityError::Unordered
        );
        assert_eq!(
            HashList::from_entries(vec![e(3), e(1)]).unwrap_err(),
            IntegrityError::Unordered
        );
        let many: Vec<Expected> = (0..=MAX_ENTRIES as u64).map(e).collect();
        assert_eq!(
            HashList::from_entries(many).unwrap_err(),
            IntegrityError::TooManyEntries
        );
        assert_eq!(
            IntegrityError::TooManyEntries.describe(),
            "hash list has more than 50000 entries"
        );
    }
}
