//! A version's format metadata as the engine holds it: either a parsed tree (stored records,
//! which are decoded anyway) or the upstream's JSON text. A 3,800-version npm document parsed
//! into `serde_json::Value` trees takes about five times its size and stays in the upstream
//! cache; as text it takes its size, and a renderer parses one version at a time.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::Value;

/// One version's metadata (npm: the manifest).
#[derive(Debug, Clone)]
pub struct VersionMetadata(Repr);

#[derive(Debug, Clone)]
enum Repr {
    Parsed(Value),
    // Shared, so cloning a cached upstream version into a view copies no text.
    Raw(Arc<RawValue>),
}

impl VersionMetadata {
    /// Metadata kept as JSON text, parsed only when read.
    pub fn raw(text: Box<RawValue>) -> Self {
        Self(Repr::Raw(Arc::from(text)))
    }

    /// The metadata as a tree: borrowed when parsed already, else parsed now (the text came
    /// from a JSON parser, so it always parses; `Null` otherwise rather than a panic).
    pub fn value(&self) -> Cow<'_, Value> {
        match &self.0 {
            Repr::Parsed(v) => Cow::Borrowed(v),
            Repr::Raw(r) => Cow::Owned(serde_json::from_str(r.get()).unwrap_or(Value::Null)),
        }
    }

    /// The metadata as an owned tree.
    pub fn into_value(self) -> Value {
        match self.0 {
            Repr::Parsed(v) => v,
            Repr::Raw(_) => self.value().into_owned(),
        }
    }

    /// About as many bytes as its JSON text (exact for text), for cache weights and buffer
    /// sizes; a tree is measured without serializing it.
    pub fn weight(&self) -> usize {
        match &self.0 {
            Repr::Parsed(v) => approx_len(v),
            Repr::Raw(r) => r.get().len(),
        }
    }
}

fn approx_len(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| approx_len(x) + 1).sum::<usize>(),
        Value::Object(m) => 2 + m.iter().map(|(k, x)| k.len() + 4 + approx_len(x)).sum::<usize>(),
    }
}

impl From<Value> for VersionMetadata {
    fn from(v: Value) -> Self {
        Self(Repr::Parsed(v))
    }
}

impl Default for VersionMetadata {
    fn default() -> Self {
        Self(Repr::Parsed(Value::Null))
    }
}

/// Equal when the trees are (text and tree forms of the same JSON compare equal).
impl PartialEq for VersionMetadata {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_tree_agree() {
        let text = r#"{"name":"a","version":"1.0.0","dist":{"shasum":"ab"},"n":1.5}"#;
        let raw = VersionMetadata::raw(RawValue::from_string(text.to_string()).unwrap());
        let tree = VersionMetadata::from(serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(raw, tree);
        assert_eq!(raw.value()["dist"]["shasum"], "ab");
        assert_eq!(raw.weight(), text.len());
        assert_eq!(raw.clone().into_value(), tree.into_value());
    }
}
