//! `hoist exec`: a one-off command in the live release of every host with the app's
//! environment, its output prefixed with the host (stdout to stdout, stderr to stderr),
//! hoist's exit code the worst of the hosts', recorded as a command without its output.

use crate::harness::Test;
use crate::testbed::Testbed;

#[test]
fn exec_runs_with_the_apps_environment_and_exits_with_its_status() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let live = t.live().unwrap();
    let outcome = t
        .hoist(&[
            "exec",
            "dev",
            "--",
            "sh",
            "-c",
            "echo $GREETING; echo \"$HOIST_ENV $HOIST_RELEASE $(cat message.txt)\"; echo oops-$((6*7)) >&2; exit 3",
        ])
        .code(3);
    let stdout: Vec<&str> = outcome.stdout.lines().collect();
    assert_eq!(
        stdout,
        ["local | hi".to_owned(), format!("local | dev {live} v1")],
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.lines().any(|line| line == "local | oops-42"),
        "{}",
        outcome.stderr
    );

    // Recorded, failed, with the exit status and without the output.
    let list = t.hoist(&["--json", "commands", "list"]).success().json();
    let exec = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "exec")
        .unwrap_or_else(|| panic!("no exec in {list}"));
    assert_eq!(exec["status"], "failed");
    assert_eq!(exec["args"]["command"][0], "sh");
    let id = exec["id"].to_string();
    let shown = t.hoist(&["--json", "commands", "show", &id]).success();
    assert!(
        shown.stdout.contains("exit status 3"),
        "the step log keeps the status: {}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("oops-42"), "{}", shown.stdout);
    let state = std::fs::read(t.project.join(".hoist/state.db")).unwrap();
    let needle = b"oops-42";
    assert!(
        !state.windows(needle.len()).any(|window| window == needle),
        "the output is not stored"
    );

    // Success is 0, and recorded as such.
    let ok = t.hoist(&["exec", "dev", "--", "pwd"]).success();
    let directory = t.root.join("releases").join(&live).canonicalize().unwrap();
    assert_eq!(ok.stdout, format!("local | {}\n", directory.display()));
}

#[test]
fn json_gives_each_line_and_the_outcome() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let outcome = t
        .hoist(&[
            "--json",
            "exec",
            "dev",
            "--",
            "sh",
            "-c",
            "echo one; echo two >&2",
        ])
        .success();
    let lines: Vec<serde_json::Value> = outcome
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{}", outcome.stdout);
    let host = format!("local:{}", t.root.display());
    let mut output: Vec<(String, String)> = lines[..2]
        .iter()
        .map(|line| {
            assert_eq!(line["host"], host.as_str());
            (
                line["stream"].as_str().unwrap().to_owned(),
                line["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    output.sort();
    assert_eq!(
        output,
        [
            ("stderr".to_owned(), "two".to_owned()),
            ("stdout".to_owned(), "one".to_owned())
        ]
    );
    assert_eq!(lines[2]["exit_code"], 0);
    assert_eq!(lines[2]["hosts"][0]["status"], 0);
}

#[test]
fn mistakes_are_named() {
    let t = Test::new();
    t.hoist(&["exec", "dev", "--", "true"])
        .code(1)
        .stderr_contains("the environment does not exist")
        .stderr_contains("hoist deploy");
    t.hoist(&["create", "dev"]).success();
    t.hoist(&["exec", "dev", "--", "true"])
        .code(1)
        .stderr_contains("it has no live release yet")
        .stderr_contains("`hoist deploy dev`");
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["exec", "prod", "--", "true"])
        .code(1)
        .stderr_contains("environment `prod` is not in the spec");
    t.hoist(&["exec", "dev", "--hosts", "local:/nowhere", "--", "true"])
        .code(1)
        .stderr_contains("`--hosts` names `local:/nowhere`, which is not a host of `dev`");
    t.hoist(&["exec", "dev", "--", "no-such-program-here"])
        .code(127)
        .stderr_contains("local | hoist: cannot run `no-such-program-here`");
    t.hoist(&["exec", "dev"])
        .code(1)
        .stderr_contains("<COMMAND>");
    t.hoist(&["exec", "dev", "--in", "1h", "--", "true"])
        .code(1)
        .stderr_contains("cannot be scheduled");
    t.hoist_with(
        &["exec", "dev", "--", "true"],
        &[
            ("HOIST_SERVER", "http://127.0.0.1:9"),
            ("HOIST_TOKEN", "hoist_x"),
        ],
    )
    .code(1)
    .stderr_contains("cannot go through `HOIST_SERVER`");
}

/// A line with its host prefix unpadded: `HOST | TEXT`.
fn unpadded(line: &str) -> String {
    match line.split_once(" | ") {
        Some((host, text)) => format!("{} | {text}", host.trim_end()),
        None => line.to_owned(),
    }
}

/// `hosts` under `/srv/app` with the testbed's ssh_config.
fn fleet_spec(t: &Test, tb: &Testbed) -> String {
    let list: Vec<String> = tb.hosts.iter().map(|h| format!("\"root@{h}\"")).collect();
    let base = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let service = &base[base.find("[service]").unwrap()..base.find("[env.dev]").unwrap()];
    format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n{service}\
         [env.fleet]\nhosts = [{}]\nroot = \"/srv/app\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\nvars = {{ GREETING = \"hi there\" }}\n",
        list.join(", "),
        tb.ssh_config.display(),
    )
}

#[test]
fn exec_on_two_ssh_hosts_streams_each_with_its_name_and_the_worst_status() {
    let Some(tb) = Testbed::up(2, false) else {
        return;
    };
    let t = Test::new();
    t.write("Hoist.toml", &fleet_spec(&t, &tb));
    t.hoist(&["deploy", "fleet"]).success();
    // Only h2 has the marker: it exits 5, h1 exits 2.
    let h2_root = tb.dir().join("h2").join("srv").join("app");
    std::fs::write(h2_root.join("shared").join("marker"), "").unwrap();
    let script = "echo \"$GREETING on $HOIST_ENV\"; echo \"it's 'quoted' $1\" >&2; \
                  test -f /srv/app/shared/marker && exit 5; exit 2";
    let outcome = t
        .hoist(&["exec", "fleet", "--", "sh", "-c", script, "sh", "a b;c"])
        .code(5);
    for host in &tb.hosts {
        let prefixed = |text: &str| format!("{host} | {text}");
        assert!(
            outcome
                .stdout
                .lines()
                .any(|l| unpadded(l) == prefixed("hi there on fleet")),
            "{}",
            outcome.stdout
        );
        assert!(
            outcome
                .stderr
                .lines()
                .any(|l| unpadded(l) == prefixed("it's 'quoted' a b;c")),
            "{}",
            outcome.stderr
        );
    }
    let one = t
        .hoist(&[
            "exec",
            "fleet",
            "--hosts",
            &format!("root@{}", tb.hosts[0]),
            "--",
            "sh",
            "-c",
            script,
        ])
        .code(2);
    assert_eq!(one.stdout.lines().count(), 1, "{}", one.stdout);

    // A host that cannot be reached fails the command before it runs anywhere.
    tb.stop_host("h2");
    let h1_ran = tb.dir().join("h1").join("srv/app/shared/ran");
    t.hoist(&["exec", "fleet", "--", "touch", "/srv/app/shared/ran"])
        .code(1)
        .stderr_contains(&tb.hosts[1]);
    assert!(!h1_ran.exists());
    t.hoist(&[
        "exec",
        "fleet",
        "--hosts",
        &format!("root@{}", tb.hosts[0]),
        "--",
        "touch",
        "/srv/app/shared/ran",
    ])
    .success();
    assert!(h1_ran.exists());
}
