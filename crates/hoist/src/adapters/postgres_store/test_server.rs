//! A real PostgreSQL server for tests, started from Debian's `postgresql` package
//! (`/usr/lib/postgresql/<version>/bin`, or `initdb` on `PATH`), never a mock. Used by the
//! store's unit tests and, through `#[path]`, by the integration tests.
//!
//! `TestServer::shared()` starts one server per test process on first use; each test takes a
//! database of its own with `fresh_database()`. The server listens on a unix socket in its
//! temp directory only (no TCP port to collide with), trusts local connections, and runs
//! without fsync (nothing here must survive a crash).
//!
//! Stopping: a static is never dropped, so the server is not stopped by a destructor. It is
//! started by a small supervisor shell (as the `postgres` user when the tests run as root,
//! since PostgreSQL refuses to run as root) whose stdin is a pipe from the test process. The
//! supervisor waits for end-of-file on it, which comes when the test process exits by any
//! means (returning, panicking, aborting, SIGKILL) because the kernel closes the process's
//! end; it then runs `pg_ctl stop -m fast` and removes the temp directory. The pipe is
//! close-on-exec, so no process the tests spawn keeps it open. The supervisor runs in its own
//! process group, so a Ctrl-C aimed at the tests does not kill it before it has cleaned up.
//! A server started for one test (`TestServer::start`) is stopped the same way on drop.
//!
//! No PostgreSQL installed is a failure with the reason, never a skip.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The user PostgreSQL runs as when the tests run as root (Debian's package creates it).
const SERVER_USER: &str = "postgres";

/// Initialises a cluster, starts it, says `ready`, then keeps it running until its stdin
/// reaches end-of-file, stops it and removes its directory. `$1` is the directory, `$2` the
/// binaries' directory.
const SUPERVISOR: &str = r#"
set -u
dir=$1 bin=$2
fail() { cat "$1" >&2; rm -rf "$dir"; exit 1; }
"$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1 || fail "$dir/initdb.log"
"$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" -o "-c listen_addresses= \
    -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off \
    -c full_page_writes=off -c max_connections=200" >/dev/null 2>&1 || fail "$dir/server.log"
echo ready
exec >/dev/null 2>&1
cat
"$bin/pg_ctl" stop -w -t 30 -D "$dir/data" -m fast || "$bin/pg_ctl" stop -D "$dir/data" -m immediate
rm -rf "$dir"
"#;

#[derive(Debug)]
pub struct TestServer {
    /// Data directory, socket and logs.
    dir: PathBuf,
    /// Its stdin is the lifeline: closing it stops the server.
    supervisor: Child,
}

static SHARED: OnceLock<Result<TestServer, String>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl TestServer {
    /// The server of this test process, started on first use; panics with the reason when
    /// PostgreSQL is missing or does not start.
    pub fn shared() -> &'static TestServer {
        match SHARED.get_or_init(TestServer::start) {
            Ok(server) => server,
            Err(reason) => panic!("{reason}"),
        }
    }

    /// A server of its own, stopped when dropped.
    pub fn start() -> Result<Self, String> {
        let bin = binaries()?;
        let as_root = nix::unistd::geteuid().is_root();
        // In /tmp, not $TMPDIR: a socket path must stay under ~100 bytes, and the server's
        // user must be able to reach it.
        let dir = tempfile::Builder::new()
            .prefix("hoist-pg-")
            .tempdir_in("/tmp")
            .map_err(|error| format!("cannot create the PostgreSQL test directory: {error}"))?
            .keep();
        Self::supervise(&dir, &bin, as_root).inspect_err(|_| {
            let _ = std::fs::remove_dir_all(&dir);
        })
    }

    fn supervise(dir: &Path, bin: &Path, as_root: bool) -> Result<Self, String> {
        let mut command = if as_root {
            let user = nix::unistd::User::from_name(SERVER_USER)
                .ok()
                .flatten()
                .ok_or_else(|| {
                    format!(
                        "PostgreSQL tests run as root need the `{SERVER_USER}` user, which \
                         Debian's `postgresql` package creates"
                    )
                })?;
            nix::unistd::chown(dir, Some(user.uid), Some(user.gid)).map_err(|error| {
                format!(
                    "cannot hand `{}` to `{SERVER_USER}`: {error}",
                    dir.display()
                )
            })?;
            let mut command = Command::new("runuser");
            command.args(["-u", SERVER_USER, "--", "sh"]);
            command
        } else {
            Command::new("sh")
        };
        let mut supervisor = command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("pg-supervisor")
            .arg(dir)
            .arg(bin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|error| format!("cannot start the PostgreSQL test server: {error}"))?;
        let mut line = String::new();
        if let Some(stdout) = supervisor.stdout.take() {
            // A read error reads as "not ready", and the stderr below says why.
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        if line.trim() != "ready" {
            let mut log = String::new();
            if let Some(mut stderr) = supervisor.stderr.take() {
                let _ = stderr.read_to_string(&mut log);
            }
            let _ = supervisor.wait();
            return Err(format!(
                "the PostgreSQL test server (from `{}`) did not start:\n{log}",
                bin.display()
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            supervisor,
        })
    }

    /// The directory holding the data, the socket and the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of `database` on this server, over its unix socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@/{database}?host={}",
            self.dir.display()
        )
    }

    /// Creates an empty database no other test uses and returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!("test_{}", DATABASES.fetch_add(1, Ordering::Relaxed));
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .unwrap_or_else(|error| {
                panic!("cannot connect to the PostgreSQL test server: {error}")
            });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("cannot create database `{name}`: {error}"));
        self.url(&name)
    }

    /// The postmaster's pid, from its pid file.
    pub fn server_pid(&self) -> Option<i32> {
        let pid_file = std::fs::read_to_string(self.dir.join("data/postmaster.pid")).ok()?;
        pid_file.lines().next()?.trim().parse().ok()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Closing the lifeline asks the supervisor to stop the server and clean up.
        drop(self.supervisor.stdin.take());
        let _ = self.supervisor.wait();
    }
}

/// The directory of `initdb` and `pg_ctl`: the newest of Debian's versions, else `PATH`'s.
fn binaries() -> Result<PathBuf, String> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, bin)| bin);
    let on_path = || {
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).find(|dir| has_tools(dir)))
    };
    debian.or_else(on_path).ok_or_else(|| {
        "PostgreSQL is not installed: no `/usr/lib/postgresql/<version>/bin/initdb` and no \
         `initdb` on PATH. The PostgreSQL store's tests need a real server: install Debian's \
         `postgresql` package (`scripts/test` does)"
            .to_owned()
    })
}
