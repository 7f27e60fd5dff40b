use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use super::*;

fn id(n: u32) -> ReleaseId {
    format!("20261121T{n:06}Z-0000abcd").parse().unwrap()
}

fn info(n: u32) -> ReleaseInfo {
    ReleaseInfo {
        content_hash: "ab".repeat(32),
        config_hash: "cd".repeat(32),
        created_at: "2026-11-21T00:00:00Z".into(),
        created_by: "alice".into(),
        ..stand_in(&id(n), ReleaseStatus::Uploading, "")
    }
}

fn layout() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::open(dir.path().join("app"));
    layout.ensure(false).unwrap();
    (dir, layout)
}

/// A release as an upload leaves it: recorded, with a tree, still `Uploading`.
fn upload(layout: &Layout, n: u32) {
    layout.begin_release(&info(n)).unwrap();
    fs::create_dir(layout.release_dir(&id(n))).unwrap();
    fs::write(layout.release_dir(&id(n)).join("version"), n.to_string()).unwrap();
}

fn ready(layout: &Layout, n: u32) {
    upload(layout, n);
    layout.mark_ready(&id(n)).unwrap();
}

fn consistent(layout: &Layout) -> HostReleases {
    let host = layout.read().unwrap();
    assert_eq!(host.chain.violations(), Vec::<String>::new());
    host
}

fn order(host: &HostReleases) -> Vec<ReleaseId> {
    host.chain
        .ordered()
        .iter()
        .map(|meta| meta.id.clone())
        .collect()
}

#[test]
fn ensure_creates_the_layout_with_a_private_config_dir() {
    let (_dir, layout) = layout();
    layout.ensure(false).unwrap();
    for name in [
        "releases", "meta", "shared", "config", "run", "logs", ".hoist",
    ] {
        assert!(layout.root().join(name).is_dir(), "{name}");
    }
    let mode = layout.config_dir().metadata().unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn releases_are_recorded_linked_and_read_back() {
    let (_dir, layout) = layout();
    assert!(layout.read().unwrap().chain.is_empty());
    for n in 1..=3 {
        ready(&layout, n);
    }
    upload(&layout, 4);
    let host = consistent(&layout);
    assert_eq!(order(&host), [id(1), id(2), id(3), id(4)]);
    assert_eq!(host.chain.status_of(&id(4)), Some(ReleaseStatus::Uploading));
    assert_eq!(host.infos[&id(2)].created_by, "alice");
    let link = fs::read_link(layout.meta_dir(&id(2)).join("previous")).unwrap();
    assert_eq!(link, Path::new("../20261121T000001Z-0000abcd"));
    let error = layout.begin_release(&info(2)).unwrap_err();
    assert!(error.message.contains("already exists"), "{error}");
}

#[test]
fn switch_live_retires_the_old_live_and_refuses_incomplete_releases() {
    let (_dir, layout) = layout();
    ready(&layout, 1);
    ready(&layout, 2);
    upload(&layout, 3);
    layout.switch_live(&id(1)).unwrap();
    layout.switch_live(&id(2)).unwrap();
    let host = consistent(&layout);
    assert_eq!(host.live, Some(id(2)));
    assert_eq!(host.infos[&id(1)].status, ReleaseStatus::Retired);
    assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Live));
    let version = fs::read_to_string(layout.live_link().join("version")).unwrap();
    assert_eq!(version, "2");
    assert!(layout.switch_live(&id(3)).is_err());
    assert!(layout.switch_live(&id(9)).is_err());
    assert_eq!(layout.live().unwrap(), Some(id(2)));
}

#[test]
fn live_never_goes_missing_during_switches() {
    let (_dir, layout) = layout();
    ready(&layout, 1);
    ready(&layout, 2);
    layout.switch_live(&id(1)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, link) = (Arc::clone(&done), layout.live_link());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                let version = fs::read_to_string(link.join("version"));
                assert!(
                    version.is_ok_and(|v| v == "1" || v == "2"),
                    "live went missing"
                );
                reads += 1;
            }
            reads
        })
    };
    for round in 0..200 {
        layout.switch_live(&id(1 + round % 2)).unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    consistent(&layout);
}

#[test]
fn remove_joins_the_chain_on_disk_and_refuses_live() {
    let (_dir, layout) = layout();
    for n in 1..=4 {
        ready(&layout, n);
    }
    layout.switch_live(&id(4)).unwrap();
    layout.remove(&id(2)).unwrap();
    layout.remove(&id(1)).unwrap();
    let host = consistent(&layout);
    assert_eq!(order(&host), [id(3), id(4)]);
    assert!(!layout.release_dir(&id(2)).exists());
    assert!(!layout.meta_dir(&id(2)).exists());
    let error = layout.remove(&id(4)).unwrap_err();
    assert!(error.message.contains("is live"), "{error}");
    assert!(layout.release_dir(&id(4)).is_dir());
}

#[test]
fn prune_removes_failed_and_old_releases_but_not_live_or_its_previous() {
    let (_dir, layout) = layout();
    for n in 1..=6 {
        ready(&layout, n);
    }
    layout.switch_live(&id(3)).unwrap();
    layout.mark_failed(&id(5), "health check failed").unwrap();
    upload(&layout, 7);
    let removed = layout.prune(2).unwrap();
    assert_eq!(removed, [id(1), id(5)]);
    let host = consistent(&layout);
    assert_eq!(order(&host), [id(2), id(3), id(4), id(6), id(7)]);
    for gone in [1, 5] {
        assert!(!layout.release_dir(&id(gone)).exists());
    }
}

#[test]
fn mark_failed_records_why_and_refuses_live() {
    let (_dir, layout) = layout();
    ready(&layout, 1);
    ready(&layout, 2);
    layout.switch_live(&id(1)).unwrap();
    layout
        .mark_failed(&id(2), "post_upload exited with status 1")
        .unwrap();
    let host = consistent(&layout);
    assert_eq!(host.infos[&id(2)].status, ReleaseStatus::Failed);
    assert_eq!(
        host.infos[&id(2)].error.as_deref(),
        Some("post_upload exited with status 1")
    );
    assert!(layout.mark_failed(&id(1), "no").is_err());
    assert_eq!(
        host.chain.rollback_target(None),
        Err(hoist_core::release_chain::ChainError::NoRollbackTarget)
    );
}

#[test]
fn cut_off_uploads_and_removals_are_discarded() {
    let (_dir, layout) = layout();
    ready(&layout, 1);
    upload(&layout, 2);
    fs::create_dir(layout.meta_dir(&id(3))).unwrap();
    let aside = layout.releases_dir().join(".removed-x");
    fs::create_dir_all(aside.join("sub")).unwrap();
    fs::set_permissions(aside.join("sub"), fs::Permissions::from_mode(0o500)).unwrap();
    let host = consistent(&layout);
    assert_eq!(host.chain.status_of(&id(3)), Some(ReleaseStatus::Uploading));
    assert_eq!(layout.discard_incomplete().unwrap(), [id(2), id(3)]);
    let host = consistent(&layout);
    assert_eq!(host.chain.status_of(&id(2)), Some(ReleaseStatus::Failed));
    assert_eq!(
        host.infos[&id(3)].error.as_deref(),
        Some("its upload was cut off")
    );
    assert!(!aside.exists());
    assert_eq!(layout.prune(5).unwrap(), [id(2), id(3)]);
}

#[test]
fn write_config_replaces_the_files_privately() {
    let (_dir, layout) = layout();
    let file = |name: &str, text: &str| ConfigFile {
        name: name.into(),
        contents: text.into(),
    };
    layout
        .write_config(&[file("app.env", "A=1\n"), file("old.conf", "x")])
        .unwrap();
    layout.write_config(&[file("app.env", "A=2\n")]).unwrap();
    let names: Vec<_> = fs::read_dir(layout.config_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, ["app.env"]);
    let path = layout.config_dir().join("app.env");
    assert_eq!(fs::read_to_string(&path).unwrap(), "A=2\n");
    assert_eq!(path.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    assert!(layout.write_config(&[file("../escape", "x")]).is_err());
}

#[test]
fn destroy_deletes_a_layout_but_not_a_stranger() {
    let (dir, layout) = layout();
    ready(&layout, 1);
    layout.destroy().unwrap();
    assert!(!layout.root().exists());
    layout.destroy().unwrap();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("notes.txt"), "mine").unwrap();
    assert!(Layout::open(&home).destroy().is_err());
    assert!(home.join("notes.txt").exists());
}
