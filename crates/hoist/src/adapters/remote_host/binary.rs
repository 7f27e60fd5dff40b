//! Installing the hoist binary on a host at `<root>/.hoist/bin/hoist`. The copy hosts run is
//! the lean one (`LeanBinary`: no debug information, gzip-compressed on the way) and it is
//! kept once per user on the host, in `~/.cache/hoist/bin/hoist-<hash>`, hard-linked (or
//! copied, across file systems) into each deploy root: a second app or environment on the
//! host costs no transfer. Every copy is checked by its hash after it lands; a cached copy
//! that does not match is sent again. The root's binary is replaced by rename, so a running
//! `hoist host` keeps its old inode.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::RemoteHost;
use super::lean_binary::LeanBinary;
use crate::error::{Error, Result};
use crate::hostside::host_call::{
    HostRequest, HostVersion, installed_binary, installed_hash_marker,
};
use crate::hostside::root_mark;

/// An operating system and CPU in `std::env::consts` terms (`linux`, `x86_64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Platform {
    pub os: String,
    pub arch: String,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)
    }
}

/// The exit status of the root check when the root holds files hoist did not put there.
const FOREIGN_ROOT_STATUS: i32 = 75;

/// How the host got the binary, when it did not run it already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Installed {
    /// It already ran this controller's binary.
    Already,
    /// From the user's cache on the host: nothing travelled.
    FromCache,
    /// Sent over the connection.
    Sent,
}

/// Makes sure the host runs this controller's binary. Installing is the first write into a
/// deploy root, so a root with files of someone else's is refused here already
/// (`root_mark`'s rule), unless `adopt`.
pub(super) fn ensure_installed(
    host: &RemoteHost,
    adopt: bool,
    known_missing: bool,
) -> Result<Installed> {
    let lean = LeanBinary::of(&host.local_binary)?;
    if !known_missing && installed_hash(host).as_deref() == Some(lean.hash.as_str()) {
        return Ok(Installed::Already);
    }
    let probe = probe_and_link(host, adopt, &lean.hash)?;
    let local = binary_platform(&host.local_binary)?;
    if probe.platform != local {
        return Err(Error::failed(format!(
            "cannot install hoist on `{}`: the host is {}, but `{}` is built for {local}",
            host.address,
            probe.platform,
            host.local_binary.display()
        ))
        .hint(format!(
            "set `host_binary = \"…\"` in the environment's settings of `Hoist.toml` to a hoist built for {}",
            probe.platform
        )));
    }
    // A session still running the binary replaced would answer the next calls: the check
    // starts one on the new binary, which the next calls then use.
    host.end_session();
    if probe.linked && installed_hash(host).as_deref() == Some(lean.hash.as_str()) {
        return Ok(Installed::FromCache);
    }
    // Not cached, or the cached copy is damaged: send it (over the damaged one).
    send(host, &lean, &probe)?;
    host.end_session();
    if installed_hash(host).as_deref() != Some(lean.hash.as_str()) {
        return Err(Error::internal(format!(
            "the hoist installed on `{}` at `{}` is not the one sent",
            host.address,
            host.remote_binary().display()
        ))
        .hint("check the free space and permissions of the deploy root, then provision again"));
    }
    Ok(Installed::Sent)
}

/// The hash of the binary installed in the root, as the host reports it; `None` when there
/// is none or it cannot run.
fn installed_hash(host: &RemoteHost) -> Option<String> {
    host.call_once::<HostVersion>(&HostRequest::Version)
        .ok()
        .and_then(|version| version.binary_hash)
}

/// What one look at the host found: its platform, its cache directory, how it unpacks, and
/// whether a cached copy was linked into the root.
struct Probe {
    platform: Platform,
    cache: String,
    unpack: Unpack,
    linked: bool,
}

/// How the binary travels: zstd where the host has it (fastest to unpack), else gzip, else
/// as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unpack {
    Zstd,
    Gzip,
    Plain,
}

/// One shell on the host: reports the platform; creates the root (with the note that hoist
/// created it) or refuses one with files but no `.hoist/`, unless `adopt`; finds the user's
/// binary cache; links the cached copy of `hash` into the root when there is one.
fn probe_and_link(host: &RemoteHost, adopt: bool, hash: &str) -> Result<Probe> {
    let Some(root_text) = host.root.to_str() else {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not UTF-8",
            host.root.display()
        )));
    };
    // Refuses a relative root before anything runs.
    host.argv(&[])?;
    let root = shell_quote(root_text);
    let state = shell_quote(&format!("{root_text}/.hoist"));
    let note = shell_quote(&format!(
        "{root_text}/.hoist/{}",
        root_mark::ROOT_CREATED_NOTE
    ));
    let foreign = if adopt {
        String::new()
    } else {
        format!(
            "elif [ ! -d {state} ] && [ -n \"$(ls -A {root})\" ]; then ls -A {root}; exit {FOREIGN_ROOT_STATUS}; "
        )
    };
    let script = format!(
        "uname -sm; \
         if [ ! -e {root} ]; then mkdir -p {state} && : > {note}; {foreign}fi; \
         {cache} \
         echo \"cache $c\"; \
         if command -v zstd >/dev/null 2>&1; then echo zstd; elif command -v gzip >/dev/null 2>&1; then echo gzip; fi; \
         e=\"$c/hoist-{hash}\"; \
         if [ -f \"$e\" ]; then {link} && echo linked; fi",
        cache = cache_script(root_text, "exit 76"),
        link = link_script_for(&host.root)?,
    );
    let argv = ["sh", "-c", &script].map(str::to_owned);
    let output = host.transport.run(&argv, &mut std::io::empty())?;
    let text = String::from_utf8_lossy(&output.stdout);
    match output.status {
        0 => {}
        FOREIGN_ROOT_STATUS => {
            let mut entries: Vec<String> = text.lines().skip(1).map(str::to_owned).collect();
            entries.sort();
            let mut error = root_mark::foreign_root_error(&host.root, &entries);
            error.message = format!("{}: {}", host.address, error.message);
            return Err(error);
        }
        status => {
            return Err(Error::failed(format!(
                "cannot create the deploy root `{}` on `{}` (exit status {status})",
                host.root.display(),
                host.address
            ))
            .cause(output.stderr.trim_end())
            .hint("the deploy root must be writable by the SSH user"));
        }
    }
    let mut lines = text.lines();
    let platform = parse_platform(lines.next().unwrap_or_default()).ok_or_else(|| {
        Error::failed(format!(
            "cannot tell the platform of `{}`: `uname -sm` printed nothing",
            host.address
        ))
        .cause(output.stderr.trim_end())
    })?;
    let mut probe = Probe {
        platform,
        cache: String::new(),
        unpack: Unpack::Plain,
        linked: false,
    };
    for line in lines {
        match line {
            "zstd" => probe.unpack = Unpack::Zstd,
            "gzip" => probe.unpack = Unpack::Gzip,
            "linked" => probe.linked = true,
            other => {
                if let Some(cache) = other.strip_prefix("cache ") {
                    probe.cache = cache.to_owned();
                }
            }
        }
    }
    if probe.cache.is_empty() {
        return Err(Error::internal(format!(
            "`{}` did not say where its binary cache is",
            host.address
        )));
    }
    Ok(probe)
}

/// Shell that sets `c` to the user's binary cache on the host, made private if it is not
/// there: `$XDG_CACHE_HOME/hoist/bin` or `~/.cache/hoist/bin`, else the root's
/// `.hoist/bin-cache`; runs `on_failure` when neither can be made.
pub(super) fn cache_script(root_text: &str, on_failure: &str) -> String {
    let fallback = shell_quote(&format!("{root_text}/.hoist/bin-cache"));
    format!(
        "c=\"${{XDG_CACHE_HOME:-${{HOME:-/nonexistent}}/.cache}}/hoist/bin\"; \
         case \"$c\" in /*) ;; *) c={fallback} ;; esac; \
         (umask 077; mkdir -p \"$c\") 2>/dev/null || {{ c={fallback}; (umask 077; mkdir -p \"$c\") || {on_failure}; }};"
    )
}

/// Shell that removes, once a day old, cached copies other than `$h`'s that no root links any
/// more and the half-written ones of sends cut off (a dropped connection); it never fails.
pub(super) fn prune_script() -> &'static str {
    "find \"$c\" -maxdepth 1 -type f \\( -name 'hoist-*' ! -name \"hoist-$h\" -links 1 \
       -o -name '.hoist-*' \\) -mmin +1440 -exec rm -f {} + 2>/dev/null;"
}

/// Shell that puts the file `$e` (`…/hoist-HASH`) at the root's binary: a hard link (a copy
/// across file systems) under a temporary name, renamed into place; nothing when it is
/// already that file. Then it writes HASH beside it (`installed_hash_marker`), which the
/// session's shell compares with the controller's before it serves (`bootstrap`).
pub(super) fn link_script_for(root: &Path) -> Result<String> {
    let target = installed_binary(root);
    let marker = installed_hash_marker(root);
    let Some(marker) = marker.to_str() else {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not UTF-8",
            root.display()
        )));
    };
    let (Some(dir), Some(target)) = (target.parent().and_then(Path::to_str), target.to_str())
    else {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not UTF-8",
            root.display()
        )));
    };
    // `$$` (the shell's pid) keeps two concurrent installs from sharing a temporary file.
    let temporary = format!("{}/.hoist.upload.$$", shell_quote(dir));
    Ok(format!(
        "{{ [ \"$e\" -ef {target} ] || {{ mkdir -p {dir} && \
         {{ ln -f \"$e\" {temporary} 2>/dev/null || cp \"$e\" {temporary}; }} && \
         mv -f {temporary} {target}; }}; }} && \
         printf '%s\\n' \"${{e##*/hoist-}}\" > {marker}",
        dir = shell_quote(dir),
        target = shell_quote(target),
        marker = shell_quote(marker),
    ))
}

/// Sends the lean binary into the host's cache (compressed when the host can `gzip -d`),
/// renamed into place when whole, then links it into the root. Old cached copies that no
/// root links any more and that are a day old go.
fn send(host: &RemoteHost, lean: &LeanBinary, probe: &Probe) -> Result<()> {
    let cache = shell_quote(&probe.cache);
    let hash = &lean.hash;
    let unpack = match probe.unpack {
        Unpack::Zstd => "zstd -dcq",
        Unpack::Gzip => "gzip -dc",
        Unpack::Plain => "cat",
    };
    let script = format!(
        "c={cache}; h={hash}; e=\"$c/hoist-$h\"; t=\"$c/.hoist-$h.$$\"; \
         {unpack} > \"$t\" && chmod 755 \"$t\" && mv -f \"$t\" \"$e\" || {{ rm -f \"$t\"; exit 1; }}; \
         {link} || exit 1; \
         {prune} exit 0",
        link = link_script_for(&host.root)?,
        prune = prune_script(),
    );
    let argv = ["sh", "-c", &script].map(str::to_owned);
    let output = match probe.unpack {
        Unpack::Zstd => host.transport.run(&argv, &mut lean.open_zstd()?)?,
        Unpack::Gzip => host.transport.run(&argv, &mut lean.open_gzip()?)?,
        Unpack::Plain => host.transport.run(&argv, &mut lean.open_plain()?)?,
    };
    if output.status != 0 {
        return Err(Error::failed(format!(
            "cannot install hoist on `{}` at `{}` (exit status {})",
            host.address,
            host.remote_binary().display(),
            output.status
        ))
        .cause(output.stderr.trim_end())
        .hint("the deploy root and `~/.cache` must be writable by the SSH user"));
    }
    Ok(())
}

/// `uname -sm` output in `std::env::consts` terms.
fn parse_platform(line: &str) -> Option<Platform> {
    let mut words = line.split_whitespace();
    Some(Platform {
        os: os_name(words.next()?),
        arch: arch_name(words.next()?),
    })
}

/// `uname -s` in `std::env::consts::OS` terms.
pub(super) fn os_name(uname: &str) -> String {
    match uname {
        "Linux" => "linux",
        "Darwin" => "macos",
        "FreeBSD" => "freebsd",
        "OpenBSD" => "openbsd",
        "NetBSD" => "netbsd",
        other => return other.to_lowercase(),
    }
    .to_owned()
}

/// `uname -m` in `std::env::consts::ARCH` terms.
pub(super) fn arch_name(uname: &str) -> String {
    match uname {
        "x86_64" | "amd64" => "x86_64",
        "aarch64" | "arm64" | "aarch64_be" => "aarch64",
        "i386" | "i486" | "i586" | "i686" | "x86" => "x86",
        "ppc64" | "ppc64le" => "powerpc64",
        "ppc" => "powerpc",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        "loongarch64" => "loongarch64",
        other if other.starts_with("arm") => "arm",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// The platform a binary is built for, from its ELF header; a file that is not ELF is
/// taken to be built for this machine.
pub(super) fn binary_platform(binary: &Path) -> Result<Platform> {
    let mut header = [0u8; 20];
    let mut file = File::open(binary).map_err(|e| Error::io("open", binary, e))?;
    let elf = file.read_exact(&mut header).is_ok() && header.starts_with(b"\x7fELF");
    if !elf {
        return Ok(Platform {
            os: std::env::consts::OS.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
        });
    }
    let (is_64_bit, little_endian, os_abi) = (header[4] == 2, header[5] == 1, header[7]);
    let machine = if little_endian {
        u16::from_le_bytes([header[18], header[19]])
    } else {
        u16::from_be_bytes([header[18], header[19]])
    };
    let arch = match machine {
        0x03 => "x86",
        0x08 => "mips",
        0x14 => "powerpc",
        0x15 => "powerpc64",
        0x16 => "s390x",
        0x28 => "arm",
        0x3E => "x86_64",
        0xB7 => "aarch64",
        0xF3 if is_64_bit => "riscv64",
        0xF3 => "riscv32",
        0x102 => "loongarch64",
        _ => "unknown",
    };
    let os = match os_abi {
        9 => "freebsd",
        12 => "openbsd",
        2 => "netbsd",
        _ => "linux",
    };
    Ok(Platform {
        os: os.to_owned(),
        arch: arch.to_owned(),
    })
}

/// `text` as one word for a POSIX shell: in single quotes, each `'` written as `'\''`.
/// Nothing inside single quotes is special, so no path can break out.
pub fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    #[test]
    fn quoted_words_reach_the_shell_unchanged() {
        let hostile = [
            "/srv/plain",
            "/srv/with space",
            "/srv/it's",
            "/srv/'; rm -rf / #",
            "/srv/$(touch pwned)",
            "/srv/`id`",
            "/srv/a\nb",
            "/srv/\\back\\slash",
            "-n",
            "",
            "'''",
            "/srv/*?[a]{b,c}~",
            "/srv/\"double\" $HOME !x",
        ];
        for text in hostile {
            let script = format!("printf %s {}", shell_quote(text));
            let output = Command::new("sh").arg("-c").arg(&script).output().unwrap();
            assert!(output.status.success(), "{text:?}");
            assert_eq!(String::from_utf8(output.stdout).unwrap(), text);
        }
    }

    #[test]
    fn pruning_keeps_the_current_and_linked_copies_and_drops_old_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        for name in [
            "hoist-current",
            "hoist-old",
            "hoist-linked",
            "hoist-recent",
            ".hoist-cut.123",
            ".hoist-fresh.456",
        ] {
            std::fs::write(path(name), name).unwrap();
        }
        std::fs::hard_link(path("hoist-linked"), dir.path().join("root-binary")).unwrap();
        for name in [
            "hoist-current",
            "hoist-old",
            "hoist-linked",
            ".hoist-cut.123",
        ] {
            let touched = Command::new("touch")
                .args(["-d", "2 days ago"])
                .arg(path(name))
                .status()
                .unwrap();
            assert!(touched.success());
        }
        let script = format!(
            "c={}; h=current; {}",
            shell_quote(dir.path().to_str().unwrap()),
            prune_script()
        );
        let status = Command::new("sh").args(["-c", &script]).status().unwrap();
        assert!(status.success());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".hoist-fresh.456",
                "hoist-current",
                "hoist-linked",
                "hoist-recent",
                "root-binary"
            ]
        );
    }

    #[test]
    fn uname_names_map_to_rust_names() {
        assert_eq!(arch_name("x86_64"), "x86_64");
        assert_eq!(arch_name("amd64"), "x86_64");
        assert_eq!(arch_name("arm64"), "aarch64");
        assert_eq!(arch_name("armv7l"), "arm");
        assert_eq!(arch_name("i686"), "x86");
        assert_eq!(arch_name("ppc64le"), "powerpc64");
        assert_eq!(os_name("Linux"), "linux");
        assert_eq!(os_name("Darwin"), "macos");
        let this =
            String::from_utf8(Command::new("uname").arg("-m").output().unwrap().stdout).unwrap();
        assert_eq!(arch_name(this.trim()), std::env::consts::ARCH);
    }

    #[test]
    fn reads_the_platform_of_a_binary() {
        let this = std::env::current_exe().unwrap();
        let platform = binary_platform(&this).unwrap();
        assert_eq!(platform.arch, std::env::consts::ARCH);
        assert_eq!(platform.os, std::env::consts::OS);
        let dir = tempfile::tempdir().unwrap();
        let arm = dir.path().join("hoist-arm");
        let mut header = b"\x7fELF\x02\x01\x01\x00".to_vec();
        header.resize(18, 0);
        header.extend([0xB7, 0x00]);
        std::fs::write(&arm, &header).unwrap();
        let platform = binary_platform(&arm).unwrap();
        assert_eq!(platform.to_string(), "linux/aarch64");
    }
}
