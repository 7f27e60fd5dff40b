//! Where an environment's hosts are: `local:/abs/path` for this machine. SSH destinations
//! (`user@host:port`) arrive with the SSH issue and will be refused until then.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostAddress {
    /// A deploy root on this machine.
    Local { root: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host `{text}`: {reason}")]
pub struct HostAddressError {
    pub text: String,
    pub reason: &'static str,
}

impl HostAddressError {
    pub fn hint(&self) -> &'static str {
        "write a host on this machine as `local:/absolute/path/to/deploy/root`"
    }
}

impl HostAddress {
    /// The deploy root on the host.
    pub fn root(&self) -> &Path {
        match self {
            Self::Local { root } => root,
        }
    }
}

impl FromStr for HostAddress {
    type Err = HostAddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| {
            Err(HostAddressError {
                text: text.to_owned(),
                reason,
            })
        };
        let Some(path) = text.strip_prefix("local:") else {
            return fail("only `local:` hosts are supported so far");
        };
        let root = PathBuf::from(path);
        if !root.is_absolute() {
            return fail("the deploy root must be an absolute path");
        }
        if root
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        {
            return fail("the deploy root must not contain `.` or `..`");
        }
        if root.parent().is_none() {
            return fail("the deploy root cannot be `/`");
        }
        if path.chars().any(|c| c.is_control()) {
            return fail("the deploy root contains a control character");
        }
        Ok(Self::Local { root })
    }
}

impl TryFrom<String> for HostAddress {
    type Error = HostAddressError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<HostAddress> for String {
    fn from(value: HostAddress) -> Self {
        value.to_string()
    }
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { root } => write!(f, "local:{}", root.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_roots() {
        let host: HostAddress = "local:/srv/app".parse().unwrap();
        assert_eq!(host.root(), Path::new("/srv/app"));
        assert_eq!(host.to_string(), "local:/srv/app");
    }

    #[test]
    fn refuses_bad_roots() {
        for bad in [
            "local:srv",
            "local:/srv/../etc",
            "local:/",
            "/srv/app",
            "local:",
            "web1",
        ] {
            assert!(bad.parse::<HostAddress>().is_err(), "{bad:?}");
        }
    }
}
