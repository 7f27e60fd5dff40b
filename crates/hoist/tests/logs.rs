//! `hoist logs`: the service's output on its hosts, merged by time with a host prefix,
//! filtered (`--grep`, `--since`, `--lines`), as JSON lines, and followed as it is written;
//! on two SSH hosts, merged by time. The example app logs one line per request on stderr;
//! records in hoist's log format are appended with the very writer hosts use.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use hoist::hostside::service_log::{LogStream, ServiceLogWriter};
use jiff::Timestamp;

use crate::harness::Test;
use crate::testbed::Testbed;

/// The host prefix of a text line, without its padding.
fn host_of(line: &str) -> &str {
    line.split_once(" | ")
        .map_or("", |(host, _)| host.trim_end())
}

/// `hoist logs` text lines: `HOST | 2026-12-05T10:00:00.123Z TEXT`.
fn assert_prefixed(stdout: &str, host: &str) {
    for line in stdout.lines() {
        let (prefix, rest) = line
            .split_once(" | ")
            .unwrap_or_else(|| panic!("no prefix: {line}"));
        assert_eq!(prefix.trim_end(), host, "{line}");
        let time = rest.split(' ').next().unwrap();
        assert_eq!(time.len(), "2026-12-05T10:00:00.123Z".len(), "{line}");
        assert!(time.parse::<Timestamp>().is_ok(), "{line}");
    }
}

fn deployed() -> Test {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    for marker in ["/marker-1", "/marker-2", "/marker-3"] {
        t.get(marker).unwrap();
    }
    t
}

/// The log of the live release, as the runtime writes it.
fn live_log(t: &Test) -> std::path::PathBuf {
    t.root
        .join("logs")
        .join(format!("{}.log", t.live().unwrap()))
}

#[test]
fn logs_show_the_output_with_host_and_time() {
    let t = deployed();
    let stdout = t.hoist(&["logs", "dev"]).success().stdout;
    assert_prefixed(&stdout, "local");
    let live = t.live().unwrap();
    assert!(
        stdout.contains(&format!("==> starting release {live}")),
        "{stdout}"
    );
    assert!(stdout.contains("listening on 127.0.0.1"), "{stdout}");
    let markers: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("GET /marker-"))
        .collect();
    assert_eq!(markers.len(), 3, "{stdout}");
    assert!(markers[0].contains("marker-1") && markers[2].contains("marker-3"));
}

#[test]
fn grep_and_lines_pick_lines() {
    let t = deployed();
    let grep = t.hoist(&["logs", "dev", "--grep", "marker-[23]"]).success();
    let lines: Vec<&str> = grep.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", grep.stdout);
    assert!(lines[0].contains("/marker-2") && lines[1].contains("/marker-3"));

    let last = t.hoist(&["logs", "dev", "--lines", "2"]).success();
    let lines: Vec<&str> = last.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", last.stdout);
    assert!(lines[0].contains("/marker-2") && lines[1].contains("/marker-3"));

    t.hoist(&["logs", "dev", "--grep", "(unclosed"])
        .code(1)
        .stderr_contains("is not a regular expression");
    t.hoist(&["logs", "dev", "--lines", "0"]).code(1);
}

#[test]
fn json_is_one_object_per_line() {
    let t = deployed();
    let stdout = t
        .hoist(&["--json", "logs", "dev", "--grep", "marker"])
        .success()
        .stdout;
    let live = t.live().unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    for line in &lines {
        let object = line.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["host", "release", "stream", "text", "time"]);
        assert_eq!(line["host"], format!("local:{}", t.root.display()));
        assert_eq!(line["release"], live.as_str());
        assert!(line["time"].as_str().unwrap().parse::<Timestamp>().is_ok());
    }
    assert!(lines[1]["text"].as_str().unwrap().contains("/marker-2"));
}

#[test]
fn records_are_timed_and_since_filters_by_their_time() {
    let t = deployed();
    // What an instance's monitor writes: records after the raw lines of the same file.
    let mut writer = ServiceLogWriter::open(&live_log(&t), 10 << 20, 3).unwrap();
    let now = Timestamp::now();
    let ago = |seconds: i64| now - jiff::SignedDuration::from_secs(seconds);
    writer
        .write_line(LogStream::Err, b"an hour-old record", ago(3600))
        .unwrap();
    writer
        .write_line(LogStream::Out, b"a fresh record", ago(1))
        .unwrap();
    let recent = t
        .hoist(&["--json", "logs", "dev", "--since", "30m"])
        .success();
    let texts: Vec<String> = recent
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["text"].to_string())
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("a fresh record")),
        "{texts:?}"
    );
    assert!(
        !texts.iter().any(|t| t.contains("an hour-old")),
        "{texts:?}"
    );
    let fresh = t
        .hoist(&["--json", "logs", "dev", "--grep", "record"])
        .success()
        .stdout;
    let streams: Vec<String> = fresh
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["stream"].to_string())
        .collect();
    // Merged by time: the hour-old record comes first.
    assert_eq!(streams, ["\"err\"", "\"out\""], "{fresh}");
    let future = (now + jiff::SignedDuration::from_hours(1)).to_string();
    let none = t.hoist(&["logs", "dev", "--since", &future]).success();
    assert_eq!(none.stdout, "");
}

/// Lines `child` prints, as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    received
}

fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("`logs --follow` never printed {needle:?}"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn interrupt(mut child: Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "`logs --follow` ended with {status:?}");
}

#[test]
fn follow_prints_new_lines_until_interrupted() {
    let t = deployed();
    let mut follower = t.spawn(&["logs", "dev", "--follow", "--lines", "1"]);
    let lines = lines_of(&mut follower);
    wait_for(&lines, "/marker-3");
    t.get("/followed-1").unwrap();
    let line = wait_for(&lines, "/followed-1");
    assert!(line.starts_with("local | "), "{line}");
    // A new release's log appears while following: it is read from its start.
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let v2 = t.live().unwrap();
    wait_for(&lines, &format!("starting release {v2}"));
    t.get("/followed-2").unwrap();
    wait_for(&lines, "/followed-2");
    // The monitor's rotation of the log under the follower loses nothing.
    let mut writer = ServiceLogWriter::open(&live_log(&t), 2048, 3).unwrap();
    for index in 0..60 {
        let text = format!("rotating record {index:02} {}", "x".repeat(40));
        writer
            .write_line(LogStream::Out, text.as_bytes(), Timestamp::now())
            .unwrap();
    }
    assert!(Path::new(&format!("{}.1", live_log(&t).display())).exists());
    for index in 0..60 {
        wait_for(&lines, &format!("rotating record {index:02}"));
    }
    interrupt(follower);
}

#[test]
fn unknown_environments_and_hosts_are_named() {
    let t = deployed();
    t.hoist(&["logs", "prod"])
        .code(1)
        .stderr_contains("environment `prod` is not in the spec");
    t.hoist(&["logs", "dev", "--hosts", "local:/nowhere"])
        .code(1)
        .stderr_contains("`--hosts` names `local:/nowhere`, which is not a host of `dev`");
}

/// A spec for `hosts` under `/srv/app` with the testbed's ssh_config.
fn fleet_spec(t: &Test, tb: &Testbed) -> String {
    let list: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    let base = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let service = &base[base.find("[service]").unwrap()..base.find("[env.dev]").unwrap()];
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{service}\
         [env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\nvars = {{ GREETING = \"hi\" }}\n",
        list.join(", "),
        tb.ssh_config.display(),
    )
}

/// The live release's log on testbed host `name` (h1, h2…), seen from here.
fn host_log(tb: &Testbed, name: &str) -> std::path::PathBuf {
    let root = tb.dir().join(name).join("srv").join("app");
    let live = std::fs::read_link(root.join("live")).unwrap();
    let release = live.file_name().unwrap().to_string_lossy().into_owned();
    root.join("logs").join(format!("{release}.log"))
}

#[test]
fn two_ssh_hosts_merge_by_time_with_their_names() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &fleet_spec(&t, &tb));
    t.hoist(&["deploy", "fleet"]).success();
    let start = Timestamp::now();
    let mut writers = [
        ServiceLogWriter::open(&host_log(&tb, "h1"), 10 << 20, 3).unwrap(),
        ServiceLogWriter::open(&host_log(&tb, "h2"), 10 << 20, 3).unwrap(),
    ];
    for tick in 0..6_i64 {
        let writer = &mut writers[usize::try_from(tick % 2).unwrap()];
        let at = start + jiff::SignedDuration::from_millis(tick * 10);
        writer
            .write_line(LogStream::Out, format!("tick {tick}").as_bytes(), at)
            .unwrap();
    }
    let stdout = t
        .hoist(&["logs", "fleet", "--grep", "^tick"])
        .success()
        .stdout;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    for (tick, line) in lines.iter().enumerate() {
        let host = &tb.hosts[tick % 2];
        assert_eq!(host_of(line), host, "{line}");
        assert!(line.ends_with(&format!("tick {tick}")), "{line}");
    }
    let both = t.hoist(&["logs", "fleet"]).success().stdout;
    for host in &tb.hosts {
        assert!(
            both.lines()
                .any(|l| host_of(l) == host && l.contains("listening on")),
            "{both}"
        );
    }
    let one = t
        .hoist(&[
            "logs",
            "fleet",
            "--hosts",
            &format!("root@{}", tb.hosts[1]),
            "--grep",
            "^tick",
        ])
        .success()
        .stdout;
    assert_eq!(one.lines().count(), 3, "{one}");

    // Following over SSH: a line written on h2 shows up with h2's name.
    let mut follower = t.spawn(&["logs", "fleet", "--follow", "--lines", "1"]);
    let lines = lines_of(&mut follower);
    wait_for(&lines, "tick 5");
    writers[1]
        .write_line(LogStream::Err, b"followed over ssh", Timestamp::now())
        .unwrap();
    let line = wait_for(&lines, "followed over ssh");
    assert_eq!(host_of(&line), tb.hosts[1], "{line}");
    interrupt(follower);

    // A host that cannot be reached is named; the others are still shown.
    tb.stop_host("h2");
    let partly = t.hoist(&["logs", "fleet", "--grep", "^tick"]).code(1);
    assert_eq!(partly.stdout.lines().count(), 3, "{}", partly.stdout);
    assert!(partly.stdout.lines().all(|l| host_of(l) == tb.hosts[0]));
    assert!(
        partly
            .stderr
            .contains(&format!("could not read the logs of {}", tb.hosts[1])),
        "{}",
        partly.stderr
    );
}
