//! Query-string and body decoding with CodeArtifact's validation messages.

use std::collections::HashMap;

use base64::Engine as _;

use crate::engine::EngineError;
use crate::model::{AccountId, DomainName, RepositoryName};

/// Decoded query parameters.
pub(crate) struct Params(pub HashMap<String, String>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let mut m = HashMap::new();
        for (k, v) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            m.insert(k.into_owned(), v.into_owned());
        }
        Self(m)
    }

    pub(crate) fn opt(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub(crate) fn req(&self, key: &str) -> Result<&str, EngineError> {
        self.opt(key).ok_or_else(|| EngineError::Validation(format!("{key}: required parameter is missing")))
    }

    pub(crate) fn domain(&self) -> Result<DomainName, EngineError> {
        Ok(DomainName::new(self.req("domain")?)?)
    }

    pub(crate) fn owner(&self) -> Result<Option<AccountId>, EngineError> {
        Ok(self.opt("domain-owner").map(AccountId::new).transpose()?)
    }

    pub(crate) fn repository(&self) -> Result<RepositoryName, EngineError> {
        Ok(RepositoryName::new(self.req("repository")?)?)
    }

    /// `max-results` within `1..=max`, or `default`.
    pub(crate) fn max_results(&self, default: usize, max: usize) -> Result<usize, EngineError> {
        max_results(self.opt("max-results").map(str::parse::<i64>), default, max)
    }
}

pub(crate) fn max_results(
    v: Option<Result<i64, std::num::ParseIntError>>,
    default: usize,
    max: usize,
) -> Result<usize, EngineError> {
    match v {
        None => Ok(default),
        Some(Ok(n)) if n >= 1 && n as usize <= max => Ok(n as usize),
        _ => Err(EngineError::Validation(format!("maxResults: must be between 1 and {max}"))),
    }
}

/// Opaque pagination tokens: base64 of the last key returned.
pub(crate) fn encode_token(last: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)
}

pub(crate) fn decode_token(t: Option<&str>) -> Result<Option<Vec<u8>>, EngineError> {
    t.map(|t| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .map_err(|_| EngineError::Validation("nextToken: invalid pagination token".into()))
    })
    .transpose()
}

/// A JSON body, empty meaning `{}`.
pub(crate) fn body<T: serde::de::DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, EngineError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| EngineError::Validation(format!("request body: {e}")))
}
