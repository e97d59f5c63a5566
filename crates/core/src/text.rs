//! Numbers and bytes written as text without `core::fmt`: one `format!` or
//! `to_string()` on a number reachable from the wasm brings the formatting machinery
//! in with it.

/// The digit `d` (below 16) as text, lower case: pushed with `push_str`, as
/// `String::push(char)` brings UTF-8 encoding into the wasm.
fn digit(d: u8) -> &'static str {
    const DIGITS: &str = "0123456789abcdef";
    let d = usize::from(d);
    &DIGITS[d..d + 1]
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push_str(digit(b >> 4));
        s.push_str(digit(b & 15));
    }
    s
}

/// `n` in decimal.
pub fn decimal(n: u64) -> String {
    let mut out = String::new();
    push_decimal(&mut out, n);
    out
}

/// Appends `n` in decimal.
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push_str(digit(d));
    }
}

/// `parts` end to end: `[a, b].concat()` without the generic joiner it instantiates.
pub fn cat(parts: &[&str]) -> String {
    // Plain loops (a map/sum chain costs more wasm).
    let mut len = 0;
    for p in parts {
        len += p.len();
    }
    let mut s = String::with_capacity(len);
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `a`, `n` in decimal, then `b`: `number_in("HTTP status ", 404, "")`.
pub fn number_in(a: &str, n: u64, b: &str) -> String {
    let mut s = String::from(a);
    push_decimal(&mut s, n);
    s.push_str(b);
    s
}

/// Where `needle` first occurs in `haystack`: `str::find` with a `&str` pattern, without
/// the two-way searcher it brings into the wasm (our needles are a few bytes long).
pub fn find(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    // By index (a windows/position chain costs more wasm).
    for i in 0..h.len().saturating_sub(n.len() - 1) {
        if &h[i..i + n.len()] == n {
            return Some(i);
        }
    }
    None
}

/// `Display` and `Error` for an error type with a `describe(&self) -> String`: the text
/// has one source, and the wasm, which calls `describe`, never links the formatter.
macro_rules! display_by_describe {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.describe())
            }
        }
        impl std::error::Error for $t {}
    };
}
pub(crate) use display_by_describe;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_what_format_writes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let want: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&bytes), want);
    }

    #[test]
    fn find_is_str_find() {
        for (h, n) in [
            ("", ""),
            ("a", ""),
            ("", "a"),
            ("http://x", "://"),
            ("a://b://", "://"),
            ("URI=\"x\"", "URI"),
            ("ab", "abc"),
            ("ééb", "b"),
        ] {
            assert_eq!(find(h, n), h.find(n), "{h:?} {n:?}");
        }
    }

    #[test]
    fn numbers_are_what_format_writes() {
        for n in [0, 7, 10, 404, 65_535, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
            assert_eq!(number_in("a ", n, " b"), format!("a {n} b"));
        }
    }
}
