//! The API's event stream, its OpenAPI document, secrets kept out of every answer, and a
//! clean stop on SIGTERM.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::api_server::{Server, token, two_env_test};
use crate::http_client::Stream;

/// Opens `GET /api/events/stream`; returns once the answer's head has come.
fn open_stream(server: &Server, token: &str, last_event_id: Option<i64>) -> Stream {
    let resume = last_event_id.map(|id| id.to_string());
    let headers: Vec<(&str, &str)> = resume
        .as_deref()
        .map(|id| vec![("Last-Event-ID", id)])
        .unwrap_or_default();
    server.open("/api/events/stream", token, &headers)
}

/// Reads from `stream` until `needle` has arrived (panics after 10 s); returns all read.
pub fn read_until(stream: &mut Stream, needle: &str) -> String {
    let mut seen = String::new();
    read_more(stream, &mut seen, |seen| seen.contains(needle));
    seen
}

/// Reads from `stream` into `seen` until `done(seen)` (panics after 10 s).
fn read_more(stream: &mut Stream, seen: &mut String, done: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buffer = [0u8; 4096];
    while !done(seen) {
        assert!(
            Instant::now() < deadline,
            "the stream did not bring what was expected:\n{seen}"
        );
        match stream.body.read(&mut buffer) {
            Ok(0) => panic!("the stream ended early:\n{seen}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buffer[..n])),
            Err(error) => panic!("reading the stream: {error}\n{seen}"),
        }
    }
}

/// The whole SSE message (`id:`, `event:`, `data:` lines) of the first event of `kind`.
fn read_event(stream: &mut Stream, kind: &str) -> String {
    let mut seen = String::new();
    let marker = format!("event: {kind}\n");
    read_more(stream, &mut seen, |seen| {
        seen.find(&marker)
            .is_some_and(|at| seen[at..].contains("\n\n"))
    });
    let at = seen.find(&marker).unwrap_or(0);
    let start = seen[..at].rfind("id: ").unwrap_or(at);
    let end = at + seen[at..].find("\n\n").unwrap_or(0);
    seen[start..end].to_owned()
}

#[test]
fn event_stream_sends_new_events_with_ids_and_resumes() {
    let t = two_env_test();
    let admin = token(&t, "ops", "admin", &[]);
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    for n in 0..9 {
        let body = format!(r#"{{"name":"extra-{n}","role":"viewer"}}"#);
        server.post("/api/tokens", &admin, &body).status(201);
    }

    let mut stream = open_stream(&server, &viewer, None);
    assert_eq!(stream.status, 200, "{}", stream.head);
    assert!(
        stream.head.contains("content-type: text/event-stream"),
        "{}",
        stream.head
    );
    let body = r#"{"kind":"deploy","env":"staging","at":"2099-01-01T00:00:00Z"}"#;
    let command = server
        .post("/api/commands", &admin, body)
        .status(202)
        .json();
    let command_id = command["command"]["id"].as_i64().unwrap();
    let seen = read_event(&mut stream, "command.scheduled");
    assert!(
        !seen.contains("token.created"),
        "a new stream starts with what happens next:\n{seen}"
    );
    assert!(
        seen.starts_with("id: 12\n"),
        "after the 11 events before it:\n{seen}"
    );
    let id: i64 = seen
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .and_then(|id| id.trim().parse().ok())
        .unwrap_or_else(|| panic!("no id line:\n{seen}"));
    let data = seen
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["id"], id);
    assert_eq!(event["command_id"], command_id);
    assert_eq!(event["env"], "staging");

    // Resuming from the event before replays it.
    let mut resumed = open_stream(&server, &viewer, Some(id - 1));
    let again = read_until(&mut resumed, "event: command.scheduled");
    assert!(again.contains(&format!("id: {id}")), "{again}");

    // A token limited to `dev` does not see `staging`'s events.
    let dev_only = token(&t, "dev-watcher", "viewer", &["dev"]);
    let mut scoped = open_stream(&server, &dev_only, Some(0));
    let dev_body = r#"{"kind":"deploy","env":"dev","at":"2099-01-01T00:00:00Z"}"#;
    server.post("/api/commands", &admin, dev_body).status(202);
    let only_dev = read_until(&mut scoped, "\"env\":\"dev\"");
    assert!(!only_dev.contains("\"env\":\"staging\""), "{only_dev}");
}

#[test]
fn openapi_documents_every_route_and_each_documented_route_is_served() {
    let t = two_env_test();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let document = server.get("/api/openapi.json", &viewer).status(200).json();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let mut checked = 0;
    for (path, operations) in paths {
        let concrete = path.replace("{env}", "dev").replace("{id}", "1");
        for method in operations.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            // Served and guarded: a call without a token is refused as unauthenticated,
            // never as an unknown route or method.
            server
                .call(&method, &concrete, None, None)
                .error(401, "unauthorized");
            checked += 1;
        }
    }
    assert_eq!(
        checked, 13,
        "every route of the API (the unit test checks the table)"
    );
}

#[test]
fn secrets_never_appear_in_answers() {
    let t = two_env_test();
    let admin = token(&t, "ops", "admin", &[]);
    let env_secret = "s3cr3t-value-that-must-not-leak";
    let server = Server::start(&t, &[("API_KEY", env_secret)]);
    let created = server
        .post(
            "/api/tokens",
            &admin,
            r#"{"name":"ci","role":"deployer","envs":["dev"]}"#,
        )
        .status(201)
        .json();
    let ci = created["secret"].as_str().unwrap().to_owned();
    assert!(ci.starts_with("hoist_"));
    let body = r#"{"kind":"deploy","env":"dev","at":"2099-01-01T00:00:00Z"}"#;
    let command = server.post("/api/commands", &ci, body).status(202);
    let id = command.json()["command"]["id"].as_i64().unwrap();

    let hashes: Vec<String> = [&admin, &ci]
        .iter()
        .map(|s| hoist::ops::tokens::hash_secret(s))
        .collect();
    let mut answers = vec![command.body];
    for path in [
        "/api/environments".to_owned(),
        "/api/environments/dev".to_owned(),
        "/api/commands".to_owned(),
        format!("/api/commands/{id}"),
        "/api/events".to_owned(),
        "/api/tokens".to_owned(),
        "/api/openapi.json".to_owned(),
    ] {
        answers.push(server.get(&path, &admin).status(200).body);
    }
    answers.push(server.get("/api/commands", &ci).status(200).body);
    answers.push(
        server
            .call("GET", "/api/tokens", Some(&ci), None)
            .error(403, "forbidden")
            .body,
    );
    for answer in &answers {
        for secret in [
            admin.as_str(),
            ci.as_str(),
            env_secret,
            &hashes[0],
            &hashes[1],
        ] {
            assert!(
                !answer.contains(secret),
                "an answer holds a secret:\n{answer}"
            );
        }
        assert!(
            !answer.contains(&admin[6..20]),
            "not even part of one:\n{answer}"
        );
    }
    let listed = server.get("/api/tokens", &admin).json();
    for token in listed.as_array().unwrap() {
        let keys: Vec<&String> = token.as_object().unwrap().keys().collect();
        assert!(
            !keys
                .iter()
                .any(|k| k.contains("hash") || k.contains("secret")),
            "{token}"
        );
    }
}

#[test]
fn sigterm_stops_the_server_cleanly_even_with_a_stream_open() {
    let t = two_env_test();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let mut server = Server::start(&t, &[]);
    let stream = open_stream(&server, &viewer, None);
    assert_eq!(stream.status, 200, "{}", stream.head);
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "exit {status:?}:\n{}", server.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(100));
    let log = server.log();
    assert!(
        log.contains("SIGTERM: stopping") && log.contains("hoist serve: stopped"),
        "{log}"
    );
    assert!(
        std::net::TcpStream::connect(server.address).is_err(),
        "still accepting"
    );
}
