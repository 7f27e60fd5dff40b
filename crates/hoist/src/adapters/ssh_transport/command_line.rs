//! The ssh command line of one host: the options every ssh of a transport shares (master,
//! commands, rsync's ssh, the jump hop), and the quoting each consumer of them needs — the
//! remote shell, rsync's `-e` splitter, ssh's `%` tokens.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hoist_core::SshDestination;

use crate::error::{Error, Result};
use crate::ports::connector::HostTarget;

/// How many keepalive probes may go unanswered before ssh gives a connection up. They go out
/// every half `connect_timeout` of silence (at least `MIN_ALIVE_INTERVAL_SECONDS`), so a host
/// that went away unannounced is given up about as soon as a new connection to it would be:
/// a master kept up between commands (`ssh_persist`) must not hold the next command longer.
const SERVER_ALIVE_COUNT_MAX: u64 = 2;
const MIN_ALIVE_INTERVAL_SECONDS: u64 = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SshCommandLine {
    pub program: PathBuf,
    /// Every option before the destination, the control path included.
    pub options: Vec<String>,
    /// The host as ssh's last argument: never starts with `-` (validated), and comes after `--`.
    pub host: String,
}

/// How a host behind a jump host is reached: through `jump`, over the jump's own master
/// at `socket` when there is one (all hosts behind it then share one connection to it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route<'a> {
    pub jump: &'a SshDestination,
    pub socket: Option<&'a Path>,
}

impl SshCommandLine {
    /// The options to reach `destination` (with `target`'s settings) through `control_path`,
    /// via `route` when given. Paths must be UTF-8: they travel inside the jump's
    /// ProxyCommand and rsync's `-e` string.
    pub fn new(
        program: &Path,
        target: &HostTarget,
        destination: &SshDestination,
        control_path: &Path,
        route: Option<Route<'_>>,
    ) -> Result<Self> {
        let program_text = utf8(program, "the ssh program")?;
        let mut options = common_options(target, destination)?;
        if let Some(route) = route {
            options.push("-o".to_owned());
            options.push(format!(
                "ProxyCommand={}",
                proxy_command(program_text, target, route)?
            ));
        }
        options.push("-o".to_owned());
        options.push(format!(
            "ControlPath={}",
            percent_escape(utf8(control_path, "the control path")?)
        ));
        Ok(Self {
            program: program.to_owned(),
            options,
            host: destination.host.clone(),
        })
    }

    /// Arguments for the master: authenticates, listens on the control path, runs nothing.
    pub fn master_args(&self) -> Vec<String> {
        let mut args = self.options.clone();
        args.extend(
            ["-o", "ControlMaster=yes", "-o", "ControlPersist=no", "-N"].map(str::to_owned),
        );
        self.finish(args)
    }

    /// Arguments for a master that outlives its command: it goes to the background once
    /// logged in (`-f`, so its parent's exit says the login is done) and stays up for
    /// `persist_seconds` after its last client.
    pub fn shared_master_args(&self, persist_seconds: u64) -> Vec<String> {
        let mut args = self.options.clone();
        args.extend([
            "-o".to_owned(),
            "ControlMaster=yes".to_owned(),
            "-o".to_owned(),
            format!("ControlPersist={persist_seconds}s"),
            "-N".to_owned(),
            "-f".to_owned(),
        ]);
        self.finish(args)
    }

    /// Arguments that ask the master at `control_path` to exit.
    pub fn exit_args(&self, control_path: &Path) -> Result<Vec<String>> {
        Ok(vec![
            "-S".to_owned(),
            utf8(control_path, "the control path")?.to_owned(),
            "-O".to_owned(),
            "exit".to_owned(),
            "--".to_owned(),
            self.host.clone(),
        ])
    }

    /// Arguments for a master that runs `remote_command` (one shell string) as its own
    /// session, stdin and stdout being that session's, while it listens on the control path.
    /// With `persist_seconds`, the master goes to the background as it logs in and stays
    /// up that long after its last client, this process carrying the session as its client.
    pub fn master_running_args(
        &self,
        remote_command: String,
        persist_seconds: Option<u64>,
    ) -> Vec<String> {
        let mut args = self.options.clone();
        let persist = persist_seconds.map_or("no".to_owned(), |seconds| format!("{seconds}s"));
        args.extend([
            "-o".to_owned(),
            "ControlMaster=yes".to_owned(),
            "-o".to_owned(),
            format!("ControlPersist={persist}"),
            "-T".to_owned(),
        ]);
        let mut args = self.finish(args);
        args.push(remote_command);
        args
    }

    /// Arguments that run `remote_command` (one shell string) through the master.
    pub fn command_args(&self, remote_command: String) -> Vec<String> {
        let mut args = self.client_args();
        args.push(remote_command);
        args
    }

    /// rsync's `-e` value: this ssh, options and all, in the quoting rsync's own splitter
    /// reads (it runs no shell). rsync appends the host itself.
    pub fn rsync_shell(&self) -> Result<String> {
        let mut words = vec![rsync_quote(utf8(&self.program, "the ssh program")?)];
        words.extend(self.options.iter().map(|option| rsync_quote(option)));
        words.extend(["-o", "ControlMaster=no"].map(rsync_quote));
        Ok(words.join(" "))
    }

    /// The host as rsync writes it before `:`: IPv6 addresses in brackets.
    pub fn rsync_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// Arguments asking the master (`-O forward` or `-O cancel`) to open or close a local
    /// forward `spec`. Only the control path and the host: `ClearAllForwardings` would clear
    /// the very forward asked for.
    pub fn forward_args(
        &self,
        control_path: &Path,
        operation: &str,
        spec: &str,
    ) -> Result<Vec<String>> {
        let mut args = vec![
            "-S".to_owned(),
            utf8(control_path, "the control path")?.to_owned(),
            "-o".to_owned(),
            "ControlMaster=no".to_owned(),
            "-O".to_owned(),
            operation.to_owned(),
            "-L".to_owned(),
            spec.to_owned(),
        ];
        args.push("--".to_owned());
        args.push(self.host.clone());
        Ok(args)
    }

    fn client_args(&self) -> Vec<String> {
        let mut args = self.options.clone();
        args.extend(["-o", "ControlMaster=no", "-T"].map(str::to_owned));
        self.finish(args)
    }

    fn finish(&self, mut args: Vec<String>) -> Vec<String> {
        args.push("--".to_owned());
        args.push(self.host.clone());
        args
    }
}

/// Options for one hop: checked host keys, no prompts, the target's timeout, config and key,
/// and `-l`/`-p` from `destination`. No forwarding of any kind, whatever ssh_config says.
fn common_options(target: &HostTarget, destination: &SshDestination) -> Result<Vec<String>> {
    let mut options = Vec::new();
    if let Some(config) = &target.ssh_config {
        options.push("-F".to_owned());
        options.push(utf8(config, "the ssh_config")?.to_owned());
    }
    let timeout = connect_timeout_seconds(target.connect_timeout);
    for option in [
        "BatchMode=yes".to_owned(),
        "StrictHostKeyChecking=yes".to_owned(),
        format!("ConnectTimeout={timeout}"),
        format!(
            "ServerAliveInterval={}",
            timeout.div_ceil(2).max(MIN_ALIVE_INTERVAL_SECONDS)
        ),
        format!("ServerAliveCountMax={SERVER_ALIVE_COUNT_MAX}"),
        "ClearAllForwardings=yes".to_owned(),
        "PermitLocalCommand=no".to_owned(),
        // A RemoteCommand from ssh_config would clash with the commands hoist runs.
        "RemoteCommand=none".to_owned(),
    ] {
        options.push("-o".to_owned());
        options.push(option);
    }
    if let Some(identity) = &target.identity {
        // ssh expands `%` tokens in identity paths.
        options.push("-i".to_owned());
        options.push(percent_escape(utf8(identity, "the identity")?));
        options.push("-o".to_owned());
        options.push("IdentitiesOnly=yes".to_owned());
    }
    if let Some(user) = &destination.user {
        options.push("-l".to_owned());
        options.push(user.clone());
    }
    if let Some(port) = destination.port {
        options.push("-p".to_owned());
        options.push(port.to_string());
    }
    Ok(options)
}

/// The jump hop as a ProxyCommand (ssh runs it as `$SHELL -c "exec …"`) rather than `-J`: `-J` passes the hop only `-F`, so the
/// hop would prompt, skip the identity and take unchecked defaults. This hop gets every
/// option the target gets; it rides the jump's master when the route names one (and, should
/// that master be gone, connects on its own with the same options).
fn proxy_command(program: &str, target: &HostTarget, route: Route<'_>) -> Result<String> {
    let jump = route.jump;
    let mut words = vec![shell_quote(program)];
    words.extend(
        common_options(target, jump)?
            .iter()
            .map(|option| shell_quote(option)),
    );
    match route.socket {
        Some(socket) => {
            let socket = utf8(socket, "the control path")?;
            words.extend(["-S", socket, "-o", "ControlMaster=no"].map(shell_quote));
        }
        None => words.extend(["-o", "ControlMaster=no", "-o", "ControlPath=none"].map(shell_quote)),
    }
    // The outer ssh expands `%` tokens in a ProxyCommand once: escape ours, keep `%h`/`%p`.
    let hop = percent_escape(&words.join(" "));
    Ok(format!(
        "{hop} -W '[%h]:%p' -- {}",
        percent_escape(&shell_quote(&jump.host))
    ))
}

/// ssh's ConnectTimeout is whole seconds; round up so a timeout is never shorter than asked.
pub(crate) fn connect_timeout_seconds(timeout: Duration) -> u64 {
    let seconds = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
    seconds.max(1)
}

pub(crate) use hoist_core::shell::quote_if_needed as shell_quote;

/// One word for rsync's `-e` splitter: single quotes, a quote inside doubled (rsync's rule;
/// backslashes mean nothing to it).
pub(crate) fn rsync_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "''"))
}

fn percent_escape(text: &str) -> String {
    text.replace('%', "%%")
}

fn utf8<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    path.to_str().ok_or_else(|| {
        Error::failed(format!(
            "{what} `{}` is not valid UTF-8, which ssh options cannot carry",
            path.display()
        ))
        .hint("use a path made of UTF-8 characters")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(jump: Option<&str>) -> HostTarget {
        HostTarget {
            address: "deploy@web1:2222".parse().unwrap(),
            root: PathBuf::from("/srv/app"),
            jump: jump.map(|jump| jump.parse().unwrap()),
            ssh_config: Some(PathBuf::from("/etc/hoist/ssh config")),
            identity: Some(PathBuf::from("/keys/id_%u")),
            host_binary: None,
            connect_timeout: Duration::from_millis(2500),
            ssh_persist: Duration::ZERO,
        }
    }

    fn line(target: &HostTarget) -> SshCommandLine {
        let destination: SshDestination = "deploy@web1:2222".parse().unwrap();
        SshCommandLine::new(
            Path::new("ssh"),
            target,
            &destination,
            Path::new("/tmp/h/master"),
            target
                .jump
                .as_ref()
                .map(|jump| Route { jump, socket: None }),
        )
        .unwrap()
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        let words = [
            "plain",
            "",
            "a b",
            "it's \"q\"",
            "$(echo no); `x` \\ *",
            "tab\there\nnl",
        ];
        let script = words.map(shell_quote).join(" ");
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\0' {script}"))
            .output()
            .unwrap();
        let received: Vec<&[u8]> = output.stdout.split(|b| *b == 0).collect();
        let expected: Vec<&[u8]> = words
            .iter()
            .map(|w| w.as_bytes())
            .chain([&b""[..]])
            .collect();
        assert_eq!(received, expected);
    }

    #[test]
    fn rsync_quote_doubles_single_quotes() {
        assert_eq!(rsync_quote("a b"), "'a b'");
        assert_eq!(rsync_quote("it's"), "'it''s'");
    }

    #[test]
    fn timeout_rounds_up_to_whole_seconds() {
        assert_eq!(connect_timeout_seconds(Duration::from_millis(2500)), 3);
        assert_eq!(connect_timeout_seconds(Duration::from_secs(5)), 5);
        assert_eq!(connect_timeout_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn destination_comes_last_after_double_dash_with_user_and_port_as_options() {
        let args = line(&target(None)).command_args("uname".to_owned());
        assert_eq!(args[args.len() - 3..], ["--", "web1", "uname"]);
        let joined = args.join(" ");
        assert!(joined.contains("-l deploy -p 2222"), "{joined}");
        assert!(joined.contains("-F /etc/hoist/ssh config"), "{joined}");
        assert!(joined.contains("-i /keys/id_%%u"), "{joined}");
        assert!(joined.contains("StrictHostKeyChecking=yes"), "{joined}");
        assert!(joined.contains("ConnectTimeout=3"), "{joined}");
        assert!(joined.contains("ControlPath=/tmp/h/master"), "{joined}");
        assert!(joined.contains("ControlMaster=no"), "{joined}");
        assert!(!joined.contains("ProxyCommand"), "{joined}");
    }

    #[test]
    fn jump_becomes_a_proxy_command_with_the_same_checks() {
        let args = line(&target(Some("admin@bastion:2200"))).master_args();
        let proxy = args
            .iter()
            .find_map(|arg| arg.strip_prefix("ProxyCommand="))
            .unwrap();
        assert!(
            proxy.starts_with("ssh -F '/etc/hoist/ssh config' "),
            "{proxy}"
        );
        assert!(proxy.contains("StrictHostKeyChecking=yes"), "{proxy}");
        assert!(proxy.contains("BatchMode=yes"), "{proxy}");
        assert!(proxy.contains("-i /keys/id_%%%%u"), "{proxy}");
        assert!(proxy.contains("-l admin -p 2200"), "{proxy}");
        assert!(proxy.contains("ControlPath=none"), "{proxy}");
        assert!(proxy.ends_with(" -W '[%h]:%p' -- bastion"), "{proxy}");
        assert!(args.ends_with(&["-N".to_owned(), "--".to_owned(), "web1".to_owned()]));
        let running = line(&target(None)).master_running_args("serve".to_owned(), None);
        assert!(running.ends_with(&["-T", "--", "web1", "serve"].map(str::to_owned)));
        assert!(
            running.join(" ").contains("ControlMaster=yes"),
            "{running:?}"
        );
    }

    #[test]
    fn rsync_shell_quotes_every_word_for_rsync() {
        let shell = line(&target(Some("bastion"))).rsync_shell().unwrap();
        assert!(shell.starts_with("'ssh' "), "{shell}");
        assert!(shell.contains("'/etc/hoist/ssh config'"), "{shell}");
        // The proxy command's own shell quotes arrive doubled, for rsync to undo.
        assert!(shell.contains("-W ''[%h]:%p'' -- bastion'"), "{shell}");
        assert!(shell.ends_with("'-o' 'ControlMaster=no'"), "{shell}");
    }

    #[test]
    fn ipv6_hosts_are_bracketed_for_rsync() {
        let destination: SshDestination = "[2001:db8::1]:22".parse().unwrap();
        let line = SshCommandLine::new(
            Path::new("ssh"),
            &target(None),
            &destination,
            Path::new("/tmp/h/master"),
            None,
        )
        .unwrap();
        assert_eq!(line.rsync_host(), "[2001:db8::1]");
        assert_eq!(line.host, "2001:db8::1");
    }
}
