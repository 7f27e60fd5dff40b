//! The hoist mark of a deploy root, `.hoist/root.json`: who laid the root out, when, whether
//! hoist created the directory itself and which entries were there before hoist adopted it.
//! `claim` is every first contact's gate: a missing or empty root becomes hoist's, a root
//! that an older hoist laid out is recognised, and a root with files of someone else's is
//! refused unless the caller adopts it knowingly. `destroy` reads the mark to delete only
//! what hoist created.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hostside::atomic_fs::{remove_if_present, remove_tree, write_json};

/// The entries hoist lays out in a root (the layout of `hostside::layout`).
pub const LAYOUT_ENTRIES: [&str; 8] = [
    "releases", "meta", "live", "shared", "config", "run", "logs", ".hoist",
];

/// Left by the remote installer when it had to create the root to install hoist in it, so
/// the claim that follows knows the directory is hoist's own.
pub const ROOT_CREATED_NOTE: &str = "root-created";

/// The phrase every refusal of a foreign root carries, for the controller to recognise it
/// and name the exact command that adopts it.
pub const FOREIGN_ROOT: &str = "holds files hoist did not put there";

/// How many entries a refusal names before it only counts the rest.
const NAMED_ENTRIES: usize = 8;

/// How a root became hoist's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Claim {
    /// hoist created the directory.
    Created,
    /// The directory existed and was empty.
    Empty,
    /// The directory held other files, and hoist was told to adopt it.
    Adopted,
    /// An older hoist laid it out before roots carried a mark.
    Recognised,
}

/// `.hoist/root.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootMark {
    /// `hoist <version>`.
    pub created_by: String,
    /// RFC 3339.
    pub created_at: String,
    pub claim: Claim,
    /// Whether hoist created the directory itself (and so may remove it when it is empty).
    pub created_root: bool,
    /// Top-level entries that were there before hoist claimed the root: never deleted.
    #[serde(default)]
    pub preexisting: Vec<String>,
}

/// `<root>/.hoist/root.json`.
pub fn mark_path(root: &Path) -> PathBuf {
    root.join(".hoist").join("root.json")
}

/// The root's mark, if it has one.
pub fn read(root: &Path) -> Result<Option<RootMark>> {
    let path = mark_path(root);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(error) => return Err(Error::io("read", &path, error)),
    };
    serde_json::from_slice(&text).map(Some).map_err(|error| {
        Error::failed(format!("the hoist mark `{}` is unreadable", path.display()))
            .cause(error)
            .hint("it records what hoist created in this root; restore it, or delete the root's hoist entries by hand")
    })
}

/// Makes `root` hoist's, or refuses it. Idempotent: a marked root is returned as it is.
/// Creates nothing in a root it refuses.
pub fn claim(root: &Path, adopt: bool) -> Result<RootMark> {
    if let Some(mark) = read(root)? {
        return Ok(mark);
    }
    let (claim, preexisting) = match entries(root)? {
        None => {
            create_root(root)?;
            (Claim::Created, Vec::new())
        }
        Some(entries) => {
            let noted = root.join(".hoist").join(ROOT_CREATED_NOTE).exists();
            let foreign: Vec<String> = entries.into_iter().filter(|e| e != ".hoist").collect();
            if foreign.is_empty() {
                (if noted { Claim::Created } else { Claim::Empty }, foreign)
            } else if is_older_layout(root) {
                let kept = foreign
                    .into_iter()
                    .filter(|name| !is_hoist_entry(name))
                    .collect();
                (Claim::Recognised, kept)
            } else if adopt {
                refuse_collisions(root, &foreign)?;
                (Claim::Adopted, foreign)
            } else {
                return Err(foreign_root_error(root, &foreign));
            }
        }
    };
    let mark = RootMark {
        created_by: format!("hoist {}", env!("CARGO_PKG_VERSION")),
        created_at: jiff::Timestamp::now().to_string(),
        claim,
        created_root: claim == Claim::Created,
        preexisting,
    };
    let state = root.join(".hoist");
    fs::create_dir_all(&state).map_err(|e| Error::io("create", &state, e))?;
    write_json(&mark_path(root), &mark)?;
    remove_if_present(&state.join(ROOT_CREATED_NOTE))?;
    Ok(mark)
}

/// Deletes what hoist created in `root`: the entries of its layout that were not there
/// before, `.hoist/` (with the mark) last, and the directory itself only when hoist created
/// it and it is empty then. Symlinks are deleted, never followed. A root without a mark is
/// claimed first (an older hoist's layout is recognised); one that is not hoist's is refused.
pub fn destroy(root: &Path) -> Result<()> {
    let Some(entries) = entries(root)? else {
        return Ok(());
    };
    let mark = match read(root)? {
        Some(mark) => mark,
        None if entries.is_empty() => return Ok(()),
        None => claim(root, false).map_err(|error| {
            Error::failed(format!(
                "`{}` is not a hoist deploy root; not deleting anything in it",
                root.display()
            ))
            .cause(error.causes.join(": "))
            .hint("check the host's path in `Hoist.toml`")
        })?,
    };
    let ours = |name: &String| is_hoist_entry(name) && !mark.preexisting.contains(name);
    // `live` first, so no reader follows it into a half-deleted release; `.hoist` last.
    let mut doomed: Vec<&String> = entries.iter().filter(|name| ours(name)).collect();
    doomed.sort_by_key(|name| (name.as_str() == ".hoist", name.as_str() != "live"));
    for name in doomed {
        remove_tree(&root.join(name))?;
    }
    if mark.created_root {
        match fs::remove_dir(root) {
            Err(error)
                if !matches!(
                    error.kind(),
                    ErrorKind::NotFound | ErrorKind::DirectoryNotEmpty
                ) =>
            {
                return Err(Error::io("remove", root, error));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The refusal of a root that holds `entries` of someone else's.
pub fn foreign_root_error(root: &Path, entries: &[String]) -> Error {
    let mut named: Vec<String> = entries
        .iter()
        .take(NAMED_ENTRIES)
        .map(|name| format!("`{name}`"))
        .collect();
    if entries.len() > NAMED_ENTRIES {
        named.push(format!("and {} more", entries.len() - NAMED_ENTRIES));
    }
    Error::failed(format!(
        "the deploy root `{}` {FOREIGN_ROOT}; hoist does not take it over silently",
        root.display()
    ))
    .cause(format!("it holds {}", named.join(", ")))
    .hint(
        "if hoist may share this directory, run `provision` or `deploy` again with `--adopt`: \
         hoist then lays its tree out beside these entries and `destroy` leaves them; \
         otherwise give the host a new or empty directory",
    )
}

/// The names in `root` (sorted), or `None` when it does not exist.
fn entries(root: &Path) -> Result<Option<Vec<String>>> {
    let listing = match fs::read_dir(root) {
        Ok(listing) => listing,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
        Err(error) if error.kind() == ErrorKind::NotADirectory => {
            return Err(Error::failed(format!(
                "the deploy root `{}` is not a directory",
                root.display()
            ))
            .hint("give the host a directory (a new one is created)"));
        }
        Err(error) => return Err(Error::io("read", root, error)),
    };
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Error::io("read", root, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(Some(names))
}

/// Creates the root (and its missing parents); another process creating it first is fine.
fn create_root(root: &Path) -> Result<()> {
    if let Some(parent) = root.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    match fs::create_dir(root) {
        Err(error) if error.kind() != ErrorKind::AlreadyExists => {
            Err(Error::io("create", root, error))
        }
        _ => Ok(()),
    }
}

/// An older hoist's layout: `releases/`, `meta/` and `.hoist/` all there.
fn is_older_layout(root: &Path) -> bool {
    ["releases", "meta", ".hoist"]
        .iter()
        .all(|name| root.join(name).symlink_metadata().is_ok_and(|m| m.is_dir()))
}

/// One of hoist's entries: the layout, or a `live` symlink left under its temporary name by
/// a switch that was cut off.
pub fn is_hoist_entry(name: &str) -> bool {
    LAYOUT_ENTRIES.contains(&name) || (name.starts_with(".live-") && name.ends_with(".tmp"))
}

/// Adopting a root whose entries carry the layout's names would hand them to hoist.
fn refuse_collisions(root: &Path, entries: &[String]) -> Result<()> {
    let taken: Vec<String> = entries
        .iter()
        .filter(|name| is_hoist_entry(name))
        .map(|name| format!("`{name}`"))
        .collect();
    if taken.is_empty() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "cannot adopt `{}`: its {} would be hoist's",
        root.display(),
        taken.join(", ")
    ))
    .cause("hoist writes, replaces and deletes the entries of its layout, so they cannot stay someone else's")
    .hint("move them out of the directory, or give the host a new or empty directory"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_root_is_created_and_marked_as_hoist_created() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b/root");
        let mark = claim(&root, false).unwrap();
        assert_eq!(mark.claim, Claim::Created);
        assert!(mark.created_root);
        assert!(mark.created_by.starts_with("hoist "));
        assert_eq!(read(&root).unwrap(), Some(mark.clone()));
        // Idempotent: the second claim reads the first one's mark.
        assert_eq!(claim(&root, false).unwrap(), mark);
    }

    #[test]
    fn an_empty_root_is_claimed_but_not_counted_as_created() {
        let dir = tempfile::tempdir().unwrap();
        let mark = claim(dir.path(), false).unwrap();
        assert_eq!((mark.claim, mark.created_root), (Claim::Empty, false));
        // The installer's note says hoist created it.
        let root = dir.path().join("installed");
        fs::create_dir_all(root.join(".hoist/bin")).unwrap();
        fs::write(root.join(".hoist").join(ROOT_CREATED_NOTE), "").unwrap();
        let mark = claim(&root, false).unwrap();
        assert_eq!((mark.claim, mark.created_root), (Claim::Created, true));
        assert!(!root.join(".hoist").join(ROOT_CREATED_NOTE).exists());
    }

    #[test]
    fn a_foreign_root_is_refused_untouched_and_adopted_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("notes.txt"), "mine").unwrap();
        fs::create_dir(root.join("data")).unwrap();
        let error = claim(root, false).unwrap_err();
        assert!(error.message.contains(FOREIGN_ROOT), "{error}");
        assert!(error.message.contains(&root.display().to_string()));
        assert_eq!(error.causes, ["it holds `data`, `notes.txt`"]);
        assert!(error.hints[0].contains("--adopt"));
        assert!(!root.join(".hoist").exists(), "nothing written");

        let mark = claim(root, true).unwrap();
        assert_eq!(mark.claim, Claim::Adopted);
        assert!(!mark.created_root);
        assert_eq!(mark.preexisting, ["data", "notes.txt"]);
    }

    #[test]
    fn adoption_refuses_entries_that_carry_the_layouts_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("config")).unwrap();
        fs::write(dir.path().join("notes.txt"), "").unwrap();
        let error = claim(dir.path(), true).unwrap_err();
        assert!(
            error.message.contains("its `config` would be hoist's"),
            "{error}"
        );
        assert!(!dir.path().join(".hoist").exists());
    }

    #[test]
    fn an_older_hoists_layout_is_recognised_silently() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["releases", "meta", ".hoist", "config"] {
            fs::create_dir(dir.path().join(name)).unwrap();
        }
        fs::write(dir.path().join("README"), "").unwrap();
        let mark = claim(dir.path(), false).unwrap();
        assert_eq!(mark.claim, Claim::Recognised);
        assert_eq!(mark.preexisting, ["README"]);
        // Only `.hoist/` (say, an older lock in a foreign directory) is not a layout.
        let foreign = dir.path().join("foreign");
        fs::create_dir_all(foreign.join(".hoist")).unwrap();
        fs::write(foreign.join("index.html"), "").unwrap();
        let error = claim(&foreign, false).unwrap_err();
        assert_eq!(error.causes, ["it holds `index.html`"]);
    }

    #[test]
    fn a_long_listing_is_cut_short() {
        let entries: Vec<String> = (0..12).map(|n| format!("f{n}")).collect();
        let error = foreign_root_error(Path::new("/srv/x"), &entries);
        assert!(error.causes[0].ends_with("`f7`, and 4 more"), "{error}");
    }

    #[test]
    fn destroy_deletes_only_what_hoist_created_and_never_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let (root, outside) = (dir.path().join("root"), dir.path().join("outside"));
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("precious"), "keep").unwrap();
        fs::create_dir(&root).unwrap();
        fs::write(root.join("notes.txt"), "mine").unwrap();
        claim(&root, true).unwrap();
        for name in ["releases/r1", "meta/r1", "shared", "logs"] {
            fs::create_dir_all(root.join(name)).unwrap();
        }
        // Links out of the root: as a layout entry, and deep inside one.
        std::os::unix::fs::symlink(&outside, root.join("releases/r1/storage")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("config")).unwrap();
        std::os::unix::fs::symlink("releases/r1", root.join("live")).unwrap();
        fs::write(root.join("later.txt"), "made after adoption, not hoist's").unwrap();
        destroy(&root).unwrap();
        let mut left: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["later.txt", "notes.txt"]);
        assert_eq!(
            fs::read_to_string(outside.join("precious")).unwrap(),
            "keep"
        );
        // Destroying again finds nothing of hoist's and refuses to touch the rest.
        let error = destroy(&root).unwrap_err();
        assert!(error.message.contains("not a hoist deploy root"), "{error}");
        assert!(root.join("notes.txt").exists());
    }

    #[test]
    fn destroy_removes_a_root_hoist_created_unless_something_else_is_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("new");
        claim(&root, false).unwrap();
        fs::create_dir(root.join("releases")).unwrap();
        destroy(&root).unwrap();
        assert!(!root.exists());
        destroy(&root).unwrap();

        claim(&root, false).unwrap();
        fs::write(root.join("stranger"), "").unwrap();
        destroy(&root).unwrap();
        assert!(root.join("stranger").exists());
        assert!(!root.join(".hoist").exists());

        // An empty directory that hoist did not create stays.
        let empty = dir.path().join("empty");
        fs::create_dir(&empty).unwrap();
        claim(&empty, false).unwrap();
        destroy(&empty).unwrap();
        assert!(empty.is_dir());
    }

    #[test]
    fn a_root_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, "").unwrap();
        let error = claim(&file, true).unwrap_err();
        assert!(error.message.contains("is not a directory"), "{error}");
    }
}
