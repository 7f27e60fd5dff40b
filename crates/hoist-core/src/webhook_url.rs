//! A webhook's address: plain `http://host[:port][/path]` only. hoist's sender speaks plain
//! HTTP/1.1 (no TLS stack in the binary), so `https://` is refused when the hook is added,
//! not discovered at the first delivery.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl {
    host: String,
    port: u16,
    /// Starts with `/`.
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("`{0}` is an https URL; hoist sends webhooks over plain http only")]
    Https(String),
    #[error("`{0}` is not an http URL")]
    NotHttp(String),
    #[error("`{0}` has no host")]
    NoHost(String),
    #[error("`{0}` has a bad port")]
    BadPort(String),
    #[error("`{0}` has characters a URL cannot hold (spaces, quotes, control characters)")]
    BadCharacters(String),
    #[error("`{0}` carries a user name or password")]
    Credentials(String),
}

impl WebhookUrlError {
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Https(_) => {
                "give an http:// URL of a receiver on a network you trust, or put a TLS-terminating \
                 proxy (nginx, caddy) on this machine and point the hook at it over http://127.0.0.1"
            }
            Self::Credentials(_) => {
                "leave credentials out of the URL: receivers check `X-Hoist-Signature-256` instead"
            }
            _ => "e.g. `http://127.0.0.1:9000/hooks/hoist`",
        }
    }
}

impl WebhookUrl {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The path and query, starting with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `http://host:port`, without the path: what may be shown where the path could hold
    /// a token (receivers that put one in their URL).
    pub fn origin(&self) -> String {
        format!("http://{}", self.authority())
    }

    /// `host:port`, as the `Host` header and a connector want it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for WebhookUrl {
    type Err = WebhookUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let owned = || text.to_owned();
        if text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
        {
            return Err(WebhookUrlError::BadCharacters(owned()));
        }
        let lower = text.to_ascii_lowercase();
        if lower.starts_with("https://") {
            return Err(WebhookUrlError::Https(owned()));
        }
        if !lower.starts_with("http://") {
            return Err(WebhookUrlError::NotHttp(owned()));
        }
        let rest = &text["http://".len()..];
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let path = path.split('#').next().unwrap_or_default();
        let path = match path {
            "" => "/".to_owned(),
            path if path.starts_with('?') => format!("/{path}"),
            path => path.to_owned(),
        };
        if authority.contains('@') {
            return Err(WebhookUrlError::Credentials(owned()));
        }
        let (host, port) =
            split_host_port(authority).ok_or_else(|| WebhookUrlError::BadPort(owned()))?;
        if host.is_empty() {
            return Err(WebhookUrlError::NoHost(owned()));
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(WebhookUrlError::NoHost(owned()));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// Splits `host[:port]` or `[v6][:port]`; `None` for a port that is not a number 1–65535.
fn split_host_port(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        match after {
            "" => (host, None),
            after => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(port) => port.parse::<u16>().ok().filter(|port| *port != 0)?,
    };
    Some((host, port))
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.port == 80 {
            let host = self.authority();
            let host = host.strip_suffix(":80").unwrap_or(&host);
            write!(f, "http://{host}{}", self.path)
        } else {
            write!(f, "http://{}{}", self.authority(), self.path)
        }
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = WebhookUrlError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<WebhookUrl> for String {
    fn from(url: WebhookUrl) -> Self {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_parse_into_host_port_and_path() {
        let url: WebhookUrl = "http://127.0.0.1:9000/hooks/hoist?x=1".parse().unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path()),
            ("127.0.0.1", 9000, "/hooks/hoist?x=1")
        );
        assert_eq!(url.to_string(), "http://127.0.0.1:9000/hooks/hoist?x=1");
        assert_eq!(url.origin(), "http://127.0.0.1:9000");

        let url: WebhookUrl = "http://hooks.example".parse().unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path()),
            ("hooks.example", 80, "/")
        );
        assert_eq!(url.to_string(), "http://hooks.example/");

        let url: WebhookUrl = "HTTP://[::1]:8080?a".parse().unwrap();
        assert_eq!((url.host(), url.port(), url.path()), ("::1", 8080, "/?a"));
        assert_eq!(url.authority(), "[::1]:8080");
    }

    #[test]
    fn https_is_refused_with_its_own_error() {
        assert!(matches!(
            "https://hooks.example/x".parse::<WebhookUrl>(),
            Err(WebhookUrlError::Https(_))
        ));
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "",
            "hooks.example/x",
            "ftp://hooks.example",
            "http://",
            "http://:80/",
            "http://host:0/",
            "http://host:99999/",
            "http://host:port/",
            "http://us er@host/",
            "http://user:pw@host/",
            "http://ho st/",
            "http://[::1/",
        ] {
            assert!(bad.parse::<WebhookUrl>().is_err(), "{bad:?} was accepted");
        }
    }
}
