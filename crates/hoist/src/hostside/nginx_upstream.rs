//! Switching an nginx on this host to a new instance: hoist owns one include file holding an
//! `upstream NAME { … }` block, rewrites it, has nginx check it (`nginx -t`) and reloads
//! (`nginx -s reload`). A file nginx rejects, or one nginx could not be reloaded with, is put
//! back as it was, so the file always names what nginx serves.

use std::fs;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::hostside::{atomic_fs, exec};
use crate::ports::host::ExecOutput;

/// The first line of every file hoist writes; a file without it is someone else's.
const HEADER: &str = "# managed by hoist";

/// How hoist drives an nginx on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxUpstream {
    /// The include file hoist owns, e.g. /etc/nginx/conf.d/hoist-web.conf.
    pub file: PathBuf,
    /// The `upstream NAME { … }` block name the user's `proxy_pass http://NAME;` refers to.
    pub upstream_name: String,
    /// The nginx command line prefix, as argv: `["nginx"]` or
    /// `["nginx", "-c", "/x/nginx.conf", "-p", "/x/"]`; `-t` and `-s reload` are appended.
    pub command: Vec<String>,
}

/// The include file as hoist writes it: the header, then one upstream with one server.
/// How long a switch waits for nginx's old workers to finish their requests and exit.
const RELOAD_WAIT: Duration = Duration::from_secs(30);

pub fn render(name: &str, addr: SocketAddr) -> String {
    format!(
        "{HEADER}: it rewrites this file on every switch, so edits here are lost.\n\
         upstream {name} {{\n    server {addr};\n    keepalive 16;\n}}\n"
    )
}

/// The file as it was before a switch, to put back if nginx refuses the new one.
struct Previous {
    contents: Vec<u8>,
    mode: u32,
}

impl NginxUpstream {
    /// The upstream address the file names now, if the file exists and hoist wrote it.
    pub fn current(&self) -> Result<Option<SocketAddr>> {
        let Some(previous) = self.read_owned()? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&previous.contents);
        parse_server(&text).map(Some).ok_or_else(|| {
            Error::failed(format!(
                "cannot find the upstream server in `{}`",
                self.file.display()
            ))
            .hint("the next switch rewrites the file; or delete it and deploy again")
        })
    }

    /// Points the upstream at `addr`: writes the file atomically, runs `nginx -t`, then
    /// `nginx -s reload`. If either fails, the previous file is put back (or the new one
    /// removed if there was none) and the error carries nginx's output.
    ///
    /// The same address again still checks and reloads: a reload is cheap, and skipping it
    /// would leave nginx on an old upstream if an earlier reload never happened.
    pub fn set_upstream(&self, addr: SocketAddr) -> Result<()> {
        check_upstream_name(&self.upstream_name)?;
        if self.command.is_empty() {
            return Err(Error::failed("the nginx command is empty")
                .hint("name the nginx binary, e.g. `[\"nginx\"]`"));
        }
        let previous = self.read_owned()?;
        let contents = render(&self.upstream_name, addr);
        let unchanged =
            previous.as_ref().map(|p| p.contents.as_slice()) == Some(contents.as_bytes());
        let written = if unchanged {
            Ok(())
        } else {
            atomic_fs::write_file_atomic(&self.file, contents.as_bytes(), 0o644)
                .and_then(|()| self.sync_parent())
        };
        written
            .and_then(|()| self.check_and_reload(addr))
            .map_err(|error| self.put_back(previous, error))
    }

    fn check_and_reload(&self, addr: SocketAddr) -> Result<()> {
        let test = self.nginx(&["-t"])?;
        if test.status != 0 {
            return Err(Error::failed(format!(
                "nginx rejected its configuration with upstream `{}` at `{addr}`",
                self.upstream_name
            ))
            .cause(test.output.trim())
            .hint("fix what nginx names, then deploy again"));
        }
        let old_workers = reload_wait::workers(&self.command);
        let reload = self.nginx(&["-s", "reload"])?;
        if reload.status != 0 {
            return Err(Error::failed(format!(
                "cannot reload nginx to switch upstream `{}` to `{addr}`",
                self.upstream_name
            ))
            .cause(reload.output.trim())
            .hint(
                "nginx must be running to be switched: start it (e.g. `systemctl start nginx`), \
                 then deploy again",
            ));
        }
        // Done when the workers that still knew the old upstream have finished and gone.
        reload_wait::until_gone(&old_workers, RELOAD_WAIT);
        Ok(())
    }

    /// Reads the file if it exists, refusing one hoist did not write: overwriting a user's
    /// own configuration would lose it.
    fn read_owned(&self) -> Result<Option<Previous>> {
        let contents = match fs::read(&self.file) {
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::io("read", &self.file, error)),
            Ok(contents) => contents,
        };
        if !contents.starts_with(HEADER.as_bytes()) {
            return Err(Error::failed(format!(
                "`{}` was not written by hoist",
                self.file.display()
            ))
            .hint(format!(
                "hoist owns its upstream file and rewrites it on every switch; point it at \
                 another path, or delete this one if the `upstream` block in it can go \
                 (its first line would be `{HEADER}: …`)"
            )));
        }
        let metadata = fs::metadata(&self.file).map_err(|e| Error::io("read", &self.file, e))?;
        Ok(Some(Previous {
            contents,
            mode: metadata.permissions().mode() & 0o7777,
        }))
    }

    /// Restores the file as it was before this switch; `error` is what went wrong, and a
    /// failed restore is added to it rather than hiding it.
    fn put_back(&self, previous: Option<Previous>, error: Error) -> Error {
        let file = self.file.display();
        let (restored, done) = match previous {
            Some(previous) => (
                atomic_fs::write_file_atomic(&self.file, &previous.contents, previous.mode),
                format!("`{file}` is back as it was"),
            ),
            None => (
                atomic_fs::remove_if_present(&self.file),
                format!("`{file}` was removed again, as there was none before"),
            ),
        };
        match restored.and_then(|()| self.sync_parent()) {
            Ok(()) => error.hint(done),
            Err(restore_error) => {
                let mut error = error.cause(format!(
                    "and putting the previous file back failed: {restore_error}"
                ));
                error.hints = vec![format!(
                    "fix or delete `{file}` by hand, then run `{}`",
                    self.command_line(&["-t"])
                )];
                error
            }
        }
    }

    fn sync_parent(&self) -> Result<()> {
        match self.file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => atomic_fs::sync_dir(dir),
            _ => atomic_fs::sync_dir(Path::new(".")),
        }
    }

    /// Runs the nginx command with `args` appended; `exec` so nginx's own exit status is
    /// the one reported.
    fn nginx(&self, args: &[&str]) -> Result<ExecOutput> {
        let words = self
            .command
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied());
        let line: Vec<String> = words.map(hoist_core::shell::quote_if_needed).collect();
        let output = exec::run_shell(Path::new("/"), &format!("exec {}", line.join(" ")), &[])?;
        // The shell's "not found" is 127; naming the command beats showing its output only.
        if output.status == 127 {
            return Err(
                Error::failed(format!("cannot run `{}`", self.command_line(args)))
                    .cause(output.output.trim())
                    .hint("install nginx, or set the nginx command to its full path"),
            );
        }
        Ok(output)
    }

    /// The command line as a person would type it, for messages.
    fn command_line(&self, args: &[&str]) -> String {
        let words = self
            .command
            .iter()
            .map(String::as_str)
            .chain(args.iter().copied());
        words.collect::<Vec<_>>().join(" ")
    }
}

/// An upstream name nginx reads as one plain word, also usable as `http://NAME`.
pub fn check_upstream_name(name: &str) -> Result<()> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    if starts_well && name.chars().all(valid_char) {
        return Ok(());
    }
    let message = if name.is_empty() {
        "the nginx upstream name is empty".to_owned()
    } else {
        format!("`{name}` is not a valid nginx upstream name")
    };
    Err(Error::failed(message).hint(
        "use letters, digits, `_`, `-` and `.`, starting with a letter, digit or `_`; \
         it is the NAME in `proxy_pass http://NAME;`",
    ))
}

/// The address of the first `server ADDR;` line.
fn parse_server(text: &str) -> Option<SocketAddr> {
    text.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("server")?;
        let address = rest.trim().strip_suffix(';')?;
        address.trim().parse().ok()
    })
}

mod reload_wait;
#[cfg(test)]
mod test_nginx;
#[cfg(test)]
mod tests;
