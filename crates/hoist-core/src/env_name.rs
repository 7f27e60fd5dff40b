//! Environment names: safe as a path component, a shell word and a URL segment.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A validated environment name: 1–63 of `a-z 0-9 - _`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid environment name `{name}`: {reason}")]
pub struct EnvNameError {
    pub name: String,
    pub reason: &'static str,
}

impl EnvNameError {
    pub fn hint(&self) -> &'static str {
        "use 1-63 lowercase letters, digits, `-` or `_`, starting with a letter or digit (e.g. `staging`)"
    }
}

impl EnvName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnvName {
    type Err = EnvNameError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let fail = |reason| {
            Err(EnvNameError {
                name: name.to_owned(),
                reason,
            })
        };
        if name.is_empty() {
            return fail("it is empty");
        }
        if name.len() > 63 {
            return fail("it is longer than 63 characters");
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return fail("it must start with a lowercase letter or a digit");
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return fail("only lowercase letters, digits, `-` and `_` are allowed");
        }
        Ok(Self(name.to_owned()))
    }
}

impl TryFrom<String> for EnvName {
    type Error = EnvNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<EnvName> for String {
    fn from(value: EnvName) -> Self {
        value.0
    }
}

/// A string with the rule of `from_str` as a pattern, for the API's OpenAPI document.
impl JsonSchema for EnvName {
    fn schema_name() -> Cow<'static, str> {
        "EnvName".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[a-z0-9][a-z0-9_-]{0,62}$",
            "description": "an environment name: 1-63 lowercase letters, digits, `-` or `_`, starting with a letter or digit",
        })
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names() {
        for ok in ["dev", "prod-eu", "pr_42", "1st"] {
            assert!(ok.parse::<EnvName>().is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_hostile_names() {
        for bad in [
            "",
            "../x",
            "-rf",
            "a b",
            "Prod",
            "x/y",
            ".",
            "a;b",
            &"a".repeat(64),
        ] {
            assert!(bad.parse::<EnvName>().is_err(), "{bad:?} was accepted");
        }
    }
}
