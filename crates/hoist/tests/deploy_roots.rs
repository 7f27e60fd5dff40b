//! Deploy roots hoist did not create: refused at first contact unless `--adopt`, adopted
//! roots keep their files through `destroy`, roots hoist created go away whole, older
//! layouts are recognised, and `spec check` refuses system and home directories. Locally
//! and over SSH (testbed).

use std::fs;
use std::path::Path;

use crate::harness::Test;
use crate::testbed::Testbed;

/// The names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The root of `dev` made by someone else: a file and a directory of theirs.
fn foreign_root(t: &Test) {
    fs::create_dir_all(t.root.join("uploads")).unwrap();
    fs::write(t.root.join("notes.txt"), "mine\n").unwrap();
    fs::write(t.root.join("uploads/photo.jpg"), "jpeg").unwrap();
}

#[test]
fn a_directory_with_files_is_refused_untouched_and_adopted_only_when_asked() {
    let t = Test::new();
    foreign_root(&t);
    let before = Test::snapshot(&t.root);
    let root = t.root.display().to_string();
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains(&format!(
            "the deploy root `{root}` holds files hoist did not put there"
        ))
        .stderr_contains("it holds `notes.txt`, `uploads`")
        .stderr_contains("adopt it with `hoist deploy dev --adopt`");
    assert_eq!(
        listing(&t.root),
        ["notes.txt", "uploads"],
        "nothing written"
    );
    assert_eq!(Test::snapshot(&t.root), before);
    t.hoist(&["provision", "dev"])
        .code(1)
        .stderr_contains("adopt it with `hoist provision dev --adopt`");
    assert_eq!(
        listing(&t.root),
        ["notes.txt", "uploads"],
        "nothing written"
    );

    t.hoist(&["deploy", "dev", "--adopt"]).success();
    assert!(t.body().starts_with("hi from "), "the app serves");
    let mark: serde_json::Value =
        serde_json::from_slice(&fs::read(t.root.join(".hoist/root.json")).unwrap()).unwrap();
    assert_eq!(mark["claim"], "adopted");
    assert_eq!(mark["created_root"], false);
    assert_eq!(
        mark["preexisting"],
        serde_json::json!(["notes.txt", "uploads"])
    );
    // Adopted once is hoist's: later commands need no flag.
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();

    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert_eq!(listing(&t.root), ["notes.txt", "uploads"]);
    assert_eq!(
        Test::snapshot(&t.root),
        before,
        "their files are as they were"
    );
}

#[test]
fn provision_adopt_claims_the_root_for_the_deploys_after_it() {
    let t = Test::new();
    foreign_root(&t);
    t.hoist(&["create", "dev"]).success();
    t.hoist(&["provision", "dev", "--adopt"]).success();
    t.hoist(&["deploy", "dev"]).success();
    assert!(t.body().starts_with("hi from "));
    // An entry with a layout name would be handed to hoist: refused even with `--adopt`.
    let other = t.temp.path().join("other");
    fs::create_dir_all(other.join("config")).unwrap();
    let spec = fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    t.write(
        "Hoist.toml",
        &spec.replace(&t.root.display().to_string(), &other.display().to_string()),
    );
    t.hoist(&["provision", "dev", "--adopt"])
        .code(1)
        .stderr_contains("its `config` would be hoist's");
    assert_eq!(listing(&other), ["config"]);
}

#[test]
fn a_root_hoist_created_is_destroyed_whole() {
    let t = Test::new();
    assert!(!t.root.exists());
    t.hoist(&["deploy", "dev"]).success();
    let mark: serde_json::Value =
        serde_json::from_slice(&fs::read(t.root.join(".hoist/root.json")).unwrap()).unwrap();
    assert_eq!(
        (&mark["claim"], &mark["created_root"]),
        (&"created".into(), &true.into())
    );
    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert!(
        !t.root.exists(),
        "{:?}",
        fs::read_dir(&t.root).map(|_| listing(&t.root))
    );
    // An empty directory someone made stays, emptied of hoist's entries.
    fs::create_dir_all(&t.root).unwrap();
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert!(t.root.is_dir());
    assert_eq!(listing(&t.root), Vec::<String>::new());
}

#[test]
fn a_root_an_older_hoist_laid_out_is_recognised_silently() {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    // What an older hoist leaves: the layout, no mark, and a file someone put beside it.
    fs::remove_file(t.root.join(".hoist/root.json")).unwrap();
    fs::write(t.root.join("README"), "ops notes\n").unwrap();
    t.write("message.txt", "v2\n");
    t.hoist(&["deploy", "dev"]).success();
    let mark: serde_json::Value =
        serde_json::from_slice(&fs::read(t.root.join(".hoist/root.json")).unwrap()).unwrap();
    assert_eq!(mark["claim"], "recognised");
    assert_eq!(mark["preexisting"], serde_json::json!(["README"]));
    t.hoist(&["destroy", "dev", "--yes"]).success();
    assert_eq!(listing(&t.root), ["README"]);
}

#[test]
fn system_and_home_directories_are_refused_by_spec_check_and_register() {
    let t = Test::new();
    let spec = fs::read_to_string(t.project.join("Hoist.toml")).unwrap();
    let root = t.root.display().to_string();
    for (bad, message) in [
        ("/etc", "the deploy root `/etc` is a system directory"),
        (
            "//usr/./bin",
            "the deploy root `/usr/bin` is inside `/usr`, which the operating system owns",
        ),
        (
            "/var",
            "the deploy root `/var` is a shared system directory",
        ),
        (
            "/home/alice",
            "the deploy root `/home/alice` is a home directory itself",
        ),
    ] {
        t.write("Hoist.toml", &spec.replace(&root, bad));
        t.hoist(&["spec", "check"])
            .code(1)
            .stderr_contains(message)
            .stderr_contains("hint: deploy into a directory of its own");
        t.hoist(&["deploy", "dev"]).code(1).stderr_contains(message);
    }
    t.write("Hoist.toml", &spec);
    t.hoist(&["create", "dev"]).success();
    t.hoist(&["register", "dev", "--host", "local:/boot"])
        .code(1)
        .stderr_contains(
            "cannot register `local:/boot`: the deploy root `/boot` is a system directory",
        );
}

#[test]
fn an_ssh_root_with_files_is_refused_before_hoist_is_installed_in_it() {
    let Some(tb) = Testbed::up(1, false) else {
        return;
    };
    let t = Test::new();
    let host = &tb.hosts[0];
    let spec = format!(
        "[app]\nname = \"hello\"\n\n[build]\nupload = [\"app.py\", \"message.txt\"]\n\n\
         [env.fleet]\nhosts = [\"root@{host}\"]\nroot = \"/srv/site\"\nssh_config = \"{}\"\nconnect_timeout = \"3s\"\n",
        tb.ssh_config.display()
    );
    t.write("Hoist.toml", &spec);
    // `/srv/site` on the host is this directory of the testbed's.
    let site = tb.dir().join("h1/srv/site");
    fs::create_dir_all(&site).unwrap();
    fs::write(site.join("index.html"), "theirs").unwrap();
    t.hoist(&["deploy", "fleet"])
        .code(1)
        .stderr_contains("the deploy root `/srv/site` holds files hoist did not put there")
        .stderr_contains("it holds `index.html`")
        .stderr_contains("adopt it with `hoist deploy fleet --adopt`");
    assert_eq!(listing(&site), ["index.html"], "no hoist binary, no lock");

    t.hoist(&["deploy", "fleet", "--adopt"]).success();
    assert!(site.join(".hoist/bin/hoist").is_file());
    assert!(site.join("live").exists());
    t.hoist(&["destroy", "fleet", "--yes"]).success();
    assert_eq!(listing(&site), ["index.html"]);
    assert_eq!(
        fs::read_to_string(site.join("index.html")).unwrap(),
        "theirs"
    );
    // A root the installer created goes away whole.
    let fresh = spec.replace("/srv/site", "/srv/fresh");
    t.write("Hoist.toml", &fresh);
    t.hoist(&["deploy", "fleet"]).success();
    t.hoist(&["destroy", "fleet", "--yes"]).success();
    assert!(!tb.dir().join("h1/srv/fresh").exists());
}
