//! A steady stream of requests from background threads while something else happens (a
//! deploy, a crash), counting every failed request and every answer that is not 200.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::harness::http_get_at;

#[derive(Debug, Default)]
pub struct LoadResult {
    pub requests: usize,
    /// `status or error: body` of every request that did not answer 200.
    pub failures: Vec<String>,
    /// Every distinct 200 body seen.
    pub bodies: BTreeSet<String>,
}

pub struct LoadLoop {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<LoadResult>>,
}

impl LoadLoop {
    /// `clients` threads, each sending `GET path` in a loop (one connection per request, a
    /// short pause between), until `finish`.
    pub fn start(port: u16, path: &'static str, clients: usize) -> Self {
        Self::start_at(SocketAddr::from(([127, 0, 0, 1], port)), path, clients)
    }

    /// Like `start`, against any address (a test host's).
    pub fn start_at(address: SocketAddr, path: &'static str, clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..clients)
            .map(|_| {
                let stop = Arc::clone(&stop);
                thread::spawn(move || {
                    let mut result = LoadResult::default();
                    while !stop.load(Ordering::Relaxed) {
                        result.requests += 1;
                        match http_get_at(address, path) {
                            Ok((200, body)) => {
                                result.bodies.insert(body.trim().to_owned());
                            }
                            Ok((status, body)) => {
                                result.failures.push(format!("{status}: {}", body.trim()))
                            }
                            Err(error) => result.failures.push(format!("error: {error}")),
                        }
                        thread::sleep(Duration::from_millis(2));
                    }
                    result
                })
            })
            .collect();
        Self { stop, workers }
    }

    pub fn finish(self) -> LoadResult {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = LoadResult::default();
        for worker in self.workers {
            let result = worker.join().expect("load worker");
            total.requests += result.requests;
            total.failures.extend(result.failures);
            total.bodies.extend(result.bodies);
        }
        total
    }
}
