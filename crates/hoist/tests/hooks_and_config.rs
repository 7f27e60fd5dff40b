//! Hooks (stop, start, refresh), config templates, shared directories and `upload_version`,
//! end to end.

use crate::harness::Test;

fn edit_spec(t: &Test, from: &str, to: &str) {
    let spec = std::fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    assert!(spec.contains(from), "spec lacks {from:?}");
    t.write("Hoist.toml", &spec.replacen(from, to, 1));
}

#[test]
fn stop_and_start_hooks_run_in_order_around_the_switch() {
    hooks_name_the_same_releases_under(None);
}

#[test]
fn stop_and_start_hooks_name_the_same_releases_under_blue_green() {
    hooks_name_the_same_releases_under(Some("blue-green"));
}

/// `HOIST_RELEASE` is the release a hook runs in — the outgoing one for `stop`, the incoming
/// one for `start` — whatever the strategy; `HOIST_NEXT_RELEASE` and `HOIST_PREVIOUS_RELEASE`
/// name the other side.
fn hooks_name_the_same_releases_under(strategy: Option<&str>) {
    let t = Test::new();
    let log = t.temp.path().join("hooks.log");
    let line =
        "$HOIST_RELEASE $(basename $PWD) next=$HOIST_NEXT_RELEASE previous=$HOIST_PREVIOUS_RELEASE";
    edit_spec(
        &t,
        "[hooks]\n",
        &format!(
            "[hooks]\nstop = \"echo stop {line} >> {log}\"\nstart = \"echo start {line} >> {log}\"\n",
            log = log.display()
        ),
    );
    if let Some(strategy) = strategy {
        edit_spec(
            &t,
            "stop_grace = \"3s\"",
            &format!("stop_grace = \"3s\"\nstrategy = \"{strategy}\""),
        );
    }
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let second = t.live().unwrap();
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    // The stop hook runs in the old release and names it; start hooks in the new one.
    assert_eq!(
        lines,
        [
            format!("start {first} {first} next= previous="),
            format!("stop {first} {first} next={second} previous="),
            format!("start {second} {second} next= previous={first}"),
        ]
    );
}

#[test]
fn refresh_switches_without_restarting() {
    let t = Test::new();
    let log = t.temp.path().join("refresh.log");
    edit_spec(
        &t,
        "[hooks]\n",
        &format!(
            "[hooks]\nrefresh = \"echo refreshed $(basename $PWD) >> {}\"\n",
            log.display()
        ),
    );
    t.hoist(&["deploy", "dev"]).success();
    let pid_before = t.hoist(&["status", "dev", "--json"]).success().json()["hosts"][0]["instance"]
        ["instance"]["pid"]
        .clone();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let second = t.live().unwrap();
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!("refreshed {second}\n")
    );
    let pid_after = t.hoist(&["status", "dev", "--json"]).success().json()["hosts"][0]["instance"]
        ["instance"]["pid"]
        .clone();
    assert_eq!(
        pid_before, pid_after,
        "refresh must not restart the service"
    );
    // Rollback never refreshes: it restarts.
    t.hoist(&["rollback", "dev"]).success();
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    let pid_rolled = t.hoist(&["status", "dev", "--json"]).success().json()["hosts"][0]["instance"]
        ["instance"]["pid"]
        .clone();
    assert_ne!(pid_after, pid_rolled);
}

#[test]
fn templates_render_vars_and_secrets_into_config() {
    let t = Test::new();
    t.write("deploy/app.ini.j2", "[app]\nname = {{ app }}\nenv = {{ env }}\ngreeting = {{ vars.GREETING }}\ntoken = {{ secrets.TOKEN }}\n");
    edit_spec(
        &t,
        "[env.dev]",
        "[config]\ntemplates = [\"deploy/app.ini.j2\"]\n\n[env.dev]",
    );
    edit_spec(
        &t,
        "vars = { GREETING = \"hi\" }",
        "vars = { GREETING = \"hi\" }\nsecrets = [\"TOKEN\"]",
    );
    t.hoist_with(&["deploy", "dev"], &[("TOKEN", "tkn-1")])
        .success();
    let rendered = std::fs::read_to_string(t.root.join("config").join("app.ini")).unwrap();
    assert_eq!(
        rendered,
        "[app]\nname = hello\nenv = dev\ngreeting = hi\ntoken = tkn-1\n"
    );

    // An undefined variable is an error naming the template, and nothing is half-written.
    t.write("deploy/app.ini.j2", "{{ vars.NOPE }}\n");
    t.hoist_with(&["configure", "dev"], &[("TOKEN", "tkn-1")])
        .code(1)
        .stderr_contains("deploy/app.ini.j2");
    assert_eq!(
        std::fs::read_to_string(t.root.join("config").join("app.ini")).unwrap(),
        rendered
    );
}

#[test]
fn shared_dirs_survive_releases() {
    let t = Test::new();
    edit_spec(
        &t,
        "vars = { GREETING = \"hi\" }",
        "vars = { GREETING = \"hi\" }\nshared_dirs = [\"uploads\"]",
    );
    t.hoist(&["deploy", "dev"]).success();
    std::fs::write(
        t.root.join("live").join("uploads").join("photo.jpg"),
        "data",
    )
    .unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(
        std::fs::read_to_string(t.root.join("live").join("uploads").join("photo.jpg")).unwrap(),
        "data"
    );
    assert!(
        t.root
            .join("shared")
            .join("uploads")
            .join("photo.jpg")
            .is_file()
    );
}

#[test]
fn upload_version_makes_one_directory_the_release() {
    let t = Test::new();
    t.write("dist/app.py", crate::harness::APP_PY);
    t.write("dist/message.txt", "from dist\n");
    t.write("dist/skip.log", "excluded\n");
    edit_spec(
        &t,
        "upload = [\".\"]",
        "steps = [\"echo built > dist/BUILD\"]\nupload_version = \"dist\"",
    );
    edit_spec(
        &t,
        "exclude = [\"*.pyc\", \"__pycache__/\"]",
        "exclude = [\"*.log\"]",
    );
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().contains("from dist"));
    assert!(
        t.root.join("live").join("BUILD").is_file(),
        "build steps ran before the upload"
    );
    assert!(!t.root.join("live").join("skip.log").exists());
    assert!(!t.root.join("live").join("Hoist.toml").exists());
}

/// A hook on a `local:` host runs on the controller: it gets the basics, the app's
/// configuration and hoist's variables — not the controller's credentials.
#[test]
fn hooks_on_this_machine_see_the_configuration_not_the_controllers_environment() {
    let t = Test::new();
    let seen = t.temp.path().join("hook-env.txt");
    edit_spec(
        &t,
        "[hooks]\n",
        &format!("[hooks]\nstart = \"env > {}\"\n", seen.display()),
    );
    t.hoist_with(
        &["deploy", "dev"],
        &[("AWS_SECRET_ACCESS_KEY", "controller-credential-5150")],
    )
    .success();
    let env = std::fs::read_to_string(&seen).unwrap();
    assert!(env.contains("GREETING=hi"), "the configured vars: {env}");
    assert!(env.contains("HOIST_RELEASE="), "{env}");
    assert!(env.contains("PATH="), "{env}");
    assert!(
        !env.contains("controller-credential-5150"),
        "the controller's environment leaked into the hook: {env}"
    );
}

/// A command's record says in words what happened on each host, never Rust debug text.
#[test]
fn the_step_log_says_what_happened_per_host_in_words() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let first = t.live().unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let shown = t.hoist(&["commands", "list", "--json"]).success().stdout;
    assert!(!shown.contains("Switched {"), "{shown}");
    assert!(!shown.contains("UploadReport {"), "{shown}");
    assert!(!shown.contains("ReleaseId("), "{shown}");
    assert!(
        shown.contains(&format!("switched from `{first}`")),
        "{shown}"
    );
    assert!(shown.contains("linked"), "{shown}");
}
