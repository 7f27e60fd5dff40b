//! The host's session command, which installs hoist in the same session when it is missing.
//! A host's first command used to cost four ssh sessions before its first answer (a `serve`
//! that found no binary, a probe, the send, a new `serve`); each is an ssh client here and a
//! session, a shell and often a hoist there. Now the session's shell does it all: with the
//! binary in place it `exec`s `hoist host serve`; without it, it reads the first request (the
//! controller sends it again later), says what the install needs to know, and waits. The
//! controller answers `install HASH` (or `quit`); the shell links the user's cached copy or
//! asks for the bytes, unpacks them, says `done` and `exec`s the new `serve`, which the
//! controller asks for its hash before trusting it.
//!
//! Anything off the plain path — another platform, a root of someone else's, a host without
//! zstd or gzip, any failure — ends the shell, and `binary::ensure_installed` does the install
//! in sessions of its own, which say precisely what is wrong.

use std::io::Read;

use super::RemoteHost;
use super::binary::{self, Platform, arch_name, os_name, shell_quote};
use super::lean_binary::LeanBinary;
use crate::adapters::transport::TransportSession;
use crate::error::{Error, Result};
use crate::hostside::host_call::{
    HostRequest, HostVersion, host_argv, installed_binary, installed_hash_marker,
};
use crate::hostside::root_mark;

/// Starts the shell's line saying hoist is missing; a control character never starts a
/// JSON answer.
const NEEDED: &str = "\x01hoist-install-needed ";
/// The shell wants the binary: a line with its length, then that many bytes.
const SEND: &str = "\x01hoist-install-send";
/// The binary is in place and `serve` starts on it.
const DONE: &str = "\x01hoist-install-done";

/// What the shell found on a host without hoist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct InstallFacts {
    platform: Platform,
    root: RootState,
    unpack: Unpack,
}

/// The deploy root before hoist is installed in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootState {
    /// Not there: the shell creates it, with the note that hoist did.
    New,
    /// Has `.hoist/`.
    Ours,
    Empty,
    /// Holds files and no `.hoist/`.
    Foreign,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unpack {
    Zstd,
    Gzip,
    /// Neither: left to `binary::ensure_installed`.
    Neither,
}

/// The session's command: `sh -c SCRIPT`, which is `hoist host --root ROOT serve` once the
/// binary is there — and, with `want` (the blake3 of the controller's host copy), once it is
/// that binary by the hash its install wrote beside it: a host still running an earlier
/// build of hoist goes the install path on the next command, not only on `provision`. A
/// call that must not install answers `serve` and gets the binary that is there. `None` for
/// a root that is relative or not UTF-8 (the first call says why).
pub(super) fn session_argv(root: &std::path::Path, want: Option<&str>) -> Option<Vec<String>> {
    let root_text = root.to_str().filter(|_| root.is_absolute())?;
    let binary = installed_binary(root);
    let marker = installed_hash_marker(root);
    // Hex only: it goes into the script as it is.
    let want = want
        .filter(|hash| hash.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or("");
    let serve = host_argv(&binary, root, &["serve"]).ok()?;
    let serve = serve
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    let state = format!("{root_text}/.hoist");
    let script = format!(
        "b={binary}; r={root}; w={want}; m={marker}; \
         [ -e \"$b\" ] && {{ [ -z \"$w\" ] || {{ [ -f \"$m\" ] && IFS= read -r v < \"$m\" && [ \"$v\" = \"$w\" ]; }}; }} && exec {serve}; \
         IFS= read -r _ || exit 127; \
         if [ ! -e \"$r\" ]; then s=new; elif [ -d {state} ]; then s=ours; \
         elif [ -z \"$(ls -A \"$r\" 2>/dev/null)\" ]; then s=empty; else s=foreign; fi; \
         if command -v zstd >/dev/null 2>&1; then u=zstd; elif command -v gzip >/dev/null 2>&1; then u=gzip; else u=none; fi; \
         printf '\\001hoist-install-needed %s %s %s\\n' \"$(uname -sm)\" \"$s\" \"$u\"; \
         IFS= read -r go || exit 127; \
         case \"$go\" in 'install '*) h=${{go#install }} ;; serve) [ -e \"$b\" ] && exec {serve}; exit 127 ;; *) exit 127 ;; esac; \
         case \"$h\" in ''|*[!0-9a-f]*) exit 127 ;; esac; \
         if [ ! -e \"$r\" ]; then mkdir -p {state} && : > {note} || exit 127; fi; \
         {cache} \
         e=\"$c/hoist-$h\"; \
         if [ ! -f \"$e\" ]; then \
           printf '\\001hoist-install-send\\n'; \
           IFS= read -r n || exit 127; \
           case \"$n\" in ''|*[!0-9]*) exit 127 ;; esac; \
           case $u in zstd) d='zstd -dcq' ;; *) d='gzip -dc' ;; esac; \
           t=\"$c/.hoist-$h.$$\"; \
           head -c \"$n\" | $d > \"$t\" && chmod 755 \"$t\" && mv -f \"$t\" \"$e\" || {{ rm -f \"$t\"; exit 127; }}; \
           {prune} \
         fi; \
         {link} || exit 127; \
         printf '\\001hoist-install-done\\n'; \
         exec {serve}",
        binary = shell_quote(binary.to_str()?),
        marker = shell_quote(marker.to_str()?),
        root = shell_quote(root_text),
        state = shell_quote(&state),
        note = shell_quote(&format!("{state}/{}", root_mark::ROOT_CREATED_NOTE)),
        cache = binary::cache_script(root_text, "exit 127"),
        prune = binary::prune_script(),
        link = binary::link_script_for(root).ok()?,
    );
    Some(vec!["sh".to_owned(), "-c".to_owned(), script])
}

/// The facts in a line of the shell's, when it is the line saying hoist is missing.
pub(super) fn install_needed(line: &[u8]) -> Option<InstallFacts> {
    let text = std::str::from_utf8(line).ok()?.strip_prefix(NEEDED)?;
    let mut words = text.split_whitespace();
    let platform = Platform {
        os: os_name(words.next()?),
        arch: arch_name(words.next()?),
    };
    let root = match words.next()? {
        "new" => RootState::New,
        "ours" => RootState::Ours,
        "empty" => RootState::Empty,
        _ => RootState::Foreign,
    };
    let unpack = match words.next()? {
        "zstd" => Unpack::Zstd,
        "gzip" => Unpack::Gzip,
        _ => Unpack::Neither,
    };
    Some(InstallFacts {
        platform,
        root,
        unpack,
    })
}

/// Ends a session waiting for the go-ahead without installing anything.
pub(super) fn decline(session: &mut dyn TransportSession) {
    let _ = session.exchange(b"quit");
}

/// Tells a session waiting for the go-ahead to serve on the binary that is there, and sends
/// it `request` (the shell read the first one only to learn it was asked something); its
/// answer, or `None` when there is no binary to serve on.
pub(super) fn serve_as_is(
    session: &mut dyn TransportSession,
    request: &[u8],
) -> std::io::Result<Option<Vec<u8>>> {
    let mut data = b"serve\n".to_vec();
    data.extend_from_slice(request);
    data.push(b'\n');
    session.stream(&mut data.as_slice())
}

/// Installs this controller's binary through the session that said it is missing, and checks
/// the hash `serve` reports. `false` when the plain path does not apply or anything failed:
/// the session is ended then, and the caller installs the long way.
pub(super) fn install(host: &RemoteHost, facts: &InstallFacts, adopt: bool) -> bool {
    let Ok(lean) = LeanBinary::of(&host.local_binary) else {
        host.end_session_declining();
        return false;
    };
    let plain_path = binary::binary_platform(&host.local_binary)
        .is_ok_and(|local| local == facts.platform)
        && (adopt || facts.root != RootState::Foreign)
        && facts.unpack != Unpack::Neither;
    if !plain_path {
        host.end_session_declining();
        return false;
    }
    let sent = host.with_session(|session| send(session, &lean, facts.unpack));
    if !matches!(sent, Some(Ok(true))) {
        host.end_session();
        return false;
    }
    let hash = host
        .call_once::<HostVersion>(&HostRequest::Version)
        .ok()
        .and_then(|version| version.binary_hash);
    if hash.as_deref() == Some(lean.hash.as_str()) {
        return true;
    }
    host.end_session();
    false
}

/// The go-ahead, then the bytes when the shell asks for them; `Ok(true)` once it says `done`.
fn send(session: &mut dyn TransportSession, lean: &LeanBinary, unpack: Unpack) -> Result<bool> {
    let go = format!("install {}", lean.hash);
    let Some(line) = session.exchange(go.as_bytes()).map_err(lost)? else {
        return Ok(false);
    };
    if is(&line, DONE) {
        return Ok(true);
    }
    if !is(&line, SEND) {
        return Ok(false);
    }
    let file = match unpack {
        Unpack::Zstd => lean.open_zstd()?,
        _ => lean.open_gzip()?,
    };
    // The length of the file as opened: the shell reads exactly that many bytes.
    let length = file
        .metadata()
        .map_err(|e| Error::internal("cannot read the host binary's size").cause(e))?
        .len();
    let header = format!("{length}\n");
    let mut stream = header.as_bytes().chain(file.take(length));
    let answer = session.stream(&mut stream).map_err(lost)?;
    Ok(answer.is_some_and(|line| is(&line, DONE)))
}

fn is(line: &[u8], marker: &str) -> bool {
    line.strip_suffix(b"\n").unwrap_or(line) == marker.as_bytes()
}

fn lost(error: std::io::Error) -> Error {
    Error::failed("the host's session broke while installing hoist").cause(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_line_gives_the_platform_the_root_and_the_unpacker() {
        let facts = install_needed(b"\x01hoist-install-needed Linux x86_64 new zstd\n").unwrap();
        assert_eq!(facts.platform.to_string(), "linux/x86_64");
        assert_eq!(facts.root, RootState::New);
        assert_eq!(facts.unpack, Unpack::Zstd);
        let facts =
            install_needed(b"\x01hoist-install-needed Darwin arm64 foreign none\n").unwrap();
        assert_eq!(facts.platform.to_string(), "macos/aarch64");
        assert_eq!(facts.root, RootState::Foreign);
        assert_eq!(facts.unpack, Unpack::Neither);
        assert!(install_needed(b"{\"ok\":true}\n").is_none());
        assert!(install_needed(b"\x01hoist-install-needed Linux\n").is_none());
    }

    #[test]
    fn only_absolute_utf8_roots_get_a_session() {
        assert!(session_argv(std::path::Path::new("relative/root"), None).is_none());
        let argv = session_argv(std::path::Path::new("/srv/it's here"), Some("ab12")).unwrap();
        assert!(argv[2].contains("w=ab12;"), "{}", argv[2]);
        let argv = session_argv(std::path::Path::new("/srv/a"), Some("ab; rm -rf /")).unwrap();
        assert!(
            argv[2].contains("w='';") || argv[2].contains("w=;"),
            "{}",
            argv[2]
        );
        assert_eq!(&argv[..2], ["sh", "-c"]);
    }
}
