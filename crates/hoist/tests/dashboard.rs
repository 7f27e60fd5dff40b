//! The dashboard over HTTP, without a browser: sign-in and its cookie, sessions that end
//! (sign-out, a revoked token), form tokens, roles, actions that run, launches at a time in a
//! zone, waiting commands cancelled and re-timed, and hostile text escaped. The browser
//! tests (`dashboard_browser.rs`) show the same pages live.

use std::time::Duration;

use crate::api_server::{Server, token};
use crate::dashboard_client::{Visitor, field, location};
use crate::harness::Test;
use crate::scheduling::wait_until_ended;

/// A deployed `dev` and a running `hoist serve` with an admin signed in.
fn deployed() -> (Test, Server, Visitor) {
    let t = Test::new();
    t.hoist(&["deploy", "dev"]).success();
    let admin = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let visitor = Visitor::signed_in(&server, &admin);
    (t, server, visitor)
}

fn command_count(t: &Test) -> usize {
    t.hoist(&["commands", "list", "--json"])
        .success()
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn a_token_signs_in_to_a_session_cookie_and_the_pages_show_what_runs() {
    let (t, server, visitor) = deployed();
    let cookie_line = {
        let mut fresh = Visitor::anonymous(&server);
        let secret = token(&t, "second", "viewer", &[]);
        let answer = fresh.sign_in(&secret);
        answer
            .head
            .lines()
            .find(|line| line.starts_with("set-cookie: hoist_session="))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(cookie_line.contains("HttpOnly"), "{cookie_line}");
    assert!(cookie_line.contains("SameSite=Strict"), "{cookie_line}");
    assert!(!cookie_line.contains("Secure"), "plain HTTP: {cookie_line}");

    let live = t.live().expect("a live release");
    let home = visitor.get("/");
    assert_eq!(home.status, 200, "{home:?}");
    assert!(home.body.contains("href=\"/env/dev\""), "{}", home.body);
    assert!(home.body.contains(&live), "the live release: {}", home.body);
    assert!(
        home.head
            .contains("content-security-policy: default-src 'self'"),
        "{}",
        home.head
    );

    let env = visitor.get("/env/dev");
    assert_eq!(env.status, 200, "{env:?}");
    assert!(env.body.contains("healthy"), "{}", env.body);
    assert!(
        env.body.contains("confirm?action=deploy"),
        "an admin sees the actions"
    );
    let deploy = t
        .hoist(&["commands", "show", "1", "--json"])
        .success()
        .json();
    let who = deploy["requested_by"].as_str().unwrap();
    assert!(
        env.body
            .contains(&format!("{who} <a href=\"/commands/1\">#1</a>")),
        "the release says who made it: {}",
        env.body
    );

    // Without a session: to the sign-in page, and back here after it.
    let anonymous = Visitor::anonymous(&server).get("/env/dev");
    assert_eq!(anonymous.status, 303);
    assert_eq!(location(&anonymous), Some("/sign-in?next=/env/dev"));
}

#[test]
fn behind_tls_the_session_cookie_is_secure() {
    let t = Test::new();
    let admin = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let visitor = Visitor::anonymous(&server);
    let page = visitor.get("/sign-in");
    let form_token = field(&page.body, "form_token").unwrap();
    let form_cookie = crate::dashboard_client::set_cookie(&page.head, "hoist_sign_in").unwrap();
    let body = crate::dashboard_client::encode(&[
        ("token", &admin),
        ("form_token", &form_token),
        ("next", "/"),
    ]);
    let url = format!("http://{}/sign-in", server.address);
    let answer = crate::http_client::send(
        "POST",
        &url,
        &[
            ("Cookie", &form_cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Forwarded-Proto", "https"),
        ],
        Some(body.as_bytes()),
        crate::http_client::Patience::TEST,
    )
    .unwrap();
    let cookie = answer
        .head
        .lines()
        .find(|line| line.starts_with("set-cookie: hoist_session="))
        .unwrap_or_default();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[test]
fn a_wrong_token_or_a_forged_sign_in_form_opens_no_session() {
    let t = Test::new();
    let server = Server::start(&t, &[]);
    let mut visitor = Visitor::anonymous(&server);
    let wrong = visitor.sign_in(&format!("hoist_{}", "0".repeat(64)));
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(wrong.body.contains("unknown or revoked"), "{}", wrong.body);
    assert!(visitor.cookie.is_none());

    // A sign-in form posted from elsewhere has no matching form cookie.
    let admin = token(&t, "ops", "admin", &[]);
    let forged = visitor.post_with_token(
        "/sign-in",
        "",
        &[("token", &admin), ("form_token", "made-up"), ("next", "/")],
    );
    assert_eq!(forged.status, 403, "{forged:?}");
    assert!(!forged.head.contains("hoist_session="), "{}", forged.head);
}

#[test]
fn forms_without_the_sessions_token_are_refused_and_record_nothing() {
    let (t, _server, visitor) = deployed();
    let before = command_count(&t);
    for csrf in ["", "0123", &"f".repeat(64)] {
        let answer = visitor.post_with_token("/env/dev/act", csrf, &[("action", "restart")]);
        assert_eq!(answer.status, 403, "{csrf:?}: {answer:?}");
        assert!(answer.body.contains("security token"), "{}", answer.body);
    }
    let answer = visitor.post_with_token("/sign-out", "nope", &[]);
    assert_eq!(answer.status, 403);
    assert_eq!(command_count(&t), before, "nothing was recorded");
    assert_eq!(visitor.get("/").status, 200, "still signed in");
}

#[test]
fn a_viewer_sees_no_actions_and_its_own_valid_form_is_refused() {
    let (t, server, _admin) = deployed();
    let secret = token(&t, "watcher", "viewer", &[]);
    let viewer = Visitor::signed_in(&server, &secret);
    let env = viewer.get("/env/dev");
    assert_eq!(env.status, 200);
    assert!(!env.body.contains("confirm?action="), "{}", env.body);
    assert!(
        !viewer.get("/").body.contains("href=\"/launch\""),
        "no launch link"
    );
    let before = command_count(&t);
    // The viewer's own session and form token: only the role is wrong.
    let answer = viewer.post_form("/env/dev", "/env/dev/act", &[("action", "deploy")]);
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = viewer.post_form(
        "/env/dev",
        "/launch",
        &[("env", "dev"), ("action", "deploy"), ("when", "now")],
    );
    assert_ne!(answer.status, 303, "{answer:?}");
    assert_eq!(command_count(&t), before, "nothing was recorded");
    assert_eq!(viewer.get("/env/dev/confirm?action=deploy").status, 403);
}

#[test]
fn a_revoked_tokens_session_ends_at_its_next_request_and_sign_out_ends_one() {
    let (t, server, admin) = deployed();
    let secret = token(&t, "temp", "deployer", &[]);
    let visitor = Visitor::signed_in(&server, &secret);
    assert_eq!(visitor.get("/").status, 200);
    let tokens = t.hoist(&["tokens", "list", "--json"]).success().json();
    let id = tokens
        .as_array()
        .and_then(|tokens| tokens.iter().find(|token| token["name"] == "temp"))
        .and_then(|token| token["id"].as_i64())
        .expect("the token's id");
    t.hoist(&["tokens", "revoke", &id.to_string()]).success();
    let next = visitor.get("/commands");
    assert_eq!(next.status, 303, "{next:?}");
    assert_eq!(
        location(&next),
        Some("/sign-in?next=/commands&reason=revoked")
    );
    assert_eq!(visitor.get("/").status, 303, "it stays ended");

    let out = admin.post_form("/", "/sign-out", &[]);
    assert_eq!(out.status, 303);
    assert_eq!(admin.get("/").status, 303, "signed out");
}

#[test]
fn an_action_confirmed_runs_now_and_its_page_shows_the_steps() {
    let (t, _server, visitor) = deployed();
    let confirm = visitor.get("/env/dev/confirm?action=restart");
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Restart dev"), "{}", confirm.body);
    let answer = visitor.post_form(
        "/env/dev/confirm?action=restart",
        "/env/dev/act",
        &[("action", "restart"), ("to", "")],
    );
    assert_eq!(answer.status, 303, "{answer:?}");
    let page = location(&answer).unwrap().to_owned();
    let id: i64 = page.trim_start_matches("/commands/").parse().unwrap();
    let ended = wait_until_ended(&t, id, &[], Duration::from_secs(30));
    assert_eq!(ended["status"], "succeeded", "{ended:#}");
    assert_eq!(ended["requested_by"], "token:ops");
    let shown = visitor.get(&page);
    assert!(shown.body.contains("succeeded"), "{}", shown.body);
    assert!(shown.body.contains("restart"), "{}", shown.body);
    let unknown = visitor.post_form("/env/dev", "/env/dev/act", &[("action", "explode")]);
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.body.contains("there is no action"),
        "{}",
        unknown.body
    );
}

#[test]
fn a_launch_at_a_time_in_a_zone_waits_and_can_be_retimed_and_cancelled() {
    let (t, _server, visitor) = deployed();
    let answer = visitor.post_form(
        "/launch",
        "/launch",
        &[
            ("env", "dev"),
            ("action", "deploy"),
            ("when", "at"),
            ("at", "2099-06-01T09:30"),
            ("zone", "Europe/Berlin"),
            ("start_within", "30m"),
        ],
    );
    assert_eq!(answer.status, 303, "{}", answer.body);
    let page = location(&answer).unwrap().to_owned();
    let id: i64 = page.trim_start_matches("/commands/").parse().unwrap();
    let recorded = crate::scheduling::command(&t, id, &[]);
    assert_eq!(recorded["status"], "scheduled");
    assert_eq!(
        recorded["execute_at"], "2099-06-01T07:30:00Z",
        "09:30 in Berlin (CEST)"
    );
    assert_eq!(recorded["expires_at"], "2099-06-01T08:00:00Z");

    let moved = visitor.post_form(
        &page,
        &format!("/commands/{id}/reschedule"),
        &[("at", "2099-06-02T10:00"), ("zone", "UTC")],
    );
    assert_eq!(moved.status, 303, "{}", moved.body);
    let recorded = crate::scheduling::command(&t, id, &[]);
    assert_eq!(recorded["execute_at"], "2099-06-02T10:00:00Z");
    let list = visitor.get("/commands").body;
    assert!(list.contains(&format!("#{id} deploy dev")), "{list}");
    assert!(
        list.contains(&format!("action=\"/commands/{id}/cancel\"")),
        "a cancel button on the list: {list}"
    );

    let cancelled = visitor.post_form(&page, &format!("/commands/{id}/cancel"), &[]);
    assert_eq!(cancelled.status, 303);
    assert_eq!(
        crate::scheduling::command(&t, id, &[])["status"],
        "cancelled"
    );
    let again = visitor.post_form("/commands", &format!("/commands/{id}/cancel"), &[]);
    assert_eq!(again.status, 409, "no longer waiting: {again:?}");
}

#[test]
fn a_launch_in_the_past_or_without_a_zone_is_refused_and_nothing_is_recorded() {
    let (t, _server, visitor) = deployed();
    let before = command_count(&t);
    for (at, zone, says, status) in [
        ("2001-01-01T09:00", "UTC", "in the past", 422),
        ("2099-01-01T09:00", "", "has no time zone", 400),
        (
            "2099-01-01T09:00",
            "Nowhere/Atlantis",
            "is not a time zone",
            400,
        ),
        ("next tuesday", "UTC", "is not a date and time", 400),
    ] {
        let answer = visitor.post_form(
            "/launch",
            "/launch",
            &[
                ("env", "dev"),
                ("action", "deploy"),
                ("when", "at"),
                ("at", at),
                ("zone", zone),
            ],
        );
        assert_eq!(answer.status, status, "{at} {zone}: {}", answer.body);
        assert!(answer.body.contains(says), "{at} {zone}: {}", answer.body);
        // The form comes back as it was sent, to be corrected.
        assert!(
            answer.body.contains("id=\"launch-error\""),
            "{}",
            answer.body
        );
    }
    assert_eq!(command_count(&t), before);
}

#[test]
fn a_launch_whose_host_does_not_answer_warns_and_can_still_be_scheduled() {
    let t = Test::new().spec(&format!(
        "{}\n[env.far]\nhosts = [\"root@127.0.0.1:1\"]\nroot = \"/srv/hello\"\n",
        crate::harness::SPEC
    ));
    let admin = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let visitor = Visitor::signed_in(&server, &admin);
    let fields = [
        ("env", "far"),
        ("action", "deploy"),
        ("when", "at"),
        ("at", "2099-01-01T09:00"),
        ("zone", "UTC"),
    ];
    let warned = visitor.post_form("/launch", "/launch", &fields);
    assert_eq!(warned.status, 200, "{}", warned.body);
    assert!(
        warned.body.contains("does not answer now"),
        "{}",
        warned.body
    );
    assert!(warned.body.contains("Schedule anyway"), "{}", warned.body);
    assert_eq!(command_count(&t), 0);
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirmed", "yes"));
    let scheduled = visitor.post_form("/launch", "/launch", &confirmed);
    assert_eq!(scheduled.status, 303, "{}", scheduled.body);
    assert_eq!(command_count(&t), 1);
}

#[test]
fn hostile_text_from_hooks_and_errors_is_shown_escaped() {
    let t = Test::new().spec(&crate::harness::SPEC.replace(
        "post_upload = \"python3 -m py_compile app.py\"",
        "post_upload = \"echo '<script>window.__hoist_xss=1</script><img src=x onerror=alert(1)>' >&2; exit 3\"",
    ));
    t.hoist(&["deploy", "dev"]).code(1);
    let admin = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let visitor = Visitor::signed_in(&server, &admin);
    let pages = [
        visitor.get("/"),
        visitor.get("/env/dev"),
        visitor.get("/commands/1"),
    ];
    let all: String = pages.iter().map(|page| page.body.as_str()).collect();
    assert!(
        !all.contains("<script>window.__hoist_xss"),
        "unescaped: {all}"
    );
    assert!(!all.contains("<img src=x"), "unescaped: {all}");
    assert!(
        all.contains("\n&#60;script&#62;window.__hoist_xss=1&#60;/script&#62;&#60;img"),
        "the hook's output is shown, escaped: {all}"
    );
}

#[test]
fn sessions_end_with_the_server_that_held_them() {
    let (t, mut server, mut visitor) = deployed();
    assert_eq!(visitor.get("/").status, 200);
    assert!(server.terminate().success());
    let restarted = Server::start(&t, &[]);
    visitor.moved_to(&restarted);
    let answer = visitor.get("/env/dev");
    assert_eq!(answer.status, 303, "{answer:?}");
    assert_eq!(
        location(&answer),
        Some("/sign-in?next=/env/dev&reason=expired")
    );
    let page = Visitor::anonymous(&restarted).get("/sign-in?next=/env/dev&reason=expired");
    assert!(page.body.contains("Your session ended"), "{}", page.body);
}

#[test]
fn script_in_an_environment_name_is_refused_and_shown_escaped() {
    let (_t, _server, visitor) = deployed();
    for path in [
        "/env/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/env/%3Cscript%3Ealert(1)%3C%2Fscript%3E/confirm?action=deploy",
        "/commands?env=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/launch?env=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let answer = visitor.get(path);
        assert!(
            !answer.body.contains("<script>alert"),
            "{path}: {}",
            answer.body
        );
        if answer.status != 200 {
            assert!((400..500).contains(&answer.status), "{path}: {answer:?}");
        }
    }
    let refused = visitor.get("/env/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(
        refused.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        refused.body
    );
}
