//! A small blocking client for `hoist serve`'s REST API, for the CLI when `HOIST_SERVER` is
//! set: `http://` straight to the daemon, or `https://` to a TLS proxy in front of it, over
//! `HttpClient` (certificates verified; `HOIST_CA_FILE` for a private CA). A bearer token,
//! JSON in and out; the API's error bodies (`{"error":{"status","code","message","hint"}}`)
//! become hoist errors with the server's message and hint.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::adapters::http_client::{CA_FILE_VARIABLE, Failure, HttpClient, Timeouts};
use crate::error::{Error, Result};

const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    per_read: Some(Duration::from_secs(60)),
    per_call: None,
};

/// The most of an answer this client reads: far above any list the API returns.
const MAX_ANSWER: u64 = 256 * 1024 * 1024;

/// Where the daemon listens and the token to show it.
#[derive(Clone)]
pub struct ApiClient {
    /// As given, without a trailing `/`, for messages and URLs: `http://127.0.0.1:7878`.
    pub server: String,
    token: String,
    http: HttpClient,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// `server` is `http://HOST:PORT` or `https://HOST[:PORT]` (a trailing `/` is fine).
    pub fn new(server: &str, token: &str) -> Result<Self> {
        let server = parse_server(server)?;
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
            server,
            token: token.trim().to_owned(),
            http: HttpClient::new(TIMEOUTS)?,
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
        let (status, text) = self.exchange(path, body)?;
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

    /// Sends one request (a POST when there is a body); returns the status and the body.
    fn exchange(&self, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.server);
        let authorization = format!("Bearer {}", self.token);
        let agent = self.http.agent();
        let sent = match body {
            None => agent
                .get(&url)
                .header("Authorization", &authorization)
                .header("Accept", "application/json")
                .call(),
            Some(body) => agent
                .post(&url)
                .header("Authorization", &authorization)
                .header("Accept", "application/json")
                .content_type("application/json")
                .send(body.to_string()),
        };
        let mut response = sent.map_err(|error| self.failed(&error))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .map_err(|error| self.failed(&error))?;
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// A request that got no (whole) answer, in words, with what to do.
    fn failed(&self, error: &ureq::Error) -> Error {
        let server = &self.server;
        match self.http.failure(error) {
            Failure::Unreachable(cause) => {
                Error::failed(format!("cannot reach the hoist server at {server}"))
                    .cause(cause)
                    .hint(
                        "start it with `hoist serve --listen ADDR`, fix `HOIST_SERVER`, \
                         or unset `HOIST_SERVER` to use the store directly",
                    )
            }
            Failure::Certificate { reason, hint } => Error::failed(format!(
                "the certificate of the hoist server at {server} is refused"
            ))
            .cause(reason)
            .hint(hint),
            Failure::Tls(cause) => {
                Error::failed(format!("no TLS connection to the hoist server at {server}"))
                    .cause(cause)
                    .hint(format!(
                        "check the TLS proxy in front of `hoist serve`, and `{CA_FILE_VARIABLE}`"
                    ))
            }
            Failure::NotTls => Error::failed(format!(
                "the server at {server} does not speak TLS"
            ))
            .hint("if it is `hoist serve` itself, which speaks plain http, use `http://` in `HOIST_SERVER`"),
            Failure::NotHttp(cause) => {
                Error::failed(format!("the answer from {server} is not an HTTP response"))
                    .cause(cause)
                    .hint("check that `HOIST_SERVER` names a `hoist serve` address")
            }
            Failure::Lost(cause) => Error::failed(format!(
                "lost the connection to the hoist server at {server}"
            ))
            .cause(cause)
            .hint("check that `hoist serve` is still running"),
        }
    }
}

/// `http://host:port[/]` or `https://host[:port][/]` → the same without the `/`.
fn parse_server(server: &str) -> Result<String> {
    let bad = |why: &str| {
        Error::failed(format!("`HOIST_SERVER` `{server}` {why}")).hint(
            "give the daemon's address as `http://HOST:PORT`, e.g. `http://127.0.0.1:7878`, \
             or a TLS proxy in front of it as `https://HOST[:PORT]`",
        )
    };
    let trimmed = server.trim_end_matches('/');
    let (authority, port_needed) = if let Some(rest) = trimmed.strip_prefix("http://") {
        (rest, true)
    } else if let Some(rest) = trimmed.strip_prefix("https://") {
        (rest, false)
    } else {
        return Err(bad("is not an `http://` or `https://` address"));
    };
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    // https may leave the port out (443); a bare IPv6 address comes in brackets.
    let bare_host = !authority.is_empty()
        && (!authority.contains(':') || (authority.starts_with('[') && authority.ends_with(']')));
    let valid = has_port || (!port_needed && bare_host);
    if !valid || authority.contains(['/', '@', '?', '#']) {
        return Err(bad(if port_needed {
            "is not `http://HOST:PORT`"
        } else {
            "is not `https://HOST[:PORT]`"
        }));
    }
    Ok(trimmed.to_owned())
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
    fn accepts_http_host_and_port_and_https() {
        assert_eq!(
            parse_server("http://127.0.0.1:7878/").ok().as_deref(),
            Some("http://127.0.0.1:7878")
        );
        assert_eq!(
            parse_server("http://localhost:80").ok().as_deref(),
            Some("http://localhost:80")
        );
        assert_eq!(
            parse_server("https://hoist.example:8443/").ok().as_deref(),
            Some("https://hoist.example:8443")
        );
        assert_eq!(
            parse_server("https://hoist.example").ok().as_deref(),
            Some("https://hoist.example")
        );
        for bad in [
            "127.0.0.1:7878",
            "ftp://127.0.0.1:7878",
            "http://127.0.0.1",
            "http://host:port",
            "http://127.0.0.1:7878/api",
            "https://",
            "https://hoist.example/api",
            "https://user@hoist.example",
        ] {
            assert!(parse_server(bad).is_err(), "{bad} was accepted");
        }
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
