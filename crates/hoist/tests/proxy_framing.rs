//! The proxy's own HTTP/1.1 exchange with an upstream, against an upstream that answers in
//! every framing HTTP/1.1 has: by length, chunked (with extensions and trailers, split over
//! several writes), to the connection's end, none (204, HEAD), after an interim 100, and
//! badly. Request bodies go by length or chunked. Connections are reused where they may be.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use serde_json::json;
use tempfile::TempDir;

use crate::http_client::{self, Patience};

use crate::proxy::{Proxy, RequestHead, started};

const BIG: usize = 2 * 1024 * 1024;

fn big_body() -> Vec<u8> {
    (0..BIG as u32)
        .map(|i| (i.wrapping_mul(7) >> 2) as u8)
        .collect()
}

/// The scripted upstream; counts the connections it accepted.
fn start_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            thread::spawn(move || serve(stream));
        }
    });
    (address, accepted)
}

/// A request as the upstream saw it: its head and its body, decoded.
struct Seen {
    head: RequestHead,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let head = RequestHead::read(reader)?;
    let mut seen = Seen {
        head,
        body: Vec::new(),
    };
    if seen.head.header("transfer-encoding") == "chunked" {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = usize::from_str_radix(size.trim(), 16).ok()?;
            if size == 0 {
                let mut end = String::new();
                reader.read_line(&mut end).ok()?;
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).ok()?;
            seen.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        let length: u64 = seen.head.header("content-length").parse().unwrap_or(0);
        reader.take(length).read_to_end(&mut seen.body).ok()?;
    }
    Some(seen)
}

fn serve(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some(seen) = read_request(&mut reader) {
        let keep_open = answer(&seen, &mut out).is_ok();
        if !keep_open {
            return;
        }
    }
}

/// Answers one request; `Err` closes the connection.
fn answer(seen: &Seen, out: &mut TcpStream) -> Result<(), ()> {
    let mut send = |bytes: &[u8]| out.write_all(bytes).map_err(|_| ());
    match seen.head.path.as_str() {
        "/chunked" => {
            send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel")?;
            thread::sleep(Duration::from_millis(20));
            send(b"lo\r\n6\r\n world\r\n0\r\nx-trailer: t\r\n\r\n")
        }
        "/until-close" => {
            send(b"HTTP/1.1 200 OK\r\n\r\nto the ")?;
            thread::sleep(Duration::from_millis(20));
            send(b"end")?;
            Err(())
        }
        "/closing" => {
            send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbye!")?;
            Err(())
        }
        "/empty" => send(b"HTTP/1.1 204 No Content\r\n\r\n"),
        "/interim" => {
            send(b"HTTP/1.1 100 Continue\r\n\r\n")?;
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nanswered")
        }
        "/big" => {
            send(format!("HTTP/1.1 200 OK\r\nContent-Length: {BIG}\r\n\r\n").as_bytes())?;
            if seen.head.method != "HEAD" {
                for piece in big_body().chunks(64 * 1024) {
                    send(piece)?;
                }
            }
            Ok(())
        }
        "/echo" => {
            let body = format!(
                "{} {} te={} cl={}",
                seen.body.len(),
                blake3::hash(&seen.body).to_hex(),
                seen.head.header("transfer-encoding"),
                seen.head.header("content-length")
            );
            send(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
        }
        "/garbage" => {
            send(b"NOT HTTP AT ALL\r\n\r\n")?;
            Err(())
        }
        "/cut" => {
            send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b")?;
            Err(())
        }
        _ => send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    }
}

/// A proxy routed to a fresh scripted upstream; the upstream's count of connections.
fn routed() -> (Arc<AtomicUsize>, TempDir, Proxy) {
    let (upstream, accepted) = start_upstream();
    let (dir, proxy) = started();
    proxy.admin(json!({ "set_upstream": upstream.to_string() }));
    (accepted, dir, proxy)
}

fn request(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
) -> Result<http_client::Answer, String> {
    let url = format!("http://127.0.0.1:{port}{path}");
    http_client::send(method, &url, &[], body, Patience::TEST)
}

/// Sends a chunked request by hand (the client library sends a length) and reads the answer.
fn chunked_post(port: u16, path: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    for piece in body.chunks(100_000) {
        write!(stream, "{:x}\r\n", piece.len()).unwrap();
        stream.write_all(piece).unwrap();
        stream.write_all(b"\r\n").unwrap();
    }
    stream.write_all(b"0\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn every_response_framing_reaches_the_client_whole_and_kept_connections_are_reused() {
    let (accepted, _dir, proxy) = routed();
    let port = proxy.port;
    let big = big_body();
    for round in 0..3 {
        let chunked = request(port, "GET", "/chunked", None).unwrap();
        assert_eq!(
            (chunked.status, chunked.body.as_str()),
            (200, "hello world")
        );
        assert!(
            !chunked.head.to_ascii_lowercase().contains("x-trailer"),
            "{}",
            chunked.head
        );

        let empty = request(port, "GET", "/empty", None).unwrap();
        assert_eq!((empty.status, empty.body.as_str()), (204, ""));

        let interim = request(port, "GET", "/interim", None).unwrap();
        assert_eq!((interim.status, interim.body.as_str()), (200, "answered"));

        let head = request(port, "HEAD", "/big", None).unwrap();
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert!(
            head.head.contains(&format!("content-length: {BIG}")),
            "{}",
            head.head
        );

        let url = format!("http://127.0.0.1:{port}/big");
        let mut stream = http_client::open(&url, &[], Patience::TEST).unwrap();
        let mut got = Vec::new();
        stream.body.read_to_end(&mut got).unwrap();
        assert!(
            got == big,
            "round {round}: {} bytes, not the {BIG} sent",
            got.len()
        );

        let posted = request(port, "POST", "/echo", Some(&big)).unwrap();
        let hash = blake3::hash(&big).to_hex();
        assert_eq!(posted.body, format!("{BIG} {hash} te= cl={BIG}"));
    }
    // Every answer above may keep its connection: one per serving thread, each reused.
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let kept = accepted.load(Ordering::SeqCst);
    assert!((1..=threads).contains(&kept), "{kept} upstream connections");

    let until_close = request(port, "GET", "/until-close", None).unwrap();
    assert_eq!(
        (until_close.status, until_close.body.as_str()),
        (200, "to the end")
    );
    let closing = request(port, "GET", "/closing", None).unwrap();
    assert_eq!((closing.status, closing.body.as_str()), (200, "bye!"));
    // Those two closed theirs; the next request dials again, and works.
    assert_eq!(request(port, "GET", "/", None).unwrap().body, "ok");
    assert!(accepted.load(Ordering::SeqCst) <= threads + 2);
    proxy.stop();
}

#[test]
fn a_chunked_request_body_goes_to_the_upstream_chunked_and_whole() {
    let (_, _dir, proxy) = routed();
    let body = big_body();
    let answer = chunked_post(proxy.port, "/echo", &body);
    let expected = format!("{BIG} {} te=chunked cl=", blake3::hash(&body).to_hex());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(&expected), "{answer}");
    // An empty POST reaches the upstream as one with no body.
    let empty = request(proxy.port, "POST", "/echo", Some(b"")).unwrap();
    assert!(empty.body.starts_with("0 "), "{}", empty.body);
    proxy.stop();
}

#[test]
fn a_bad_or_cut_upstream_answer_is_a_502_or_a_cut_response_and_the_next_request_works() {
    let (_, _dir, proxy) = routed();
    let garbage = request(proxy.port, "GET", "/garbage", None).unwrap();
    assert_eq!(garbage.status, 502, "{garbage:?}");
    assert!(
        garbage.body.contains("invalid response"),
        "{}",
        garbage.body
    );
    // A body cut short is never passed off as whole.
    match request(proxy.port, "GET", "/cut", None) {
        Err(_) => {}
        Ok(cut) => assert!(cut.body.len() < 100, "{cut:?}"),
    }
    for _ in 0..4 {
        assert_eq!(request(proxy.port, "GET", "/", None).unwrap().body, "ok");
    }
    proxy.stop();
}

/// A request that names both a length and chunked (the shape of request smuggling) never
/// reaches the upstream with a length that disagrees with its body.
#[test]
fn a_request_with_both_a_length_and_chunked_is_not_smuggled() {
    let (_, _dir, proxy) = routed();
    let mut stream = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\
              Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
              b\r\nhello world\r\n0\r\n\r\n",
        )
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if answer.starts_with("HTTP/1.1 200") {
        let hash = blake3::hash(b"hello world").to_hex();
        assert!(
            answer.ends_with(&format!("11 {hash} te=chunked cl=")),
            "the upstream saw another framing than the body: {answer}"
        );
    } else {
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    }
}
