//! The client against real TLS servers on 127.0.0.1 with certificates of a CA made here:
//! trusted through a CA file, refused (unknown CA, wrong name, expired, not TLS at all) with
//! the reason in words, redirects answered rather than followed.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use super::test_tls::{TestCa, answering_server};
use super::{Failure, HttpClient, Timeouts};

const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(5),
    per_read: Some(Duration::from_secs(10)),
    per_call: None,
};

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok";

fn client(ca_file: Option<PathBuf>) -> HttpClient {
    HttpClient::with_ca_file(TIMEOUTS, ca_file).unwrap()
}

/// GETs `url`; the status, or how it failed.
fn get(client: &HttpClient, url: &str) -> Result<u16, Failure> {
    client
        .agent()
        .get(url)
        .call()
        .map(|response| response.status().as_u16())
        .map_err(|error| client.failure(&error))
}

fn refused(outcome: Result<u16, Failure>) -> (String, String) {
    match outcome {
        Err(Failure::Certificate { reason, hint }) => (reason, hint),
        other => panic!("not a refused certificate: {other:?}"),
    }
}

#[test]
fn a_private_ca_is_trusted_through_the_ca_file_and_unknown_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("hoist test CA");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let server = answering_server(ca.server(&["127.0.0.1", "localhost"]).config(), OK);
    let url = format!("https://127.0.0.1:{}/", server.port());

    assert_eq!(get(&client(Some(ca_file.clone())), &url), Ok(200));
    let by_name = format!("https://localhost:{}/", server.port());
    assert_eq!(get(&client(Some(ca_file.clone())), &by_name), Ok(200));

    let (reason, hint) = refused(get(&client(None), &url));
    assert_eq!(reason, "it is signed by an unknown certificate authority");
    assert!(hint.contains("set `HOIST_CA_FILE`"), "{hint}");

    // A CA file with another CA: the public roots and that CA, still not this one.
    let other = dir.path().join("other.pem");
    TestCa::new("another CA").write_pem(&other);
    let (reason, hint) = refused(get(&client(Some(other)), &url));
    assert!(reason.contains("unknown certificate authority"), "{reason}");
    assert!(hint.contains("does not hold the CA"), "{hint}");
}

#[test]
fn a_certificate_for_another_name_or_out_of_date_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("hoist test CA");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let trusting = client(Some(ca_file));

    let localhost_only = answering_server(ca.server(&["localhost"]).config(), OK);
    let (reason, hint) = refused(get(
        &trusting,
        &format!("https://127.0.0.1:{}/", localhost_only.port()),
    ));
    assert_eq!(
        reason,
        "it is not valid for `127.0.0.1` (it names `localhost`)"
    );
    assert!(hint.contains("name"), "{hint}");

    let expired = answering_server(ca.expired_server(&["127.0.0.1"]).config(), OK);
    let (reason, hint) = refused(get(
        &trusting,
        &format!("https://127.0.0.1:{}/", expired.port()),
    ));
    assert!(reason.starts_with("it expired at "), "{reason}");
    assert!(hint.contains("renew"), "{hint}");
}

#[test]
fn a_plain_http_server_behind_an_https_url_is_not_tls_and_redirects_are_not_followed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut head = [0; 1024];
            let _ = stream.read(&mut head);
            let _ = stream.write_all(
                b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/\r\ncontent-length: 0\r\n\
                  connection: close\r\n\r\n",
            );
        }
    });
    let client = client(None);
    assert_eq!(
        get(&client, &format!("https://127.0.0.1:{port}/")),
        Err(Failure::NotTls)
    );
    assert_eq!(get(&client, &format!("http://127.0.0.1:{port}/")), Ok(302));
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let outcome = get(&client(None), &format!("https://127.0.0.1:{port}/"));
    assert!(
        matches!(outcome, Err(Failure::Unreachable(_))),
        "{outcome:?}"
    );
}

#[test]
fn a_ca_file_that_is_missing_or_holds_no_certificate_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    let error = HttpClient::with_ca_file(TIMEOUTS, Some(missing)).unwrap_err();
    assert!(
        error.message.contains("cannot be read"),
        "{}",
        error.message
    );
    assert!(error.message.contains("HOIST_CA_FILE"), "{}", error.message);
    assert!(!error.hints.is_empty());

    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let error = HttpClient::with_ca_file(TIMEOUTS, Some(empty)).unwrap_err();
    assert!(
        error.message.contains("holds no certificate"),
        "{}",
        error.message
    );
}
