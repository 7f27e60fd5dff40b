//! A small blocking client for `hoist serve`'s REST API, for the CLI when `HOIST_SERVER` is
//! set: plain HTTP/1.1 over std's TcpStream, one request per connection
//! (`Connection: close`), a bearer token, JSON in and out. The API's error bodies
//! (`{"error":{"status","code","message","hint"}}`) become hoist errors with the server's
//! message and hint.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the daemon listens and the token to show it.
#[derive(Clone)]
pub struct ApiClient {
    /// As given, for messages: `http://127.0.0.1:7878`.
    pub server: String,
    /// `host:port`, for the `Host` header and to connect to.
    authority: String,
    token: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// `server` is `http://HOST:PORT` (a trailing `/` is fine); https is refused, as the
    /// daemon itself speaks plain HTTP (put a TLS proxy in front and tunnel to it).
    pub fn new(server: &str, token: &str) -> Result<Self> {
        let authority = parse_server(server)?;
        if token.trim().is_empty() {
            return Err(
                Error::failed("`HOIST_SERVER` is set but `HOIST_TOKEN` is not").hint(
                    "an admin makes a token with `hoist tokens create NAME --role deployer` \
                 (on the daemon's store); set it as `HOIST_TOKEN`, or unset `HOIST_SERVER` \
                 to use the store directly",
                ),
            );
        }
        Ok(Self {
            server: server.trim_end_matches('/').to_owned(),
            authority,
            token: token.trim().to_owned(),
        })
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path, None)
    }

    pub fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        self.call("POST", path, Some(body))
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let (status, text) = self.exchange(method, path, body)?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &text, method, path));
        }
        serde_json::from_str(&text).map_err(|error| {
            Error::internal(format!(
                "the hoist server's answer to `{method} {path}` is not what this hoist expects"
            ))
            .cause(error)
            .hint("run the same hoist version as the daemon")
        })
    }

    /// Sends one request; returns the status and the body.
    fn exchange(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let mut stream = self.connect()?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Accept: application/json\r\nAuthorization: Bearer {}\r\n",
            self.authority, self.token
        );
        let body = body.map(Value::to_string).unwrap_or_default();
        if method == "POST" {
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        let lost = |error: std::io::Error| {
            Error::failed(format!(
                "lost the connection to the hoist server at {}",
                self.server
            ))
            .cause(error)
            .hint("check that `hoist serve` is still running")
        };
        stream.write_all(request.as_bytes()).map_err(lost)?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map_err(lost)?;
        parse_response(&response).ok_or_else(|| {
            Error::failed(format!(
                "the answer from {} is not an HTTP response",
                self.server
            ))
            .hint("check that `HOIST_SERVER` names a `hoist serve` address")
        })
    }

    fn connect(&self) -> Result<TcpStream> {
        let unreachable = |cause: String| {
            Error::failed(format!("cannot reach the hoist server at {}", self.server))
                .cause(cause)
                .hint(
                    "start it with `hoist serve --listen ADDR`, fix `HOIST_SERVER`, \
                     or unset `HOIST_SERVER` to use the store directly",
                )
        };
        let addresses: Vec<SocketAddr> = self
            .authority
            .to_socket_addrs()
            .map_err(|error| unreachable(error.to_string()))?
            .collect();
        let mut last = String::from("the name has no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    stream
                        .set_read_timeout(Some(READ_TIMEOUT))
                        .map_err(|error| unreachable(error.to_string()))?;
                    return Ok(stream);
                }
                Err(error) => last = format!("{address}: {error}"),
            }
        }
        Err(unreachable(last))
    }
}

/// `http://host:port[/]` → `host:port`.
fn parse_server(server: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::failed(format!("`HOIST_SERVER` `{server}` {why}"))
            .hint("give the daemon's address as `http://HOST:PORT`, e.g. `http://127.0.0.1:7878`")
    };
    if server.starts_with("https://") {
        return Err(bad("uses https, which this client does not speak"));
    }
    let authority = server
        .strip_prefix("http://")
        .ok_or_else(|| bad("is not an `http://` address"))?
        .trim_end_matches('/');
    let valid = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !valid || authority.contains('/') || authority.contains('@') {
        return Err(bad("is not `http://HOST:PORT`"));
    }
    Ok(authority.to_owned())
}

/// The status and body of an HTTP/1.1 response read to its end (chunked or not).
fn parse_response(response: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.lines();
    let status: u16 = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = lines.any(|line| {
        line.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> Option<String> {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.push_str(after.get(..size)?);
        rest = after.get(size..)?.strip_prefix("\r\n")?;
    }
}

/// The API's error body as a hoist error: its message and hint, and plain words for a
/// refused token.
fn api_error(status: u16, text: &str, method: &str, path: &str) -> Error {
    let shape = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|value| value.get("error").cloned());
    let message = shape
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let hint = shape
        .as_ref()
        .and_then(|e| e.get("hint"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let message = match (status, message) {
        (401, Some(message)) => format!("the hoist server refused the token: {message}"),
        (401, None) => "the hoist server refused the token".to_owned(),
        (403, Some(message)) => format!("the token is not allowed to do this: {message}"),
        (403, None) => "the token is not allowed to do this".to_owned(),
        (_, Some(message)) => message,
        (_, None) => format!("the hoist server answered {status} to `{method} {path}`"),
    };
    let error = Error::failed(message);
    match (status, hint) {
        (_, Some(hint)) => error.hint(hint),
        (401, None) => {
            error.hint("check `HOIST_TOKEN`; an admin makes one with `hoist tokens create`")
        }
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_plain_http_host_and_port() {
        assert_eq!(
            parse_server("http://127.0.0.1:7878/").ok().as_deref(),
            Some("127.0.0.1:7878")
        );
        assert_eq!(
            parse_server("http://localhost:80").ok().as_deref(),
            Some("localhost:80")
        );
        for bad in [
            "https://example.com:443",
            "127.0.0.1:7878",
            "http://127.0.0.1",
            "http://host:port",
            "http://127.0.0.1:7878/api",
        ] {
            assert!(parse_server(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn reads_plain_and_chunked_bodies() {
        let plain = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(plain), Some((202, "{}".to_owned())));
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((200, "[1,2]".to_owned())));
        assert_eq!(parse_response(b"garbage"), None);
    }

    #[test]
    fn api_errors_keep_the_servers_message_and_hint() {
        let body = r#"{"error":{"status":403,"code":"forbidden","message":"a viewer cannot deploy","hint":"ask an admin"}}"#;
        let error = api_error(403, body, "POST", "/api/commands");
        assert_eq!(
            error.message,
            "the token is not allowed to do this: a viewer cannot deploy"
        );
        assert_eq!(error.hints, vec!["ask an admin".to_owned()]);
        let error = api_error(502, "bad gateway", "GET", "/api/commands/1");
        assert!(error.message.contains("502"), "{}", error.message);
    }
}
