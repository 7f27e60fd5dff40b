//! A static site: no process, the built-in proxy serves the live release's directory, and the
//! `live` switch is the deploy — swapped under load with no failed request, rolled back,
//! checked, revived after the proxy is killed, and taken down by `destroy`.

use std::time::Duration;

use crate::harness::Test;
use crate::load_loop::LoadLoop;

const STATIC_SPEC: &str = r#"
[app]
name = "site"

[build]
upload = ["public"]

[service]
static = "public"
port = {port}

[env.dev]
hosts = ["local:{root}"]
keep_releases = 3
"#;

fn site() -> Test {
    let t = Test::new().spec(STATIC_SPEC);
    t.write("public/index.html", "v1\n");
    t.write("public/app.css", "body { color: red }\n");
    t
}

fn get(t: &Test, path: &str) -> (u16, String) {
    t.get(path).unwrap()
}

#[test]
fn a_static_site_is_switched_under_load_rolled_back_and_checked() {
    let t = site();
    t.hoist(&["deploy", "dev"])
        .success()
        .stderr_contains("serves `");
    assert_eq!(get(&t, "/"), (200, "v1\n".to_owned()));
    assert_eq!(get(&t, "/app.css").0, 200);
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");
    let served = check["hosts"][0]["static_root"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(served.ends_with("live/public"), "{served}");
    let first = t.live().unwrap();
    let status = t.hoist(&["status", "dev"]).success();
    assert!(
        status
            .stdout
            .contains("healthy (the proxy serves `live/public`)"),
        "{}",
        status.stdout
    );

    let load = LoadLoop::start(t.port, "/", 4);
    for version in ["v2", "v3"] {
        t.write("public/index.html", &format!("{version}\n"));
        t.hoist(&["deploy", "dev"]).success();
        std::thread::sleep(Duration::from_millis(200));
    }
    let result = load.finish();
    assert!(result.requests > 50, "{} requests", result.requests);
    assert_eq!(result.failures, Vec::<String>::new(), "failed requests");
    assert!(result.bodies.contains("v2"), "{:?}", result.bodies);
    assert_eq!(get(&t, "/").1, "v3\n");
    t.assert_invariants();

    t.hoist(&["rollback", "dev"]).success();
    assert_eq!(get(&t, "/").1, "v2\n");
    t.hoist(&["rollback", "dev", "--to", &first]).success();
    assert_eq!(get(&t, "/").1, "v1\n");
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");
}

#[test]
fn a_killed_proxy_is_drift_that_deploy_repairs_and_destroy_stops_it() {
    let t = site();
    t.hoist(&["deploy", "dev"]).success();
    let status = t.hoist(&["check", "dev", "--json"]).json();
    let pid = status["hosts"][0]["proxy"]["pid"].as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(t.get("/").is_err(), "nothing answers with the proxy dead");
    let check = t.hoist(&["check", "dev", "--json"]).code(1).json();
    let problems = check["hosts"][0]["problems"].to_string();
    assert!(problems.contains("is not running"), "{check:#}");

    t.hoist(&["deploy", "dev"]).success();
    assert_eq!(get(&t, "/"), (200, "v1\n".to_owned()));
    let check = t.hoist(&["check", "dev", "--json"]).json();
    assert_eq!(check["ok"], true, "{check:#}");

    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert!(
        t.get("/").is_err(),
        "the proxy is gone with the environment"
    );
}
