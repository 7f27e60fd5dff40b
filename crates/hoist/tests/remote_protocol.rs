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

mod install;

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
