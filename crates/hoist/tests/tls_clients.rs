//! https for hoist's two HTTP clients, against real TLS on loopback with a CA made in the
//! test: the CLI to a real `hoist serve` behind a TLS-terminating forwarder, and the webhook
//! sender (the daemon's and `webhooks deliver`) to an https receiver. Trusted through
//! `HOIST_CA_FILE`; refused without it, with the URL, the reason and a hint.

use std::path::PathBuf;
use std::time::Duration;

use crate::api_server::{Server, token, two_env_test};
use crate::harness::Test;
use crate::test_tls::TestCa;
use crate::tls_forwarder::TlsForwarder;
use crate::webhook_receiver::Receiver;

const HOOK_SECRET: &str = "hook-secret-7e2b9d1c4a";

/// A CA for this test, its PEM file in the test's directory.
fn private_ca(t: &Test) -> (TestCa, PathBuf) {
    let ca = TestCa::new("hoist test CA");
    let path = t.temp.path().join("ca.pem");
    ca.write_pem(&path);
    (ca, path)
}

/// The commands in the store, read directly (no `HOIST_SERVER`).
fn stored(t: &Test) -> Vec<serde_json::Value> {
    let list = t.hoist(&["commands", "list", "--json"]).success().json();
    list.as_array().cloned().unwrap_or_default()
}

#[test]
fn the_cli_sends_commands_to_an_https_hoist_server_whose_ca_is_in_hoist_ca_file() {
    let t = two_env_test();
    let ci = token(&t, "ci", "deployer", &[]);
    let server = Server::start(&t, &[]);
    let (ca, ca_file) = private_ca(&t);
    let proxy = TlsForwarder::start(ca.server(&["127.0.0.1"]).config(), server.address);
    let address = proxy.url();
    let ca_file = ca_file.to_str().unwrap();
    let env = [
        ("HOIST_SERVER", address.as_str()),
        ("HOIST_TOKEN", ci.as_str()),
        ("HOIST_CA_FILE", ca_file),
    ];

    t.hoist_with(&["deploy", "staging"], &env)
        .success()
        .stderr_contains(&format!("sent to {address}"))
        .stderr_contains("✓")
        .stdout_contains("deploy staging: done");
    let scheduled = t
        .hoist_with(&["configure", "staging", "--in", "1h", "--json"], &env)
        .success()
        .json();
    let id = scheduled["command"]["id"]
        .as_i64()
        .expect("an id")
        .to_string();
    let listed = t
        .hoist_with(&["commands", "list", "--json"], &env)
        .success()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed:#}");
    t.hoist_with(&["commands", "cancel", &id], &env)
        .success()
        .stdout_contains(&format!("cancelled command {id}"));
    // The API's error bodies come through TLS as they do over plain http.
    t.hoist_with(&["commands", "show", "999"], &env)
        .code(1)
        .stderr_contains("no command with id 999");

    let commands = stored(&t);
    let deploy = commands
        .iter()
        .find(|c| c["kind"] == "deploy")
        .expect("the deploy");
    assert_eq!(deploy["status"], "succeeded", "{deploy:#}");
    assert_eq!(deploy["requested_by"], "token:ci", "{deploy:#}");
    assert!(
        proxy.handshakes() >= 5,
        "{} TLS connections",
        proxy.handshakes()
    );
}

#[test]
fn an_https_hoist_server_with_a_certificate_the_cli_does_not_trust_is_refused_plainly() {
    let t = two_env_test();
    let ci = token(&t, "ci", "deployer", &[]);
    let server = Server::start(&t, &[]);
    let (ca, ca_file) = private_ca(&t);
    let proxy = TlsForwarder::start(ca.server(&["127.0.0.1"]).config(), server.address);
    let address = proxy.url();

    // No `HOIST_CA_FILE`: the public CAs do not know this one.
    t.hoist_with(
        &["deploy", "staging"],
        &[("HOIST_SERVER", &address), ("HOIST_TOKEN", &ci)],
    )
    .code(1)
    .stderr_contains(&format!(
        "error: the certificate of the hoist server at {address} is refused"
    ))
    .stderr_contains("it is signed by an unknown certificate authority")
    .stderr_contains("hint: if a private CA signed it, set `HOIST_CA_FILE`");

    // Trusted CA, but the certificate names another host.
    let ca_file = ca_file.to_str().unwrap();
    let elsewhere = TlsForwarder::start(ca.server(&["localhost"]).config(), server.address);
    t.hoist_with(
        &["commands", "list"],
        &[
            ("HOIST_SERVER", &elsewhere.url()),
            ("HOIST_TOKEN", &ci),
            ("HOIST_CA_FILE", ca_file),
        ],
    )
    .code(1)
    .stderr_contains(&format!(
        "the certificate of the hoist server at {} is refused",
        elsewhere.url()
    ))
    .stderr_contains("it is not valid for `127.0.0.1` (it names `localhost`)");

    // A `HOIST_CA_FILE` that is not there is said before anything is sent.
    let missing = t.temp.path().join("missing.pem");
    t.hoist_with(
        &["deploy", "staging"],
        &[
            ("HOIST_SERVER", &address),
            ("HOIST_TOKEN", &ci),
            ("HOIST_CA_FILE", missing.to_str().unwrap()),
        ],
    )
    .code(1)
    .stderr_contains(&format!(
        "`HOIST_CA_FILE` `{}` cannot be read",
        missing.display()
    ));

    assert_eq!(proxy.handshakes(), 0, "no request got through");
    assert_eq!(elsewhere.handshakes(), 0, "no request got through");
    assert!(stored(&t).is_empty(), "nothing was stored");
}

#[test]
fn the_daemon_delivers_signed_webhooks_to_an_https_receiver_whose_ca_is_in_hoist_ca_file() {
    let t = Test::new();
    let (ca, ca_file) = private_ca(&t);
    let receiver = Receiver::start_tls(HOOK_SECRET, &[], ca.server(&["127.0.0.1"]).config());
    let url = receiver.url("/hooks/tls");
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    t.hoist(&["webhooks", "add", &url, "--secret", HOOK_SECRET])
        .success();
    let listed = t.hoist(&["--json", "webhooks", "list"]).success().json();
    assert_eq!(listed[0]["url"], url.as_str(), "{listed:#}");

    let server = Server::start(&t, &[("HOIST_CA_FILE", ca_file.to_str().unwrap())]);
    let received = receiver.wait_for(1, Duration::from_secs(20));
    assert_eq!(received[0].path, "/hooks/tls");
    assert!(received[0].signed, "a bad signature: {:#?}", received[0]);
    assert_eq!(received[0].kind(), "webhook.added");
    assert_eq!(received[0].headers["x-hoist-event"], "webhook.added");
    // The receiver has the request; the daemon records the answer a moment later.
    let started = std::time::Instant::now();
    let deliveries = loop {
        let deliveries = t
            .hoist(&["--json", "webhooks", "deliveries"])
            .success()
            .json();
        if deliveries[0]["status"] != "pending" || started.elapsed() > Duration::from_secs(10) {
            break deliveries;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(server);
    assert_eq!(deliveries[0]["status"], "delivered", "{deliveries:#}");
    assert_eq!(deliveries[0]["last_status"], 200, "{deliveries:#}");
}

#[test]
fn an_https_receiver_whose_ca_is_unknown_is_refused_with_the_reason_and_gets_nothing() {
    let t = Test::new();
    let ca = TestCa::new("a CA nobody trusts");
    let receiver = Receiver::start_tls(HOOK_SECRET, &[], ca.server(&["127.0.0.1"]).config());
    let url = receiver.url("/hooks/secret-path");
    t.hoist(&["webhooks", "add", &url, "--secret", HOOK_SECRET])
        .success();

    let origin = format!("https://{}", receiver.address);
    let expected = format!(
        "the certificate of {origin} is refused: it is signed by an unknown certificate \
         authority (hint: if a private CA signed it, set `HOIST_CA_FILE`"
    );
    // Without `--json` the failed attempt is told on stderr as it happens.
    t.hoist(&["webhooks", "deliver", "--once"])
        .success()
        .stderr_contains(&format!("webhook 1 ({url}): delivery 1 of event"))
        .stderr_contains(&expected);
    let deliveries = t
        .hoist(&["--json", "webhooks", "deliveries"])
        .success()
        .json();
    assert_eq!(deliveries[0]["status"], "pending", "{deliveries:#}");
    assert!(deliveries[0]["last_status"].is_null(), "{deliveries:#}");
    let error = deliveries[0]["last_error"].as_str().unwrap_or_default();
    assert!(error.starts_with(&expected), "{error}");
    assert!(
        !error.contains("secret-path"),
        "the path stays out: {error}"
    );
    assert!(receiver.received().is_empty(), "{:#?}", receiver.received());
}
