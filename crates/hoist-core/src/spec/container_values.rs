//! The container values that reach an engine's command line — image references, users and
//! volumes — checked against conservative patterns. None may start with `-`, so nothing
//! written in a spec can be read by podman or docker as one of their options.

use std::path::{Component, Path, PathBuf};

use super::{Volume, VolumeMode, VolumeSource};

/// The accepted forms of a `volumes` entry, for every refused one.
pub(super) const VOLUME_HINT: &str = "write `NAME:/path` (a named volume) or `shared/DIR:/path` (a directory under the deploy root's `shared/`), optionally followed by `:ro` (read-only) or `:shared` (two copies may write it at once)";

pub(super) const IMAGE_HINT: &str =
    "write a reference like `registry.example.com/team/app:1.2` or `app@sha256:<64 hex digits>`";

pub(super) const USER_HINT: &str =
    "write a user name or id, optionally with a group: `app`, `1000`, `1000:1000`";

/// Why a value is refused when it starts with `-`.
pub(super) const FLAG_REASON: &str = "it starts with `-`, which the engine would read as an option";

/// Why `image` is not a reference hoist passes to an engine, if it is not.
pub(super) fn image_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        return Some("it is empty");
    }
    if image.starts_with('-') {
        return Some(FLAG_REASON);
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("it contains whitespace or a control character");
    }
    if !image.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Some("it must start with a lowercase letter or a digit");
    }
    if !image
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._:/@+-".contains(c))
    {
        return Some("only letters, digits and `._:/@+-` are allowed");
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    if name.ends_with(['/', ':']) || name.contains("//") {
        return Some("it has an empty part between or after `/` and `:`");
    }
    if let Some(digest) = digest
        && !is_digest(digest)
    {
        return Some("the digest after `@` must be `sha256:` and 64 lowercase hex digits");
    }
    None
}

/// `sha256:<64 hex>` or `sha512:<128 hex>`, the digests registries hand out.
fn is_digest(digest: &str) -> bool {
    let hex = |text: &str, length: usize| {
        text.len() == length && text.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    };
    match digest.split_once(':') {
        Some(("sha256", value)) => hex(value, 64),
        Some(("sha512", value)) => hex(value, 128),
        _ => false,
    }
}

/// Why `user` is not `NAME[:GROUP]` of `[A-Za-z0-9_][A-Za-z0-9_.-]*`, if it is not.
pub(super) fn user_problem(user: &str) -> Option<&'static str> {
    if user.starts_with('-') {
        return Some(FLAG_REASON);
    }
    let word = |text: &str| {
        text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    };
    let valid = match user.split_once(':') {
        Some((name, group)) => word(name) && word(group),
        None => word(user),
    };
    (!valid).then_some(
        "it must be a name or id of letters, digits, `_`, `.` and `-`, optionally `:` and a group",
    )
}

/// A `volumes` entry: `SOURCE:TARGET`, `SOURCE:TARGET:ro` or `SOURCE:TARGET:shared`; the
/// error says why it is refused.
pub(super) fn parse_volume(entry: &str) -> Result<Volume, String> {
    let parts: Vec<&str> = entry.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [source, target] => (*source, *target, VolumeMode::Writable),
        [source, target, "ro"] => (*source, *target, VolumeMode::ReadOnly),
        [source, target, "shared"] => (*source, *target, VolumeMode::SharedSafe),
        [_, _, mode] => {
            return Err(format!(
                "`{mode}` is not a mode: only `ro` and `shared` are (none means writable)"
            ));
        }
        _ => return Err("it is not `SOURCE:TARGET` with an optional `:ro` or `:shared`".into()),
    };
    Ok(Volume {
        source: volume_source(source)?,
        target: volume_target(target)?,
        mode,
    })
}

fn volume_source(source: &str) -> Result<VolumeSource, String> {
    if source.starts_with('-') {
        return Err(FLAG_REASON.to_owned());
    }
    if let Some(path) = source.strip_prefix("shared/") {
        return shared_path(path).map(VolumeSource::Shared);
    }
    let named = source.len() <= 63
        && source.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && source
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.-".contains(c));
    match named {
        true => Ok(VolumeSource::Named(source.to_owned())),
        false => Err(format!(
            "the source `{source}` is neither a volume name (1-63 lowercase letters, digits, `_`, `.` or `-`, starting with a letter or digit) nor `shared/DIR`"
        )),
    }
}

/// The directory under `shared/`: relative, inside, and free of what a mount option
/// list (`,`) or a terminal would read differently.
fn shared_path(path: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(path);
    if path.chars().any(|c| c.is_control() || c == ',') {
        Err("the `shared/` path must not contain `,` or control characters".into())
    } else if as_path.has_root() {
        Err("the path after `shared/` must be relative".into())
    } else if as_path.components().any(|c| c == Component::ParentDir) {
        Err(format!("`shared/{path}` must not contain `..`"))
    } else if as_path.components().all(|c| c == Component::CurDir) {
        Err("`shared/` must be followed by a directory name".into())
    } else {
        Ok(as_path.to_path_buf())
    }
}

fn volume_target(target: &str) -> Result<PathBuf, String> {
    let path = Path::new(target);
    if !target.starts_with('/') {
        Err(format!(
            "the target `{target}` must be an absolute path inside the container"
        ))
    } else if target.chars().any(|c| c.is_control() || c == ',') {
        Err("the target must not contain `,` or control characters".into())
    } else if path.components().any(|c| c == Component::ParentDir) {
        Err(format!("the target `{target}` must not contain `..`"))
    } else if path.components().all(|c| c == Component::RootDir) {
        Err("the target must be a directory inside the container, not `/`".into())
    } else {
        Ok(path.to_path_buf())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_are_conservative() {
        let digest = format!("app@sha256:{}", "a".repeat(64));
        for ok in [
            "nginx",
            "nginx:1.27",
            "registry.example.com:5000/team/app:1.2",
            "localhost/app_x-y.z:v1+build",
            &digest,
            &format!("reg.io/app:1.0@sha256:{}", "0".repeat(64)),
        ] {
            assert_eq!(image_problem(ok), None, "{ok}");
        }
        for (bad, reason) in [
            ("", "it is empty"),
            ("--privileged", FLAG_REASON),
            ("-v", FLAG_REASON),
            (
                "app latest",
                "it contains whitespace or a control character",
            ),
            ("app\n", "it contains whitespace or a control character"),
            ("App", "it must start with a lowercase letter or a digit"),
            (".app", "it must start with a lowercase letter or a digit"),
            ("app;rm", "only letters, digits and `._:/@+-` are allowed"),
            ("app=1", "only letters, digits and `._:/@+-` are allowed"),
            ("app:", "it has an empty part between or after `/` and `:`"),
            (
                "reg//app",
                "it has an empty part between or after `/` and `:`",
            ),
            (
                "app@sha256:abc",
                "the digest after `@` must be `sha256:` and 64 lowercase hex digits",
            ),
            (
                "app@md5:0123",
                "the digest after `@` must be `sha256:` and 64 lowercase hex digits",
            ),
        ] {
            assert_eq!(image_problem(bad), Some(reason), "{bad:?}");
        }
    }

    #[test]
    fn users_are_names_or_ids_with_an_optional_group() {
        for ok in [
            "app",
            "1000",
            "1000:1000",
            "_svc",
            "www-data:www-data",
            "a.b",
        ] {
            assert_eq!(user_problem(ok), None, "{ok}");
        }
        assert_eq!(user_problem("-u0"), Some(FLAG_REASON));
        for bad in ["", "a:", ":a", "a:b:c", "a b", "root;x", ".a", "a:-g", "ü"] {
            assert!(user_problem(bad).is_some(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn volumes_read_source_target_and_mode() {
        assert_eq!(
            parse_volume("data:/var/lib/app"),
            Ok(Volume {
                source: VolumeSource::Named("data".into()),
                target: PathBuf::from("/var/lib/app"),
                mode: VolumeMode::Writable,
            })
        );
        assert_eq!(
            parse_volume("shared/uploads/img:/app/uploads:ro"),
            Ok(Volume {
                source: VolumeSource::Shared(PathBuf::from("uploads/img")),
                target: PathBuf::from("/app/uploads"),
                mode: VolumeMode::ReadOnly,
            })
        );
        assert_eq!(
            parse_volume("cache.v2:/cache:shared").map(|volume| volume.mode),
            Ok(VolumeMode::SharedSafe)
        );
    }

    #[test]
    fn odd_volumes_are_refused_with_the_reason() {
        for (bad, reason) in [
            ("-v:/x", FLAG_REASON),
            (
                "data:/x:rw,z",
                "`rw,z` is not a mode: only `ro` and `shared` are (none means writable)",
            ),
            (
                "data:/x:rw",
                "`rw` is not a mode: only `ro` and `shared` are (none means writable)",
            ),
            (
                "data",
                "it is not `SOURCE:TARGET` with an optional `:ro` or `:shared`",
            ),
            (
                "a:/b:ro:z",
                "it is not `SOURCE:TARGET` with an optional `:ro` or `:shared`",
            ),
            ("shared/../etc:/x", "`shared/../etc` must not contain `..`"),
            (
                "shared/:/x",
                "`shared/` must be followed by a directory name",
            ),
            (
                "shared/.:/x",
                "`shared/` must be followed by a directory name",
            ),
            (
                "shared//etc:/x",
                "the path after `shared/` must be relative",
            ),
            (
                "shared/a,b:/x",
                "the `shared/` path must not contain `,` or control characters",
            ),
            (
                "data:relative",
                "the target `relative` must be an absolute path inside the container",
            ),
            (
                "data:/a/../etc",
                "the target `/a/../etc` must not contain `..`",
            ),
            (
                "data:/x,ro",
                "the target must not contain `,` or control characters",
            ),
            (
                "data:/x\ny",
                "the target must not contain `,` or control characters",
            ),
            (
                "data:/",
                "the target must be a directory inside the container, not `/`",
            ),
        ] {
            assert_eq!(
                parse_volume(bad).map(|_| ()),
                Err(reason.to_owned()),
                "{bad:?}"
            );
        }
        for source in ["Data", "/etc", "a b", "", ".x"] {
            let entry = format!("{source}:/x");
            assert!(
                parse_volume(&entry).is_err_and(|reason| reason.starts_with("the source")),
                "{entry:?}"
            );
        }
    }
}
