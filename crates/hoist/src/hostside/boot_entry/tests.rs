use std::os::unix::fs::PermissionsExt;

use super::*;

/// A deploy root with its id, so the entry has a marker of its own.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    root_id::read_or_create(dir.path()).unwrap();
    dir
}

/// FAKE systemctl: systemd cannot run as PID 1 here. It records its calls and answers
/// `is-enabled` from a file `enable` creates and `disable` removes.
fn fake_systemctl(dir: &Path) -> PathBuf {
    let path = dir.join("systemctl");
    let state = dir.join("enabled");
    let calls = dir.join("calls");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{calls}'\ncase \"$1\" in\n  enable) touch '{state}' ;;\n  disable) rm -f '{state}' ;;\n  is-enabled) test -e '{state}' ;;\nesac\n",
            calls = calls.display(),
            state = state.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn a_systemd_unit_is_written_enabled_and_removed() {
    let root = root();
    let systemd = tempfile::tempdir().unwrap();
    let unit_dir = systemd.path().join("units");
    let systemctl = fake_systemctl(systemd.path());
    let entries = BootEntries::with_method(
        root.path(),
        BootMethod::Systemd {
            unit_dir: unit_dir.clone(),
            systemctl,
        },
    );
    assert!(!entries.state().unwrap().installed);
    let entry = entries.install().unwrap();
    assert_eq!(entry.kind, BootEntryKind::Systemd);
    assert!(entry.installed, "{entry:?}");
    let unit = unit_dir.join(entries.unit_name().unwrap());
    let text = fs::read_to_string(&unit).unwrap();
    assert!(text.contains(&format!("host --root {} boot", root.path().display())));
    assert!(text.contains("KillMode=process"));
    let calls = fs::read_to_string(systemd.path().join("calls")).unwrap();
    assert!(calls.contains("daemon-reload"), "{calls}");
    assert!(calls.contains(&format!("enable --quiet {}", entries.unit_name().unwrap())));

    assert!(entries.remove().unwrap());
    assert!(!unit.exists());
    assert!(!entries.state().unwrap().installed);
    assert!(!entries.remove().unwrap(), "nothing left to remove");
}

/// The real crontab of the user running the tests: each root's line carries its own marker,
/// so this test touches only its own (and removes it).
#[test]
fn a_crontab_line_is_added_once_kept_apart_from_others_and_removed() {
    let Some(crontab) = find_on_path("crontab") else {
        panic!("crontab is missing: `scripts/test` installs cron");
    };
    let first = root();
    let second = root();
    let method = BootMethod::Crontab { crontab };
    let one = BootEntries::with_method(first.path(), method.clone());
    let two = BootEntries::with_method(second.path(), method.clone());
    assert!(!one.state().unwrap().installed);
    assert!(one.install().unwrap().installed);
    assert!(one.install().unwrap().installed, "installing twice is fine");
    assert!(two.install().unwrap().installed);
    let BootMethod::Crontab { crontab } = &method else {
        unreachable!()
    };
    let text = read_crontab(crontab).unwrap();
    let marker = one.marker().unwrap();
    assert_eq!(
        text.lines().filter(|l| l.ends_with(&marker)).count(),
        1,
        "{text}"
    );
    let line = text.lines().find(|l| l.ends_with(&marker)).unwrap();
    assert!(line.starts_with("@reboot "), "{line}");
    assert!(
        line.contains(&format!("host --root '{}' boot", first.path().display())),
        "{line}"
    );

    assert!(one.remove().unwrap());
    assert!(!one.state().unwrap().installed);
    assert!(
        two.state().unwrap().installed,
        "the other root keeps its line"
    );
    assert!(two.remove().unwrap());
    assert!(!one.remove().unwrap());
}

#[test]
fn without_systemd_or_cron_the_entry_says_why() {
    let root = root();
    let entries = BootEntries::with_method(
        root.path(),
        BootMethod::Unavailable {
            why: "no cron".to_owned(),
        },
    );
    let entry = entries.install().unwrap();
    assert_eq!(entry.kind, BootEntryKind::Unavailable);
    assert!(!entry.installed);
    assert_eq!(entry.detail, "no cron");
}

#[test]
fn percent_signs_are_escaped_for_cron_and_spaces_quoted_for_systemd() {
    assert_eq!(escape_cron("a%b"), "a\\%b");
    assert_eq!(systemd_quote("/srv/my app"), "\"/srv/my app\"");
    assert_eq!(systemd_quote("/srv/app"), "/srv/app");
}

/// The crontab lock is one file per uid, whatever `$HOME` says; a name taken by a symlink is
/// never followed (the caller falls back to the home directory's lock).
#[test]
fn the_crontab_lock_file_is_our_own_regular_file_never_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("own.lock");
    assert!(open_own_lock_file(&own).is_some());
    assert!(own.is_file());
    let target = dir.path().join("target");
    let link = dir.path().join("link.lock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(open_own_lock_file(&link).is_none());
    assert!(!target.exists(), "nothing was created through the symlink");
    let _held = crontab_lock().unwrap();
}
