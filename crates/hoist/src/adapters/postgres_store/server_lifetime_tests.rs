//! The test server's own promise: no PostgreSQL process and no data directory outlive the
//! test process that started them, whether it stops the server or just dies.

use std::process::Command;
use std::time::{Duration, Instant};

use super::test_server::TestServer;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Set for the child process `a_dying_test_process_takes_its_server_along` starts.
const HELPER_VARIABLE: &str = "HOIST_TEST_PG_HELPER";

fn is_running(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

/// Waits until the server's process and directory are gone; false if they are still there
/// after `timeout`.
fn gone(pid: i32, dir: &std::path::Path, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_running(pid) || dir.exists() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn a_dropped_server_is_stopped_and_removed() -> TestResult {
    let server = TestServer::start()?;
    let url = server.url("postgres");
    let pid = server.server_pid().ok_or("no postmaster.pid")?;
    let dir = server.dir().to_path_buf();
    let answer: i32 = postgres::Client::connect(&url, postgres::NoTls)?
        .query_one("SELECT 1 + 1", &[])?
        .get(0);
    assert_eq!(answer, 2);

    drop(server);
    assert!(!dir.exists(), "{} is left behind", dir.display());
    // `pg_ctl stop` returns when the pid file is gone, a moment before the process is.
    assert!(
        gone(pid, &dir, Duration::from_secs(10)),
        "postmaster {pid} still runs"
    );
    Ok(())
}

/// Runs this test binary again on `helper_starts_a_server_and_aborts`, which starts a server,
/// prints where it is, and aborts without any cleanup of its own.
#[test]
fn a_dying_test_process_takes_its_server_along() -> TestResult {
    let module = module_path!()
        .split_once("::")
        .map_or(module_path!(), |(_, rest)| rest);
    let output = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            &format!("{module}::helper_starts_a_server_and_aborts"),
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_VARIABLE, "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| {
        stdout
            .lines()
            // libtest prints the test's name on the same line as its first output.
            .find_map(|line| line.split_once(name))
            .map(|(_, value)| value.trim().to_owned())
    };
    let (Some(pid), Some(dir)) = (field("server pid: "), field("server dir: ")) else {
        panic!(
            "the helper did not report its server:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    assert!(!output.status.success(), "the helper was meant to abort");
    let pid: i32 = pid.parse()?;
    assert!(
        gone(pid, std::path::Path::new(&dir), Duration::from_secs(30)),
        "postmaster {pid} or {dir} outlived its test process"
    );
    Ok(())
}

#[test]
#[ignore = "a helper: run by `a_dying_test_process_takes_its_server_along`"]
fn helper_starts_a_server_and_aborts() -> TestResult {
    if std::env::var_os(HELPER_VARIABLE).is_none() {
        return Ok(());
    }
    let server = TestServer::start()?;
    println!(
        "server pid: {}",
        server.server_pid().ok_or("no postmaster.pid")?
    );
    println!("server dir: {}", server.dir().display());
    std::process::abort();
}
