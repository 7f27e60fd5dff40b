//! `hoist-loadgen serve`: the smallest fast service to aim load at. Every path, `/health`
//! included, gets `200` and the same short body over keep-alive HTTP/1.1. On a stop it
//! closes its listener at once (new connections are refused, so a proxy notices), closes
//! idle connections, and lets requests in flight finish: a blue-green deploy stops the old
//! instance this way and must lose no request.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// A slow client gets this long to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    body: Bytes,
}

impl Server {
    pub async fn bind(address: SocketAddr, body: impl Into<Bytes>) -> Result<Self> {
        let listener = TcpListener::bind(address).await.map_err(|e| {
            Error::new(format!("could not listen on {address}"))
                .cause(e)
                .hint("is another service using that port?")
        })?;
        Ok(Self {
            listener,
            body: body.into(),
        })
    }

    pub fn local_address(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| Error::new("could not read the listening address").cause(e))
    }

    /// Serves until `stop` resolves, then until the requests in flight are answered or
    /// `drain_timeout` has passed.
    pub async fn run(self, stop: impl Future<Output = ()>, drain_timeout: Duration) {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let graceful = GracefulShutdown::new();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    // A failed accept (e.g. out of file descriptors) is about one connection.
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let body = self.body.clone();
                    let service = service_fn(move |request| answer(request, body.clone()));
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A client that hangs up is its own business.
                        let _ = connection.await;
                    });
                }
                () = &mut stop => break,
            }
        }
        drop(self.listener);
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(drain_timeout) => {}
        }
    }
}

async fn answer(
    _request: Request<hyper::body::Incoming>,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}
