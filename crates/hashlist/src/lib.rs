//! Writes the integrity sidecar of a media playlist: for each segment it lists, the media
//! sequence number, size, SHA-256 and URI, in the format
//! [`hlsmesh_core::integrity`] reads (documented there and in docs/SECURITY.md).
//!
//! ```text
//! cargo run -p hlsmesh-hashlist -- path/to/index.m3u8 > path/to/index.m3u8.hashes
//! ```
//!
//! Segments are read from disk, relative to the playlist's folder; URIs with a scheme or
//! a leading `/` cannot be mapped to a file and are refused. For `#EXT-X-BYTERANGE`
//! segments the digest covers the range.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use hlsmesh_core::integrity::{format_entry, HEADER};
use hlsmesh_core::url::without_query;

/// Why no sidecar could be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    Io(PathBuf, std::io::Error),
    /// The playlist is not a media playlist m3u8-rs can read.
    Playlist(String),
    /// A segment URI that names no local file.
    NotLocal(String),
    /// A byte range beyond the file, or sequence numbers past `u64::MAX`.
    Range(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Error::Playlist(why) => write!(f, "not a media playlist: {why}"),
            Error::NotLocal(uri) => write!(
                f,
                "segment URI {uri:?} is not relative to the playlist; run on a local copy"
            ),
            Error::Range(why) => write!(f, "{why}"),
        }
    }
}

impl std::error::Error for Error {}

/// The sidecar text for the media playlist at `playlist`.
pub fn hash_list(playlist: &Path) -> Result<String, Error> {
    let text = fs::read(playlist).map_err(|e| Error::Io(playlist.to_path_buf(), e))?;
    let media = match m3u8_rs::parse_playlist_res(&text) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(m)) => m,
        Ok(m3u8_rs::Playlist::MasterPlaylist(_)) => {
            return Err(Error::Playlist(
                "a master playlist; give each media playlist".into(),
            ))
        }
        Err(e) => {
            return Err(Error::Playlist(
                format!("{e:?}").chars().take(120).collect(),
            ))
        }
    };
    let dir = playlist.parent().unwrap_or(Path::new("."));
    let name = playlist
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = format!("{HEADER}\n# {name}: media sequence, size, sha256, uri\n");
    let mut next_range_start = 0u64;
    for (i, seg) in media.segments.iter().enumerate() {
        let sn = media
            .media_sequence
            .checked_add(i as u64)
            .ok_or_else(|| Error::Range("media sequence numbers overflow".into()))?;
        let uri = without_query(seg.uri.trim());
        if uri.contains("://") || uri.starts_with('/') || uri.is_empty() {
            return Err(Error::NotLocal(seg.uri.clone()));
        }
        let path = dir.join(uri);
        let bytes = match &seg.byte_range {
            None => fs::read(&path).map_err(|e| Error::Io(path.clone(), e))?,
            Some(r) => {
                let start = r.offset.unwrap_or(next_range_start);
                let end = start
                    .checked_add(r.length)
                    .ok_or_else(|| Error::Range(format!("byte range of {uri} overflows")))?;
                next_range_start = end;
                read_range(&path, start, r.length)?
            }
        };
        let _ = writeln!(out, "{}", format_entry(sn, &bytes, Some(uri)));
    }
    Ok(out)
}

fn read_range(path: &Path, start: u64, len: u64) -> Result<Vec<u8>, Error> {
    let io = |e| Error::Io(path.to_path_buf(), e);
    let mut f = fs::File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut buf = Vec::new();
    f.take(len).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 != len {
        return Err(Error::Range(format!(
            "{}: byte range {start}+{len} runs past the end of the file",
            path.display()
        )));
    }
    Ok(buf)
}
