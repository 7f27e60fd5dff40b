//! Forwarding one request: pick the upstream from the current routes, rewrite the headers a
//! proxy must rewrite, and stream both bodies through without buffering them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};

use crate::proxy::in_flight::{CountedBody, InFlight, ThreadInFlight};
use crate::proxy::routes::{RouteTable, Routes};
use crate::proxy::static_files::{self, SiteCache};
use crate::proxy::thread_routes::ThreadRoutes;
use crate::proxy::upstream_head::Forwarding;
use crate::proxy::upstream_pool::UpstreamPool;

/// Why a response body stopped: the upstream's connection, or a file that could not be read.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;
pub type ProxyBody = BoxBody<Bytes, BodyError>;

/// How long an upstream gets to send response headers.
const RESPONSE_HEADERS_TIMEOUT: Duration = Duration::from_secs(60);

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
        request: Request<Incoming>,
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
        if !has_path_target(&request) {
            return text(StatusCode::BAD_REQUEST, "the request target is not valid\n");
        }
        // The head written upstream is origin-form HTTP/1.1 without hop-by-hop fields, with
        // the client's Host and the forwarding fields (`upstream_head`).
        let forwarding = Forwarding { client, upstream };
        let sent = tokio::time::timeout(
            RESPONSE_HEADERS_TIMEOUT,
            self.upstreams.send(forwarding, request),
        );
        match sent.await {
            Ok(Ok(response)) => {
                // The response head came without its hop-by-hop fields.
                let (parts, body) = response.into_parts();
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

/// Whether the request names a path (origin- or absolute-form), which is what the proxy
/// forwards; `OPTIONS *` and the like are not.
fn has_path_target<B>(request: &Request<B>) -> bool {
    request
        .uri()
        .path_and_query()
        .is_none_or(|path| path.as_str().starts_with('/'))
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
