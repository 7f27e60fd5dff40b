//! The dashboard's timeline and logs pages over HTTP: a deploy's events, narrowed by
//! environment and kind, paged back; a token limited to one environment sees nothing of
//! another; the example app's log lines, the last N, filtered, followed live over SSE; bad
//! input refused; hostile messages and log lines escaped.

use std::io::Read;
use std::time::{Duration, Instant};

use hoist::adapters::sqlite_store::SqliteStore;
use hoist::hostside::service_log::{LogStream, ServiceLogWriter};
use hoist::ports::store::{NewEvent, Store};
use jiff::Timestamp;

use crate::api_server::{Server, token};
use crate::api_stream::read_until;
use crate::dashboard_client::{Visitor, encode};
use crate::harness::{SPEC, Test};

const HOSTILE: &str = "<script>window.__hoist_xss=1</script><img src=x onerror=alert(1)>";

/// `dev` deployed, `staging` with a deploy waiting far ahead (its only event), and a
/// running `hoist serve`.
fn deployed_with_staging() -> (Test, Server) {
    let t = Test::new();
    let staging = t.temp.path().join("hosts").join("staging");
    let t = t.spec(&format!(
        "{SPEC}\n[env.staging]\nhosts = [\"local:{}\"]\n",
        staging.display()
    ));
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["deploy", "staging", "--at", "2099-01-01T00:00:00Z"])
        .success();
    let server = Server::start(&t, &[]);
    (t, server)
}

fn admin(t: &Test, server: &Server) -> Visitor {
    Visitor::signed_in(server, &token(t, "ops", "admin", &[]))
}

/// The page's body, after checking it answered 200.
fn page(visitor: &Visitor, path: &str) -> String {
    let answer = visitor.get(path);
    assert_eq!(answer.status, 200, "{path}: {answer:?}");
    answer.body
}

/// The event ids of a timeline page, in its order.
fn event_ids(body: &str) -> Vec<i64> {
    body.split("<tr id=\"event-")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect()
}

/// The kinds of a timeline page's rows.
fn kinds(body: &str) -> Vec<String> {
    body.split("<tr id=\"event-")
        .skip(1)
        .filter_map(|row| {
            let cell = row.split("</td><td").nth(1)?;
            Some(cell.split('>').nth(1)?.split('<').next()?.to_owned())
        })
        .collect()
}

/// The log lines of a logs page.
fn log_lines(body: &str) -> Vec<String> {
    let list = body
        .split_once("<ol>")
        .and_then(|(_, rest)| rest.split_once("</ol>"))
        .map_or("", |(list, _)| list);
    list.split("<li>")
        .skip(1)
        .map(|item| item.split("</li>").next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn the_timeline_shows_a_deploys_events_newest_first_narrowed_by_env_and_kind() {
    let (t, server) = deployed_with_staging();
    let visitor = admin(&t, &server);

    let all = page(&visitor, "/timeline");
    let ids = event_ids(&all);
    assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "{ids:?}");
    let kinds_of_all = kinds(&all);
    for kind in ["command.succeeded", "command.scheduled", "step.succeeded"] {
        assert!(
            kinds_of_all.iter().any(|k| k == kind),
            "{kind}: {kinds_of_all:?}"
        );
    }
    assert!(all.contains("href=\"/env/staging\""), "{all}");
    assert!(
        all.contains("href=\"/commands/1\""),
        "the deploy's events link it"
    );
    assert!(all.contains("data-live=\"events\""), "{all}");
    assert!(all.contains("<label for=\"kind\">"), "a labelled filter");

    let dev = page(&visitor, "/timeline?env=dev");
    assert!(!dev.contains("href=\"/env/staging\""), "{dev}");
    assert!(kinds(&dev).iter().any(|k| k == "command.succeeded"));
    assert!(!kinds(&dev).iter().any(|k| k == "command.scheduled"));
    assert!(dev.contains("data-live=\"events?env=dev\""), "{dev}");

    let commands = page(
        &visitor,
        &format!("/timeline?{}", encode(&[("kind", "command.")])),
    );
    let command_kinds = kinds(&commands);
    assert!(command_kinds.iter().any(|k| k == "command.succeeded"));
    assert!(
        command_kinds.iter().all(|k| k.starts_with("command.")),
        "{command_kinds:?}"
    );
    let scheduled = page(&visitor, "/timeline?kind=command.scheduled");
    assert_eq!(kinds(&scheduled), ["command.scheduled"]);
    assert!(scheduled.contains("href=\"/env/staging\""));

    // Paging back: before the newest, all but it, and no live region.
    let older = page(&visitor, &format!("/timeline?before={}", ids[0]));
    assert_eq!(event_ids(&older), ids[1..]);
    assert!(!older.contains("data-live"), "{older}");
    assert!(
        older.contains("href=\"/timeline\""),
        "a way back to the newest"
    );

    let bad = visitor.get("/timeline?before=soon");
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.body.contains("must be an event id"), "{}", bad.body);
}

#[test]
fn a_viewer_limited_to_dev_sees_nothing_of_staging() {
    let (t, server) = deployed_with_staging();
    let viewer = Visitor::signed_in(&server, &token(&t, "watcher", "viewer", &["dev"]));
    let timeline = page(&viewer, "/timeline");
    assert!(!event_ids(&timeline).is_empty(), "dev's events: {timeline}");
    assert!(!timeline.contains("staging"), "{timeline}");
    assert!(!kinds(&timeline).iter().any(|k| k == "command.scheduled"));
    assert!(!timeline.contains("token.created"), "no event outside dev");
    for path in [
        "/timeline?env=staging",
        "/logs?env=staging",
        "/live/logs?env=staging",
    ] {
        assert_eq!(viewer.get(path).status, 403, "{path}");
    }
    let logs = page(&viewer, "/logs");
    assert!(logs.contains("href=\"/logs?env=dev\""), "{logs}");
    assert!(!logs.contains("staging"), "{logs}");
}

#[test]
fn hostile_event_messages_and_log_lines_are_escaped() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let store = SqliteStore::open(&t.project.join(".hoist").join("state.db")).unwrap();
    store
        .append_event(&NewEvent {
            at: Timestamp::now(),
            env: Some("dev".parse().unwrap()),
            command_id: None,
            kind: "note.hostile".to_owned(),
            message: HOSTILE.to_owned(),
            actor: HOSTILE.to_owned(),
        })
        .unwrap();
    let log = t
        .root
        .join("logs")
        .join(format!("{}.log", t.live().unwrap()));
    let mut writer = ServiceLogWriter::open(&log, 10 << 20, 3).unwrap();
    writer
        .write_line(LogStream::Out, HOSTILE.as_bytes(), Timestamp::now())
        .unwrap();
    let server = Server::start(&t, &[]);
    let visitor = admin(&t, &server);
    for path in ["/timeline", "/logs?env=dev"] {
        let body = page(&visitor, path);
        assert!(!body.contains("<script>window"), "{path} unescaped: {body}");
        assert!(!body.contains("<img src=x"), "{path} unescaped: {body}");
        assert!(
            body.contains("&#60;script&#62;window.__hoist_xss=1&#60;/script&#62;&#60;img"),
            "{path} shows it, escaped: {body}"
        );
    }
}

#[test]
fn the_logs_page_shows_the_apps_lines_the_last_n_and_those_matching() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    for marker in ["/marker-1", "/marker-2", "/marker-3"] {
        t.get(marker).unwrap();
    }
    let server = Server::start(&t, &[]);
    let visitor = admin(&t, &server);

    let picker = page(&visitor, "/logs");
    assert!(picker.contains("href=\"/logs?env=dev\""), "{picker}");

    let body = page(&visitor, "/logs?env=dev");
    let lines = log_lines(&body);
    let markers: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("GET /marker-"))
        .collect();
    assert_eq!(markers.len(), 3, "{lines:#?}");
    assert!(markers[0].contains("marker-1") && markers[2].contains("marker-3"));
    assert!(
        markers[0].starts_with("local 20"),
        "host and time first: {}",
        markers[0]
    );
    assert!(
        body.contains("data-follow-logs=\"/live/logs?env=dev\""),
        "{body}"
    );
    for label in ["for=\"lines\"", "for=\"grep\"", "for=\"host\""] {
        assert!(body.contains(label), "{label}");
    }

    let last_two = log_lines(&page(&visitor, "/logs?env=dev&lines=2"));
    assert_eq!(last_two.len(), 2, "{last_two:#?}");
    assert!(last_two[0].contains("/marker-2") && last_two[1].contains("/marker-3"));

    let query = encode(&[("env", "dev"), ("grep", "marker-[13]")]);
    let matching = log_lines(&page(&visitor, &format!("/logs?{query}")));
    assert_eq!(matching.len(), 2, "{matching:#?}");
    assert!(matching[0].contains("/marker-1") && matching[1].contains("/marker-3"));

    // One host, as the spec names it.
    let host = format!("local:{}", t.root.display());
    let query = encode(&[("env", "dev"), ("host", &host), ("lines", "1")]);
    let one = page(&visitor, &format!("/logs?{query}"));
    assert_eq!(log_lines(&one).len(), 1, "{one}");

    for (query, says) in [
        ("lines=ten", "`lines` must be a whole number from 1 to 5000"),
        ("lines=0", "not `0`"),
        ("lines=5001", "not `5001`"),
        ("grep=%28unclosed", "is not a regular expression"),
        ("host=local%3A%2Fnowhere", "is not a host of `dev`"),
    ] {
        let answer = visitor.get(&format!("/logs?env=dev&{query}"));
        assert_eq!(answer.status, 400, "{query}: {answer:?}");
        assert!(answer.body.contains(says), "{query}: {}", answer.body);
    }
}

#[test]
fn live_logs_send_a_line_written_after_the_stream_opened() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    t.get("/before-the-stream").unwrap();
    let mut server = Server::start(&t, &[]);
    let visitor = admin(&t, &server);

    let mut stream = visitor.open("/live/logs?env=dev");
    assert_eq!(stream.status, 200, "{}", stream.head);
    assert!(
        stream.head.contains("content-type: text/event-stream"),
        "{}",
        stream.head
    );
    t.get("/after-the-stream").unwrap();
    let seen = read_until(&mut stream, "after-the-stream");
    assert!(
        !seen.contains("before-the-stream"),
        "only new lines:\n{seen}"
    );
    let data = seen
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .find(|data| data.contains("after-the-stream"))
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(line["host"], "local", "{line}");
    assert!(
        line["at"].as_str().unwrap().parse::<Timestamp>().is_ok(),
        "{line}"
    );
    assert!(
        line["line"]
            .as_str()
            .unwrap()
            .contains("GET /after-the-stream"),
        "{line}"
    );

    let anonymous = Visitor::anonymous(&server).get("/live/logs?env=dev");
    assert_eq!(anonymous.status, 303, "a session is needed");
    assert_eq!(
        visitor.get("/live/logs").status,
        400,
        "an environment is needed"
    );

    // A graceful stop does not wait on an open stream: it ends.
    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "exit {status:?}:\n{}", server.log());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let mut rest = Vec::new();
    stream.body.read_to_end(&mut rest).unwrap();
}
