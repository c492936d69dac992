//! npm dist-tag names, validated once for every path that sets one (a publish body's
//! `dist-tags`, `npm dist-tag add`). The rules are npm's own: a tag must not be a valid semver
//! range (`npm install pkg@1.0` must mean the version, never a tag), and it may only hold
//! characters `encodeURIComponent` leaves alone, because clients put it in URLs unencoded.

use std::fmt;

use crate::engine::EngineError;

/// Longest tag accepted; npm sets none, but a tag is a store key and a URL segment.
pub(crate) const MAX_TAG_LEN: usize = 128;

/// A valid npm dist-tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DistTag(String);

impl DistTag {
    /// Validates `tag`; the error names it.
    pub(crate) fn new(tag: &str) -> Result<Self, EngineError> {
        // Debug form, so control characters and whitespace show in the message.
        let bad = |why: &str| EngineError::Validation(format!("dist-tag {tag:?} {why}"));
        if tag.is_empty() {
            return Err(bad("is empty"));
        }
        if tag.len() > MAX_TAG_LEN {
            return Err(bad(&format!("is longer than {MAX_TAG_LEN} characters")));
        }
        if !tag.bytes().all(uri_component_safe) {
            return Err(bad("may only contain letters, digits and - _ . ! ~ * ' ( )"));
        }
        if node_semver::Version::parse(tag).is_ok() || node_semver::Range::parse(tag).is_ok() {
            return Err(bad("looks like a version or range; tags must not be valid semver"));
        }
        Ok(Self(tag.to_string()))
    }

    /// The tag.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DistTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The characters JavaScript's `encodeURIComponent` does not escape.
fn uri_component_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_tag_rules() {
        for ok in ["latest", "next", "beta", "canary-2", "release_candidate", "v-next", "latest.1"] {
            assert!(DistTag::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1.0.0",
            "1.0",
            "1",
            "v1.0.0",
            "^1.2",
            "~1",
            "*",
            "x",
            "1.x",
            ">=2",
            "1.0.0 - 2.0.0",
            " latest",
            "latest ",
            "la\ntest",
            "a\u{7}b",
            "a/b",
            "a%2fb",
            "tag?",
            "é",
            "a b",
        ] {
            assert!(DistTag::new(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(DistTag::new(&"a".repeat(MAX_TAG_LEN)).is_ok());
        assert!(DistTag::new(&"a".repeat(MAX_TAG_LEN + 1)).is_err());
        let e = DistTag::new("1.0.0").unwrap_err().to_string();
        assert!(e.contains("\"1.0.0\"") && e.contains("semver"), "{e}");
    }
}
