//! One POST to a webhook receiver over `HttpClient`: `http://` or `https://` (certificates
//! verified against the public CAs and `HOIST_CA_FILE`'s). The answer's status is what
//! counts: its body is not read, and a redirect is not followed (a 3xx is a failed attempt,
//! as the receiver did not take the event).

use std::time::Duration;

use hoist_core::webhook_url::WebhookUrl;

use crate::adapters::http_client::{CA_FILE_VARIABLE, Failure, HttpClient, Timeouts};
use crate::error::Result;

/// What came of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: refused, unreachable, timed out, a certificate refused. One line, for
    /// `last_error`.
    NoAnswer(String),
}

#[derive(Debug)]
pub struct HttpPost {
    http: HttpClient,
    timeout: Duration,
}

impl HttpPost {
    /// A client whose every POST (connect, TLS, send, answer's head) takes at most
    /// `timeout`; an error when `HOIST_CA_FILE` names no usable PEM file.
    pub fn new(timeout: Duration) -> Result<Self> {
        let http = HttpClient::new(Timeouts {
            connect: timeout,
            per_read: None,
            per_call: Some(timeout),
        })?;
        Ok(Self { http, timeout })
    }

    /// POSTs `body` as JSON with `headers` to `url`.
    pub fn post(&self, url: &WebhookUrl, headers: &[(&str, String)], body: &[u8]) -> PostOutcome {
        let mut request = self
            .http
            .agent()
            .post(url.to_string())
            .content_type("application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send(body) {
            Ok(response) => PostOutcome::Answered(response.status().as_u16()),
            Err(error) => PostOutcome::NoAnswer(self.no_answer(url, &error)),
        }
    }

    /// One line: names the receiver by its origin (its path may hold a token).
    fn no_answer(&self, url: &WebhookUrl, error: &ureq::Error) -> String {
        let origin = url.origin();
        match self.http.failure(error) {
            Failure::Unreachable(cause) => format!("cannot reach {origin}: {cause}"),
            Failure::Certificate { reason, hint } => {
                format!("the certificate of {origin} is refused: {reason} (hint: {hint})")
            }
            Failure::Tls(cause) => {
                format!("no TLS connection to {origin}: {cause} (hint: check `{CA_FILE_VARIABLE}`)")
            }
            Failure::NotTls => format!("{origin} does not speak TLS (hint: use an http:// URL)"),
            Failure::NotHttp(cause) => format!("the answer from {origin} is not HTTP: {cause}"),
            Failure::Lost(_) if matches!(error, ureq::Error::Timeout(_)) => {
                format!("no answer within {} s", self.timeout.as_secs_f64())
            }
            Failure::Lost(cause) => format!("lost the connection to {origin}: {cause}"),
        }
    }
}
