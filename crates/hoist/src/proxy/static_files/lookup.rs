//! Finding the file a request names under the site's root, and opening it: the root
//! resolved once (it usually passes through the `live` symlink), every candidate
//! canonicalized and kept only inside that resolved root, then opened once; the request is
//! answered from that descriptor, whatever the `live` symlink points at meanwhile.

use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::proxy::static_files::content_types::accepts;
use crate::proxy::static_files::site_path::SitePath;

/// The pre-compressed variants looked for beside a file, in order of preference.
const VARIANTS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// The file that answers a request.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: File,
    pub metadata: Metadata,
    /// The file asked for (its name gives the content type), not its compressed variant.
    pub path: PathBuf,
    /// `br` or `gzip` when a pre-compressed variant is served.
    pub encoding: Option<&'static str>,
    /// A pre-compressed variant exists, so the answer depends on `Accept-Encoding`.
    pub has_variants: bool,
}

#[derive(Debug)]
pub enum Lookup {
    File(OpenedFile),
    /// A directory asked for without the trailing slash: redirect to it with the slash.
    Directory,
    /// Missing, not a regular file, or outside the root.
    Missing,
    /// The root itself does not exist (no release is live yet).
    NoRoot,
}

impl Lookup {
    pub fn find(root: &Path, site: &SitePath, accept_encoding: &str) -> Self {
        let Ok(root) = fs::canonicalize(root) else {
            return Self::NoRoot;
        };
        let Some((mut path, mut file, mut metadata)) =
            open_inside(&root, &root.join(&site.relative))
        else {
            return Self::Missing;
        };
        if metadata.is_dir() {
            if !site.trailing_slash {
                return Self::Directory;
            }
            let Some(index) = open_inside(&root, &path.join("index.html")) else {
                return Self::Missing;
            };
            (path, file, metadata) = index;
        } else if site.trailing_slash {
            // `/app.js/` names a directory that is not there.
            return Self::Missing;
        }
        if !metadata.is_file() {
            return Self::Missing;
        }

        let mut has_variants = false;
        for (encoding, suffix) in VARIANTS {
            let variant = with_suffix(&path, suffix);
            if accepts(accept_encoding, encoding) {
                if let Some((file, metadata)) = open_variant(&variant) {
                    return Self::File(OpenedFile {
                        file,
                        metadata,
                        path,
                        encoding: Some(encoding),
                        has_variants: true,
                    });
                }
            } else if !has_variants {
                has_variants = fs::symlink_metadata(&variant).is_ok_and(|m| m.is_file());
            }
        }
        Self::File(OpenedFile {
            file,
            metadata,
            path,
            encoding: None,
            has_variants,
        })
    }
}

/// Opens `path` when its canonical form is inside `root` (a symlink may point anywhere in
/// the release, but not out of it).
fn open_inside(root: &Path, path: &Path) -> Option<(PathBuf, File, Metadata)> {
    let path = fs::canonicalize(path).ok()?;
    if !path.starts_with(root) {
        return None;
    }
    // Non-blocking, so a FIFO in the release cannot hang the thread on open; it is refused
    // right after as not a regular file.
    let file = File::options()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(&path)
        .ok()?;
    let metadata = file.metadata().ok()?;
    Some((path, file, metadata))
}

/// A variant beside a canonical path is inside the root when it is no symlink: those are
/// not followed, so a variant cannot lead out of the release.
fn open_variant(path: &Path) -> Option<(File, Metadata)> {
    let file = File::options()
        .read(true)
        .custom_flags((OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW).bits())
        .open(path)
        .ok()?;
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some((file, metadata))
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn site(raw: &str) -> SitePath {
        SitePath::parse(raw).unwrap()
    }

    #[test]
    fn symlinks_inside_the_root_are_followed_and_those_leading_out_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        fs::create_dir_all(root.join("assets")).unwrap();
        fs::write(root.join("assets/app.js"), "1").unwrap();
        fs::write(dir.path().join("secret.txt"), "secret").unwrap();
        symlink("assets/app.js", root.join("alias.js")).unwrap();
        symlink(dir.path().join("secret.txt"), root.join("secret.txt")).unwrap();
        symlink(dir.path(), root.join("up")).unwrap();

        let Lookup::File(found) = Lookup::find(&root, &site("/alias.js"), "") else {
            panic!("a symlink inside the root is served");
        };
        assert!(found.path.ends_with("assets/app.js"));
        assert!(matches!(
            Lookup::find(&root, &site("/secret.txt"), ""),
            Lookup::Missing
        ));
        assert!(matches!(
            Lookup::find(&root, &site("/up/secret.txt"), ""),
            Lookup::Missing
        ));
        assert!(matches!(
            Lookup::find(&dir.path().join("nowhere"), &site("/"), ""),
            Lookup::NoRoot
        ));
    }

    #[test]
    fn a_symlinked_variant_is_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        fs::create_dir_all(&root).unwrap();
        fs::write(root.join("app.js"), "1").unwrap();
        fs::write(dir.path().join("outside.gz"), "gz").unwrap();
        symlink(dir.path().join("outside.gz"), root.join("app.js.gz")).unwrap();
        let Lookup::File(found) = Lookup::find(&root, &site("/app.js"), "gzip") else {
            panic!("the file itself is served");
        };
        assert_eq!(found.encoding, None);
        assert!(!found.has_variants);
    }
}
