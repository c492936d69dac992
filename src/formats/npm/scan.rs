//! A streaming scanner for npm publish bodies. A publish is one JSON document whose
//! `_attachments.<file>.data` string holds the whole tarball in base64; everything else is a
//! few kilobytes. The scanner copies the document byte for byte into a small *skeleton*, with
//! that one string emptied (`"data":""`), and decodes the string's base64 into the caller's
//! buffer chunk by chunk, so no copy of the tarball is ever held whole.
//!
//! It tracks only what it must to find that string (string boundaries and escapes, object
//! and array nesting, which string is a key); the skeleton is parsed by `serde_json`
//! afterwards, which rejects anything malformed. Written by hand rather than with a streaming
//! JSON reader because it needs no blocking thread and copies everything but the data
//! verbatim instead of re-serializing it.

use base64::Engine as _;

/// What the scanner refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScanError {
    /// The attachment data is not standard, padded base64 (JSON escapes other than `\/`
    /// cannot occur in base64).
    #[error("attachment data is not base64")]
    NotBase64,
    /// Only one attachment can be streamed; npm sends exactly one.
    #[error("a publish must carry exactly one attachment")]
    SecondAttachment,
    /// The body ended inside the document.
    #[error("request body is not complete JSON")]
    Truncated,
}

/// Which key an object member is under, as far as finding the data string goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Attachments,
    Data,
    Other,
}

#[derive(Debug)]
struct Frame {
    object: bool,
    expect_key: bool,
    key: Key,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tokens.
    Structure,
    /// Inside a key or an ordinary string value.
    Str { key: bool, escape: bool },
    /// Inside the attachment's data string.
    Data { escape: bool },
}

/// The longest key the scanner needs to recognise (`_attachments`).
const KEY_PREFIX: usize = 12;

/// Scans a publish body fed in arbitrary chunks.
pub(crate) struct PublishScanner {
    state: State,
    stack: Vec<Frame>,
    skeleton: Vec<u8>,
    key_buf: Vec<u8>,
    key_len: usize,
    b64: Vec<u8>,
    data_started: bool,
    data_done: bool,
    padded: bool,
}

impl PublishScanner {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Structure,
            stack: Vec::new(),
            skeleton: Vec::new(),
            key_buf: Vec::with_capacity(KEY_PREFIX),
            key_len: 0,
            b64: Vec::new(),
            data_started: false,
            data_done: false,
            padded: false,
        }
    }

    /// Whether the data string has begun (an upload must exist from then on).
    pub(crate) fn data_started(&self) -> bool {
        self.data_started
    }

    /// The skeleton so far.
    pub(crate) fn skeleton_len(&self) -> usize {
        self.skeleton.len()
    }

    /// Scans `chunk`, appending decoded attachment bytes to `out`.
    pub(crate) fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) -> Result<(), ScanError> {
        while !chunk.is_empty() {
            let used = match self.state {
                State::Structure => self.structure(chunk[0]),
                State::Str { key, escape } => self.string(chunk, key, escape),
                State::Data { escape } => self.data(chunk, escape, out)?,
            };
            chunk = &chunk[used..];
        }
        Ok(())
    }

    /// Ends the scan: the skeleton and whether a data string was seen.
    pub(crate) fn finish(self) -> Result<Vec<u8>, ScanError> {
        if self.state != State::Structure || !self.stack.is_empty() {
            return Err(ScanError::Truncated);
        }
        Ok(self.skeleton)
    }

    fn structure(&mut self, b: u8) -> usize {
        self.skeleton.push(b);
        match b {
            b'{' => self.stack.push(Frame { object: true, expect_key: true, key: Key::Other }),
            b'[' => self.stack.push(Frame { object: false, expect_key: false, key: Key::Other }),
            b'}' | b']' => {
                self.stack.pop();
            }
            b',' => {
                if let Some(f) = self.stack.last_mut().filter(|f| f.object) {
                    f.expect_key = true;
                }
            }
            b'"' => {
                let key = self.stack.last().is_some_and(|f| f.object && f.expect_key);
                if key {
                    self.key_buf.clear();
                    self.key_len = 0;
                    self.state = State::Str { key: true, escape: false };
                } else if self.at_data() {
                    self.data_started = true;
                    self.state = State::Data { escape: false };
                } else {
                    self.state = State::Str { key: false, escape: false };
                }
            }
            // Whitespace, ':', numbers and literals: copied; serde_json judges them later.
            _ => {}
        }
        1
    }

    /// Whether a string value starting now is `_attachments.<file>.data`.
    fn at_data(&self) -> bool {
        matches!(
            self.stack.as_slice(),
            [
                Frame { object: true, key: Key::Attachments, .. },
                Frame { object: true, .. },
                Frame { object: true, key: Key::Data, .. }
            ]
        )
    }

    fn string(&mut self, chunk: &[u8], key: bool, escape: bool) -> usize {
        if escape {
            self.skeleton.push(chunk[0]);
            self.note_key_byte(key, chunk[0]);
            self.state = State::Str { key, escape: false };
            return 1;
        }
        let Some(i) = memchr::memchr2(b'"', b'\\', chunk) else {
            self.skeleton.extend_from_slice(chunk);
            self.note_key_bytes(key, chunk);
            return chunk.len();
        };
        self.skeleton.extend_from_slice(&chunk[..=i]);
        self.note_key_bytes(key, &chunk[..i]);
        if chunk[i] == b'\\' {
            // An escaped key never matches: npm writes these keys plainly, and a key that does
            // not match leaves its data inline in the skeleton, where the parser refuses it.
            self.note_key_byte(key, b'\\');
            self.state = State::Str { key, escape: true };
        } else {
            self.state = State::Structure;
            if key {
                self.end_key();
            }
        }
        i + 1
    }

    fn note_key_byte(&mut self, key: bool, c: u8) {
        self.note_key_bytes(key, &[c]);
    }

    /// Keeps the first bytes of a key and its length; value strings need neither.
    fn note_key_bytes(&mut self, key: bool, bytes: &[u8]) {
        if key {
            self.key_len += bytes.len();
            let room = KEY_PREFIX.saturating_sub(self.key_buf.len()).min(bytes.len());
            self.key_buf.extend_from_slice(&bytes[..room]);
        }
    }

    fn end_key(&mut self) {
        let depth = self.stack.len();
        let exact = |k: &[u8]| self.key_len == k.len() && self.key_buf == k;
        let kind = if depth == 1 && exact(b"_attachments") {
            Key::Attachments
        } else if depth == 3 && exact(b"data") {
            Key::Data
        } else {
            Key::Other
        };
        if let Some(f) = self.stack.last_mut() {
            f.key = kind;
            f.expect_key = false;
        }
    }

    fn data(&mut self, chunk: &[u8], escape: bool, out: &mut Vec<u8>) -> Result<usize, ScanError> {
        if self.data_done {
            return Err(ScanError::SecondAttachment);
        }
        if escape {
            // JSON may escape '/', which base64 uses; no other escape can be base64.
            if chunk[0] != b'/' {
                return Err(ScanError::NotBase64);
            }
            self.push_b64(b"/", out)?;
            self.state = State::Data { escape: false };
            return Ok(1);
        }
        let Some(i) = memchr::memchr2(b'"', b'\\', chunk) else {
            self.push_b64(chunk, out)?;
            return Ok(chunk.len());
        };
        self.push_b64(&chunk[..i], out)?;
        if chunk[i] == b'\\' {
            self.state = State::Data { escape: true };
        } else {
            if !self.b64.is_empty() {
                return Err(ScanError::NotBase64);
            }
            self.skeleton.push(b'"');
            self.data_done = true;
            self.state = State::Structure;
        }
        Ok(i + 1)
    }

    /// Decodes whole 4-character groups; keeps the rest for the next call.
    fn push_b64(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), ScanError> {
        if text.is_empty() {
            return Ok(());
        }
        // Padding ends the data: "QQ==QQ==" is not base64 even though each group decodes.
        if self.padded {
            return Err(ScanError::NotBase64);
        }
        self.b64.extend_from_slice(text);
        let whole = self.b64.len() / 4 * 4;
        if whole == 0 {
            return Ok(());
        }
        self.padded = self.b64[whole - 1] == b'=';
        base64::engine::general_purpose::STANDARD
            .decode_vec(&self.b64[..whole], out)
            .map_err(|_| ScanError::NotBase64)?;
        self.b64.drain(..whole);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(body: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), ScanError> {
        let mut s = PublishScanner::new();
        let mut out = Vec::new();
        for c in body.chunks(step) {
            s.feed(c, &mut out)?;
        }
        Ok((s.finish()?, out))
    }

    #[test]
    fn data_is_decoded_and_emptied_at_any_split() {
        use base64::Engine as _;
        let payload: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&payload).replace('/', "\\/");
        let body = format!(
            r#"{{"name":"x","readme":"a \"data\" {{ [ \\\" ","versions":{{"1.0.0":{{"data":"not this"}}}},
               "_attachments" : {{ "x-1.0.0.tgz" : {{"content_type":"application/octet-stream","data" : "{b64}","length":1000}} }},
               "dist-tags":{{"latest":"1.0.0"}}}}"#
        );
        for step in [1, 2, 3, 5, 7, 64, 4096] {
            let (skeleton, out) = scan(body.as_bytes(), step).unwrap();
            assert_eq!(out, payload, "step {step}");
            let v: serde_json::Value = serde_json::from_slice(&skeleton).unwrap();
            assert_eq!(v["_attachments"]["x-1.0.0.tgz"]["data"], "");
            assert_eq!(v["_attachments"]["x-1.0.0.tgz"]["length"], 1000);
            assert_eq!(v["versions"]["1.0.0"]["data"], "not this");
            assert_eq!(v["readme"], "a \"data\" { [ \\\" ");
        }
    }

    #[test]
    fn refusals() {
        let bad = [
            (r#"{"_attachments":{"f":{"data":"QQ=="#, ScanError::Truncated),
            (r#"{"_attachments":{"f":{"data":"QQ"}}}"#, ScanError::NotBase64),
            (r#"{"_attachments":{"f":{"data":"QQ==QUJD"}}}"#, ScanError::NotBase64),
            (r#"{"_attachments":{"f":{"data":"QU\nJD"}}}"#, ScanError::NotBase64),
            (r#"{"_attachments":{"f":{"data":"QU\u0041D"}}}"#, ScanError::NotBase64),
            (r#"{"_attachments":{"f":{"data":"QUJD"},"g":{"data":"QUJD"}}}"#, ScanError::SecondAttachment),
        ];
        for (body, want) in bad {
            assert_eq!(scan(body.as_bytes(), 3).unwrap_err(), want, "{body}");
        }
        // Escaped or longer keys, arrays and other nesting never count as the attachment.
        for body in [r#"{"_attach\u006dents":{"f":{"data":"QUJD"}}}"#, r#"{"_attachmentsX":{"f":{"data":"QUJD"}}}"#] {
            let (skel, out) = scan(body.as_bytes(), 1).unwrap();
            assert!(out.is_empty() && String::from_utf8(skel).unwrap().contains("QUJD"), "{body}");
        }
        let (skel, out) =
            scan(br#"{"_attachments":[{"f":{"data":"QUJD"}}],"x":{"_attachments":{"f":{"data":"QUJD"}}}}"#, 2).unwrap();
        assert!(out.is_empty());
        assert!(String::from_utf8(skel).unwrap().contains("QUJD"));
    }
}
