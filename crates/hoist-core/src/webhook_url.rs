//! A webhook's address: `http://host[:port][/path]` or `https://host[:port][/path]`, checked
//! when the hook is added rather than discovered at the first delivery. No credentials in
//! it: receivers check the signature instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WebhookUrl {
    /// `https://`: the sender speaks TLS and verifies the receiver's certificate.
    https: bool,
    host: String,
    port: u16,
    /// Starts with `/`.
    path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookUrlError {
    #[error("`{0}` is not an http or https URL")]
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
            Self::Credentials(_) => {
                "leave credentials out of the URL: receivers check `X-Hoist-Signature-256` instead"
            }
            _ => "e.g. `https://hooks.example/hoist` or `http://127.0.0.1:9000/hooks/hoist`",
        }
    }
}

impl WebhookUrl {
    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.https
    }

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

    /// `http://host:port` (or `https://…`), without the path: what may be shown where the
    /// path could hold a token (receivers that put one in their URL).
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme(), self.authority())
    }

    fn scheme(&self) -> &'static str {
        if self.https { "https" } else { "http" }
    }

    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
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
        let https = if lower.starts_with("https://") {
            true
        } else if lower.starts_with("http://") {
            false
        } else {
            return Err(WebhookUrlError::NotHttp(owned()));
        };
        let rest = &text[if https { "https://" } else { "http://" }.len()..];
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
        let default_port = if https { 443 } else { 80 };
        let (host, port) = split_host_port(authority, default_port)
            .ok_or_else(|| WebhookUrlError::BadPort(owned()))?;
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
            https,
            host: host.to_owned(),
            port,
            path,
        })
    }
}

/// Splits `host[:port]` or `[v6][:port]`; `None` for a port that is not a number 1–65535.
fn split_host_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
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
        None => default_port,
        Some(port) => port.parse::<u16>().ok().filter(|port| *port != 0)?,
    };
    Some((host, port))
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme();
        if self.port == self.default_port() {
            let host = self.authority();
            let host = host
                .strip_suffix(&format!(":{}", self.port))
                .unwrap_or(&host);
            write!(f, "{scheme}://{host}{}", self.path)
        } else {
            write!(f, "{scheme}://{}{}", self.authority(), self.path)
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
    fn https_urls_parse_with_443_as_their_default_port() {
        let url: WebhookUrl = "https://hooks.example/x".parse().unwrap();
        assert!(url.is_https());
        assert_eq!(
            (url.host(), url.port(), url.path()),
            ("hooks.example", 443, "/x")
        );
        assert_eq!(url.to_string(), "https://hooks.example/x");
        assert_eq!(url.origin(), "https://hooks.example:443");

        let url: WebhookUrl = "HTTPS://127.0.0.1:8443?a".parse().unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path()),
            ("127.0.0.1", 8443, "/?a")
        );
        assert_eq!(url.to_string(), "https://127.0.0.1:8443/?a");
        // Port 80 is not https's default: it stays in the URL.
        let url: WebhookUrl = "https://hooks.example:80/".parse().unwrap();
        assert_eq!(url.to_string(), "https://hooks.example:80/");
        assert!(
            !"http://hooks.example/"
                .parse::<WebhookUrl>()
                .unwrap()
                .is_https()
        );
    }

    #[test]
    fn malformed_urls_are_refused() {
        for bad in [
            "",
            "hooks.example/x",
            "ftp://hooks.example",
            "http://",
            "https://",
            "https://user@hooks.example/",
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
