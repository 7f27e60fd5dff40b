//! Finding the file a request names under the site's root, and opening it. The root is
//! opened once (it usually passes through the `live` symlink, which a deploy switches by
//! rename) and everything else is resolved from that descriptor, so a request sees one
//! release whole; the file is opened once and answered from that descriptor.
//!
//! Paths resolve with `openat2(RESOLVE_BENEATH)`: the kernel follows symlinks but refuses
//! any step out of the root. It also refuses absolute symlinks, even ones that land inside;
//! those, and kernels without `openat2`, take the slower way: the root and the target
//! canonicalized, the target kept only when inside the root. (Canonicalizing both costs a
//! `readlink` per path component: it was 40% of the system calls of serving a small file.)

use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::SFlag;

use crate::proxy::static_files::content_types::accepts;
use crate::proxy::static_files::site_cache::SiteCache;
use crate::proxy::static_files::site_path::SitePath;

/// The pre-compressed variants looked for beside a file, in order of preference.
const VARIANTS: [(&str, &str); 2] = [("br", "br"), ("gzip", "gz")];

/// The file that answers a request.
#[derive(Debug)]
pub struct OpenedFile {
    pub file: File,
    pub metadata: Metadata,
    /// The file asked for, relative to the root (its name gives the content type), not its
    /// compressed variant.
    pub path: PathBuf,
    /// `br` or `gzip` when a pre-compressed variant is served.
    pub encoding: Option<&'static str>,
    /// A pre-compressed variant exists, so the answer depends on `Accept-Encoding`.
    pub has_variants: bool,
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "made once a request and moved once; a box would be an allocation a request"
)]
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
    pub fn find(
        cache: &mut SiteCache,
        root: &Path,
        site: &SitePath,
        accept_encoding: &str,
    ) -> Self {
        let Some((root, known_variants)) = cache.root(root) else {
            return Self::NoRoot;
        };
        let Some((mut path, mut file, mut metadata)) = open_beneath(root, &site.relative) else {
            return Self::Missing;
        };
        if metadata.is_dir() {
            if !site.trailing_slash {
                return Self::Directory;
            }
            let Some(index) = open_beneath(root, &path.join("index.html")) else {
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

        let variants = VARIANTS.map(|(_, suffix)| with_suffix(&path, suffix));
        let exist = known_variants.get(&path, || {
            variants
                .each_ref()
                .map(|variant| is_regular_file(root, variant))
        });
        let has_variants = exist.contains(&true);
        for ((encoding, _), (variant, exists)) in VARIANTS.iter().zip(variants.iter().zip(exist)) {
            if exists
                && accepts(accept_encoding, encoding)
                && let Some((file, metadata)) = open_variant(root, variant)
            {
                return Self::File(OpenedFile {
                    file,
                    metadata,
                    path,
                    encoding: Some(encoding),
                    has_variants,
                });
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

/// Opens `relative` under `root` when it resolves inside it; gives back the path that
/// names it from `root` (the same, or without symlinks when the slow way found it).
fn open_beneath(root: &OwnedFd, relative: &Path) -> Option<(PathBuf, File, Metadata)> {
    let name = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    // Non-blocking, so a FIFO in the release cannot hang the thread on open; it is refused
    // right after as not a regular file.
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let (path, file) = match openat2(root, name, how) {
        Ok(fd) => (relative.to_owned(), File::from(fd)),
        // A step out of the root, or an absolute symlink; EAGAIN: a rename raced a `..`;
        // ENOSYS/EPERM: no openat2 here (an old kernel, a seccomp filter).
        Err(Errno::EXDEV | Errno::EAGAIN | Errno::ENOSYS | Errno::EPERM) => {
            canonical_inside(root, relative)?
        }
        Err(_) => return None,
    };
    let metadata = file.metadata().ok()?;
    Some((path, file, metadata))
}

/// The slow way: the canonical target, opened when it starts with the canonical root.
fn canonical_inside(root: &OwnedFd, relative: &Path) -> Option<(PathBuf, File)> {
    // The root as this request opened it, not as `live` points now.
    let root = fs::read_link(format!("/proc/self/fd/{}", root.as_raw_fd())).ok()?;
    let target = fs::canonicalize(root.join(relative)).ok()?;
    let inside = target.strip_prefix(&root).ok()?.to_owned();
    let file = File::options()
        .read(true)
        .custom_flags(OFlag::O_NONBLOCK.bits())
        .open(&target)
        .ok()?;
    Some((inside, file))
}

/// A variant is served only when it is a regular file itself, not a symlink: its directory
/// is the one the file was just found in, inside the root.
fn open_variant(root: &OwnedFd, relative: &Path) -> Option<(File, Metadata)> {
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let file = File::from(openat2(root, relative, how).ok()?);
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some((file, metadata))
}

/// Whether a variant exists, for `Vary`: not followed when a symlink; the directories on the
/// way are those the file itself was just found through, beneath the root.
fn is_regular_file(root: &OwnedFd, relative: &Path) -> bool {
    nix::sys::stat::fstatat(root, relative, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|stat| SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG)
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

        // Relative and absolute symlinks inside the root: the fast way and the slow way.
        symlink(root.join("assets/app.js"), root.join("absolute.js")).unwrap();
        for name in ["/alias.js", "/absolute.js"] {
            let Lookup::File(found) =
                Lookup::find(&mut SiteCache::default(), &root, &site(name), "")
            else {
                panic!("{name}: a symlink inside the root is served");
            };
            assert_eq!(found.metadata.len(), 1, "{name}");
        }
        assert!(matches!(
            Lookup::find(&mut SiteCache::default(), &root, &site("/secret.txt"), ""),
            Lookup::Missing
        ));
        assert!(matches!(
            Lookup::find(
                &mut SiteCache::default(),
                &root,
                &site("/up/secret.txt"),
                ""
            ),
            Lookup::Missing
        ));
        assert!(matches!(
            Lookup::find(
                &mut SiteCache::default(),
                &dir.path().join("nowhere"),
                &site("/"),
                ""
            ),
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
        let Lookup::File(found) =
            Lookup::find(&mut SiteCache::default(), &root, &site("/app.js"), "gzip")
        else {
            panic!("the file itself is served");
        };
        assert_eq!(found.encoding, None);
        assert!(!found.has_variants);
    }
}
