use std::fs;
use std::os::unix::fs::symlink;

use super::*;

fn build(upload: &[&str], upload_version: Option<&str>, exclude: &[&str]) -> Build {
    Build {
        steps: Vec::new(),
        upload: upload.iter().map(PathBuf::from).collect(),
        upload_version: upload_version.map(PathBuf::from),
        exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
        pass_env: Vec::new(),
    }
}

fn write(root: &Path, path: &str, contents: &str) {
    let full = root.join(path);
    fs::create_dir_all(full.parent().unwrap()).unwrap();
    fs::write(full, contents).unwrap();
}

fn paths(tree: &SourceTree) -> Vec<&str> {
    tree.entries
        .iter()
        .map(|entry| entry.path.as_str())
        .collect()
}

fn app() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "Hoist.toml", "[app]\nname = \"demo\"\n");
    write(root, "src/main.py", "print('hi')\n");
    write(root, "src/lib/util.py", "x = 1\n");
    write(root, "debug.log", "noise\n");
    write(root, ".git/HEAD", "ref: refs/heads/main\n");
    write(root, ".hoist/state.db", "");
    write(root, "dist/index.html", "<h1>hi</h1>\n");
    symlink("src/main.py", root.join("main")).unwrap();
    fs::set_permissions(root.join("src/main.py"), fs::Permissions::from_mode(0o750)).unwrap();
    dir
}

#[test]
fn collects_everything_sorted_with_modes_hashes_and_links() {
    let dir = app();
    let tree = SourceTree::collect(dir.path(), &build(&[], None, &["*.log"])).unwrap();
    assert_eq!(
        paths(&tree),
        [
            "Hoist.toml",
            "dist",
            "dist/index.html",
            "main",
            "src",
            "src/lib",
            "src/lib/util.py",
            "src/main.py"
        ]
    );
    let main = tree
        .entries
        .iter()
        .find(|e| e.path == "src/main.py")
        .unwrap();
    assert_eq!(
        main.kind,
        EntryKind::File {
            size: 12,
            mode: 0o750,
            hash: blake3::hash(b"print('hi')\n").to_hex().to_string()
        }
    );
    let link = tree.entries.iter().find(|e| e.path == "main").unwrap();
    assert_eq!(
        link.kind,
        EntryKind::Symlink {
            target: "src/main.py".into()
        }
    );
    assert_eq!(tree.file_count(), 4);
    assert_eq!(tree.root, dir.path());
}

#[test]
fn excludes_directories_and_negations_gitignore_style() {
    let dir = app();
    write(dir.path(), "src/keep.log", "kept\n");
    let exclude = ["*.log", "!src/keep.log", "/dist/", "lib"];
    let tree = SourceTree::collect(dir.path(), &build(&[], None, &exclude)).unwrap();
    assert_eq!(
        paths(&tree),
        ["Hoist.toml", "main", "src", "src/keep.log", "src/main.py"]
    );
}

#[test]
fn upload_paths_keep_their_relative_paths_and_parents() {
    let dir = app();
    let tree =
        SourceTree::collect(dir.path(), &build(&["./src/lib", "Hoist.toml"], None, &[])).unwrap();
    assert_eq!(
        paths(&tree),
        ["Hoist.toml", "src", "src/lib", "src/lib/util.py"]
    );
}

#[test]
fn upload_version_makes_a_directory_the_release_root() {
    let dir = app();
    let tree = SourceTree::collect(dir.path(), &build(&[], Some("dist"), &[])).unwrap();
    assert_eq!(paths(&tree), ["index.html"]);
    assert_eq!(tree.root, dir.path().join("dist"));
}

#[test]
fn a_missing_upload_path_is_an_error_with_a_hint() {
    let dir = app();
    for build in [
        build(&["public"], None, &[]),
        build(&[], Some("public"), &[]),
    ] {
        let error = SourceTree::collect(dir.path(), &build).unwrap_err();
        assert_eq!(error.message, "upload path `public` does not exist");
        assert!(!error.hints.is_empty());
    }
    let error = SourceTree::collect(dir.path(), &build(&["../etc"], None, &[])).unwrap_err();
    assert!(
        error.message.contains("leaves the spec's directory"),
        "{error}"
    );
}

#[test]
fn skips_sockets() {
    let dir = app();
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("app.sock")).unwrap();
    let tree = SourceTree::collect(dir.path(), &build(&[], None, &[])).unwrap();
    assert!(!paths(&tree).contains(&"app.sock"));
}

#[test]
fn content_hash_is_deterministic_and_sees_every_change() {
    let dir = app();
    let collect = || SourceTree::collect(dir.path(), &build(&[], None, &[])).unwrap();
    let first = collect();
    assert_eq!(first.content_hash, collect().content_hash);
    let mut seen = vec![first.content_hash];
    let changes: [&dyn Fn(&Path); 4] = [
        &|root| write(root, "src/lib/util.py", "x = 2\n"),
        &|root| {
            fs::set_permissions(
                root.join("src/lib/util.py"),
                fs::Permissions::from_mode(0o600),
            )
            .unwrap()
        },
        &|root| fs::rename(root.join("debug.log"), root.join("debug2.log")).unwrap(),
        &|root| {
            fs::remove_file(root.join("main")).unwrap();
            symlink("src/lib", root.join("main")).unwrap();
        },
    ];
    for change in changes {
        change(dir.path());
        let hash = collect().content_hash;
        assert!(!seen.contains(&hash));
        seen.push(hash);
    }
}

#[test]
fn hashes_a_big_file_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let contents: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(dir.path().join("big.bin"), &contents).unwrap();
    let tree = SourceTree::collect(dir.path(), &build(&[], None, &[])).unwrap();
    let EntryKind::File { size, hash, .. } = &tree.entries[0].kind else {
        panic!()
    };
    assert_eq!(*size, 3_000_000);
    assert_eq!(*hash, blake3::hash(&contents).to_hex().to_string());
}

#[test]
fn collects_two_thousand_files() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..2_000 {
        write(
            dir.path(),
            &format!("d{}/f{i}.txt", i % 40),
            &format!("file {i}\n").repeat(20),
        );
    }
    let build = build(&[], None, &[]);
    let tree = SourceTree::collect(dir.path(), &build).unwrap();
    assert_eq!(tree.file_count(), 2_000);
    assert_eq!(
        SourceTree::collect(dir.path(), &build)
            .unwrap()
            .content_hash,
        tree.content_hash
    );
}
