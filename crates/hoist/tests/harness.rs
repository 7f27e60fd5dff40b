//! A fluent harness: a project directory with the example app and a spec, a deploy root
//! beside it, the `hoist` binary run against them, and HTTP checks on the service's port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hoist::hostside::layout::Layout;
use tempfile::TempDir;

use crate::http_client::{self, Patience};

pub const APP_PY: &str = include_str!("../../../examples/hello/app.py");

/// The default spec; `{port}` and `{root}` are filled in.
pub const SPEC: &str = r#"
[app]
name = "hello"

[build]
upload = ["."]
exclude = ["*.pyc", "__pycache__/"]

[hooks]
post_upload = "python3 -m py_compile app.py"

[service]
command = "exec python3 app.py"
port = {port}
stop_grace = "3s"

[service.health]
path = "/health"
interval = "50ms"
timeout = "1s"
deadline = "10s"

[env.dev]
hosts = ["local:{root}"]
keep_releases = 3
vars = { GREETING = "hi" }
"#;

pub struct Test {
    pub temp: TempDir,
    /// The project: Hoist.toml, app.py, message.txt.
    pub project: PathBuf,
    /// The deploy root of `dev`.
    pub root: PathBuf,
    pub port: u16,
}

impl Test {
    pub fn new() -> Self {
        let temp = tempfile::Builder::new()
            .prefix("hoist-test-")
            .tempdir()
            .expect("temp dir");
        let project = temp.path().join("app");
        let root = temp.path().join("hosts").join("dev");
        std::fs::create_dir_all(&project).expect("project dir");
        let test = Self {
            port: free_port(),
            temp,
            project,
            root,
        };
        test.write("app.py", APP_PY);
        test.write("message.txt", "v1\n");
        test.spec(SPEC)
    }

    /// Replaces Hoist.toml; `{port}` and `{root}` are filled in.
    pub fn spec(self, text: &str) -> Self {
        let text = text
            .replace("{port}", &self.port.to_string())
            .replace("{root}", &self.root.display().to_string());
        self.write("Hoist.toml", &text);
        self
    }

    pub fn write(&self, path: &str, contents: &str) {
        let full = self.project.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        std::fs::write(full, contents).expect("write project file");
    }

    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.project.join(path)).expect("remove project file");
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hoist"));
        command
            .args(args)
            .current_dir(&self.project)
            .env("NO_COLOR", "1")
            .env_remove("HOIST_STATE")
            .env_remove("HOIST_SERVER")
            .env_remove("HOIST_TOKEN")
            .env_remove("HOIST_CA_FILE");
        command
    }

    pub fn hoist(&self, args: &[&str]) -> Outcome {
        self.hoist_with(args, &[])
    }

    pub fn hoist_with(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut command = self.command(args);
        command.envs(env.iter().copied()).stdin(Stdio::null());
        Outcome::from(command.output().expect("run hoist"), args)
    }

    /// Starts hoist without waiting for it.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hoist")
    }

    /// GET on the service; `Err` with the reason when nothing answers.
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        http_get(self.port, path)
    }

    /// The body of `GET /`, panicking with the reason when the service does not answer 200.
    pub fn body(&self) -> String {
        match self.get("/") {
            Ok((200, body)) => body,
            other => panic!("GET / did not answer 200: {other:?}"),
        }
    }

    /// The release `live` points at.
    pub fn live(&self) -> Option<String> {
        let target = std::fs::read_link(self.root.join("live")).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    pub fn layout(&self) -> Layout {
        Layout::open(self.root.clone())
    }

    /// DESIGN.md § On each host: `live` resolves to a complete release, the chain is consistent.
    pub fn assert_invariants(&self) {
        let releases = self.layout().read().expect("read layout");
        assert_eq!(
            releases.chain.violations(),
            Vec::<String>::new(),
            "chain invariants"
        );
        if let Some(live) = &releases.live {
            let status = releases.infos.get(live).map(|i| i.status);
            assert!(
                matches!(
                    status,
                    Some(hoist_core::ReleaseStatus::Ready | hoist_core::ReleaseStatus::Retired)
                ),
                "live {live} has status {status:?}"
            );
            assert!(
                std::fs::read_dir(self.root.join("live"))
                    .is_ok_and(|mut entries| entries.next().is_some()),
                "live resolves to a complete release"
            );
        }
    }

    /// Every file under `dir`, with its contents, for "nothing changed" checks.
    pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().to_path_buf(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// Waits until `path` exists (a hook's marker), up to `timeout`.
    pub fn wait_for_file(path: &Path, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !path.exists() {
            assert!(
                Instant::now() < deadline,
                "{} did not appear",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Test {
    /// Never leave a process running: the supervisor, every slot's instance, strays, the
    /// proxy; nor a boot entry in the user's crontab.
    fn drop(&mut self) {
        stop_everything(&self.root);
        remove_boot_entries_under(self.temp.path());
    }
}

/// Kills every process hoist started for the deploy root `root`.
pub fn stop_everything(root: &Path) {
    use hoist::hostside::process_runtime::ProcessRuntime;
    use hoist::hostside::proxy_process::ProxyProcess;
    use hoist::hostside::supervisor::SupervisorProcess;
    use hoist::ports::Runtime;
    use hoist::ports::runtime::Slot;
    if !root.exists() {
        return;
    }
    // First, or it would start again what is being stopped.
    let _ = SupervisorProcess::new(root).stop();
    let runtime = ProcessRuntime::new(root);
    for slot in [Slot::Single, Slot::Blue, Slot::Green] {
        let _ = runtime.stop(slot, Duration::ZERO);
    }
    for stray in runtime.strays().unwrap_or_default() {
        let _ = runtime.stop_stray(&stray, Duration::ZERO);
    }
    let _ = ProxyProcess::new(root).stop(Duration::ZERO);
}

#[derive(Debug)]
pub struct Outcome {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn from(output: Output, args: &[&str]) -> Self {
        Self {
            args: args.iter().map(ToString::to_string).collect(),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "hoist {:?} failed:\nstdout:\n{}\nstderr:\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "hoist {:?}: exit {} not {code}:\nstdout:\n{}\nstderr:\n{}",
            self.args, self.code, self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stderr_contains(self, needle: &str) -> Self {
        assert!(
            self.stderr.contains(needle),
            "hoist {:?}: stderr lacks {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_contains(self, needle: &str) -> Self {
        assert!(
            self.stdout.contains(needle),
            "hoist {:?}: stdout lacks {needle:?}:\n{}",
            self.args,
            self.stdout
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// A port no one listens on, below Linux's ephemeral range (32768+), so no outgoing
/// connection of a parallel test (ssh, probes) can be holding it when the service binds it.
pub fn free_port() -> u16 {
    let seed = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let mut next = seed | 1;
    for _ in 0..200 {
        // A small xorshift: different tests (processes) walk different sequences.
        next ^= next << 13;
        next ^= next >> 7;
        next ^= next << 17;
        let port = 15_000 + (next % 15_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 15000 and 30000");
}

pub fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    http_get_at(std::net::SocketAddr::from(([127, 0, 0, 1], port)), path)
}

/// `GET path` at `address` (loopback, or a test host in a network namespace): the status
/// and the body, or why no answer came.
pub fn http_get_at(address: std::net::SocketAddr, path: &str) -> Result<(u16, String), String> {
    http_client::get(address, path, Patience::LOAD).map(|answer| (answer.status, answer.body))
}

/// Removes the boot entry of a deploy root that no longer exists, by its id (`.hoist/root-id`
/// went with the root, so `remove_boot_entries_under` cannot find it).
pub fn remove_boot_entry_of_root_id(root_id: &str) {
    let ghost = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ghost.path().join(".hoist")).unwrap();
    std::fs::write(ghost.path().join(".hoist/root-id"), root_id).unwrap();
    let _ = hoist::hostside::boot_entry::BootEntries::new(ghost.path()).remove();
}

/// Removes the boot entries (crontab lines) of every deploy root under `dir`: tests must not
/// leave `@reboot` lines behind in the crontab of the user running them.
pub fn remove_boot_entries_under(dir: &Path) {
    use hoist::hostside::boot_entry::BootEntries;
    let roots = walkdir::WalkDir::new(dir)
        .max_depth(8)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name() == "root-id")
        .filter_map(|entry| Some(entry.path().parent()?.parent()?.to_path_buf()));
    for root in roots {
        let _ = BootEntries::new(&root).remove();
    }
}
