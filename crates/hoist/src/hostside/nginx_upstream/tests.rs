use std::fs;
use std::net::SocketAddr;

use super::test_nginx::{TestNginx, UPSTREAM, closed_addr, serve};
use super::*;

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn renders_the_header_and_one_server() {
    assert_eq!(
        render("web", addr("127.0.0.1:18080")),
        "# managed by hoist: it rewrites this file on every switch, so edits here are lost.\n\
         upstream web {\n    server 127.0.0.1:18080;\n    keepalive 16;\n}\n"
    );
}

#[test]
fn reads_back_what_it_renders() {
    for text in ["127.0.0.1:18080", "[::1]:9000"] {
        assert_eq!(parse_server(&render("web", addr(text))), Some(addr(text)));
    }
    assert_eq!(parse_server("upstream web {\n}\n"), None);
}

#[test]
fn upstream_names_are_nginx_words() {
    for good in ["web", "my_app-2.blue", "_x", "9lives"] {
        assert!(check_upstream_name(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "web app",
        "web;",
        "-web",
        ".web",
        "a{b}",
        "http://web",
        "wéb",
    ] {
        let error = check_upstream_name(bad).unwrap_err();
        assert!(!error.hints.is_empty(), "{bad}");
    }
    let error = check_upstream_name("web;").unwrap_err();
    assert_eq!(error.message, "`web;` is not a valid nginx upstream name");
}

#[test]
fn current_is_none_without_a_file_and_reads_a_written_one() {
    let nginx = TestNginx::new();
    let upstream = nginx.upstream();
    assert_eq!(upstream.current().unwrap(), None);
    fs::write(&upstream.file, render(UPSTREAM, addr("127.0.0.1:4100"))).unwrap();
    assert_eq!(upstream.current().unwrap(), Some(addr("127.0.0.1:4100")));
}

#[test]
fn a_file_hoist_did_not_write_is_refused_and_kept() {
    let nginx = TestNginx::new();
    let upstream = nginx.upstream();
    let theirs = "upstream web { server 127.0.0.1:4100; }\n";
    fs::write(&upstream.file, theirs).unwrap();

    let error = upstream.current().unwrap_err();
    let file = upstream.file.display().to_string();
    assert_eq!(error.message, format!("`{file}` was not written by hoist"));
    assert!(error.hints[0].contains("another path"), "{error:?}");

    let error = upstream.set_upstream(addr("127.0.0.1:4200")).unwrap_err();
    assert!(error.message.contains("not written by hoist"), "{error}");
    assert_eq!(fs::read_to_string(&upstream.file).unwrap(), theirs);
}

#[test]
fn a_hoist_file_without_a_server_is_an_error() {
    let nginx = TestNginx::new();
    let upstream = nginx.upstream();
    fs::write(&upstream.file, "# managed by hoist\nupstream web {\n}\n").unwrap();
    let error = upstream.current().unwrap_err();
    assert!(
        error.message.contains("cannot find the upstream server"),
        "{error}"
    );
}

#[test]
fn a_bad_name_or_command_writes_nothing() {
    let nginx = TestNginx::new();
    let bad_name = NginxUpstream {
        upstream_name: "web app".to_owned(),
        ..nginx.upstream()
    };
    let error = bad_name.set_upstream(addr("127.0.0.1:4100")).unwrap_err();
    assert!(error.message.contains("`web app`"), "{error}");

    let no_command = NginxUpstream {
        command: Vec::new(),
        ..nginx.upstream()
    };
    let error = no_command.set_upstream(addr("127.0.0.1:4100")).unwrap_err();
    assert_eq!(error.message, "the nginx command is empty");
    assert!(!nginx.file().exists());
}

#[test]
fn a_missing_nginx_binary_is_named_and_the_file_removed() {
    let nginx = TestNginx::new();
    let upstream = NginxUpstream {
        command: vec!["/nonexistent/nginx".to_owned()],
        ..nginx.upstream()
    };
    let error = upstream.set_upstream(addr("127.0.0.1:4100")).unwrap_err();
    assert_eq!(error.message, "cannot run `/nonexistent/nginx -t`");
    assert!(!nginx.file().exists());
}

#[test]
fn switches_a_running_nginx_between_two_upstreams() {
    let a = serve("a");
    let b = serve("b");
    let mut nginx = TestNginx::new();
    nginx.start(closed_addr());
    let upstream = nginx.upstream();

    upstream.set_upstream(a).unwrap();
    nginx.wait_for_body("a");
    assert_eq!(upstream.current().unwrap(), Some(a));

    upstream.set_upstream(b).unwrap();
    nginx.wait_for_body("b");
    assert_eq!(upstream.current().unwrap(), Some(b));
    assert_eq!(
        fs::read_to_string(&upstream.file).unwrap(),
        render(UPSTREAM, b)
    );

    // The same address again checks and reloads, and changes nothing.
    upstream.set_upstream(b).unwrap();
    nginx.wait_for_body("b");
    assert_eq!(nginx.get(), (200, "b".to_owned()));
}

#[test]
fn a_rejected_config_keeps_the_old_file_and_the_old_route() {
    let a = serve("a");
    let b = serve("b");
    let mut nginx = TestNginx::new();
    nginx.start(closed_addr());
    let upstream = nginx.upstream();
    upstream.set_upstream(a).unwrap();
    nginx.wait_for_body("a");
    let before = fs::read(&upstream.file).unwrap();

    let broken = nginx.break_config();
    let error = upstream.set_upstream(b).unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.starts_with("nginx rejected its configuration"),
        "{shown}"
    );
    assert!(
        shown.contains("unknown directive \"this_is_not_a_directive\""),
        "{shown}"
    );
    assert!(
        error.hints.iter().any(|h| h.contains("back as it was")),
        "{error:?}"
    );
    assert_eq!(fs::read(&upstream.file).unwrap(), before);
    assert_eq!(upstream.current().unwrap(), Some(a));
    for _ in 0..5 {
        assert_eq!(nginx.get(), (200, "a".to_owned()));
    }

    // Once the config is fixed, the same switch goes through.
    fs::remove_file(broken).unwrap();
    upstream.set_upstream(b).unwrap();
    nginx.wait_for_body("b");
}

#[test]
fn a_rejected_first_write_leaves_no_file() {
    let nginx = TestNginx::new();
    nginx.break_config();
    let upstream = nginx.upstream();
    let error = upstream.set_upstream(addr("127.0.0.1:4100")).unwrap_err();
    assert!(error.to_string().contains("unknown directive"), "{error}");
    assert!(
        error.hints.iter().any(|h| h.contains("removed again")),
        "{error:?}"
    );
    assert!(!upstream.file.exists());
    let left: Vec<_> = fs::read_dir(upstream.file.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["broken.conf"], "no temp file either");
}

#[test]
fn a_failed_reload_puts_the_previous_file_back() {
    // Not started: `nginx -t` passes, but there is no master to signal.
    let nginx = TestNginx::new();
    let upstream = nginx.upstream();
    let before = render(UPSTREAM, addr("127.0.0.1:4100"));
    fs::write(&upstream.file, &before).unwrap();

    let error = upstream.set_upstream(addr("127.0.0.1:4200")).unwrap_err();
    let shown = error.to_string();
    assert!(shown.starts_with("cannot reload nginx"), "{shown}");
    assert!(shown.contains("nginx.pid"), "nginx's complaint: {shown}");
    assert!(error.hints[0].contains("must be running"), "{error:?}");
    assert_eq!(fs::read_to_string(&upstream.file).unwrap(), before);
}
