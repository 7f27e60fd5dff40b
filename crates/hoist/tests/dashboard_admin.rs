//! The dashboard's admin page over HTTP: a token made there shows its secret on that answer
//! only and signs in; revoking one ends its session at once; deployers, viewers and admins
//! limited to environments are refused the page and every form; a webhook added there gets
//! its deliveries listed with status and attempts, and is removed; hostile text comes back
//! escaped.

use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::api_server::{Server, token};
use crate::dashboard_client::{Visitor, field, location};
use crate::harness::Test;
use crate::http_client::Answer;
use crate::webhook_receiver::Receiver;

const HOOK_SECRET: &str = "admin-page-hook-secret-7e21";

/// A running `hoist serve` with the admin `ops` signed in.
fn admin_signed_in() -> (Test, Server, Visitor) {
    let t = Test::new();
    let secret = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let admin = Visitor::signed_in(&server, &secret);
    (t, server, admin)
}

fn tokens(t: &Test) -> Vec<Value> {
    let listed = t.hoist(&["tokens", "list", "--json"]).success().json();
    listed.as_array().cloned().unwrap_or_default()
}

fn token_named(t: &Test, name: &str) -> Value {
    tokens(t)
        .into_iter()
        .find(|token| token["name"] == name)
        .unwrap_or_else(|| panic!("no token `{name}`"))
}

fn webhooks(t: &Test) -> Vec<Value> {
    let listed = t.hoist(&["webhooks", "list", "--json"]).success().json();
    listed.as_array().cloned().unwrap_or_default()
}

/// Makes a token on the admin page; returns the answer.
fn create_token(admin: &Visitor, name: &str, role: &str, envs: &str) -> Answer {
    admin.post_form(
        "/admin",
        "/admin/tokens",
        &[("name", name), ("role", role), ("envs", envs)],
    )
}

/// Gets `path` until its body contains every one of `needles`; panics after `timeout`.
fn wait_for_page(visitor: &Visitor, path: &str, needles: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let page = visitor.get(path);
        assert_eq!(page.status, 200, "{path}: {page:?}");
        if needles.iter().all(|needle| page.body.contains(needle)) {
            return page.body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never showed {needles:?}:\n{}",
            page.body
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether `html` holds `raw` escaped, with numeric (askama's) or named entities.
fn shows_escaped(html: &str, raw: &str) -> bool {
    let escape = |entities: [&str; 5]| -> String {
        raw.chars()
            .map(|c| match c {
                '&' => entities[0].to_owned(),
                '<' => entities[1].to_owned(),
                '>' => entities[2].to_owned(),
                '"' => entities[3].to_owned(),
                '\'' => entities[4].to_owned(),
                c => c.to_string(),
            })
            .collect()
    };
    html.contains(&escape(["&#38;", "&#60;", "&#62;", "&#34;", "&#39;"]))
        || html.contains(&escape(["&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"]))
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[test]
fn a_token_made_on_the_admin_page_shows_its_secret_on_that_answer_only_and_signs_in() {
    let (t, server, admin) = admin_signed_in();
    let page = admin.get("/admin");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains("Create a token"), "{}", page.body);
    assert!(page.body.contains("<label for=\"token-name\">"));

    let answer = create_token(&admin, "ci-bot", "deployer", "dev");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.head.contains("cache-control: no-store"),
        "{}",
        answer.head
    );
    let secret = field(&answer.body, "new_secret").expect("the secret in a readonly field");
    assert!(
        secret.starts_with("hoist_") && secret.len() == 70,
        "{secret}"
    );
    assert!(
        answer
            .body
            .contains("<label for=\"new-secret\">Secret</label>")
    );
    assert!(answer.body.contains("readonly"), "{}", answer.body);
    assert!(
        answer.body.contains("it is not shown again"),
        "{}",
        answer.body
    );

    let made = token_named(&t, "ci-bot");
    assert_eq!(made["role"], "deployer");
    assert_eq!(made["envs"], serde_json::json!(["dev"]));
    assert_eq!(made["created_by"], "token:ops");

    // It signs in, with its own role.
    let bot = Visitor::signed_in(&server, &secret);
    let home = bot.get("/");
    assert_eq!(home.status, 200, "{home:?}");
    assert!(home.body.contains("ci-bot"), "{}", home.body);
    assert!(
        !home.body.contains("href=\"/admin\""),
        "no admin link for a deployer"
    );

    // Listed without its secret or hash; no later page or answer holds either.
    let hash = sha256_hex(&secret);
    let listed = admin.get("/admin");
    assert!(listed.body.contains("ci-bot"), "{}", listed.body);
    assert!(listed.body.contains("deployer"), "{}", listed.body);
    let id = made["id"].as_i64().unwrap();
    for path in [
        "/admin".to_owned(),
        "/admin/deliveries".to_owned(),
        format!("/admin/tokens/{id}/revoke"),
        "/".to_owned(),
        "/env/dev".to_owned(),
        "/commands".to_owned(),
    ] {
        for visitor in [&admin, &bot] {
            let page = visitor.get(&path);
            assert!(!page.body.contains(&secret), "{path} shows the secret");
            assert!(!page.body.contains(&hash), "{path} shows the hash");
        }
    }
    let events = t.hoist(&["events", "--json"]).success().stdout;
    assert!(events.contains("token.created"), "{events}");
    assert!(!events.contains(&secret) && !events.contains(&hash));

    // The same name again: refused on the page, the form as sent, no secret.
    let again = create_token(&admin, "ci-bot", "viewer", "");
    assert_eq!(again.status, 422, "{again:?}");
    assert!(again.body.contains("id=\"token-error\""), "{}", again.body);
    assert!(again.body.contains("already exists"), "{}", again.body);
    assert!(again.body.contains("value=\"ci-bot\""), "{}", again.body);
    assert!(again.body.contains("<option value=\"viewer\" selected>"));
    assert!(field(&again.body, "new_secret").is_none());
    // A role or an environment that is not one.
    let role = create_token(&admin, "other", "superuser", "");
    assert_eq!(role.status, 400, "{role:?}");
    assert!(
        role.body.contains("unknown role `superuser`"),
        "{}",
        role.body
    );
    let env = create_token(&admin, "other", "viewer", "dev, nowhere");
    assert_eq!(env.status, 422, "{env:?}");
    assert!(env.body.contains("nowhere"), "{}", env.body);
    assert!(env.body.contains("value=\"dev, nowhere\""), "{}", env.body);
    assert_eq!(tokens(&t).len(), 2, "only ops and ci-bot");
}

#[test]
fn revoking_a_token_on_the_admin_page_ends_its_open_session_at_once() {
    let (t, server, admin) = admin_signed_in();
    let secret = token(&t, "temp", "deployer", &[]);
    let visitor = Visitor::signed_in(&server, &secret);
    assert_eq!(visitor.get("/").status, 200);
    let id = token_named(&t, "temp")["id"].as_i64().unwrap();

    let listed = admin.get("/admin");
    let confirm_path = format!("/admin/tokens/{id}/revoke");
    assert!(
        listed.body.contains(&format!("href=\"{confirm_path}\"")),
        "{}",
        listed.body
    );
    let confirm = admin.get(&confirm_path);
    assert_eq!(confirm.status, 200, "{confirm:?}");
    assert!(
        confirm
            .body
            .contains(&format!("Revoke token temp (id {id}, deployer")),
        "the confirmation names it: {}",
        confirm.body
    );
    assert!(
        token_named(&t, "temp")["revoked_at"].is_null(),
        "asking revokes nothing"
    );

    let revoked = admin.post_form(&confirm_path, &confirm_path, &[]);
    assert_eq!(revoked.status, 303, "{revoked:?}");
    assert_eq!(
        location(&revoked),
        Some(format!("/admin?revoked={id}").as_str())
    );
    assert!(!token_named(&t, "temp")["revoked_at"].is_null());

    // Its session was ended by the revoke itself ("expired": it is gone, not found revoked
    // at this request).
    let next = visitor.get("/commands");
    assert_eq!(next.status, 303, "{next:?}");
    assert_eq!(
        location(&next),
        Some("/sign-in?next=/commands&reason=expired")
    );
    let api = server.get("/api/environments", &secret);
    assert_eq!(api.status, 401, "the API refuses it too");

    let after = admin.get(&format!("/admin?revoked={id}"));
    assert!(
        after.body.contains(&format!("Token {id} revoked")),
        "{}",
        after.body
    );
    assert!(
        !after.body.contains(&format!("href=\"{confirm_path}\"")),
        "a revoked token has no revoke button"
    );
    let twice = admin.post_form("/admin", &confirm_path, &[]);
    assert_eq!(twice.status, 409, "{twice:?}");
    assert!(twice.body.contains("already revoked"), "{}", twice.body);
    assert_eq!(
        admin.get("/admin").status,
        200,
        "the admin is still signed in"
    );
}

#[test]
fn deployers_viewers_and_limited_admins_are_refused_the_page_and_every_form() {
    let (t, server, admin) = admin_signed_in();
    let receiver = Receiver::start(HOOK_SECRET, &[]);
    t.hoist(&[
        "webhooks",
        "add",
        &receiver.url("/hook"),
        "--secret",
        HOOK_SECRET,
    ])
    .success();
    let hook = webhooks(&t)[0]["id"].as_i64().unwrap();
    let ops = token_named(&t, "ops")["id"].as_i64().unwrap();
    let outsiders = [
        token(&t, "deploys", "deployer", &[]),
        token(&t, "watches", "viewer", &[]),
        token(&t, "dev-admin", "admin", &["dev"]),
    ];
    for secret in &outsiders {
        let visitor = Visitor::signed_in(&server, secret);
        assert!(
            !visitor.get("/").body.contains("href=\"/admin\""),
            "no admin link"
        );
        for path in [
            "/admin".to_owned(),
            "/admin/deliveries".to_owned(),
            format!("/admin/tokens/{ops}/revoke"),
            format!("/admin/webhooks/{hook}/remove"),
        ] {
            let page = visitor.get(&path);
            assert_eq!(page.status, 403, "{path}: {page:?}");
        }
        // Their own valid form token: only the role is wrong.
        let url = receiver.url("/sneaky");
        for (path, fields) in [
            (
                "/admin/tokens".to_owned(),
                vec![("name", "sneaky"), ("role", "admin"), ("envs", "")],
            ),
            (
                "/admin/webhooks".to_owned(),
                vec![("url", url.as_str()), ("secret", HOOK_SECRET)],
            ),
            (format!("/admin/tokens/{ops}/revoke"), vec![]),
            (format!("/admin/webhooks/{hook}/remove"), vec![]),
        ] {
            let answer = visitor.post_form("/", &path, &fields);
            assert_eq!(answer.status, 403, "{path}: {answer:?}");
            assert!(
                answer.body.contains("needs `admin`")
                    || answer.body.contains("limited to environments"),
                "{}",
                answer.body
            );
        }
    }
    let names: Vec<Value> = tokens(&t)
        .iter()
        .map(|token| token["name"].clone())
        .collect();
    assert!(!names.contains(&Value::from("sneaky")), "{names:?}");
    assert!(token_named(&t, "ops")["revoked_at"].is_null());
    assert_eq!(webhooks(&t).len(), 1, "nothing added, nothing removed");
    assert_eq!(admin.get("/admin").status, 200);
}

#[test]
fn a_webhook_added_on_the_admin_page_lists_its_deliveries_with_status_and_retries() {
    let (t, _server, admin) = admin_signed_in();
    // The first attempt is answered 500, the retry 200.
    let receiver = Receiver::start(HOOK_SECRET, &[500]);
    let added = admin.post_form(
        "/admin",
        "/admin/webhooks",
        &[
            ("url", &receiver.url("/hook")),
            ("env", ""),
            ("kinds", "token"),
            ("secret", HOOK_SECRET),
        ],
    );
    assert_eq!(added.status, 303, "{added:?}");
    let hooks = webhooks(&t);
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let id = hooks[0]["id"].as_i64().unwrap();
    assert_eq!(hooks[0]["kinds"], serde_json::json!(["token"]));
    assert_eq!(
        location(&added),
        Some(format!("/admin?added={id}").as_str())
    );
    let page = admin.get("/admin");
    assert!(page.body.contains(&receiver.url("/hook")), "{}", page.body);
    assert!(
        !page.body.contains(HOOK_SECRET),
        "the signing secret is never shown"
    );
    assert!(page.body.contains("none yet"), "{}", page.body);

    // An event it wants: a token made (on the page).
    assert_eq!(create_token(&admin, "another", "viewer", "").status, 200);
    let received = receiver.wait_for(2, Duration::from_secs(20));
    assert!(
        received
            .iter()
            .all(|r| r.signed && r.kind() == "token.created"),
        "{received:#?}"
    );
    let deliveries = format!("/admin/deliveries?hook={id}");
    let shown = wait_for_page(
        &admin,
        &deliveries,
        &["token.created", "delivered", "HTTP 200"],
        Duration::from_secs(10),
    );
    let row = shown
        .split("<tr>")
        .find(|row| row.contains("token.created"))
        .unwrap();
    assert!(row.contains("<td>2</td>"), "two attempts: {row}");
    assert!(
        shown.contains("data-live=\"events\""),
        "the list follows events"
    );
    let listed = admin.get("/admin");
    assert!(
        listed.body.contains("delivery-delivered"),
        "{}",
        listed.body
    );
    assert!(
        admin
            .get("/admin/deliveries")
            .body
            .contains("token.created")
    );

    // A second hook without a secret: hoist makes one and shows it this once.
    let second = Receiver::start("unknown-yet-0000", &[]);
    let generated = admin.post_form(
        "/admin",
        "/admin/webhooks",
        &[("url", &second.url("/second")), ("kinds", "token.revoked")],
    );
    assert_eq!(generated.status, 200, "{generated:?}");
    let hook_secret = field(&generated.body, "new_secret").expect("the generated secret");
    assert_eq!(hook_secret.len(), 64, "{hook_secret}");
    assert!(generated.body.contains("it is not shown again"));
    for path in ["/admin", "/admin/deliveries"] {
        assert!(!admin.get(path).body.contains(&hook_secret), "{path}");
    }
    assert!(
        !t.hoist(&["webhooks", "list", "--json"])
            .success()
            .stdout
            .contains(&hook_secret)
    );
    // Deliveries to it are signed with that secret.
    let temp = token_named(&t, "another")["id"].as_i64().unwrap();
    let path = format!("/admin/tokens/{temp}/revoke");
    assert_eq!(admin.post_form("/admin", &path, &[]).status, 303);
    let got = second.wait_for(1, Duration::from_secs(20));
    assert_eq!(got[0].kind(), "token.revoked");
    let signature = got[0].headers["x-hoist-signature-256"].clone();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(hook_secret.as_bytes()).unwrap();
    mac.update(got[0].body.as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(signature, format!("sha256={expected}"));

    // Remove the first, behind a confirmation that names it.
    let confirm_path = format!("/admin/webhooks/{id}/remove");
    let confirm = admin.get(&confirm_path);
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains(&format!("Remove webhook {id}")),
        "{}",
        confirm.body
    );
    assert!(
        confirm.body.contains(&receiver.url("/hook")),
        "{}",
        confirm.body
    );
    assert_eq!(webhooks(&t).len(), 2, "asking removes nothing");
    let removed = admin.post_form(&confirm_path, &confirm_path, &[]);
    assert_eq!(removed.status, 303, "{removed:?}");
    assert_eq!(
        location(&removed),
        Some(format!("/admin?removed={id}").as_str())
    );
    let left: Vec<i64> = webhooks(&t)
        .iter()
        .filter_map(|hook| hook["id"].as_i64())
        .collect();
    assert!(!left.contains(&id), "{left:?}");
    assert_eq!(admin.get(&deliveries).status, 404);
    assert_eq!(admin.post_form("/admin", &confirm_path, &[]).status, 404);
}

#[test]
fn hostile_text_sent_to_the_admin_forms_comes_back_escaped() {
    let (t, _server, admin) = admin_signed_in();
    let script = "<script>alert(1)</script>";
    let answer = create_token(&admin, script, "viewer", "");
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(!answer.body.contains(script), "{}", answer.body);
    assert!(shows_escaped(&answer.body, script), "{}", answer.body);
    assert!(
        answer.body.contains("invalid token name"),
        "{}",
        answer.body
    );

    let envs = "\"><script>alert(2)</script>";
    let answer = create_token(&admin, "fine", "viewer", envs);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(!answer.body.contains("<script>alert(2)"), "{}", answer.body);
    assert!(!answer.body.contains("\"><script"), "{}", answer.body);

    let url = format!("http://127.0.0.1:9/{script}");
    let answer = admin.post_form("/admin", "/admin/webhooks", &[("url", &url)]);
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(!answer.body.contains(script), "{}", answer.body);
    assert!(
        answer.body.contains("characters a URL cannot hold"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("id=\"webhook-error\""),
        "{}",
        answer.body
    );

    let kinds = "<img src=x onerror=alert(3)>";
    let answer = admin.post_form(
        "/admin",
        "/admin/webhooks",
        &[("url", "http://127.0.0.1:9/hook"), ("kinds", kinds)],
    );
    assert_eq!(answer.status, 422, "{answer:?}");
    assert!(!answer.body.contains("<img"), "{}", answer.body);
    assert!(
        answer.body.contains("is not an event kind"),
        "{}",
        answer.body
    );

    // A URL the op accepts with characters HTML must escape.
    let quoted = "http://127.0.0.1:9/hook?a='x'&b=1";
    let answer = admin.post_form(
        "/admin",
        "/admin/webhooks",
        &[("url", quoted), ("secret", HOOK_SECRET)],
    );
    assert_eq!(answer.status, 303, "{answer:?}");
    for path in ["/admin", "/admin/deliveries"] {
        let page = admin.get(path);
        assert!(!page.body.contains("'x'&b"), "{path}: {}", page.body);
    }
    let page = admin.get("/admin").body;
    assert!(shows_escaped(&page, quoted), "{page}");
    assert_eq!(tokens(&t).len(), 1, "only ops");
    assert_eq!(webhooks(&t).len(), 1, "only the quoted one");
}
