//! Installing hoist on a host through the remote protocol: the lean copy through the user's
//! cache, shared by roots, replaced when damaged or older, sent as the host can unpack it,
//! through the host's own session where it can be, and refused for another platform.

use super::*;

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
    let mut leftovers: Vec<String> = fs::read_dir(remote.root.join(".hoist/bin"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    leftovers.sort();
    assert_eq!(
        leftovers,
        ["hoist", "hoist.hash"],
        "the binary and its hash, no temporary file"
    );
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
    let fresh = remote_with_root(Arc::new(host_with_cache(cache.path())), &remote.root);
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
fn remote_with_root(transport: Arc<dyn Transport>, root: &Path) -> HostHandle {
    RemoteHost::new(
        "deploy@web1".parse().unwrap(),
        root.to_path_buf(),
        transport,
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
    // A call that never installs starts a session on the old program.
    upgraded.host.unlock(&holder()).unwrap();
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

#[test]
fn hosts_get_the_host_only_build_beside_hoist_which_is_smaller_and_serves_the_same_calls() {
    let host_build = Path::new(env!("CARGO_BIN_EXE_hoist-host"));
    let chosen = hoist::adapters::remote_host::host_binary_for(this_hoist());
    assert_eq!(
        chosen, host_build,
        "the build beside hoist is of the same build"
    );

    let cache = tempfile::tempdir().unwrap();
    let full_transport = Recording::new(host_with_cache(cache.path()));
    let full = remote_with_binary(full_transport.clone(), this_hoist());
    full.handle.host.provision(false).unwrap();
    let lean_transport = Recording::new(host_with_cache(cache.path()));
    let lean = remote_with_binary(lean_transport.clone(), &chosen);
    let facts = lean.handle.host.provision(false).unwrap();
    assert_eq!(facts.arch, std::env::consts::ARCH);

    let installed = lean.root.join(".hoist/bin/hoist");
    assert_eq!(
        hash_of(&installed),
        hoist::adapters::remote_host::host_copy_hash(host_build).unwrap()
    );
    let (lean_size, full_size) = (
        installed.metadata().unwrap().len(),
        full.root.join(".hoist/bin/hoist").metadata().unwrap().len(),
    );
    assert!(
        lean_size < full_size * 3 / 4,
        "the host-only build leaves the controller out: {lean_size} of {full_size} bytes"
    );
    assert!(
        lean_transport.sent() < full_transport.sent(),
        "{} bytes sent, {} for the full copy",
        lean_transport.sent(),
        full_transport.sent()
    );

    // It runs the host side: a release uploaded, switched and listed through it.
    lean.deploy(1);
    assert_eq!(
        fs::read_to_string(lean.release_file(1, "message.txt")).unwrap(),
        "v1\n"
    );
    assert_eq!(lean.handle.host.releases().unwrap().live, Some(id(1)));
    // And it is no controller: it refuses the controller's commands.
    let output = std::process::Command::new(&installed)
        .args(["deploy", "dev"])
        .output()
        .unwrap();
    assert!(!output.status.success());
}

/// Upgrading the controller reaches the host on its next command, not only on `provision`: the
/// session serves only on the binary whose hash the install wrote beside it.
#[test]
fn a_root_running_another_build_gets_this_one_on_its_next_command_but_not_from_unlock() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let older = hoist_variant(dir.path(), "older build");
    let first = remote_with_binary(Arc::new(host_with_cache(cache.path())), &older);
    first.handle.host.provision(false).unwrap();
    first.deploy(1);
    let installed = first.root.join(".hoist/bin/hoist");
    let marker = first.root.join(".hoist/bin/hoist.hash");
    let older_hash = hoist::adapters::remote_host::host_copy_hash(&older).unwrap();
    let this_hash = hoist::adapters::remote_host::host_copy_hash(this_hoist()).unwrap();
    assert_eq!(hash_of(&installed), older_hash);
    assert_eq!(fs::read_to_string(&marker).unwrap().trim(), older_hash);

    // A call that never installs is served by the binary that is there.
    let unlocking = remote_with_root(Arc::new(host_with_cache(cache.path())), &first.root);
    unlocking.host.unlock(&holder()).unwrap();
    assert_eq!(hash_of(&installed), older_hash, "unlock installs nothing");

    // Any other call installs this build first, from the host's cache when it is there.
    let transport = Recording::new(host_with_cache(cache.path()));
    let upgraded = remote_with_root(transport.clone(), &first.root);
    assert_eq!(upgraded.host.releases().unwrap().live, Some(id(1)));
    assert_eq!(hash_of(&installed), this_hash, "this build is installed");
    assert_eq!(fs::read_to_string(&marker).unwrap().trim(), this_hash);
    assert_eq!(
        transport.ran(),
        0,
        "through the session, no command of its own"
    );
    drop(upgraded);

    // A root installed before the hash was written beside the binary: the next command
    // writes it, sends nothing (the binary is in the cache) and keeps the same file.
    fs::remove_file(&marker).unwrap();
    let inode = installed.metadata().unwrap().ino();
    let transport = Recording::new(host_with_cache(cache.path()));
    let again = remote_with_root(transport.clone(), &first.root);
    assert_eq!(again.host.releases().unwrap().live, Some(id(1)));
    assert_eq!(fs::read_to_string(&marker).unwrap().trim(), this_hash);
    assert_eq!(installed.metadata().unwrap().ino(), inode);
    assert!(
        transport.sent() < 100_000,
        "{} bytes sent",
        transport.sent()
    );
}
