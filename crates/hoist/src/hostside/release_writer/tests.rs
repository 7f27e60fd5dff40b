use std::os::unix::fs::MetadataExt;

use hoist_core::ReleaseStatus;
use hoist_core::spec::Build;

use super::*;
use crate::ports::host::ReleaseInfo;

fn id(n: u32) -> ReleaseId {
    format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
}

fn new_release(n: u32, shared: &[&str]) -> NewRelease {
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
        shared_dirs: shared.iter().map(PathBuf::from).collect(),
    }
}

fn collect(source: &Path) -> SourceTree {
    let build = Build {
        steps: Vec::new(),
        upload: Vec::new(),
        upload_version: None,
        exclude: Vec::new(),
        pass_env: Vec::new(),
    };
    SourceTree::collect(source, &build).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    source: PathBuf,
    layout: Layout,
}

fn setup(files: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    for i in 0..files {
        let path = source.join(format!("d{}/f{i}.txt", i % 40));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, format!("file {i}\n").repeat(50)).unwrap();
    }
    fs::create_dir_all(source.join("bin")).unwrap();
    fs::write(source.join("bin/run"), "#!/bin/sh\necho v1\n").unwrap();
    fs::set_permissions(source.join("bin/run"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink("bin/run", source.join("start")).unwrap();
    let layout = Layout::open(dir.path().join("host"));
    layout.ensure(false).unwrap();
    Setup {
        _dir: dir,
        source,
        layout,
    }
}

/// Uploads, readies and switches `live` to release `n`.
fn deploy(setup: &Setup, n: u32, shared: &[&str]) -> UploadReport {
    let report = write_release(
        &setup.layout,
        &new_release(n, shared),
        &collect(&setup.source),
    )
    .unwrap();
    setup.layout.mark_ready(&id(n)).unwrap();
    setup.layout.switch_live(&id(n)).unwrap();
    report
}

fn inode(path: &Path) -> u64 {
    path.metadata().unwrap().ino()
}

#[test]
fn unchanged_files_share_inodes_with_live_and_changed_ones_are_new() {
    let setup = setup(20);
    let first = deploy(&setup, 1, &[]);
    assert_eq!((first.files, first.linked, first.written), (21, 0, 21));
    fs::write(setup.source.join("bin/run"), "#!/bin/sh\necho v2\n").unwrap();
    let second =
        write_release(&setup.layout, &new_release(2, &[]), &collect(&setup.source)).unwrap();
    assert_eq!((second.files, second.linked, second.written), (21, 20, 1));
    assert_eq!(second.bytes_written, 18);
    let (old, new) = (
        setup.layout.release_dir(&id(1)),
        setup.layout.release_dir(&id(2)),
    );
    assert_eq!(inode(&old.join("d3/f3.txt")), inode(&new.join("d3/f3.txt")));
    assert_ne!(inode(&old.join("bin/run")), inode(&new.join("bin/run")));
    assert_eq!(
        fs::read_to_string(old.join("bin/run")).unwrap(),
        "#!/bin/sh\necho v1\n"
    );
    assert_eq!(
        fs::read_to_string(new.join("bin/run")).unwrap(),
        "#!/bin/sh\necho v2\n"
    );
    let mode = new.join("bin/run").metadata().unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o755);
    assert_eq!(
        fs::read_link(new.join("start")).unwrap(),
        Path::new("bin/run")
    );
    let source_time = setup
        .source
        .join("bin/run")
        .metadata()
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(
        new.join("bin/run").metadata().unwrap().modified().unwrap(),
        source_time
    );
    let manifest = read_manifest(&setup.layout, &id(2)).unwrap();
    assert_eq!(manifest.len(), 21);
    assert_eq!(manifest["bin/run"].mode, 0o755);
    let host = setup.layout.read().unwrap();
    assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Uploading));
}

#[test]
fn a_mode_change_alone_writes_a_new_file() {
    let setup = setup(2);
    deploy(&setup, 1, &[]);
    fs::set_permissions(
        setup.source.join("d0/f0.txt"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let report =
        write_release(&setup.layout, &new_release(2, &[]), &collect(&setup.source)).unwrap();
    assert_eq!(report.written, 1);
    let old = setup.layout.release_dir(&id(1)).join("d0/f0.txt");
    assert_eq!(old.metadata().unwrap().permissions().mode() & 0o777, 0o644);
}

#[test]
fn shared_dirs_are_linked_and_survive_releases() {
    let setup = setup(2);
    fs::create_dir_all(setup.source.join("storage/cache")).unwrap();
    fs::write(setup.source.join("storage/cache/seed"), "from the build").unwrap();
    let first = deploy(&setup, 1, &["storage", "public/uploads"]);
    assert_eq!(first.files, 3);
    let live = setup.layout.live_link();
    fs::write(live.join("storage/data.db"), "precious").unwrap();
    deploy(&setup, 2, &["storage", "public/uploads"]);
    let release = setup.layout.release_dir(&id(2));
    assert_eq!(
        fs::read_link(release.join("storage")).unwrap(),
        Path::new("../../shared/storage")
    );
    assert_eq!(
        fs::read_to_string(live.join("storage/data.db")).unwrap(),
        "precious"
    );
    assert!(release.join("public/uploads").metadata().unwrap().is_dir());
    assert!(
        !setup
            .layout
            .shared_dir()
            .join("storage/cache/seed")
            .exists()
    );
    let error = write_release(
        &setup.layout,
        &new_release(3, &["../etc"]),
        &collect(&setup.source),
    )
    .unwrap_err();
    assert!(error.message.contains("not a relative path"), "{error}");
}

#[test]
fn refuses_an_existing_release_and_fails_a_broken_upload() {
    let setup = setup(3);
    deploy(&setup, 1, &[]);
    let tree = collect(&setup.source);
    assert!(write_release(&setup.layout, &new_release(1, &[]), &tree).is_err());
    assert!(setup.layout.release_dir(&id(1)).join("start").exists());
    fs::write(setup.source.join("new.txt"), "new").unwrap();
    let tree = collect(&setup.source);
    fs::remove_file(setup.source.join("new.txt")).unwrap();
    let error = write_release(&setup.layout, &new_release(2, &[]), &tree).unwrap_err();
    assert!(error.message.contains("cannot upload release"), "{error}");
    let host = setup.layout.read().unwrap();
    assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Failed));
    assert!(host.chain.violations().is_empty());
}

/// Two thousand files with one changed: one written, the rest linked. (Speed is measured
/// by `scripts/bench/release-local.sh`, not here.)
#[test]
fn writes_two_thousand_files_with_one_changed() {
    let setup = setup(2_000);
    deploy(&setup, 1, &[]);
    fs::write(setup.source.join("d7/f7.txt"), "changed\n").unwrap();
    let tree = collect(&setup.source);
    let report = write_release(&setup.layout, &new_release(2, &[]), &tree).unwrap();
    assert_eq!((report.linked, report.written), (2_000, 1));
}

#[test]
fn prepare_needs_only_changed_files_and_finish_completes_the_release() {
    let setup = setup(5);
    deploy(&setup, 1, &[]);
    fs::write(setup.source.join("d2/f2.txt"), "changed\n").unwrap();
    fs::write(setup.source.join("d0/new.txt"), "new\n").unwrap();
    let tree = collect(&setup.source);
    let release = new_release(2, &[]);
    let needed = prepare_release(&setup.layout, &release, &tree.entries).unwrap();
    assert_eq!(needed, ["d0/new.txt", "d2/f2.txt"]);
    let release_dir = setup.layout.release_dir(&id(2));
    for path in &needed {
        assert!(release_dir.join(path).symlink_metadata().is_err(), "{path}");
        fs::copy(setup.source.join(path), release_dir.join(path)).unwrap();
    }
    assert!(
        release_dir
            .join("start")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
    let report = finish_release(&setup.layout, &release, &tree.entries).unwrap();
    assert_eq!((report.files, report.linked, report.written), (7, 5, 2));
    assert_eq!(report.bytes_written, 12);
    assert_eq!(read_manifest(&setup.layout, &id(2)).unwrap().len(), 7);
    setup.layout.mark_ready(&id(2)).unwrap();
    let error = finish_release(&setup.layout, &release, &tree.entries).unwrap_err();
    assert!(error.message.contains("not being uploaded"), "{error}");
    assert_eq!(
        setup.layout.read().unwrap().chain.status_of(&id(2)),
        Some(ReleaseStatus::Ready)
    );
}

#[test]
fn a_needed_file_that_did_not_arrive_fails_the_release() {
    let setup = setup(3);
    deploy(&setup, 1, &[]);
    fs::write(setup.source.join("d1/f1.txt"), "changed\n").unwrap();
    let tree = collect(&setup.source);
    let release = new_release(2, &[]);
    let needed = prepare_release(&setup.layout, &release, &tree.entries).unwrap();
    assert_eq!(needed, ["d1/f1.txt"]);
    let error = finish_release(&setup.layout, &release, &tree.entries).unwrap_err();
    assert!(error.message.contains("cannot upload release"), "{error}");
    assert!(
        error.causes[0].contains("`d1/f1.txt` did not arrive"),
        "{error}"
    );
    let host = setup.layout.read().unwrap();
    assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Failed));
    assert!(host.chain.violations().is_empty());
}

#[test]
fn a_needed_file_of_the_wrong_size_fails_the_release() {
    let setup = setup(1);
    let tree = collect(&setup.source);
    let release = new_release(1, &[]);
    let needed = prepare_release(&setup.layout, &release, &tree.entries).unwrap();
    assert_eq!(needed.len(), 2);
    let release_dir = setup.layout.release_dir(&id(1));
    for path in &needed {
        fs::write(release_dir.join(path), "short").unwrap();
    }
    let error = finish_release(&setup.layout, &release, &tree.entries).unwrap_err();
    assert!(error.causes[0].contains("arrived with 5 bytes"), "{error}");
    let host = setup.layout.read().unwrap();
    assert_eq!(host.chain.status_of(&id(1)), Some(ReleaseStatus::Failed));
}

#[test]
fn entries_with_hostile_paths_are_refused_before_anything_is_written() {
    let setup = setup(1);
    let file = |path: &str| SourceEntry {
        path: path.to_owned(),
        kind: EntryKind::File {
            size: 1,
            mode: 0o644,
            hash: String::new(),
        },
    };
    let link = SourceEntry {
        path: "escape".to_owned(),
        kind: EntryKind::Symlink {
            target: "/etc".to_owned(),
        },
    };
    let hostile = [
        vec![file("../outside")],
        vec![file("/etc/passwd")],
        vec![file("a//b")],
        vec![file("")],
        vec![link, file("escape/passwd")],
        vec![file("unlisted/file")],
    ];
    for entries in hostile {
        let error = prepare_release(&setup.layout, &new_release(1, &[]), &entries).unwrap_err();
        assert!(error.message.contains("not a plain path"), "{error}");
    }
    assert!(setup.layout.read().unwrap().chain.is_empty());
}
