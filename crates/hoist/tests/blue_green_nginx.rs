//! `proxy = "nginx"` against a real nginx (its own prefix, on loopback): hoist writes the
//! upstream file, checks it with `nginx -t`, reloads, and a swap under load drops nothing; a
//! config nginx refuses leaves the old file, the old route and no stray instance.

use std::fs;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::blue_green::blue_green_spec;
use crate::harness::{Test, free_port, http_get};
use crate::load_loop::LoadLoop;

const NGINX: &str = "/usr/sbin/nginx";

/// An nginx whose site sends `/` to the upstream `hoist_hello` once hoist's file defines it
/// (the variable form lets nginx start before the file exists).
struct Nginx {
    prefix: PathBuf,
    port: u16,
    child: Child,
}

impl Nginx {
    fn start(t: &Test) -> Self {
        let prefix = t.temp.path().join("nginx");
        fs::create_dir_all(prefix.join("conf.d")).unwrap();
        fs::create_dir_all(prefix.join("logs")).unwrap();
        let port = free_port();
        let p = |name: &str| prefix.join(name).display().to_string();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {pid};\nerror_log {log};\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n\
             \x20 fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n\
             \x20 include {confd}/*.conf;\n\
             \x20 server {{\n    listen 127.0.0.1:{port};\n    location / {{\n\
             \x20     set $app hoist_hello;\n      proxy_pass http://$app;\n\
             \x20     proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n",
            pid = p("nginx.pid"),
            log = p("logs/error.log"),
            tmp = p("logs"),
            confd = p("conf.d"),
        );
        fs::write(prefix.join("nginx.conf"), conf).unwrap();
        let mut command = Command::new(NGINX);
        command.args(Self::args(&prefix));
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nginx (scripts/test installs it): {e}"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nginx did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            prefix,
            port,
            child,
        }
    }

    fn args(prefix: &std::path::Path) -> Vec<String> {
        vec![
            "-p".into(),
            format!("{}/", prefix.display()),
            "-c".into(),
            prefix.join("nginx.conf").display().to_string(),
            "-e".into(),
            prefix.join("logs/error.log").display().to_string(),
        ]
    }

    fn upstream_file(&self) -> PathBuf {
        self.prefix.join("conf.d/hoist-hello.conf")
    }

    /// The `[service]` settings that point hoist at this nginx.
    fn spec(&self) -> String {
        let command = std::iter::once(NGINX.to_owned())
            .chain(Self::args(&self.prefix))
            .collect::<Vec<_>>()
            .join(" ");
        blue_green_spec().replace(
            "drain = \"2s\"",
            &format!(
                "drain = \"2s\"\nproxy = \"nginx\"\n\n[service.nginx]\nupstream_file = \"{}\"\ncommand = \"{command}\"",
                self.upstream_file().display()
            ),
        )
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

#[test]
fn nginx_routes_each_swap_and_a_refused_config_changes_nothing() {
    let t = Test::new();
    let nginx = Nginx::start(&t);
    let t = t.spec(&nginx.spec());
    t.hoist(&["deploy", "dev"]).success();
    let body = |port| http_get(port, "/").unwrap();
    assert!(body(nginx.port).1.contains("v1"), "{:?}", body(nginx.port));
    let file = fs::read_to_string(nginx.upstream_file()).unwrap();
    assert!(file.contains("upstream hoist_hello"), "{file}");
    t.hoist(&["check", "dev"]).success();

    let load = LoadLoop::start(nginx.port, "/", 3);
    for version in ["v2", "v3"] {
        t.write("message.txt", &format!("{version}\n"));
        t.hoist(&["deploy", "dev"]).success();
    }
    std::thread::sleep(Duration::from_millis(200));
    let result = load.finish();
    assert_eq!(
        result.failures,
        Vec::<String>::new(),
        "requests failed during the swaps"
    );
    assert!(result.requests > 30);
    assert!(body(nginx.port).1.contains("v3"));
    let report = t.hoist(&["check", "dev", "--json"]).success().json();
    let host = &report["hosts"][0];
    assert_eq!(crate::blue_green::running_slots(host).len(), 1, "{host:#}");

    // nginx refuses the configuration: the file stays as it was and v3 keeps serving.
    let before = fs::read(nginx.upstream_file()).unwrap();
    fs::write(
        nginx.prefix.join("conf.d/broken.conf"),
        "not_a_directive on;\n",
    )
    .unwrap();
    t.write("message.txt", "v4\n");
    t.hoist(&["deploy", "dev"])
        .code(1)
        .stderr_contains("not_a_directive")
        .stderr_contains("the old instance keeps serving");
    assert_eq!(fs::read(nginx.upstream_file()).unwrap(), before);
    assert!(body(nginx.port).1.contains("v3"));
    let report = t.hoist(&["check", "dev", "--json"]).json();
    let host = &report["hosts"][0];
    assert_eq!(
        crate::blue_green::running_slots(host).len(),
        1,
        "no stray v4: {host:#}"
    );

    fs::remove_file(nginx.prefix.join("conf.d/broken.conf")).unwrap();
    t.hoist(&["deploy", "dev"]).success();
    assert!(body(nginx.port).1.contains("v4"));
}

#[test]
fn maintenance_with_nginx_is_refused_with_a_hint() {
    let t = Test::new();
    let nginx = Nginx::start(&t);
    let t = t.spec(&nginx.spec());
    t.hoist(&["deploy", "dev"]).success();
    t.hoist(&["maintenance", "on", "dev"])
        .code(1)
        .stderr_contains("built-in proxy");
}
