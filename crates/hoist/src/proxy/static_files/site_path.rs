//! A request's path as a path under the site's root: percent-decoded, then checked segment by
//! segment before it touches the file system. What can still escape the root after this (a
//! symlink inside the release) is caught when the path is resolved.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// A path that may be looked up under the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitePath {
    /// Relative, with no `.`, `..` or empty segments; empty for the root itself.
    pub relative: PathBuf,
    /// `/docs/` rather than `/docs`: a directory is served only when asked for with the slash.
    pub trailing_slash: bool,
}

/// Why a path is not looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// A bad percent escape, a NUL, or a `.`/`..` segment: 400.
    Malformed,
    /// A dotfile or a dot-directory (but `/.well-known/`): 404, as if it were not there.
    Hidden,
}

impl SitePath {
    /// `raw` is the request target's path, still percent-encoded, starting with `/`.
    pub fn parse(raw: &str) -> Result<Self, Refused> {
        let decoded = percent_decode(raw.as_bytes()).ok_or(Refused::Malformed)?;
        if decoded.contains(&0) {
            return Err(Refused::Malformed);
        }
        let mut relative = PathBuf::new();
        let segments = decoded.split(|&b| b == b'/').filter(|s| !s.is_empty());
        for (index, segment) in segments.enumerate() {
            if segment == b"." || segment == b".." {
                return Err(Refused::Malformed);
            }
            if segment.starts_with(b".") && !(index == 0 && segment == b".well-known") {
                return Err(Refused::Hidden);
            }
            relative.push(OsStr::from_bytes(segment));
        }
        Ok(Self {
            relative,
            trailing_slash: decoded.ends_with(b"/"),
        })
    }
}

/// `%XX` escapes decoded; `None` when one is not two hex digits.
fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    if !raw.contains(&b'%') {
        return Some(raw.to_vec());
    }
    let mut decoded = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&byte) = bytes.next() {
        if byte == b'%' {
            let high = hex_digit(*bytes.next()?)?;
            let low = hex_digit(*bytes.next()?)?;
            decoded.push(high << 4 | low);
        } else {
            decoded.push(byte);
        }
    }
    Some(decoded)
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative(raw: &str) -> String {
        SitePath::parse(raw)
            .unwrap()
            .relative
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn paths_are_decoded_and_empty_segments_dropped() {
        assert_eq!(relative("/"), "");
        assert_eq!(relative("/app.js"), "app.js");
        assert_eq!(relative("//assets//a%20b.css"), "assets/a b.css");
        assert_eq!(relative("/a%2Fb"), "a/b");
        assert_eq!(relative("/caf%C3%A9.txt"), "café.txt");
        assert!(SitePath::parse("/docs/").unwrap().trailing_slash);
        assert!(!SitePath::parse("/docs").unwrap().trailing_slash);
    }

    #[test]
    fn traversal_and_nul_are_malformed() {
        for raw in [
            "/../etc/passwd",
            "/a/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/a/%2e%2e",
            "/./index.html",
            "/index.html%00.png",
            "/bad%zz",
            "/truncated%2",
        ] {
            assert_eq!(SitePath::parse(raw), Err(Refused::Malformed), "{raw}");
        }
    }

    #[test]
    fn dotfiles_are_hidden_but_well_known_is_not() {
        for raw in ["/.env", "/.git/config", "/assets/.htaccess", "/%2egit/HEAD"] {
            assert_eq!(SitePath::parse(raw), Err(Refused::Hidden), "{raw}");
        }
        assert_eq!(
            relative("/.well-known/acme-challenge/token"),
            ".well-known/acme-challenge/token"
        );
        assert_eq!(
            SitePath::parse("/.well-known/.secret"),
            Err(Refused::Hidden)
        );
        assert_eq!(
            SitePath::parse("/assets/.well-known/x"),
            Err(Refused::Hidden)
        );
    }
}
