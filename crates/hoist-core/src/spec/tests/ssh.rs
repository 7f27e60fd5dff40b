//! The SSH and rollout keys of `[env.NAME]`: what a full SSH environment parses to, and
//! every value that must be refused, hostile ones first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::super::{EnvSpec, HostSpec, Rollout, SshOptions};
use super::{diagnostics, env_name, env_with_defaults, host, parsed, problem};
use crate::{HostAddress, SshDestination};

const JUMP_HINT: &str = "write a jump host as `bastion`, `ops@bastion` or `ops@bastion:2222`";

pub(super) const SSH_SPEC: &str = r#"[app]
name = "hello"

[env.prod]
hosts = [
    "deploy@web1",
    "deploy@web2:2222",
    { host = "deploy@web3", jump = "ops@bastion2" },
    "[2001:db8::7]:22",
    "local:/srv/hello-here",
]
root = "/srv/hello"
jump = "bastion"
ssh_config = "deploy/ssh_config"
identity = "~/.ssh/deploy_ed25519"
host_binary = "/opt/hoist/bin/hoist"
connect_timeout = "5s"
ssh_persist = "0s"
parallel = 4
canary = 1
keep_releases = 3

[env.prod.provision]
command = "tofu output -json hosts"
pass_env = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
"#;

/// `[app]` and an `[env.prod]` table holding `lines`.
fn prod(lines: &str) -> String {
    format!("[app]\nname = \"hello\"\n\n[env.prod]\n{lines}\n")
}

/// `prod` with an SSH host and a root, so only `lines` can be wrong.
fn ssh_prod(lines: &str) -> String {
    prod(&format!(
        "hosts = [\"deploy@web1\"]\nroot = \"/srv/hello\"\n{lines}"
    ))
}

/// `problem` for a spec made on the spot: the hint, and the text the span covers.
fn refused(text: &str, message: &str) -> (Option<String>, String) {
    let (diagnostic, at) = problem(text, message);
    (diagnostic.hint, at.to_owned())
}

fn destination(text: &str) -> SshDestination {
    match text.parse() {
        Ok(destination) => destination,
        Err(error) => panic!("{error}"),
    }
}

fn ssh_host(text: &str, jump: Option<&str>) -> HostSpec {
    HostSpec {
        address: HostAddress::Ssh(destination(text)),
        jump: jump.map(destination),
    }
}

#[test]
fn full_ssh_environment_parses_to_the_expected_struct() {
    let spec = parsed(SSH_SPEC);
    let expected = EnvSpec {
        hosts: vec![
            ssh_host("deploy@web1", None),
            ssh_host("deploy@web2:2222", None),
            ssh_host("deploy@web3", Some("ops@bastion2")),
            ssh_host("[2001:db8::7]:22", None),
            host("local:/srv/hello-here"),
        ],
        root: Some(PathBuf::from("/srv/hello")),
        ssh: SshOptions {
            jump: Some(destination("bastion")),
            config: Some(PathBuf::from("deploy/ssh_config")),
            identity: Some(PathBuf::from("~/.ssh/deploy_ed25519")),
            host_binary: Some(PathBuf::from("/opt/hoist/bin/hoist")),
            connect_timeout: Duration::from_secs(5),
            persist: Duration::ZERO,
        },
        rollout: Rollout {
            parallel: 4,
            canary: 1,
        },
        provision_command: Some("tofu output -json hosts".to_owned()),
        provision_pass_env: vec![
            "AWS_ACCESS_KEY_ID".to_owned(),
            "AWS_SECRET_ACCESS_KEY".to_owned(),
        ],
        keep_releases: 3,
        ..env_with_defaults(Vec::new())
    };
    assert_eq!(spec.envs[&env_name("prod")], expected);
    let web2 = &spec.envs[&env_name("prod")].hosts[1].address;
    assert_eq!(
        web2,
        &HostAddress::Ssh(SshDestination {
            user: Some("deploy".to_owned()),
            host: "web2".to_owned(),
            port: Some(2222),
        })
    );
}

#[test]
fn host_tables_may_be_written_as_array_of_tables() {
    let text = "[app]\nname = \"hello\"\n\n[env.prod]\nroot = \"/srv/hello\"\n\n[[env.prod.hosts]]\nhost = \"deploy@web1\"\njump = \"bastion\"\n\n[[env.prod.hosts]]\nhost = \"web2\"\n";
    let prod = &parsed(text).envs[&env_name("prod")];
    assert_eq!(
        prod.hosts,
        vec![
            ssh_host("deploy@web1", Some("bastion")),
            ssh_host("web2", None)
        ]
    );
}

#[test]
fn local_hosts_need_no_root_but_may_have_one_and_canary_may_exceed_the_hosts() {
    let spec = parsed(&prod(
        "hosts = [\"local:/srv/a\"]\nroot = \"/srv/unused\"\ncanary = 5",
    ));
    let environment = &spec.envs[&env_name("prod")];
    assert_eq!(environment.root.as_deref(), Some(Path::new("/srv/unused")));
    assert_eq!(environment.rollout.canary, 5);
    let spec = parsed(&prod("hosts = [{ host = \"local:/srv/a\" }]"));
    assert_eq!(
        spec.envs[&env_name("prod")],
        env_with_defaults(vec![host("local:/srv/a")])
    );
}

#[test]
fn ssh_hosts_without_root_point_at_the_table() {
    let text = prod("hosts = [\"local:/srv/a\", \"deploy@web1\"]");
    let (diagnostic, at) = problem(
        &text,
        "missing `root` in `[env.prod]`: its SSH hosts need a deploy root",
    );
    assert_eq!(at, "[env.prod]");
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("add `root = \"/srv/hello\"`, the directory hoist deploys into on each SSH host")
    );
    let inline = "[app]\nname = \"hello\"\n[env]\nprod = { hosts = [{ host = \"web1\" }] }\n";
    let (_, at) = problem(
        inline,
        "missing `root` in `[env.prod]`: its SSH hosts need a deploy root",
    );
    assert_eq!(at, "{ hosts = [{ host = \"web1\" }] }");
}

#[test]
fn hostile_hosts_are_refused_with_the_host_address_hint() {
    for hostile in [
        "-oProxyCommand=touch /tmp/pwned",
        "deploy@-oProxyCommand=x",
        "web1:0",
        "web1:99999",
        "de ploy@web1",
        "web1 -p 22",
        "$(reboot)",
    ] {
        let Err(error) = hostile.parse::<HostAddress>() else {
            panic!("{hostile:?} was accepted");
        };
        let quoted = format!("\"{hostile}\"");
        for hosts in [
            format!("hosts = [{quoted}]"),
            format!("hosts = [{{ host = {quoted} }}]"),
        ] {
            let text = prod(&format!("{hosts}\nroot = \"/srv/hello\""));
            let (diagnostic, at) = problem(&text, &error.to_string());
            assert_eq!(at, quoted, "{hosts}");
            assert_eq!(diagnostic.hint.as_deref(), Some(error.hint()), "{hosts}");
            assert_eq!(diagnostics(&text).len(), 1, "{hosts}");
        }
    }
}

#[test]
fn hostile_jump_hosts_are_refused_for_the_environment_and_for_one_host() {
    for hostile in [
        "-J evil",
        "-oProxyCommand=x",
        "bastion:0",
        "ops@bast ion",
        "",
    ] {
        let Err(error) = hostile.parse::<SshDestination>() else {
            panic!("{hostile:?} was accepted");
        };
        let quoted = format!("\"{hostile}\"");
        for text in [
            ssh_prod(&format!("jump = {quoted}")),
            prod(&format!(
                "hosts = [{{ host = \"web1\", jump = {quoted} }}]\nroot = \"/srv/hello\""
            )),
        ] {
            let (diagnostic, at) = problem(&text, &error.to_string());
            assert_eq!(at, quoted);
            assert_eq!(diagnostic.hint.as_deref(), Some(JUMP_HINT));
        }
    }
    let (_, at) = refused(
        &ssh_prod("jump = \"local:/srv/x\""),
        "jump host `local:/srv/x` must be an SSH host",
    );
    assert_eq!(at, "\"local:/srv/x\"");
}

#[test]
fn hostile_roots_are_refused() {
    for (root, reason) in [
        ("/srv/../etc", "it must not contain `.` or `..`"),
        ("/srv/./hello", "it must not contain `.` or `..`"),
        ("relative", "it must be an absolute path"),
        ("~/hello", "it must be an absolute path"),
        ("/", "it cannot be `/`"),
    ] {
        let text = prod(&format!("hosts = [\"deploy@web1\"]\nroot = \"{root}\""));
        let (diagnostic, at) = problem(&text, &format!("invalid deploy root `{root}`: {reason}"));
        assert_eq!(at, format!("\"{root}\""));
        assert!(
            diagnostic
                .hint
                .as_deref()
                .is_some_and(|hint| hint.contains("/srv/hello")),
            "{diagnostic:?}"
        );
        // The root is refused, not missing: one problem only.
        assert_eq!(diagnostics(&text).len(), 1, "{root}");
    }
    let text = prod("hosts = [\"deploy@web1\"]\nroot = \"/srv/\\nx\"");
    let (_, at) = problem(
        &text,
        "invalid deploy root `/srv/\nx`: it contains a control character",
    );
    assert_eq!(at, "\"/srv/\\nx\"");
}

#[test]
fn host_entries_are_checked() {
    let text = prod(
        "hosts = [\n  { host = \"web1\", port = 22 },\n  { hots = \"web9\" },\n  5,\n  { host = \"local:/srv/a\", jump = \"bastion\" },\n  \"deploy@web2\",\n  { host = \"deploy@web2\", jump = \"b2\" },\n]\nroot = \"/srv/hello\"",
    );
    let (diagnostic, at) = problem(&text, "unknown key `port` in `[env.prod.hosts]`");
    assert_eq!(at, "port");
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("write the user and port in `host`, like `host = \"deploy@web3:2222\"`")
    );
    let (diagnostic, at) = problem(&text, "unknown key `hots` in `[env.prod.hosts]`");
    assert_eq!(at, "hots");
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `host`?"));
    let (_, at) = problem(&text, "missing `host` in `[env.prod.hosts]`");
    assert_eq!(at, "{ hots = \"web9\" }");
    let (_, at) = problem(&text, "a host must be a string or a table");
    assert_eq!(at, "5");
    let (_, at) = problem(
        &text,
        "`jump` does not apply to `local:/srv/a`, a host on this machine",
    );
    assert_eq!(at, "\"bastion\"");
    let (_, at) = problem(&text, "host `deploy@web2` is listed twice in `[env.prod]`");
    assert_eq!(at, "\"deploy@web2\"");
    assert_eq!(diagnostics(&text).len(), 6);

    let (_, at) = refused(
        &prod("hosts = \"deploy@web1\""),
        "`hosts` must be a list of hosts",
    );
    assert_eq!(at, "\"deploy@web1\"");
}

#[test]
fn ssh_option_values_are_checked() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "ssh_config = \"\"",
            "`ssh_config` has an empty path",
            "\"\"",
        ),
        (
            "identity = \"~bob/.ssh/key\"",
            "path `~bob/.ssh/key` in `identity` must start with `~/` to be in your home directory",
            "\"~bob/.ssh/key\"",
        ),
        (
            "host_binary = \"dist/\\u0000hoist\"",
            "`host_binary` contains a NUL character",
            "\"dist/\\u0000hoist\"",
        ),
        ("identity = 5", "`identity` must be a string", "5"),
        (
            "connect_timeout = \"0s\"",
            "`connect_timeout` must be longer than zero",
            "\"0s\"",
        ),
        (
            "connect_timeout = \"5m1s\"",
            "`connect_timeout` must be at most 5m",
            "\"5m1s\"",
        ),
        (
            "ssh_persist = \"25h\"",
            "`ssh_persist` must be at most 1d",
            "\"25h\"",
        ),
        (
            "ssh_persist = 60",
            "`ssh_persist` must be a duration like `\"10s\"`",
            "60",
        ),
        (
            "connect_timeout = \"5\"",
            "`connect_timeout` must be a duration like `\"10s\"`, not `5`",
            "\"5\"",
        ),
        (
            "parallel = 0",
            "`parallel` must be an integer from 1 to 256",
            "0",
        ),
        (
            "parallel = 257",
            "`parallel` must be an integer from 1 to 256",
            "257",
        ),
        (
            "canary = -1",
            "`canary` must be an integer from 0 to 256",
            "-1",
        ),
        (
            "canary = \"1\"",
            "`canary` must be an integer from 0 to 256",
            "\"1\"",
        ),
        ("jump = 1", "`jump` must be a string", "1"),
        (
            "root2 = \"/x\"",
            "unknown key `root2` in `[env.prod]`",
            "root2",
        ),
    ];
    for (line, message, expected_at) in cases {
        let (_, at) = refused(&ssh_prod(line), message);
        assert_eq!(at, *expected_at, "{message}");
    }
    let longest = parsed(&ssh_prod(
        "connect_timeout = \"5m\"\nparallel = 256\ncanary = 256\nssh_persist = \"24h\"",
    ));
    let prod = &longest.envs[&env_name("prod")];
    assert_eq!(prod.ssh.connect_timeout, Duration::from_secs(300));
    assert_eq!(prod.ssh.persist, Duration::from_secs(24 * 3600));
    assert_eq!((prod.rollout.parallel, prod.rollout.canary), (256, 256));
}

#[test]
fn provision_is_a_table_with_one_command() {
    let (_, at) = refused(
        &ssh_prod("provision = \"tofu apply\""),
        "`provision` must be a table",
    );
    assert_eq!(at, "\"tofu apply\"");

    let text = ssh_prod("[env.prod.provision]\ncomand = \"tofu apply\"");
    let (diagnostic, at) = problem(&text, "unknown key `comand` in `[env.prod.provision]`");
    assert_eq!(at, "comand");
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `command`?"));
    let (diagnostic, at) = problem(&text, "missing `command` in `[env.prod.provision]`");
    assert_eq!(at, "[env.prod.provision]");
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("add `command = \"tofu output -json hosts\"`")
    );

    let (_, at) = refused(
        &ssh_prod("provision = { command = \"  \" }"),
        "`command` must not be empty",
    );
    assert_eq!(at, "\"  \"");

    let inline = parsed(&ssh_prod("provision = { command = \"./hosts.sh\" }"));
    assert_eq!(
        inline.envs[&env_name("prod")].provision_command.as_deref(),
        Some("./hosts.sh")
    );
}

#[test]
fn system_directories_homes_and_their_lookalikes_are_refused_as_deploy_roots() {
    for (root, message) in [
        (
            "/etc",
            "the deploy root `/etc` is a system directory: the operating system owns it",
        ),
        (
            "/usr/lib/hello",
            "the deploy root `/usr/lib/hello` is inside `/usr`, which the operating system owns",
        ),
        (
            "/var",
            "the deploy root `/var` is a shared system directory, not a directory of its own",
        ),
        (
            "/home/alice",
            "the deploy root `/home/alice` is a home directory itself: hoist would lay its tree out among its files",
        ),
        (
            "/root",
            "the deploy root `/root` is a home directory itself: hoist would lay its tree out among its files",
        ),
    ] {
        // The SSH hosts' `root`…
        let text = prod(&format!("hosts = [\"deploy@web1\"]\nroot = \"{root}\""));
        let (hint, at) = refused(&text, message);
        assert_eq!(at, format!("\"{root}\""));
        assert!(hint.is_some_and(|hint| hint.contains("hello")), "{root}");
        assert_eq!(diagnostics(&text).len(), 1, "{root}");
        // …and a `local:` host's own root, written plainly or as a table.
        let text = prod(&format!("hosts = [\"local:{root}\"]"));
        let (_, at) = refused(&text, &format!("host `local:{root}`: {message}"));
        assert_eq!(at, format!("\"local:{root}\""));
        let text = prod(&format!("hosts = [{{ host = \"local:{root}/\" }}]"));
        let (_, at) = refused(&text, &format!("host `local:{root}/`: {message}"));
        assert_eq!(at, format!("\"local:{root}/\""));
    }
    // `//` and `.` segments are normalised away before the comparison.
    let text = prod("hosts = [\"local://etc/.\"]");
    let (hint, _) = refused(
        &text,
        "host `local://etc/.`: the deploy root `/etc` is a system directory: the operating system owns it",
    );
    assert_eq!(
        hint.as_deref(),
        Some("deploy into a directory of its own, like `/srv/hello` or `/var/www/hello`")
    );
    // Directories of their own stay fine, below the same parents.
    let spec = parsed(&prod(
        "hosts = [\"local:/var/www/hello\", \"local:/srv/hello\", \"local:/home/alice/hello\", \"deploy@web1\"]\nroot = \"/opt/hello\"",
    ));
    assert_eq!(spec.envs[&env_name("prod")].hosts.len(), 4);
}
