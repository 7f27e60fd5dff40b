//! Release ids: `20261121T235959Z-3f2a9c1d`, the UTC creation second and the first eight
//! hex digits of the release's content hash. They sort by time and are safe as paths.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReleaseId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid release id `{0}`")]
pub struct ReleaseIdError(pub String);

impl ReleaseIdError {
    pub fn hint(&self) -> &'static str {
        "a release id looks like `20261121T235959Z-3f2a9c1d`; `hoist releases list ENV` shows them"
    }
}

impl ReleaseId {
    /// Builds an id from a UTC time already formatted as `YYYYMMDDTHHMMSSZ` and a content hash
    /// in hex (at least eight digits).
    pub fn new(utc_basic: &str, content_hash_hex: &str) -> Result<Self, ReleaseIdError> {
        let short = content_hash_hex.get(..8).unwrap_or(content_hash_hex);
        format!("{utc_basic}-{short}").parse()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `YYYYMMDDTHHMMSSZ` part.
    pub fn time_part(&self) -> &str {
        &self.0[..16]
    }

    /// The content-hash part.
    pub fn hash_part(&self) -> &str {
        &self.0[17..]
    }
}

impl FromStr for ReleaseId {
    type Err = ReleaseIdError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 25
            && bytes[..8].iter().all(u8::is_ascii_digit)
            && bytes[8] == b'T'
            && bytes[9..15].iter().all(u8::is_ascii_digit)
            && bytes[15] == b'Z'
            && bytes[16] == b'-'
            && bytes[17..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b));
        if well_formed {
            Ok(Self(text.to_owned()))
        } else {
            Err(ReleaseIdError(text.to_owned()))
        }
    }
}

impl TryFrom<String> for ReleaseId {
    type Error = ReleaseIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<ReleaseId> for String {
    fn from(value: ReleaseId) -> Self {
        value.0
    }
}

/// A string with the rule of `from_str` as a pattern, for the API's OpenAPI document.
impl JsonSchema for ReleaseId {
    fn schema_name() -> Cow<'static, str> {
        "ReleaseId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$",
            "description": "a release id: the UTC creation second and 8 hex digits of the content hash",
            "examples": ["20261121T235959Z-3f2a9c1d"],
        })
    }
}

impl fmt::Display for ReleaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_parses() {
        let id = ReleaseId::new("20261121T235959Z", "3f2a9c1d00ff").unwrap();
        assert_eq!(id.as_str(), "20261121T235959Z-3f2a9c1d");
        assert_eq!(id.time_part(), "20261121T235959Z");
        assert_eq!(id.hash_part(), "3f2a9c1d");
    }

    #[test]
    fn refuses_hostile_ids() {
        for bad in [
            "",
            "../../etc",
            "20261121T235959Z-3f2a9c1",
            "20261121T235959Z-3F2A9C1D",
            "20261121T235959Z-3f2a9c1d/..",
            "-rf",
            "20261121T235959Z_3f2a9c1d",
        ] {
            assert!(bad.parse::<ReleaseId>().is_err(), "{bad:?} was accepted");
        }
    }
}
