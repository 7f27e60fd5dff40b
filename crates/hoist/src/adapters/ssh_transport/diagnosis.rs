//! Why ssh could not connect, read from its stderr, as an error that names the host and says
//! what to do: unreachable, unknown or changed host key, refused login.

use std::time::Duration;

use crate::error::Error;

/// What went wrong, as far as ssh's messages tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConnectFailure {
    /// No answer, refused, no route, no such name. `host` is the one ssh could not reach
    /// (the jump host or the target).
    Unreachable {
        host: Option<String>,
        line: String,
    },
    HostKeyUnknown {
        host: Option<String>,
        line: String,
    },
    HostKeyChanged {
        line: String,
    },
    LoginRefused {
        line: String,
    },
    Other,
}

impl ConnectFailure {
    pub fn from_stderr(stderr: &str) -> Self {
        let lines: Vec<&str> = stderr
            .lines()
            .map(|line| line.trim_end_matches('\r').trim())
            .filter(|line| !line.is_empty())
            .collect();
        let find = |needle: &str| {
            lines
                .iter()
                .find(|line| line.contains(needle))
                .map(|line| (*line).to_owned())
        };
        if let Some(line) = find("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            return Self::HostKeyChanged { line };
        }
        if let Some(line) = find("host key is known for") {
            let host = word_after(&line, "host key is known for ");
            return Self::HostKeyUnknown { host, line };
        }
        if let Some(line) = find("Host key verification failed") {
            return Self::HostKeyUnknown { host: None, line };
        }
        if let Some(line) = find("Permission denied (") {
            return Self::LoginRefused { line };
        }
        for needle in [
            "ssh: connect to host ",
            "ssh: Could not resolve hostname ",
            "Connection timed out during banner exchange",
            "Connection closed by",
            "kex_exchange_identification",
            "Connection reset by",
        ] {
            if let Some(line) = find(needle) {
                let host = word_after(&line, "ssh: connect to host ")
                    .or_else(|| word_after(&line, "ssh: Could not resolve hostname "));
                return Self::Unreachable { host, line };
            }
        }
        Self::Other
    }
}

/// What the caller knows about the connection, for the message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub destination: &'a str,
    pub jump: Option<&'a str>,
    pub connect_timeout: Duration,
}

impl Attempt<'_> {
    /// The error for an ssh that failed to connect (or lost its connection) with `stderr`.
    pub fn error(&self, stderr: &str) -> Error {
        match ConnectFailure::from_stderr(stderr) {
            ConnectFailure::Unreachable { host, line } => {
                let through = match (&host, self.jump) {
                    (Some(host), Some(jump)) if host.trim_end_matches(':') == bare(jump) => {
                        format!(" (jump host `{jump}` is unreachable)")
                    }
                    _ => String::new(),
                };
                Error::failed(format!("cannot reach `{}`{through}", self.destination))
                    .cause(line)
                    .hint(self.unreachable_hint())
            }
            ConnectFailure::HostKeyUnknown { host, line } => {
                let host = host.unwrap_or_else(|| self.destination.to_owned());
                Error::failed(format!("host key of `{host}` is not known"))
                    .cause(line)
                    .hint(format!(
                        "hoist never accepts an unknown host key. Verify the key out of band and add it to known_hosts (`~/.ssh/known_hosts`, or the `UserKnownHostsFile` of your ssh_config): `ssh-keyscan -t ed25519 {host}` fetches it — compare its fingerprint (`ssh-keygen -lf`) with one taken on the host itself"
                    ))
            }
            ConnectFailure::HostKeyChanged { line } => Error::failed(format!(
                "host key of `{}` has changed",
                self.destination
            ))
            .cause(line)
            .hint(format!(
                "if the host was reinstalled, verify its new key out of band, drop the old one with `ssh-keygen -R {}` and add the new one; otherwise the connection may be intercepted",
                bare(self.destination)
            )),
            ConnectFailure::LoginRefused { line } => Error::failed(format!(
                "ssh refused the login to `{}`",
                self.destination
            ))
            .cause(line)
            .hint(
                "check the user, and that the key set as `identity` (or one in your ssh-agent) is in that user's `~/.ssh/authorized_keys` on the host",
            ),
            ConnectFailure::Other => {
                let mut error =
                    Error::failed(format!("cannot connect to `{}` with ssh", self.destination));
                for line in stderr.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    error = error.cause(line);
                }
                error.hint("run `ssh -v` to the host with the same options to see why")
            }
        }
    }

    /// The error when the connection did not come up in time.
    pub fn timed_out(&self) -> Error {
        Error::failed(format!(
            "cannot reach `{}`: no connection within {}s",
            self.destination,
            super::command_line::connect_timeout_seconds(self.connect_timeout)
        ))
        .hint(self.unreachable_hint())
    }

    fn unreachable_hint(&self) -> String {
        let via = match self.jump {
            Some(jump) => format!(", through jump host `{jump}`"),
            None => String::new(),
        };
        format!(
            "check that the host is up and reachable from here{via} (address, network, firewall); ssh waits {}s (`connect_timeout`) for an answer — raise it for a slow network",
            super::command_line::connect_timeout_seconds(self.connect_timeout)
        )
    }
}

fn word_after(line: &str, prefix: &str) -> Option<String> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    rest.split_whitespace()
        .next()
        .map(|word| word.trim_end_matches(':').to_owned())
}

/// `user@host:port` → `host`, as ssh prints it.
fn bare(destination: &str) -> &str {
    let host = destination.rsplit_once('@').map_or(destination, |(_, h)| h);
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner);
    }
    host.split(':').next().unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(jump: Option<&'static str>) -> Attempt<'static> {
        Attempt {
            destination: "root@10.213.1.2",
            jump,
            connect_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn no_route_is_unreachable_and_names_host_and_timeout() {
        let error =
            attempt(None).error("ssh: connect to host 10.213.1.250 port 22: No route to host\r\n");
        assert_eq!(error.message, "cannot reach `root@10.213.1.2`");
        assert_eq!(
            error.causes,
            ["ssh: connect to host 10.213.1.250 port 22: No route to host"]
        );
        assert!(
            error.hints[0].contains("waits 5s (`connect_timeout`)"),
            "{:?}",
            error.hints
        );
    }

    #[test]
    fn an_unreachable_jump_host_is_named() {
        let error = attempt(Some("admin@10.213.1.9:2222"))
            .error("ssh: connect to host 10.213.1.9 port 2222: Connection timed out\r\nConnection closed by UNKNOWN port 65535\r\n");
        assert_eq!(
            error.message,
            "cannot reach `root@10.213.1.2` (jump host `admin@10.213.1.9:2222` is unreachable)"
        );
        assert!(
            error.hints[0].contains("through jump host"),
            "{:?}",
            error.hints
        );
    }

    #[test]
    fn unknown_host_key_names_the_host_and_shows_keyscan() {
        let error = attempt(None).error(
            "No ED25519 host key is known for 10.213.1.2 and you have requested strict checking.\r\nHost key verification failed.\r\n",
        );
        assert_eq!(error.message, "host key of `10.213.1.2` is not known");
        assert!(error.hints[0].contains("ssh-keyscan -t ed25519 10.213.1.2"));
        assert!(error.hints[0].contains("known_hosts"));
    }

    #[test]
    fn changed_host_key_is_its_own_error() {
        let error = attempt(None).error(
            "@@@@@@@@@@@\r\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\r\nHost key verification failed.\r\n",
        );
        assert_eq!(error.message, "host key of `root@10.213.1.2` has changed");
        assert!(error.hints[0].contains("ssh-keygen -R 10.213.1.2"));
    }

    #[test]
    fn refused_login_points_at_the_identity() {
        let error = attempt(None).error("root@10.213.1.2: Permission denied (publickey).\r\n");
        assert_eq!(error.message, "ssh refused the login to `root@10.213.1.2`");
        assert!(error.hints[0].contains("`identity`"));
    }

    #[test]
    fn anything_else_keeps_ssh_lines_as_causes() {
        let error = attempt(None).error("mux_client_hello_exchange: boom\n\n");
        assert_eq!(
            error.message,
            "cannot connect to `root@10.213.1.2` with ssh"
        );
        assert_eq!(error.causes, ["mux_client_hello_exchange: boom"]);
    }

    #[test]
    fn timeout_names_the_seconds() {
        let error = attempt(None).timed_out();
        assert_eq!(
            error.message,
            "cannot reach `root@10.213.1.2`: no connection within 5s"
        );
    }

    #[test]
    fn bare_strips_user_port_and_brackets() {
        assert_eq!(bare("u@h:22"), "h");
        assert_eq!(bare("[2001:db8::1]:22"), "2001:db8::1");
        assert_eq!(bare("h"), "h");
    }
}
