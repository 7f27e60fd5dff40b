//! Two senders on one store at once (two `hoist serve` on one database): every event is
//! delivered exactly once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jiff::Timestamp;

use crate::adapters::sqlite_store::SqliteStore;
use crate::ports::progress::SilentProgress;
use crate::ports::store::{NewEvent, Store};
use crate::ports::webhook_store::{DeliveryFilter, HookSecret, NewWebhook, WebhookStore};
use crate::webhooks::webhook_sender::{PassReport, SenderOptions, pass};
use hoist_core::webhook_policy::DeliveryStatus;

/// Answers 200 to every request; counts them.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            seen.fetch_add(1, Ordering::SeqCst);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, count)
}

#[test]
fn two_senders_at_once_deliver_each_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let (first, second) = (
        SqliteStore::open(&path).unwrap(),
        SqliteStore::open(&path).unwrap(),
    );
    let (url, received) = receiver();
    first
        .add_webhook(&NewWebhook {
            url: url.parse().unwrap(),
            env: None,
            kinds: Vec::new(),
            secret: HookSecret::new("a-secret-for-the-test".to_owned()),
            created_by: "test".to_owned(),
            created_at: Timestamp::now(),
        })
        .unwrap();
    for index in 0..40 {
        first
            .append_event(&NewEvent {
                at: Timestamp::now(),
                env: None,
                command_id: None,
                kind: "test.event".to_owned(),
                message: format!("event {index}"),
                actor: "test".to_owned(),
            })
            .unwrap();
    }
    let options = SenderOptions {
        batch: 3,
        events_per_read: 7,
        ..SenderOptions::default()
    };
    let reports: Vec<PassReport> = std::thread::scope(|scope| {
        let senders: Vec<_> = [&first as &dyn Store, &second]
            .into_iter()
            .map(|store| scope.spawn(|| pass(store, &options, &SilentProgress).unwrap()))
            .collect();
        senders.into_iter().map(|s| s.join().unwrap()).collect()
    });
    assert_eq!(
        reports.iter().map(|r| r.queued).sum::<usize>(),
        40,
        "{reports:?}"
    );
    assert_eq!(
        reports.iter().map(|r| r.delivered).sum::<usize>(),
        40,
        "{reports:?}"
    );
    assert_eq!(received.load(Ordering::SeqCst), 40);
    let deliveries = second.deliveries(&DeliveryFilter::default()).unwrap();
    assert_eq!(deliveries.len(), 40);
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered && d.attempts == 1)
    );
}
