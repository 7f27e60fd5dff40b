//! Installing the hoist binary on a host at `<root>/.hoist/bin/hoist`: refused when the
//! host's platform is not the binary's, skipped when the host already runs the same binary
//! (same blake3), else copied over stdin into a temporary file and renamed into place, so a
//! running `hoist host` keeps its old inode.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::RemoteHost;
use crate::error::{Error, Result};
use crate::hostside::host_call::{HostRequest, HostVersion, hash_file};
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

/// Makes sure the host runs this controller's binary. Returns whether it was copied.
/// Installing is the first write into a deploy root, so a root with files of someone
/// else's is refused here already (`root_mark`'s rule), unless `adopt`.
pub(super) fn ensure_installed(host: &RemoteHost, adopt: bool) -> Result<bool> {
    let binary = &host.local_binary;
    let remote = remote_platform(host)?;
    let local = binary_platform(binary)?;
    if remote != local {
        return Err(Error::failed(format!(
            "cannot install hoist on `{}`: the host is {remote}, but `{}` is built for {local}",
            host.address,
            binary.display()
        ))
        .hint(format!(
            "set `host_binary = \"…\"` in the environment's settings of `Hoist.toml` to a hoist built for {remote}"
        )));
    }
    let local_hash = hash_file(binary)?;
    let installed = |host: &RemoteHost| {
        host.call_once::<HostVersion>(&HostRequest::Version)
            .ok()
            .and_then(|version| version.binary_hash)
    };
    if installed(host).as_deref() == Some(local_hash.as_str()) {
        return Ok(false);
    }
    check_root(host, adopt)?;
    copy_binary(host, binary)?;
    if installed(host).as_deref() != Some(local_hash.as_str()) {
        return Err(Error::internal(format!(
            "the hoist installed on `{}` at `{}` is not the one sent",
            host.address,
            host.remote_binary().display()
        ))
        .hint("check the free space and permissions of the deploy root, then provision again"));
    }
    Ok(true)
}

/// Before anything is written into the root: a missing root is created with the note that
/// hoist created it (the claim that follows records it); a root that holds files but no
/// `.hoist/` is refused, naming them, unless `adopt`. The full claim runs on the host next.
fn check_root(host: &RemoteHost, adopt: bool) -> Result<()> {
    let Some(root) = host.root.to_str() else {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not UTF-8",
            host.root.display()
        )));
    };
    host.argv(&[])?;
    let root = shell_quote(root);
    let state = shell_quote(&format!("{}/.hoist", host.root.display()));
    let note = shell_quote(&format!(
        "{}/.hoist/{}",
        host.root.display(),
        root_mark::ROOT_CREATED_NOTE
    ));
    let foreign = if adopt {
        String::new()
    } else {
        format!(
            "elif [ ! -d {state} ] && [ -n \"$(ls -A {root})\" ]; then ls -A {root}; exit {FOREIGN_ROOT_STATUS}; "
        )
    };
    let script = format!("if [ ! -e {root} ]; then mkdir -p {state} && : > {note}; {foreign}fi");
    let argv = ["sh", "-c", &script].map(str::to_owned);
    let output = host.transport.run(&argv, &mut std::io::empty())?;
    match output.status {
        0 => Ok(()),
        FOREIGN_ROOT_STATUS => {
            let mut entries: Vec<String> = String::from_utf8_lossy(&output.stdout)
                .lines()
                .map(str::to_owned)
                .collect();
            entries.sort();
            let mut error = root_mark::foreign_root_error(&host.root, &entries);
            error.message = format!("{}: {}", host.address, error.message);
            Err(error)
        }
        status => Err(Error::failed(format!(
            "cannot create the deploy root `{}` on `{}` (exit status {status})",
            host.root.display(),
            host.address
        ))
        .cause(output.stderr.trim_end())
        .hint("the deploy root must be writable by the SSH user")),
    }
}

/// Sends `binary` on stdin into a temporary file beside its place, then renames it there.
fn copy_binary(host: &RemoteHost, binary: &Path) -> Result<()> {
    let target = host.remote_binary();
    let (Some(dir), Some(target)) = (target.parent().and_then(Path::to_str), target.to_str())
    else {
        return Err(Error::failed(format!(
            "the deploy root `{}` is not UTF-8",
            host.root.display()
        )));
    };
    // Refuses a relative root before anything runs.
    host.argv(&[])?;
    // The only shell string hoist sends: every path in it quoted; `$$` (the shell's pid)
    // keeps two concurrent installs from sharing a temporary file.
    let temporary = format!("{}/.hoist.upload.$$", shell_quote(dir));
    let script = format!(
        "mkdir -p {dir} && cat > {temporary} && chmod 755 {temporary} && mv -f {temporary} {target}",
        dir = shell_quote(dir),
        target = shell_quote(target),
    );
    let argv = ["sh", "-c", &script].map(str::to_owned);
    let mut file = File::open(binary).map_err(|e| Error::io("open", binary, e))?;
    let output = host.transport.run(&argv, &mut file)?;
    if output.status != 0 {
        return Err(Error::failed(format!(
            "cannot install hoist on `{}` at `{target}` (exit status {})",
            host.address, output.status
        ))
        .cause(output.stderr.trim_end())
        .hint("the deploy root must be writable by the SSH user"));
    }
    Ok(())
}

/// `uname -sm` on the host.
fn remote_platform(host: &RemoteHost) -> Result<Platform> {
    let argv = ["uname", "-sm"].map(str::to_owned);
    let output = host.transport.run(&argv, &mut std::io::empty())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut words = text.split_whitespace();
    match (output.status, words.next(), words.next()) {
        (0, Some(os), Some(arch)) => Ok(Platform {
            os: os_name(os),
            arch: arch_name(arch),
        }),
        _ => Err(Error::failed(format!(
            "cannot tell the platform of `{}`: `uname -sm` exited with status {}",
            host.address, output.status
        ))
        .cause(output.stderr.trim_end())),
    }
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
