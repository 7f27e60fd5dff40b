//! `serve` and `run` together in one process on loopback: every request is counted, and
//! counted as what it was.

#![expect(
    clippy::unwrap_used,
    reason = "a failed setup step in a test should panic where it happened"
)]

use std::net::SocketAddr;
use std::time::Duration;

use hoist_loadgen::{ErrorKind, Outcome, RunOptions, Server, run};
use tokio::sync::oneshot;

fn options(address: SocketAddr, rate: f64, max_requests: u64) -> RunOptions {
    RunOptions {
        url: format!("http://{address}/health"),
        rate,
        connections: 4,
        duration: Duration::from_secs(30),
        max_requests: Some(max_requests),
        timeout: Duration::from_secs(5),
        headers: Vec::new(),
    }
}

/// A `serve` on an ephemeral loopback port, stopped when the returned sender is dropped.
async fn started_server() -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), "ok")
        .await
        .unwrap();
    let address = server.local_address().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    (address, stop, serving)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_requests_to_serve_are_all_ok_and_all_recorded() {
    let (address, stop, serving) = started_server().await;
    let report = run(&options(address, 2000.0, 200), std::future::pending())
        .await
        .unwrap();
    let summary = report.summary();
    assert_eq!(summary.total, 200, "{}", summary.to_text());
    assert_eq!(summary.ok, 200, "{}", summary.to_text());
    assert_eq!(summary.failed() + summary.non_2xx, 0);
    assert!(summary.latency_us.p50.is_some());

    let csv = tempfile::NamedTempFile::new().unwrap();
    report.write_csv(csv.path()).unwrap();
    let text = std::fs::read_to_string(csv.path()).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "start_unix_ns,latency_us,status_or_error");
    assert_eq!(rows.len(), 201);
    assert!(rows[1..].iter().all(|row| row.ends_with(",200")), "{text}");

    drop(stop);
    tokio::time::timeout(Duration::from_secs(5), serving)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_closed_port_makes_every_request_a_connect_error() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let report = run(&options(closed, 1000.0, 50), std::future::pending())
        .await
        .unwrap();
    let summary = report.summary();
    assert_eq!(summary.total, 50);
    assert_eq!(summary.errors["connect"], 50, "{}", summary.to_text());
    assert_eq!(summary.ok, 0);
    assert!(
        report
            .records
            .iter()
            .all(|r| r.outcome == Outcome::Failed(ErrorKind::Connect))
    );
}

#[tokio::test]
async fn the_load_is_paced_and_a_stop_ends_it_early() {
    let (address, _stop, _serving) = started_server().await;
    let mut paced = options(address, 100.0, 1_000_000);
    paced.duration = Duration::from_secs(60);
    let started = std::time::Instant::now();
    let report = run(&paced, tokio::time::sleep(Duration::from_millis(500)))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let summary = report.summary();
    assert!(
        elapsed < Duration::from_secs(3),
        "stopped after {elapsed:?}"
    );
    // 100/s for 0.5 s is 50 due times (0 ms .. 490 ms), give or take the timer's tick.
    assert!((45..=55).contains(&summary.total), "{}", summary.to_text());
    assert_eq!(summary.ok, summary.total);
}

#[tokio::test]
async fn a_server_that_answers_nothing_is_a_timeout() {
    // Accepts connections (the kernel does) but never reads or answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut slow = options(silent.local_addr().unwrap(), 100.0, 3);
    slow.timeout = Duration::from_millis(200);
    let report = run(&slow, std::future::pending()).await.unwrap();
    let summary = report.summary();
    assert_eq!(summary.errors["timeout"], 3, "{}", summary.to_text());
    drop(silent);
}

#[tokio::test]
async fn a_server_that_hangs_up_mid_request_is_a_reset() {
    use tokio::io::AsyncReadExt;
    let rude = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = rude.local_addr().unwrap();
    let hanging_up = tokio::spawn(async move {
        loop {
            let (mut stream, _) = rude.accept().await.unwrap();
            let mut request = [0_u8; 1024];
            let _ = stream.read(&mut request).await;
            // Dropped: the client sees the connection close with no response.
        }
    });
    let report = run(&options(address, 200.0, 10), std::future::pending())
        .await
        .unwrap();
    let summary = report.summary();
    assert_eq!(summary.errors["reset"], 10, "{}", summary.to_text());
    hanging_up.abort();
}
