//! One POST to a webhook receiver: hyper's pooled client on a private current-thread
//! runtime, so the sender stays a plain blocking loop. Plain http only (URLs are checked
//! when a hook is added). The answer's status is what counts; its body is not read.

use std::time::Duration;

use bytes::Bytes;
use hoist_core::webhook_url::WebhookUrl;
use http_body_util::Full;
use hyper::Request;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::error::{Error, Result};

/// What came of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The receiver answered with this status.
    Answered(u16),
    /// No answer: refused, unreachable, timed out. One line, for `last_error`.
    NoAnswer(String),
}

pub struct HttpPost {
    runtime: tokio::runtime::Runtime,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpPost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpPost")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpPost {
    /// A client whose every POST (connect, send, answer's head) takes at most `timeout`.
    pub fn new(timeout: Duration) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| Error::internal("cannot start the webhook client").cause(error))?;
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            runtime,
            client,
            timeout,
        })
    }

    /// POSTs `body` as JSON with `headers` to `url`.
    pub fn post(&self, url: &WebhookUrl, headers: &[(&str, String)], body: Bytes) -> PostOutcome {
        let mut request = Request::post(format!("http://{}{}", url.authority(), url.path()))
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("hoist/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = match request.body(Full::new(body)) {
            Ok(request) => request,
            Err(error) => {
                return PostOutcome::NoAnswer(format!("cannot build the request: {error}"));
            }
        };
        let answer = self.runtime.block_on(async {
            tokio::time::timeout(self.timeout, self.client.request(request)).await
        });
        match answer {
            Ok(Ok(response)) => PostOutcome::Answered(response.status().as_u16()),
            Ok(Err(error)) => PostOutcome::NoAnswer(chain(&error)),
            Err(_) => {
                PostOutcome::NoAnswer(format!("no answer within {} s", self.timeout.as_secs_f64()))
            }
        }
    }
}

/// An error and its causes on one line: hyper's own message is only "client error (Connect)".
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
