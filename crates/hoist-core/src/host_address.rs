//! Where an environment's hosts are: `local:/abs/path` for this machine, or an SSH
//! destination `[user@]host[:port]` (IPv6 as `[addr]:port`), whose deploy root is the
//! environment's `root`.

use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HostAddress {
    /// A deploy root on this machine.
    Local { root: PathBuf },
    /// A host reached with the system's OpenSSH.
    Ssh(SshDestination),
}

/// `[user@]host[:port]`, validated so that no part can be read as an ssh option or a shell
/// word: hosts and users start with a letter, digit or `_` and hold no spaces or quotes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SshDestination {
    pub user: Option<String>,
    /// A name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host `{text}`: {reason}")]
pub struct HostAddressError {
    pub text: String,
    pub reason: &'static str,
}

impl HostAddressError {
    pub fn hint(&self) -> &'static str {
        "write a host as `deploy@web1`, `deploy@web1:2222` or `[2001:db8::1]:22`, or one on this machine as `local:/absolute/deploy/root`"
    }
}

impl HostAddress {
    /// The deploy root of a `local:` host; SSH hosts take the environment's `root`.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Self::Local { root } => Some(root),
            Self::Ssh(_) => None,
        }
    }
}

impl fmt::Display for SshDestination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(user) = &self.user {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

impl FromStr for SshDestination {
    type Err = HostAddressError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let fail = |reason| {
            Err(HostAddressError {
                text: text.to_owned(),
                reason,
            })
        };
        if text.is_empty() {
            return fail("it is empty");
        }
        if text.starts_with('-') {
            return fail("it starts with `-`, which ssh would read as an option");
        }
        let (user, rest) = match text.split_once('@') {
            Some((user, rest)) => (Some(user), rest),
            None => (None, text),
        };
        if let Some(user) = user
            && !is_plain_name(user)
        {
            return fail(
                "the user must be letters, digits, `.`, `-` or `_`, starting with a letter, digit or `_`",
            );
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let Some((inner, after)) = bracketed.split_once(']') else {
                return fail("an IPv6 address needs its closing `]`");
            };
            if !inner.contains(':')
                || !inner
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return fail("`[…]` must hold an IPv6 address");
            }
            match after.strip_prefix(':') {
                Some(port) => (inner, Some(port)),
                None if after.is_empty() => (inner, None),
                None => return fail("only `:PORT` may follow `]`"),
            }
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if !host.contains(':') && !is_plain_name(host) {
            return fail("the host must be a name or an address: letters, digits, `.`, `-` or `_`");
        }
        let port = match port {
            None => None,
            Some(port) => match port.parse::<u16>() {
                Ok(0) | Err(_) => return fail("the port must be a number from 1 to 65535"),
                Ok(port) => Some(port),
            },
        };
        Ok(Self {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        })
    }
}

/// Non-empty, at most 253 characters, starts with a letter, digit or `_`, and holds only
/// those, `.` and `-`: nothing ssh or a shell could read as more than a name.
fn is_plain_name(text: &str) -> bool {
    text.len() <= 253
        && text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
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
            return text.parse().map(Self::Ssh);
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
            Self::Ssh(destination) => destination.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_roots() {
        let host: HostAddress = "local:/srv/app".parse().unwrap();
        assert_eq!(host.local_root(), Some(Path::new("/srv/app")));
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
        ] {
            assert!(bad.parse::<HostAddress>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_ssh_destinations_and_prints_them_back() {
        for (text, user, host, port) in [
            ("web1", None, "web1", None),
            ("deploy@web1", Some("deploy"), "web1", None),
            (
                "deploy@10.213.1.2:2222",
                Some("deploy"),
                "10.213.1.2",
                Some(2222),
            ),
            (
                "root@[2001:db8::1]:22",
                Some("root"),
                "2001:db8::1",
                Some(22),
            ),
            ("[::1]", None, "::1", None),
        ] {
            let HostAddress::Ssh(parsed) = text.parse::<HostAddress>().unwrap() else {
                panic!("{text} is not an ssh host")
            };
            assert_eq!(
                (parsed.user.as_deref(), parsed.host.as_str(), parsed.port),
                (user, host, port),
                "{text}"
            );
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn refuses_destinations_ssh_could_misread() {
        for bad in [
            "-oProxyCommand=touch /tmp/x",
            "deploy@-oProxyCommand=x",
            "web1:0",
            "web1:65536",
            "web1:port",
            "de ploy@web1",
            "web1;rm -rf /",
            "web1 -p 22",
            "$(reboot)",
            "`id`@web1",
            "[web1]:22",
            "[::1",
            "web1/..",
            "",
            "@web1",
            "a@b@c",
        ] {
            assert!(bad.parse::<HostAddress>().is_err(), "{bad:?} was accepted");
        }
    }
}
