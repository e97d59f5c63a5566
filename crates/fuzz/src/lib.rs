//! Shared pieces of the fuzz targets: a byte reader that never fails (an exhausted input
//! reads as zeros), a builder of mostly-valid m3u8 text, and the whole-agent harness.
//!
//! Inputs are read with a small hand-made format (one choice byte, then arguments) rather
//! than `arbitrary`, so that the committed seeds can be written by `make-corpus.py` and
//! stay meaningful across changes to the harness.
#![forbid(unsafe_code)]

pub mod agent;
pub mod known_bugs;
pub mod m3u8;

use hlsmesh_core::playlist::{self, Playlists, PlaylistUpdate};

/// Reads playlist text loaded from `url` with the reference reader and takes it into
/// `model`, as the simulator does; `None` when either refuses it.
pub fn take_text(model: &mut Playlists, url: &str, text: &[u8]) -> Option<PlaylistUpdate> {
    let read = playlist::read(url, text).ok()?;
    model.update(url, read).ok()
}

/// Reads choices from the fuzz input; past the end every read yields zero.
pub struct Src<'a> {
    data: &'a [u8],
}

impl<'a> Src<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Src<'a> {
        Src { data }
    }

    /// Whether the input is used up.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len()
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// Big-endian u16.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    /// Big-endian u32.
    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Big-endian u64.
    pub fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }

    /// A number below `n` (`n` > 0), from one byte.
    pub fn below(&mut self, n: u8) -> u8 {
        self.u8() % n
    }

    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    /// A byte string whose length comes from the next byte (0..=255).
    pub fn short_bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.u8());
        self.take(n)
    }

    /// A string whose length comes from the next byte, lossily decoded.
    pub fn short_str(&mut self) -> String {
        String::from_utf8_lossy(self.short_bytes()).into_owned()
    }

    /// A number that is usually small but sometimes sits at an edge of the type.
    pub fn interesting_u64(&mut self) -> u64 {
        match self.below(8) {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX - u64::from(self.u8()),
            3 => u64::from(u32::MAX) + u64::from(self.u8()),
            4 => self.u64(),
            _ => u64::from(self.u16()),
        }
    }
}
