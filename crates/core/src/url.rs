//! URL resolution for playlist entries (RFC 3986 section 5.2, for the hierarchical
//! `http(s)` URLs that HLS uses). Kept small on purpose: the `url` crate would add
//! more to the wasm than the whole scheduler.

use crate::text::find;

/// Resolves `reference` (as written in a playlist) against `base` (the playlist's URL).
pub fn resolve(base: &str, reference: &str) -> String {
    let reference = reference.trim();
    if has_scheme(reference) {
        return reference.to_string();
    }
    // Byte loops and `concat` below rather than `str::find(&str)` and `format!`: a live
    // refresh resolves its new segment's URI, for every viewer (the simulator's hot path),
    // and neither the two-way searcher nor the formatter is in the wasm.
    let (scheme, rest) = match find(base, "://") {
        Some(i) => (&base[..i], &base[i + 3..]),
        None => return reference.to_string(),
    };
    let authority_end = first_of(rest, b"/?#");
    let authority = &rest[..authority_end];
    let base_path_and_more = &rest[authority_end..];
    let base_path = &base_path_and_more[..query_start(base_path_and_more)];
    let base_query = base_path_and_more[base_path.len()..]
        .split('#')
        .next()
        .unwrap_or("");

    if let Some(net) = reference.strip_prefix("//") {
        return crate::text::cat(&[scheme, "://", net]);
    }
    let (ref_path, ref_tail) = split_path(reference);
    let path = if ref_path.is_empty() {
        if ref_tail.starts_with('?') {
            return crate::text::cat(&[scheme, "://", authority, base_path, ref_tail]);
        }
        return crate::text::cat(&[scheme, "://", authority, base_path, base_query, ref_tail]);
    } else if ref_path.starts_with('/') {
        remove_dot_segments(ref_path.to_string())
    } else {
        let dir = match base_path.rfind('/') {
            Some(i) => &base_path[..=i],
            None => "/",
        };
        remove_dot_segments(crate::text::cat(&[dir, ref_path]))
    };
    crate::text::cat(&[scheme, "://", authority, &path, ref_tail])
}

/// The URL without its query and fragment: a stable name for a stream whose URLs carry
/// per-viewer tokens.
pub fn without_query(url: &str) -> &str {
    &url[..query_start(url)]
}

/// Where the query or fragment begins (the length if neither): a byte loop, as a
/// `find(['?', '#'])` decodes and compares every character (this runs at every playlist
/// refresh).
pub(crate) fn query_start(s: &str) -> usize {
    first_of(s, b"?#")
}

/// Where the ASCII byte `b` first occurs in `s` (the length if nowhere): `str::find` with a
/// `char` brings a searcher and `memchr` into the wasm.
pub(crate) fn position(s: &str, b: u8) -> usize {
    first_of(s, &[b])
}

/// Where any of the ASCII bytes in `set` first occurs in `s` (the length if nowhere): one
/// plain loop for every byte search (each `position` closure is a `try_fold` of its own in
/// the wasm).
pub fn first_of(s: &str, set: &[u8]) -> usize {
    let s = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        for &b in set {
            if s[i] == b {
                return i;
            }
        }
        i += 1;
    }
    s.len()
}

/// The path of a URL (without scheme and authority); a relative reference is its own
/// path. Query and fragment are kept.
pub fn path_of(url: &str) -> &str {
    match find(url, "://") {
        Some(i) => {
            let rest = &url[i + 3..];
            &rest[position(rest, b'/')..]
        }
        None => url,
    }
}

fn has_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i > 0 => {
            let scheme = &s[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
                && !s[..i].contains('/')
        }
        _ => false,
    }
}

fn split_path(s: &str) -> (&str, &str) {
    s.split_at(query_start(s))
}

fn remove_dot_segments(path: String) -> String {
    // Most paths have no dot segment: they come back as they are.
    let dot = |s: &[u8]| s == b"." || s == b"..";
    if path.starts_with('/') && !path.as_bytes().split(|&b| b == b'/').any(dot) {
        return path;
    }
    walk_dot_segments(&path)
}

/// RFC 3986's remove_dot_segments, segment by segment, always (with a leading `/`).
fn walk_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        crate::text::cat(&["/", &joined])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_browser() {
        let base = "http://a.test:8080/live/v1/index.m3u8?tok=1";
        assert_eq!(
            resolve(base, "seg_1.ts"),
            "http://a.test:8080/live/v1/seg_1.ts"
        );
        assert_eq!(
            resolve(base, "../v2/index.m3u8"),
            "http://a.test:8080/live/v2/index.m3u8"
        );
        assert_eq!(
            resolve(base, "/x/y.ts?a=b"),
            "http://a.test:8080/x/y.ts?a=b"
        );
        assert_eq!(resolve(base, "//cdn.test/s.ts"), "http://cdn.test/s.ts");
        assert_eq!(
            resolve(base, "https://other.test/a.ts"),
            "https://other.test/a.ts"
        );
        assert_eq!(
            resolve(base, "?tok=2"),
            "http://a.test:8080/live/v1/index.m3u8?tok=2"
        );
        assert_eq!(
            resolve(base, "./a/./b/../c.ts"),
            "http://a.test:8080/live/v1/a/c.ts"
        );
        assert_eq!(resolve("http://a.test", "s.ts"), "http://a.test/s.ts");
        assert_eq!(resolve(base, "../../../../s.ts"), "http://a.test:8080/s.ts");
    }

    /// The shortcut for paths without dot segments gives what the full walk gives.
    #[test]
    fn paths_without_dot_segments_come_back_unchanged() {
        let parts = ["", ".", "..", "a", "b.ts", ".x", "..y"];
        for n in 0..5u32 {
            for code in 0..parts.len().pow(n) {
                let mut c = code;
                let mut segs = Vec::new();
                for _ in 0..n {
                    segs.push(parts[c % parts.len()]);
                    c /= parts.len();
                }
                for lead in ["", "/"] {
                    let path = format!("{lead}{}", segs.join("/"));
                    assert_eq!(
                        remove_dot_segments(path.clone()),
                        walk_dot_segments(&path),
                        "{path:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn paths_drop_scheme_and_authority() {
        assert_eq!(path_of("http://a.test:8/x/y.ts?t=1"), "/x/y.ts?t=1");
        assert_eq!(path_of("http://a.test"), "");
        assert_eq!(path_of("seg1.ts"), "seg1.ts");
    }

    #[test]
    fn strips_tokens() {
        assert_eq!(without_query("http://a/b.m3u8?t=1#x"), "http://a/b.m3u8");
        assert_eq!(without_query("http://a/b.m3u8"), "http://a/b.m3u8");
    }
}
