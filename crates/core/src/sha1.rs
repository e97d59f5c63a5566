//! SHA-1 (FIPS 180-4) of a short text in one call: a swarm name becomes the
//! WebTorrent info hash with it, once per session. A loop rather than the unrolled
//! rounds of the hashing crates: a few hundred bytes of wasm instead of several KB.
//! SHA-256 ([`crate::integrity::Sha256`]) runs on the same block engine, [`Blocks`].

/// The part SHA-1 and SHA-256 share (FIPS 180-4's Merkle–Damgård frame): bytes
/// gathered into 64-byte blocks for the hash's compression function, and the padding
/// (`0x80`, zeros, the length in bits big-endian) fed through the same path at the end.
/// One copy in the wasm for both hashes: the compression function is a pointer.
#[derive(Clone, Debug)]
pub(crate) struct Blocks {
    /// The chaining state (SHA-1 uses the first five words).
    state: [u32; 8],
    block: [u8; 64],
    filled: usize,
    length: u64,
    compress: fn(&mut [u32; 8], &[u8]),
}

impl Blocks {
    /// A fresh hash with initial state `state`, compressing with `compress`.
    pub(crate) fn new(state: [u32; 8], compress: fn(&mut [u32; 8], &[u8])) -> Blocks {
        Blocks {
            state,
            block: [0; 64],
            filled: 0,
            length: 0,
            compress,
        }
    }

    /// Feeds more bytes.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        self.length = self.length.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let take = (64 - self.filled).min(data.len());
            self.block[self.filled..self.filled + take].copy_from_slice(&data[..take]);
            self.filled += take;
            data = &data[take..];
            if self.filled == 64 {
                let block = self.block;
                (self.compress)(&mut self.state, &block);
                self.filled = 0;
            }
        }
    }

    /// Pads what was fed and returns the final state.
    pub(crate) fn finish(mut self) -> [u32; 8] {
        let bits = self.length.wrapping_mul(8);
        self.update(&[0x80]);
        while self.filled != 56 {
            self.update(&[0]);
        }
        self.update(&bits.to_be_bytes());
        self.state
    }
}

/// The SHA-1 digest of `data` (the tests' entry; the swarm hashes its name in parts).
#[cfg(test)]
pub fn sha1(data: &[u8]) -> [u8; 20] {
    sha1_of(&[data])
}

/// The SHA-1 digest of `parts` end to end (no joined copy of them).
pub(crate) fn sha1_of(parts: &[&[u8]]) -> [u8; 20] {
    let mut h = Blocks::new(
        [
            0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0, 0, 0, 0,
        ],
        compress,
    );
    for part in parts {
        h.update(part);
    }
    let mut out = [0u8; 20];
    write_be(&h.finish(), &mut out);
    out
}

/// SHA-1's compression of one 64-byte block into `h`.
fn compress(h: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 80];
    read_be(block, &mut w);
    for i in 16..80 {
        w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
    }
    let [mut a, mut b, mut c, mut d, mut e, ..] = *h;
    for (i, wi) in w.iter().enumerate() {
        let (f, k) = match i / 20 {
            0 => ((b & c) | (!b & d), 0x5a827999),
            1 => (b ^ c ^ d, 0x6ed9eba1),
            2 => ((b & c) | (b & d) | (c & d), 0x8f1bbcdc),
            _ => (b ^ c ^ d, 0xca62c1d6),
        };
        let t = a
            .rotate_left(5)
            .wrapping_add(f)
            .wrapping_add(e)
            .wrapping_add(k)
            .wrapping_add(*wi);
        e = d;
        d = c;
        c = b.rotate_left(30);
        b = a;
        a = t;
    }
    // By index: a zip with an array's by-value iterator costs more wasm.
    for (i, v) in [a, b, c, d, e].iter().enumerate() {
        h[i] = h[i].wrapping_add(*v);
    }
}

/// Reads big-endian words from `bytes` into `words`, as many as both hold (one
/// function for both hashes' blocks).
pub(crate) fn read_be(bytes: &[u8], words: &mut [u32]) {
    // By index: a zip of chunks costs more wasm.
    for i in 0..words.len().min(bytes.len() / 4) {
        let c = &bytes[4 * i..4 * i + 4];
        words[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
    }
}

/// Writes `words` big-endian into `bytes`, as many as both hold (both hashes' digests).
pub(crate) fn write_be(words: &[u32], bytes: &mut [u8]) {
    // By index: a zip of chunks costs more wasm.
    for i in 0..words.len().min(bytes.len() / 4) {
        bytes[4 * i..4 * i + 4].copy_from_slice(&words[i].to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::hex;
    use proptest::prelude::*;

    #[test]
    fn the_standard_vectors() {
        for (input, want) in [
            (&b""[..], "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
            (b"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
            ),
        ] {
            assert_eq!(hex(&sha1(input)), want);
        }
        assert_eq!(
            hex(&sha1(&vec![b'a'; 1_000_000])),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }

    proptest! {
        // Every length around the block and padding boundaries, against sha1_smol.
        #[test]
        fn agrees_with_sha1_smol(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(sha1(&data), sha1_smol::Sha1::from(&data).digest().bytes());
        }
    }
}
