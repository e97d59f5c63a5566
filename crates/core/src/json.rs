//! The little JSON the agent speaks: tracker messages, and what crosses the page
//! boundary (options in; events, stats and peers out).
//!
//! A strict RFC 8259 reader into a borrowed tree and a writer for flat objects, written
//! for code size: no float parsing or formatting (numbers are kept as their text and read
//! as integers where the agent needs them), no maps, bounded nesting. Inputs come from
//! trackers and pages we do not control, so every malformed text is an error, never a
//! panic.

pub use crate::text::{decimal, push_decimal};
use std::borrow::Cow;

/// Deepest nesting of arrays and objects accepted; tracker messages nest three deep.
pub const MAX_DEPTH: usize = 32;

/// A parsed JSON value, borrowing from the text where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as its (validated) text.
    Number(&'a str),
    /// A string, unescaped.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object's members in text order (duplicates kept; [`Value::get`] finds the first).
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// Why a text is not JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// Ran out of text inside a value.
    Eof,
    /// A character that cannot start or continue what was being read, at this byte.
    Unexpected(usize),
    /// A string escape that is not JSON (bad `\x`, bad hex, lone surrogate), at this byte.
    BadEscape(usize),
    /// Nesting deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Text after the value, at this byte.
    Trailing(usize),
}

impl JsonError {
    /// What is wrong, in words (what `Display` writes, built without `core::fmt`).
    pub fn describe(&self) -> String {
        let (what, at) = match *self {
            JsonError::Eof => return "unexpected end of JSON".into(),
            JsonError::TooDeep => return "JSON nested too deep".into(),
            JsonError::Unexpected(at) => ("unexpected character", at),
            JsonError::BadEscape(at) => ("invalid string escape", at),
            JsonError::Trailing(at) => ("trailing characters", at),
        };
        crate::text::number_in(&[what, " at byte "].concat(), at as u64, "")
    }
}

crate::text::display_by_describe!(JsonError);

impl<'a> Value<'a> {
    /// The first member named `key`, if this is an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a non-negative integer written without fraction or
    /// exponent that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(text) => text.bytes().try_fold(0u64, |n, b| {
                b.is_ascii_digit()
                    .then_some(())
                    .and_then(|()| n.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            }),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Appends the value as JSON text (numbers as they were written).
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(text) => out.push_str(text),
            Value::String(s) => push_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    push_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Parses one JSON text (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Value<'_>, JsonError> {
    let mut r = Reader { text, at: 0 };
    let v = r.value(0)?;
    r.skip_ws();
    if r.at < text.len() {
        return Err(JsonError::Trailing(r.at));
    }
    Ok(v)
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(_) => Err(JsonError::Unexpected(self.at)),
            None => Err(JsonError::Eof),
        }
    }

    fn literal(&mut self, word: &str, v: Value<'a>) -> Result<Value<'a>, JsonError> {
        let rest = &self.text.as_bytes()[self.at..];
        if rest.starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(v)
        } else if word.as_bytes().starts_with(rest) {
            Err(JsonError::Eof)
        } else {
            Err(JsonError::Unexpected(self.at))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        self.skip_ws();
        match self.peek().ok_or(JsonError::Eof)? {
            b'{' => self.object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(Value::String),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(JsonError::Unexpected(self.at)),
        }
    }

    fn digits(&mut self) -> Result<usize, JsonError> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        match self.at - start {
            0 if self.peek().is_none() => Err(JsonError::Eof),
            0 => Err(JsonError::Unexpected(self.at)),
            n => Ok(n),
        }
    }

    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let int_start = self.at;
        if self.digits()? > 1 && self.text.as_bytes()[int_start] == b'0' {
            return Err(JsonError::Unexpected(int_start + 1));
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.digits()?;
        }
        Ok(Value::Number(&self.text[start..self.at]))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let at = self.at;
        if at + 4 > self.text.len() {
            return Err(JsonError::Eof);
        }
        let digits = self.text.get(at..at + 4).ok_or(JsonError::BadEscape(at))?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(JsonError::BadEscape(at));
        }
        self.at += 4;
        u32::from_str_radix(digits, 16).map_err(|_| JsonError::BadEscape(at))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        self.at += 1; // the opening quote
        let start = self.at;
        let bytes = self.text.as_bytes();
        // Fast path: no escapes, borrow.
        loop {
            match bytes.get(self.at) {
                None => return Err(JsonError::Eof),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Borrowed(&self.text[start..self.at - 1]));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(JsonError::Unexpected(self.at)),
                Some(_) => self.at += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.at]);
        loop {
            let run = self.at;
            while let Some(&b) = bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match bytes.get(self.at) {
                None => return Err(JsonError::Eof),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    let esc_at = self.at;
                    self.at += 1;
                    let c = match bytes.get(self.at).ok_or(JsonError::Eof)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            self.at += 1;
                            let hi = self.hex4()?;
                            self.at -= 1; // the common `self.at += 1` below
                            let code = match hi {
                                0xD800..=0xDBFF => {
                                    if self.text.get(self.at + 1..self.at + 3) != Some("\\u") {
                                        return Err(JsonError::BadEscape(esc_at));
                                    }
                                    self.at += 3;
                                    let lo = self.hex4()?;
                                    self.at -= 1;
                                    if !(0xDC00..=0xDFFF).contains(&lo) {
                                        return Err(JsonError::BadEscape(esc_at));
                                    }
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                }
                                0xDC00..=0xDFFF => return Err(JsonError::BadEscape(esc_at)),
                                c => c,
                            };
                            char::from_u32(code).ok_or(JsonError::BadEscape(esc_at))?
                        }
                        _ => return Err(JsonError::BadEscape(esc_at)),
                    };
                    self.at += 1;
                    out.push(c);
                }
                Some(_) => return Err(JsonError::Unexpected(self.at)),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.at += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek().ok_or(JsonError::Eof)? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(JsonError::Unexpected(self.at)),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        if depth > MAX_DEPTH {
            return Err(JsonError::TooDeep);
        }
        self.at += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek().ok_or(JsonError::Eof)? != b'"' {
                return Err(JsonError::Unexpected(self.at));
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value(depth)?;
            members.push((key, value));
            self.skip_ws();
            match self.peek().ok_or(JsonError::Eof)? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                _ => return Err(JsonError::Unexpected(self.at)),
            }
        }
    }
}

/// Appends `s` as a quoted JSON string.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        run = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&s[run..]);
    out.push('"');
}

/// Writes one JSON object member by member. Keys are the caller's ASCII literals.
pub struct ObjectWriter<'o> {
    out: &'o mut String,
    empty: bool,
}

impl<'o> ObjectWriter<'o> {
    /// Opens an object at the end of `out`.
    pub fn new(out: &'o mut String) -> ObjectWriter<'o> {
        out.push('{');
        ObjectWriter { out, empty: true }
    }

    /// Starts a member; what follows must write exactly one value.
    pub fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out
    }

    /// A string member.
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        push_string(self.key(key), value);
        self
    }

    /// An integer member.
    pub fn uint(&mut self, key: &str, value: u64) -> &mut Self {
        push_decimal(self.key(key), value);
        self
    }

    /// A boolean member.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// Closes the object.
    pub fn finish(self) {
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests;
