//! `proxy`, `drain` and `[service.nginx]`: defaults, what is accepted, what is refused.

use std::path::PathBuf;
use std::time::Duration;

use super::super::{NginxProxy, Proxy, Service};
use super::{MINIMAL, parsed, problem};

fn with_service(lines: &str) -> String {
    MINIMAL.replace(
        "[env.dev]",
        &format!("[service]\ncommand = \"x\"\nport = 8080\n{lines}\n\n[env.dev]"),
    )
}

fn service(lines: &str) -> Service {
    match parsed(&with_service(lines)).service {
        Some(service) => service,
        None => panic!("no service"),
    }
}

#[test]
fn blue_green_defaults_to_the_builtin_proxy_and_ten_seconds_of_drain() {
    let service = service("strategy = \"blue-green\"");
    assert_eq!(service.proxy, Proxy::Builtin);
    assert_eq!(service.drain, Duration::from_secs(10));
}

#[test]
fn nginx_takes_its_defaults_from_the_app_name() {
    let service = service("strategy = \"blue-green\"\nproxy = \"nginx\"\ndrain = \"3s\"");
    assert_eq!(
        service.proxy,
        Proxy::Nginx(NginxProxy {
            upstream_file: PathBuf::from("/etc/nginx/conf.d/hoist-hello.conf"),
            upstream_name: "hoist_hello".to_owned(),
            command: vec!["nginx".to_owned()],
        })
    );
    assert_eq!(service.drain, Duration::from_secs(3));
}

#[test]
fn nginx_settings_are_read() {
    let service = service(
        "strategy = \"blue-green\"\nproxy = \"nginx\"\n[service.nginx]\n\
         upstream_file = \"/srv/nginx/up.conf\"\nupstream_name = \"web_1\"\n\
         command = \"nginx -c /srv/nginx/nginx.conf\"",
    );
    let Proxy::Nginx(nginx) = service.proxy else {
        panic!("not nginx");
    };
    assert_eq!(nginx.upstream_file, PathBuf::from("/srv/nginx/up.conf"));
    assert_eq!(nginx.upstream_name, "web_1");
    assert_eq!(nginx.command, ["nginx", "-c", "/srv/nginx/nginx.conf"]);
}

#[test]
fn bad_proxy_settings_are_refused_where_they_are() {
    let text = with_service("strategy = \"blue-green\"\nproxy = \"ngnix\"");
    let (diagnostic, at) = problem(&text, "`proxy` must be `\"builtin\"` or `\"nginx\"`");
    assert_eq!(at, "\"ngnix\"");
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `nginx`?"));

    let text = with_service("proxy = \"builtin\"");
    let (_, at) = problem(&text, "`proxy` applies to `strategy = \"blue-green\"` only");
    assert_eq!(at, "\"builtin\"");

    let text = with_service(
        "strategy = \"blue-green\"\nproxy = \"nginx\"\n[service.nginx]\nupstream_file = \"up.conf\"\nupstream_name = \"a-b\"",
    );
    let (_, at) = problem(&text, "`upstream_file` must be an absolute path");
    assert_eq!(at, "\"up.conf\"");
    let (_, at) = problem(&text, "`upstream_name` must be letters, digits and `_`");
    assert_eq!(at, "\"a-b\"");

    let text = with_service("strategy = \"blue-green\"\n[service.nginx]\ncommand = \"nginx\"");
    problem(
        &text,
        "`[service.nginx]` is set but `proxy` is not `\"nginx\"`",
    );
}
