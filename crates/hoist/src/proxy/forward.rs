//! Forwarding one request: pick the upstream from the current routes, rewrite the headers a
//! proxy must rewrite, and stream both bodies through without buffering them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{Request, Response, StatusCode, Uri, Version};

use crate::proxy::in_flight::{CountedBody, InFlight, ThreadInFlight};
use crate::proxy::routes::{RouteTable, Routes};
use crate::proxy::static_files::{self, SiteCache};
use crate::proxy::thread_routes::ThreadRoutes;
use crate::proxy::upstream_pool::UpstreamPool;

/// Why a response body stopped: the upstream's connection, or a file that could not be read.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<Bytes, BodyError>;

/// How long an upstream gets to send response headers.
const RESPONSE_HEADERS_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// One serving thread's forwarder: everything a request touches is this thread's own (its
/// copy of the routes, its in-flight counts, its upstream connections).
#[derive(Debug)]
pub struct Forwarder {
    routes: ThreadRoutes,
    in_flight: Arc<ThreadInFlight>,
    /// Each serving thread builds its forwarder, so each has its own upstream connections.
    upstreams: UpstreamPool,
    /// Shared by the connections of one serving thread (each thread builds its forwarder).
    static_cache: Mutex<SiteCache>,
}

impl Forwarder {
    pub fn new(routes: Arc<RouteTable>, in_flight: &InFlight) -> Self {
        Self {
            routes: ThreadRoutes::new(routes),
            in_flight: in_flight.for_thread(),
            upstreams: UpstreamPool::default(),
            static_cache: Mutex::default(),
        }
    }

    /// Closes idle upstream connections that are old or lead where no route points.
    pub fn prune_idle_connections(&self) {
        let routed = self.routes.current().upstream;
        self.upstreams.prune(|upstream| routed == Some(upstream));
    }

    pub async fn handle(
        &self,
        mut request: Request<Incoming>,
        client: SocketAddr,
    ) -> Response<ProxyBody> {
        // One snapshot for the whole request: a swap mid-request does not move it. The request
        // counts as in flight to its upstream before that snapshot is trusted: if the table
        // changed in between, a drain may already have seen the old upstream idle, so the
        // request takes the new table instead. Whoever waits for an upstream to drain after a
        // swap therefore never misses a request on its way there.
        let (routes, upstream, guard) = loop {
            let routes = self.routes.current();
            let Some(upstream) = routes.upstream else {
                return match &routes.static_root {
                    // Files need no draining: a request holds its file open, not a process.
                    Some(_) if in_maintenance(&routes, &request) => maintenance_page(),
                    Some(root) => static_files::serve(&request, root, &self.static_cache),
                    None => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "no upstream is routed yet\n",
                    ),
                };
            };
            let guard = self.in_flight.enter(upstream);
            if self.routes.version() == routes.version {
                break (routes, upstream, guard);
            }
        };
        if in_maintenance(&routes, &request) {
            return maintenance_page();
        }
        if rewrite_request(&mut request, upstream, client).is_err() {
            return text(StatusCode::BAD_REQUEST, "the request target is not valid\n");
        }
        let sent = tokio::time::timeout(
            RESPONSE_HEADERS_TIMEOUT,
            self.upstreams.send(upstream, request),
        );
        match sent.await {
            Ok(Ok(response)) => {
                let (mut parts, body) = response.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                Response::from_parts(parts, CountedBody::new(body, guard).boxed())
            }
            Ok(Err(error)) => text(
                StatusCode::BAD_GATEWAY,
                &format!("the upstream {upstream} did not answer: {error}\n"),
            ),
            Err(_) => text(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("the upstream {upstream} sent no response in time\n"),
            ),
        }
    }
}

/// Whether `request` gets the maintenance page rather than an answer.
fn in_maintenance<B>(routes: &Routes, request: &Request<B>) -> bool {
    routes.maintenance
        && !routes
            .health_paths
            .iter()
            .any(|p| p == request.uri().path())
}

fn maintenance_page() -> Response<ProxyBody> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "down for maintenance, back soon\n",
    )
}

/// A request target that is not a path (e.g. `OPTIONS *`), which the proxy does not forward.
#[derive(Debug)]
struct InvalidTarget;

/// Points the request at `upstream`, keeping the client's Host, and adds the forwarding headers.
fn rewrite_request(
    request: &mut Request<Incoming>,
    upstream: SocketAddr,
    client: SocketAddr,
) -> Result<(), InvalidTarget> {
    // Reuses the path's bytes instead of formatting and parsing a whole new URI.
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    if !path.as_str().starts_with('/') {
        return Err(InvalidTarget);
    }
    // Origin-form, as HTTP/1.1 sends to a server (the upstream connection is ours: nothing
    // between needs the absolute form).
    let authority = request.uri().authority().cloned();
    *request.uri_mut() = Uri::from(path);
    *request.version_mut() = Version::HTTP_11;
    let headers = request.headers_mut();
    strip_hop_by_hop(headers);
    if !headers.contains_key(header::HOST) {
        // HTTP/2 carries the host in the URI's authority; an HTTP/1.0 client may send none.
        let host = match authority {
            Some(authority) => HeaderValue::from_str(authority.as_str()),
            None => HeaderValue::from_str(&upstream.to_string()),
        };
        if let Ok(value) = host {
            headers.insert(header::HOST, value);
        }
    }
    let client_ip = client.ip().to_string();
    let forwarded_for = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(earlier) => format!("{earlier}, {client_ip}"),
        None => client_ip,
    };
    if let Ok(value) = HeaderValue::from_str(&forwarded_for) {
        headers.insert("x-forwarded-for", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    Ok(())
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Connection may name more per-connection headers of its own.
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in &named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// A short plain-text answer from the proxy itself.
pub fn text(status: StatusCode, message: &str) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message.to_owned()))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_the_ones_connection_names_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("x-kept"));
    }
}
