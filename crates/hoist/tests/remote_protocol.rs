//! The remote host protocol end to end without SSH: `RemoteHost` over
//! `LocalProcessTransport`, so every port method runs the real `hoist host` binary it
//! installed into the deploy root — provision, uploads by rsync and by the file stream,
//! the runtime and the probe on the host, locks, releases and errors.

use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hoist::adapters::local_process_transport::LocalProcessTransport;
use hoist::adapters::remote_host::RemoteHost;
use hoist::adapters::transport::{PortForward, Transport, TransportOutput, TransportSession};
use hoist::hostside::layout::Layout;
use hoist::ports::HostHandle;
use hoist::ports::host::{ExecDir, LockHolder, LockOutcome, NewRelease, ReleaseInfo};
use hoist::ports::runtime::{InstanceSpec, Slot};
use hoist::source_tree::SourceTree;
use hoist::{ErrorKind, Result};
use hoist_core::spec::{Build, Health, HealthCheck, StatusRange};
use hoist_core::{ReleaseId, ReleaseStatus};
use tempfile::TempDir;

use crate::harness::{APP_PY, free_port, http_get};

/// A local process transport that records what travels: rsync'd paths, the bytes streamed
/// into `hoist host receive`, and every byte fed to the host's commands (the binary travels
/// on stdin).
#[derive(Debug)]
struct Recording {
    inner: LocalProcessTransport,
    rsynced: Mutex<Vec<Vec<String>>>,
    streamed: Mutex<Vec<u64>>,
    sent: Arc<Mutex<u64>>,
    /// Commands run apart from the session (`run`): the long way of installing takes two.
    ran: Mutex<usize>,
}

impl Recording {
    fn new(inner: LocalProcessTransport) -> Arc<Self> {
        Arc::new(Self {
            inner,
            rsynced: Mutex::default(),
            streamed: Mutex::default(),
            sent: Arc::default(),
            ran: Mutex::default(),
        })
    }

    fn sent(&self) -> u64 {
        *self.sent.lock().unwrap()
    }

    fn ran(&self) -> usize {
        *self.ran.lock().unwrap()
    }
}

/// A session that adds what it streams (the binary, installed through the session) to `sent`.
#[derive(Debug)]
struct CountingSession {
    inner: Box<dyn TransportSession>,
    sent: Arc<Mutex<u64>>,
}

impl TransportSession for CountingSession {
    fn exchange(&mut self, line: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        self.inner.exchange(line)
    }

    fn stream(&mut self, data: &mut dyn Read) -> std::io::Result<Option<Vec<u8>>> {
        let mut counting = Counting {
            inner: data,
            count: 0,
        };
        let answer = self.inner.stream(&mut counting);
        *self.sent.lock().unwrap() += counting.count;
        answer
    }

    fn exit_status(&mut self) -> Option<i32> {
        self.inner.exit_status()
    }
}

struct Counting<'a> {
    inner: &'a mut dyn Read,
    count: u64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count += read as u64;
        Ok(read)
    }
}

impl Transport for Recording {
    fn run(&self, argv: &[String], stdin: &mut dyn Read) -> Result<TransportOutput> {
        let mut counting = Counting {
            inner: stdin,
            count: 0,
        };
        let output = self.inner.run(argv, &mut counting);
        *self.sent.lock().unwrap() += counting.count;
        *self.ran.lock().unwrap() += 1;
        if argv.iter().any(|arg| arg == "receive") {
            self.streamed.lock().unwrap().push(counting.count);
        }
        output
    }

    fn open_session(&self, argv: &[String]) -> Result<Box<dyn TransportSession>> {
        Ok(Box::new(CountingSession {
            inner: self.inner.open_session(argv)?,
            sent: Arc::clone(&self.sent),
        }))
    }

    fn spawn(&self, argv: &[String]) -> Result<std::process::Child> {
        self.inner.spawn(argv)
    }

    fn has_rsync(&self) -> bool {
        self.inner.has_rsync()
    }

    fn rsync_files(&self, local_root: &Path, paths: &[String], remote_dir: &Path) -> Result<()> {
        self.rsynced.lock().unwrap().push(paths.to_vec());
        self.inner.rsync_files(local_root, paths, remote_dir)
    }

    fn forward_port(&self, remote_port: u16) -> Result<PortForward> {
        self.inner.forward_port(remote_port)
    }
}

struct Remote {
    _temp: TempDir,
    root: PathBuf,
    source: PathBuf,
    handle: HostHandle,
}

fn remote(transport: Arc<dyn Transport>) -> Remote {
    remote_with_binary(transport, Path::new(env!("CARGO_BIN_EXE_hoist")))
}

fn remote_with_binary(transport: Arc<dyn Transport>, binary: &Path) -> Remote {
    let temp = tempfile::Builder::new()
        .prefix("hoist-remote-")
        .tempdir()
        .unwrap();
    let root = temp.path().join("deploy root");
    let source = temp.path().join("app");
    fs::create_dir_all(source.join("static")).unwrap();
    fs::write(source.join("app.py"), APP_PY).unwrap();
    fs::write(source.join("message.txt"), "v1\n").unwrap();
    fs::write(source.join("static/style.css"), "body {}\n").unwrap();
    let address = "deploy@web1".parse().unwrap();
    let host = RemoteHost::new(address, root.clone(), transport, binary.to_path_buf());
    Remote {
        _temp: temp,
        root,
        source,
        handle: host.handle(),
    }
}

fn id(n: u32) -> ReleaseId {
    format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
}

fn release(n: u32) -> NewRelease {
    NewRelease {
        info: ReleaseInfo {
            id: id(n),
            status: ReleaseStatus::Uploading,
            content_hash: String::new(),
            config_hash: String::new(),
            created_at: "2026-11-21T00:00:00Z".into(),
            created_by: "alice".into(),
            source_rev: None,
            config_snapshot: serde_json::json!({}),
            error: None,
            config_kept: false,
        },
        shared_dirs: vec![PathBuf::from("storage")],
    }
}

impl Remote {
    fn tree(&self) -> SourceTree {
        let build = Build {
            steps: Vec::new(),
            upload: Vec::new(),
            upload_version: None,
            exclude: Vec::new(),
            pass_env: Vec::new(),
        };
        SourceTree::collect(&self.source, &build).unwrap()
    }

    /// Uploads the source as release `n`, readies it and makes it live.
    fn deploy(&self, n: u32) -> hoist::ports::host::UploadReport {
        let host = &self.handle.host;
        let report = host.upload(&release(n), &self.tree()).unwrap();
        host.mark_ready(&id(n)).unwrap();
        host.switch_live(&id(n)).unwrap();
        report
    }

    fn release_file(&self, n: u32, path: &str) -> PathBuf {
        self.root.join("releases").join(id(n).as_str()).join(path)
    }
}

/// A local transport whose "host" keeps its per-user binary cache in `cache` (its own
/// `XDG_CACHE_HOME`), so tests that damage it touch no one else's.
fn host_with_cache(cache: &Path) -> LocalProcessTransport {
    LocalProcessTransport::new().with_env("XDG_CACHE_HOME", cache.to_str().unwrap())
}

/// A real hoist build that differs from this one where it runs (a help text), as another
/// release of hoist would: appended bytes would not do, the host copy leaves them out.
fn hoist_variant(dir: &Path, tag: &str) -> PathBuf {
    let mut bytes = fs::read(env!("CARGO_BIN_EXE_hoist")).unwrap();
    let from: &[u8] = b"run on a host by its controller";
    let at = bytes
        .windows(from.len())
        .position(|window| window == from)
        .unwrap();
    let to = format!("{tag:<width$}", width = from.len());
    assert_eq!(to.len(), from.len());
    bytes[at..at + from.len()].copy_from_slice(to.as_bytes());
    let path = dir.join(format!("hoist-{tag}"));
    fs::write(&path, &bytes).unwrap();
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

fn hash_of(path: &Path) -> String {
    blake3::hash(&fs::read(path).unwrap()).to_hex().to_string()
}

fn this_hoist() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_hoist"))
}

#[test]
fn provision_installs_the_lean_binary_once_through_the_users_cache() {
    let cache = tempfile::tempdir().unwrap();
    let remote = remote(Arc::new(host_with_cache(cache.path())));
    let facts = remote.handle.host.provision(false).unwrap();
    assert_eq!(facts.arch, std::env::consts::ARCH);
    assert!(remote.root.join("releases").is_dir());
    let installed = remote.root.join(".hoist/bin/hoist");
    let expected = hoist::adapters::remote_host::host_copy_hash(this_hoist()).unwrap();
    assert_eq!(hash_of(&installed), expected);
    let local = this_hoist().metadata().unwrap();
    let first = installed.metadata().unwrap();
    assert!(
        first.len() < local.len() / 2,
        "the host copy carries no debug information: {} of {} bytes",
        first.len(),
        local.len()
    );
    assert_eq!(first.mode() & 0o777, 0o755);
    let output = std::process::Command::new(&installed)
        .arg("--version")
        .output()
        .unwrap();
    assert!(output.status.success(), "the host copy runs");
    let cached = cache.path().join(format!("hoist/bin/hoist-{expected}"));
    assert_eq!(cached.metadata().unwrap().ino(), first.ino(), "hard-linked");
    remote.handle.host.provision(false).unwrap();
    let second = installed.metadata().unwrap();
    assert_eq!(
        (second.ino(), second.mtime_nsec()),
        (first.ino(), first.mtime_nsec())
    );
    let leftovers: Vec<_> = fs::read_dir(remote.root.join(".hoist/bin"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    let cache_entries: Vec<_> = fs::read_dir(cache.path().join("hoist/bin"))
        .unwrap()
        .collect();
    assert_eq!(cache_entries.len(), 1, "{cache_entries:?}");
}

#[test]
fn two_roots_on_one_host_share_one_binary_and_the_second_is_sent_nothing() {
    let cache = tempfile::tempdir().unwrap();
    let first_transport = Recording::new(host_with_cache(cache.path()));
    let first = remote(first_transport.clone());
    first.handle.host.provision(false).unwrap();
    assert_eq!(
        first_transport.ran(),
        0,
        "the binary is installed through the host's session, with no command of its own"
    );
    let sent = first_transport.sent();
    let local = this_hoist().metadata().unwrap().len();
    assert!(
        sent > 0 && sent < local / 4,
        "the first root is sent a compressed lean copy: {sent} bytes of {local}"
    );
    let second_transport = Recording::new(host_with_cache(cache.path()));
    let second = remote(second_transport.clone());
    second.handle.host.provision(false).unwrap();
    assert_eq!(
        second_transport.sent(),
        0,
        "the second root gets it from the cache"
    );
    assert_eq!(second_transport.ran(), 0);
    let inode = |remote: &Remote| {
        remote
            .root
            .join(".hoist/bin/hoist")
            .metadata()
            .unwrap()
            .ino()
    };
    assert_eq!(inode(&first), inode(&second), "one file on the host");
    assert!(second.handle.host.releases().unwrap().infos.is_empty());
}

#[test]
fn a_damaged_binary_is_replaced_from_the_cache_or_sent_again() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let transport = Recording::new(host_with_cache(cache.path()));
    let remote = remote(transport.clone());
    remote.handle.host.provision(false).unwrap();
    let installed = remote.root.join(".hoist/bin/hoist");
    let expected = hash_of(&installed);
    let cached = cache.path().join(format!("hoist/bin/hoist-{expected}"));
    // The root's copy cut short (it cannot even start): the next call puts the cached
    // one back, and nothing travels.
    let damaged = dir.path().join("damaged");
    fs::write(&damaged, &fs::read(&installed).unwrap()[..4096]).unwrap();
    fs::set_permissions(
        &damaged,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    fs::rename(&damaged, &installed).unwrap();
    let before = transport.sent();
    let fresh = remote_with_root(host_with_cache(cache.path()), &remote.root);
    assert!(
        fresh.host.releases().unwrap().infos.is_empty(),
        "the call is answered"
    );
    assert_eq!(hash_of(&installed), expected);
    assert_eq!(transport.sent(), before);
    drop(fresh);
    // The cached copy itself damaged (one inode with the root's: both change), yet still
    // runnable: its hash gives it away, and provision sends a fresh copy.
    drop(remote.handle);
    let variant = hoist_variant(dir.path(), "damaged");
    fs::write(&installed, fs::read(&variant).unwrap()).unwrap();
    assert_ne!(hash_of(&cached), expected);
    let fresh_transport = Recording::new(host_with_cache(cache.path()));
    let fresh = RemoteHost::new(
        "deploy@web1".parse().unwrap(),
        remote.root.clone(),
        fresh_transport.clone(),
        this_hoist().to_path_buf(),
    )
    .handle();
    fresh.host.provision(false).unwrap();
    assert!(fresh_transport.sent() > 0, "a fresh copy was sent");
    assert_eq!(hash_of(&installed), expected);
    assert_eq!(hash_of(&cached), expected);
}

/// A host whose PATH has the basic tools but `missing` ones not: the binary travels the way
/// that host can unpack it, and lands whole. Returns the bytes sent and the commands run
/// apart from the session.
fn install_on_a_host_without(missing: &[&str]) -> (u64, usize) {
    let cache = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let tools = [
        "sh", "uname", "mkdir", "ls", "ln", "cp", "mv", "chmod", "find", "cat", "rm", "gzip",
        "zstd", "head",
    ];
    for tool in tools.iter().filter(|tool| !missing.contains(tool)) {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        let path = String::from_utf8(found.stdout).unwrap();
        std::os::unix::fs::symlink(path.trim(), bin.path().join(tool)).unwrap();
    }
    let transport = Recording::new(
        host_with_cache(cache.path()).with_env("PATH", bin.path().to_str().unwrap()),
    );
    let remote = remote(transport.clone());
    remote.handle.host.provision(false).unwrap();
    let installed = remote.root.join(".hoist/bin/hoist");
    assert_eq!(
        hash_of(&installed),
        hoist::adapters::remote_host::host_copy_hash(this_hoist()).unwrap()
    );
    (transport.sent(), transport.ran())
}

#[test]
fn the_binary_travels_as_the_host_can_unpack_it() {
    let (zstd, ran) = install_on_a_host_without(&[]);
    assert_eq!(ran, 0, "zstd: through the session");
    let (gzip, ran) = install_on_a_host_without(&["zstd"]);
    assert_eq!(ran, 0, "gzip: through the session");
    // Neither: the long way, which sends it as it is.
    let (plain, ran) = install_on_a_host_without(&["zstd", "gzip"]);
    assert!(ran > 0);
    // A host the session cannot install on (no `head`) still gets it, the long way.
    let (without_head, ran) = install_on_a_host_without(&["head"]);
    assert!(ran > 0);
    assert!(without_head > 0 && without_head < plain);
    assert!(zstd < gzip, "zstd {zstd} < gzip {gzip}");
    assert!(gzip < plain / 2, "gzip {gzip} < plain {plain}");
    let full = this_hoist().metadata().unwrap().len();
    assert!(
        plain < full,
        "the plain copy is the lean one: {plain} of {full}"
    );
}

/// A controller for an existing root on this machine.
fn remote_with_root(transport: LocalProcessTransport, root: &Path) -> HostHandle {
    RemoteHost::new(
        "deploy@web1".parse().unwrap(),
        root.to_path_buf(),
        Arc::new(transport),
        this_hoist().to_path_buf(),
    )
    .handle()
}

/// A host running an older hoist: a command's session starts on the old program, then
/// `provision` replaces the file and must see the new one installed, not its own old image.
#[test]
fn provision_replaces_an_older_hoist_while_a_session_runs_it() {
    let first = remote(Arc::new(LocalProcessTransport::new()));
    first.handle.host.provision(false).unwrap();
    let installed = first.root.join(".hoist/bin/hoist");
    let newer = hoist_variant(first._temp.path(), "newer build");

    let address = "deploy@web1".parse().unwrap();
    let upgraded = RemoteHost::new(
        address,
        first.root.clone(),
        Arc::new(LocalProcessTransport::new()),
        newer.clone(),
    )
    .handle();
    // The first call starts a session on the old program.
    assert!(upgraded.host.releases().unwrap().infos.is_empty());
    upgraded.host.provision(false).unwrap();
    assert_eq!(
        hash_of(&installed),
        hoist::adapters::remote_host::host_copy_hash(&newer).unwrap(),
        "the newer hoist is installed"
    );
}

/// Stands in for an older hoist on the host: a real hoist build (a different file, so a
/// different hash) behind a filter that turns every `router_*` request into an op it does not
/// know, as a hoist from before blue-green would answer.
const OLDER_HOIST: &str = r#"#!/usr/bin/env python3
import os, re, subprocess, sys
older = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "older-hoist")
child = subprocess.Popen([older] + sys.argv[1:], stdin=subprocess.PIPE)
for line in iter(sys.stdin.readline, ""):
    line = re.sub(r'"op":"router_[a-z_]*"', '"op":"from_the_future"', line)
    child.stdin.write(line.encode())
    child.stdin.flush()
child.stdin.close()
sys.exit(child.wait())
"#;

#[test]
fn an_older_hoist_on_the_host_is_replaced_when_it_does_not_know_a_request() {
    let remote = remote(Arc::new(LocalProcessTransport::new()));
    remote.handle.host.provision(false).unwrap();
    let installed = remote.root.join(".hoist/bin/hoist");
    let older = hoist_variant(remote._temp.path(), "older build");
    fs::rename(&older, remote.root.join(".hoist/older-hoist")).unwrap();
    // Renamed over it: the first session still runs the file it replaced.
    let staged = remote.root.join(".hoist/staged");
    fs::write(&staged, OLDER_HOIST).unwrap();
    fs::set_permissions(&staged, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::rename(&staged, &installed).unwrap();

    // A fresh controller: its session starts on the older hoist.
    let address = "deploy@web1".parse().unwrap();
    let controller = RemoteHost::new(
        address,
        remote.root.clone(),
        Arc::new(LocalProcessTransport::new()),
        PathBuf::from(env!("CARGO_BIN_EXE_hoist")),
    )
    .handle();
    assert!(
        controller.host.releases().unwrap().infos.is_empty(),
        "old ops still work"
    );
    let port = controller.router.free_port().unwrap();
    assert!(port > 0);
    assert_eq!(
        hash_of(&installed),
        hoist::adapters::remote_host::host_copy_hash(this_hoist()).unwrap(),
        "this controller's hoist was installed"
    );
}

#[test]
fn a_binary_for_another_platform_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("hoist-foreign");
    let mut header = b"\x7fELF\x02\x01\x01\x00".to_vec();
    header.resize(18, 0);
    let machine: u16 = if std::env::consts::ARCH == "aarch64" {
        0x3E
    } else {
        0xB7
    };
    header.extend(machine.to_le_bytes());
    fs::write(&foreign, header).unwrap();
    let remote = remote_with_binary(Arc::new(LocalProcessTransport::new()), &foreign);
    let error = remote.handle.host.provision(false).unwrap_err();
    assert!(error.message.contains("is built for linux/"), "{error}");
    assert!(error.hints[0].contains("host_binary"), "{error:?}");
    assert!(!remote.root.join(".hoist/bin/hoist").exists());
}

#[test]
fn calls_before_provision_install_hoist_first_but_unlock_never_does() {
    let remote = remote(Arc::new(LocalProcessTransport::new()));
    let binary = remote.root.join(".hoist/bin/hoist");
    // `unlock` never installs (after `destroy` there is nothing to unlock): it says how.
    let holder = hoist::ports::host::LockHolder {
        owner: "alice@ci".into(),
        pid: 1,
        machine: "ci".into(),
        started_at: "2026-11-22T00:00:00Z".into(),
        message: "test".into(),
        command_id: None,
    };
    let error = remote.handle.host.unlock(&holder).unwrap_err();
    assert!(
        error
            .message
            .contains("hoist is not installed on `deploy@web1`"),
        "{error}"
    );
    assert!(error.hints[0].contains("hoist provision"), "{error:?}");
    assert!(!binary.exists());
    // Any other first call installs this hoist on the host, then runs.
    let releases = remote.handle.host.releases().unwrap();
    assert!(releases.infos.is_empty());
    assert!(binary.is_file(), "the first call installed hoist");
}

/// Two uploads with one file changed: the second sends only that file, and the others
/// share their inodes with the first release.
fn uploads_only_what_changed(transport: Arc<Recording>) {
    let remote = remote(transport.clone());
    remote.handle.host.provision(false).unwrap();
    let first = remote.deploy(1);
    assert_eq!((first.files, first.linked, first.written), (3, 0, 3));
    fs::write(remote.source.join("message.txt"), "version two\n").unwrap();
    let second = remote.deploy(2);
    assert_eq!((second.files, second.linked, second.written), (3, 2, 1));
    assert_eq!(second.bytes_written, 12);
    for unchanged in ["app.py", "static/style.css"] {
        let (old, new) = (
            remote.release_file(1, unchanged),
            remote.release_file(2, unchanged),
        );
        assert_eq!(old.metadata().unwrap().ino(), new.metadata().unwrap().ino());
    }
    let message = remote.release_file(2, "message.txt");
    assert_eq!(fs::read_to_string(&message).unwrap(), "version two\n");
    assert_eq!(
        fs::read_to_string(remote.release_file(1, "message.txt")).unwrap(),
        "v1\n"
    );
    assert!(remote.release_file(2, "storage").is_symlink());
    let releases = remote.handle.host.releases().unwrap();
    assert_eq!(releases, Layout::open(&remote.root).read().unwrap());
    assert_eq!(releases.live, Some(id(2)));
    assert_eq!(releases.infos[&id(1)].status, ReleaseStatus::Retired);
    assert!(releases.chain.violations().is_empty());
}

#[test]
fn uploads_only_what_changed_with_rsync() {
    let transport = Recording::new(LocalProcessTransport::new());
    assert!(transport.has_rsync(), "rsync is installed by scripts/test");
    uploads_only_what_changed(transport.clone());
    let rsynced = transport.rsynced.lock().unwrap();
    assert_eq!(rsynced.len(), 2);
    assert_eq!(rsynced[0], ["app.py", "message.txt", "static/style.css"]);
    assert_eq!(rsynced[1], ["message.txt"]);
    assert!(transport.streamed.lock().unwrap().is_empty());
}

#[test]
fn uploads_only_what_changed_with_the_stream_fallback() {
    let transport = Recording::new(LocalProcessTransport::without_rsync());
    uploads_only_what_changed(transport.clone());
    let streamed = transport.streamed.lock().unwrap();
    assert_eq!(streamed.len(), 2);
    assert!(streamed[0] > APP_PY.len() as u64, "{streamed:?}");
    assert!(streamed[1] < 200, "only message.txt travels: {streamed:?}");
    assert!(transport.rsynced.lock().unwrap().is_empty());
}

#[test]
fn a_cut_off_stream_fails_the_release() {
    let remote = remote(Arc::new(LocalProcessTransport::without_rsync()));
    remote.handle.host.provision(false).unwrap();
    let tree = remote.tree();
    fs::remove_file(remote.source.join("message.txt")).unwrap();
    let error = remote.handle.host.upload(&release(1), &tree).unwrap_err();
    assert!(error.message.contains("cannot upload release"), "{error}");
    assert!(error.causes[0].contains("cannot open"), "{error}");
    assert!(error.causes[0].contains("message.txt"), "{error}");
    let releases = remote.handle.host.releases().unwrap();
    assert_eq!(
        releases.chain.status_of(&id(1)),
        Some(ReleaseStatus::Failed)
    );
}

#[test]
fn runs_and_probes_the_service_on_the_host() {
    let remote = remote(Arc::new(LocalProcessTransport::new()));
    remote.handle.host.provision(false).unwrap();
    remote.deploy(1);
    let port = free_port();
    let spec = InstanceSpec {
        release: id(1),
        command: "exec python3 app.py".into(),
        port,
        env: vec![("GREETING".into(), "hi".into())],
        log: hoist::ports::runtime::LogLimits::default(),
        container: None,
        compose: None,
    };
    let runtime = &remote.handle.runtime;
    let instance = runtime.start(Slot::Single, &spec).unwrap();
    assert_eq!(instance.port, port);
    let health = Health {
        check: HealthCheck::Http {
            path: "/health".into(),
            expect: StatusRange::new(200, 299).unwrap(),
            body_contains: None,
            host: None,
        },
        interval: Duration::from_millis(50),
        timeout: Duration::from_secs(1),
        deadline: Duration::from_secs(10),
        successes: 1,
        initial_delay: Duration::ZERO,
    };
    let probe = &remote.handle.probe;
    let report = probe.wait_healthy(port, &health, &id(1), Some(instance.pid));
    assert!(report.healthy, "{report:?}");
    assert!(
        remote
            .handle
            .probe
            .probe_once(port, &health, &id(1), Some(instance.pid))
            .unwrap()
            .starts_with("200")
    );
    // A command check runs on the host, in the release's directory, with `$PORT` set.
    let command = Health {
        check: HealthCheck::Command {
            command: format!("test -f app.py && test \"$PORT\" = {port}"),
        },
        ..health.clone()
    };
    assert_eq!(
        probe.probe_once(port, &command, &id(1), Some(instance.pid)),
        Ok("exit 0".to_owned())
    );
    let tcp = Health {
        check: HealthCheck::Tcp,
        ..health.clone()
    };
    assert_eq!(
        probe.probe_once(port, &tcp, &id(1), Some(instance.pid)),
        Ok("connected".to_owned())
    );
    let (status, body) = http_get(port, "/").unwrap();
    assert_eq!(
        (status, body.trim()),
        (200, format!("hi from {}: v1", id(1)).as_str())
    );
    let current = runtime.current(Slot::Single).unwrap().unwrap();
    assert!(current.alive);
    assert_eq!(current.instance, instance);
    let log = runtime.log_tail(&id(1), 20).unwrap();
    assert!(log.contains("listening on 127.0.0.1"), "{log}");
    let pid = instance.pid;
    let stopped = runtime.stop(Slot::Single, Duration::from_secs(3)).unwrap();
    assert_eq!(stopped, Some(instance));
    assert_eq!(runtime.current(Slot::Single).unwrap(), None);
    let answer = probe
        .probe_once(port, &health, &id(1), Some(pid))
        .unwrap_err();
    assert!(answer.contains("refused"), "{answer}");
}

#[test]
fn locks_config_exec_and_errors_go_through_the_host() {
    let remote = remote(Arc::new(LocalProcessTransport::new()));
    let host = &remote.handle.host;
    host.provision(false).unwrap();
    let holder = holder();
    assert_eq!(host.lock(&holder, false).unwrap(), LockOutcome::Acquired);
    let other = LockHolder {
        owner: "bob@laptop".into(),
        pid: 1,
        ..holder.clone()
    };
    assert_eq!(
        host.lock(&other, false).unwrap(),
        LockOutcome::Held {
            holder: holder.clone()
        }
    );
    host.unlock(&holder).unwrap();
    assert_eq!(host.lock(&other, false).unwrap(), LockOutcome::Acquired);
    host.unlock(&other).unwrap();

    let secret = hoist::ports::host::ConfigFile {
        name: "env".into(),
        contents: b"SECRET_TOKEN=s3cret\n".to_vec(),
    };
    host.write_config(&[secret]).unwrap();
    let env = remote.root.join("config/env");
    assert_eq!(fs::read(&env).unwrap(), b"SECRET_TOKEN=s3cret\n");
    assert_eq!(env.metadata().unwrap().mode() & 0o777, 0o600);

    remote.deploy(1);
    let output = host
        .exec(
            &ExecDir::Release(id(1)),
            "cat message.txt; echo $X >&2; exit 4",
            &[("X".into(), "y".into())],
        )
        .unwrap();
    assert_eq!((output.status, output.output.as_str()), (4, "v1\ny\n"));
    host.audit(&serde_json::json!({"event": "test"})).unwrap();
    let audit = fs::read_to_string(remote.root.join(".hoist/audit.log")).unwrap();
    assert!(audit.contains("\"event\":\"test\""), "{audit}");

    let error = host.switch_live(&id(9)).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Failed);
    assert_eq!(
        error.message,
        format!("deploy@web1: release `{}` does not exist", id(9))
    );
    assert!(error.hints[0].contains("hoist releases list"), "{error:?}");
    let error = host.remove_release(&id(1)).unwrap_err();
    assert!(error.message.ends_with("is live"), "{error}");

    remote.deploy(2);
    remote.deploy(3);
    assert_eq!(host.prune(1).unwrap(), [id(1)]);
    assert_eq!(host.discard_incomplete().unwrap(), Vec::<ReleaseId>::new());
    host.destroy().unwrap();
    assert!(!remote.root.exists());
}

fn holder() -> LockHolder {
    LockHolder {
        owner: "alice@ci".into(),
        pid: std::process::id(),
        machine: "elsewhere".into(),
        started_at: "2026-11-21T00:00:00Z".into(),
        message: "hoist deploy prod".into(),
        command_id: None,
    }
}

#[test]
fn the_session_installs_into_a_root_whose_name_a_shell_would_misread() {
    let cache = tempfile::tempdir().unwrap();
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("it's $(touch pwned) `id` ; a root");
    let transport = Recording::new(host_with_cache(cache.path()));
    let handle = RemoteHost::new(
        "deploy@web1".parse().unwrap(),
        root.clone(),
        transport.clone(),
        this_hoist().to_path_buf(),
    )
    .handle();
    let outcome = handle.host.lock(&holder(), false).unwrap();
    assert_eq!(outcome, LockOutcome::Acquired);
    assert_eq!(transport.ran(), 0, "installed through the session");
    assert_eq!(
        hash_of(&root.join(".hoist/bin/hoist")),
        hoist::adapters::remote_host::host_copy_hash(this_hoist()).unwrap()
    );
    assert!(!parent.path().join("pwned").exists());
    assert!(!Path::new("pwned").exists());
    // A foreign root is still refused, by the long way, with its entries named.
    let foreign = parent.path().join("someone else's");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "mine\n").unwrap();
    let handle = RemoteHost::new(
        "deploy@web1".parse().unwrap(),
        foreign.clone(),
        Recording::new(host_with_cache(cache.path())),
        this_hoist().to_path_buf(),
    )
    .handle();
    let error = handle.host.lock(&holder(), false).unwrap_err();
    assert!(error.to_string().contains("notes.txt"), "{error}");
    assert!(!foreign.join(".hoist").exists(), "nothing written into it");
}
