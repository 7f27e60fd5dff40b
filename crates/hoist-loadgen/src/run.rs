//! `hoist-loadgen run`: a constant load over a fixed number of connections until the
//! duration ends, `--max-requests` have been sent, or a stop is asked for. A stop ends the
//! sending; requests already in flight still finish (each within its timeout), so every
//! request that was sent is in the records.

use std::future::Future;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper::Uri;
use hyper::header::{HeaderName, HeaderValue};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::connection::{Clock, Connection, Target};
use crate::error::{Error, Result};
use crate::outcome::Record;
use crate::schedule::Schedule;
use crate::summary::Summary;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `http://HOST:PORT/path?query`.
    pub url: String,
    /// Requests per second, over all connections together.
    pub rate: f64,
    pub connections: usize,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    pub timeout: Duration,
    /// Extra headers on every request (e.g. `Authorization`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Every request of a run, in the order they started, and how long the run took.
#[derive(Debug, Clone)]
pub struct Report {
    pub records: Vec<Record>,
    pub elapsed: Duration,
}

impl Report {
    pub fn summary(&self) -> Summary {
        Summary::of(&self.records, self.elapsed)
    }

    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let failed = |e: std::io::Error| {
            Error::new(format!(
                "could not write the requests to `{}`",
                path.display()
            ))
            .cause(e)
        };
        let file = std::fs::File::create(path).map_err(failed)?;
        let mut writer = BufWriter::new(file);
        writeln!(writer, "{}", Record::CSV_HEADER).map_err(failed)?;
        for record in &self.records {
            writeln!(writer, "{}", record.csv_row()).map_err(failed)?;
        }
        writer.flush().map_err(failed)
    }
}

/// Runs the load; `stop` resolving (e.g. on SIGTERM) ends it early.
pub async fn run(options: &RunOptions, stop: impl Future<Output = ()>) -> Result<Report> {
    if !(options.rate.is_finite() && options.rate > 0.0) {
        return Err(Error::new(format!(
            "the rate must be above zero, not `{}`",
            options.rate
        )));
    }
    if options.connections == 0 {
        return Err(Error::new("at least one connection is needed"));
    }
    let mut target = target(&options.url, options.timeout).await?;
    target.headers = options.headers.clone();
    let clock = Clock::new();
    let start = Instant::now();
    let schedule = Arc::new(Schedule::new(
        start,
        options.rate,
        options.duration,
        options.max_requests,
    ));
    let (stopper, stopped) = watch::channel(false);
    let workers: Vec<_> = (0..options.connections)
        .map(|_| {
            let connection = Connection::new(target.clone(), clock);
            tokio::spawn(send_on(connection, Arc::clone(&schedule), stopped.clone()))
        })
        .collect();
    let all_sent = async {
        let mut records = Vec::new();
        for worker in workers {
            records.extend(
                worker
                    .await
                    .map_err(|e| Error::new("a connection's task failed").cause(e))?,
            );
        }
        Ok::<_, Error>(records)
    };
    tokio::pin!(all_sent);
    let mut records = tokio::select! {
        records = &mut all_sent => records?,
        () = stop => {
            // The receivers outlive this send: each worker holds one until it returns.
            let _ = stopper.send(true);
            all_sent.await?
        }
    };
    let elapsed = start.elapsed();
    records.sort_by_key(|record| record.start_unix_ns);
    Ok(Report { records, elapsed })
}

/// One connection's loop: wait for the next due time, send, record, until the schedule
/// ends or a stop is asked for.
async fn send_on(
    mut connection: Connection,
    schedule: Arc<Schedule>,
    mut stopped: watch::Receiver<bool>,
) -> Vec<Record> {
    let mut records = Vec::new();
    while let Some(due) = schedule.next_due() {
        tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep_until(due) => {}
        }
        records.push(connection.request().await);
    }
    records
}

/// Reads the URL once: where to connect, what to ask for, and the Host header to send.
async fn target(url: &str, timeout: Duration) -> Result<Target> {
    let bad = |why: &str| {
        Error::new(format!("the URL `{url}` {why}"))
            .hint("give one like `http://127.0.0.1:8080/health`")
    };
    let uri: Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("is not http:// (only plain HTTP/1.1 is supported)"));
    }
    let authority = uri.authority().ok_or_else(|| bad("names no host"))?;
    let port = authority.port_u16().unwrap_or(80);
    let address: SocketAddr = tokio::net::lookup_host((authority.host(), port))
        .await
        .map_err(|e| bad("names a host that does not resolve").cause(e))?
        .next()
        .ok_or_else(|| bad("names a host with no address"))?;
    let path: Uri = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .map_err(|_| bad("has a path that is not valid"))?;
    let host = HeaderValue::from_str(authority.as_str())
        .map_err(|_| bad("has a host that cannot be a Host header"))?;
    Ok(Target {
        address,
        host,
        path,
        timeout,
        headers: Vec::new(),
    })
}
