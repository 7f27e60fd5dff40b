//! The REST API of `hoist serve`: who may do what (401 vs 403), bad input answered with
//! the one error shape and nothing stored, cancel and reschedule.

use crate::api_server::{Server, token, token_with, two_env_test};
use crate::postgres_server::TestServer;

const LATER: &str = "2099-01-01T09:00:00Z";

fn deploy(env: &str) -> String {
    format!(r#"{{"kind":"deploy","env":"{env}","at":"{LATER}"}}"#)
}

#[test]
fn authentication_matrix_keeps_401_and_403_apart() {
    let t = two_env_test();
    let admin = token(&t, "ops", "admin", &[]);
    let viewer = token(&t, "watcher", "viewer", &[]);
    let deployer = token(&t, "ci", "deployer", &[]);
    let scoped = token(&t, "ci-staging", "deployer", &["staging"]);
    let revoked = token(&t, "old", "admin", &[]);
    let server = Server::start(&t, &[]);

    // No token, a malformed header, an unknown token: 401, with a challenge.
    let none = server
        .call("GET", "/api/commands", None, None)
        .error(401, "unauthorized");
    assert!(
        none.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{none:?}"
    );
    let basic = b"GET /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Basic b3BzOm9wcw==\r\nConnection: close\r\n\r\n";
    server.raw(basic).error(401, "unauthorized");
    let wrong = format!("hoist_{}", "0".repeat(64));
    server
        .get("/api/commands", &wrong)
        .error(401, "unauthorized");
    server
        .get("/api/commands", "not-even-a-hoist-token")
        .error(401, "unauthorized");

    // A revoked token stops working at once.
    server.get("/api/commands", &revoked).status(200);
    let tokens = server.get("/api/tokens", &admin).status(200).json();
    let old_id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "old")
        .unwrap()["id"]
        .clone();
    server
        .call(
            "DELETE",
            &format!("/api/tokens/{old_id}"),
            Some(&admin),
            None,
        )
        .status(200);
    server
        .get("/api/commands", &revoked)
        .error(401, "unauthorized");
    server
        .call(
            "DELETE",
            &format!("/api/tokens/{old_id}"),
            Some(&admin),
            None,
        )
        .error(409, "conflict");

    // Known tokens without the role: 403.
    server.get("/api/commands", &viewer).status(200);
    server
        .post("/api/commands", &viewer, &deploy("dev"))
        .error(403, "forbidden");
    let destroy = format!(r#"{{"kind":"destroy","env":"dev","at":"{LATER}"}}"#);
    let refused = server
        .post("/api/commands", &deployer, &destroy)
        .error(403, "forbidden");
    assert!(refused.body.contains("cannot destroy"), "{refused:?}");
    let ttl = format!(r#"{{"kind":"deploy","env":"dev","ttl_seconds":3600,"at":"{LATER}"}}"#);
    server
        .post("/api/commands", &deployer, &ttl)
        .error(403, "forbidden");
    server.get("/api/tokens", &deployer).error(403, "forbidden");
    server
        .post("/api/tokens", &deployer, r#"{"name":"x","role":"admin"}"#)
        .error(403, "forbidden");

    // An environment-scoped token on another environment: 403; on its own: accepted.
    server
        .post("/api/commands", &scoped, &deploy("dev"))
        .error(403, "forbidden");
    server
        .get("/api/environments/dev", &scoped)
        .error(403, "forbidden");
    server
        .get("/api/commands?env=dev", &scoped)
        .error(403, "forbidden");
    let accepted = server
        .post("/api/commands", &scoped, &deploy("staging"))
        .status(202)
        .json();
    assert_eq!(accepted["command"]["requested_by"], "token:ci-staging");
    assert_eq!(accepted["command"]["status"], "scheduled");
    assert_eq!(accepted["command"]["execute_at"], LATER);
    server
        .post("/api/commands", &deployer, &deploy("dev"))
        .status(202);
    server.post("/api/commands", &admin, &destroy).status(202);

    // Lists show a scoped token only its environments.
    let envs = server.get("/api/environments", &scoped).status(200).json();
    let names: Vec<&str> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["staging"]);
    let mine = server.get("/api/commands", &scoped).status(200).json();
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let events = server.get("/api/events", &scoped).status(200).json();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["env"] == "staging"),
        "a scoped token sees only its environment's events: {events}"
    );

    // Only the three accepted commands were stored.
    let all = server.get("/api/commands", &admin).status(200).json();
    let kinds: Vec<(&str, &str)> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["kind"].as_str().unwrap(), c["env"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("destroy", "dev"), ("deploy", "dev"), ("deploy", "staging")]
    );
}

#[test]
fn bad_input_gets_the_one_error_shape_and_stores_nothing() {
    let t = two_env_test();
    let admin = token(&t, "ops", "admin", &[]);
    let server = Server::start(&t, &[]);
    let post = |body: &str| server.post("/api/commands", &admin, body);

    post(r#"{"kind":"deploy","env":"dev","at":"tomorrow at nine"}"#).error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"dev","at":"2026-13-45T99:00:00Z"}"#)
        .error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"dev","at":12}"#).error(422, "invalid_request");
    let past = post(r#"{"kind":"deploy","env":"dev","at":"2020-01-01T00:00:00Z"}"#)
        .error(422, "invalid_request");
    assert!(past.body.contains("in the past"), "{past:?}");
    post(r#"{"kind":"deploy","env":"dev","start_within":"soon"}"#).error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"dev","start_within":"0s"}"#).error(422, "invalid_request");
    let unknown = post(r#"{"kind":"explode","env":"dev"}"#).error(422, "invalid_request");
    assert!(unknown.body.contains("explode"), "{unknown:?}");
    post(r#"{"kind":"deploy","env":"dev","force":true}"#).error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"../etc"}"#).error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"prod"}"#).error(422, "invalid_request");
    post(r#"{"env":"dev"}"#).error(422, "invalid_request");
    post(r#"["deploy","dev"]"#).error(422, "invalid_request");
    post(r#"{"kind":"deploy","env":"dev""#).error(400, "bad_request");
    post("deploy dev please").error(400, "bad_request");

    // Oversized: past the 64 KiB limit, whatever the JSON says.
    let huge = format!(
        r#"{{"kind":"deploy","env":"dev","note":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    post(&huge).error(413, "payload_too_large");
    let request = format!(
        "POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{huge}",
        huge.len()
    );
    server
        .raw(request.as_bytes())
        .error(413, "payload_too_large");
    let plain = format!(
        "POST /api/commands HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    server
        .raw(plain.as_bytes())
        .error(415, "unsupported_media_type");

    // Routes, methods, queries and ids.
    server
        .get("/api/nothing-here", &admin)
        .error(404, "not_found");
    // Outside `/api` is the dashboard: an unknown page is an HTML 404.
    let page = server.call("GET", "/nothing", None, None).status(404);
    assert!(page.head.contains("content-type: text/html"), "{page:?}");
    assert!(page.body.contains("no page `/nothing`"), "{page:?}");
    server
        .call("PUT", "/api/commands", Some(&admin), Some("{}"))
        .error(405, "method_not_allowed");
    server
        .get("/api/commands?limit=0", &admin)
        .error(400, "bad_request");
    server
        .get("/api/commands?limit=lots", &admin)
        .error(400, "bad_request");
    server
        .get("/api/commands?status=sleeping", &admin)
        .error(400, "bad_request");
    server
        .get("/api/commands?colour=red", &admin)
        .error(400, "bad_request");
    server
        .get("/api/commands/abc", &admin)
        .error(400, "bad_request");
    server
        .get("/api/commands/999", &admin)
        .error(404, "not_found");
    server
        .get("/api/environments/prod", &admin)
        .error(404, "not_found");
    server
        .get("/api/environments/..%2Fetc", &admin)
        .error(400, "bad_request");
    server
        .post(
            "/api/tokens",
            &admin,
            r#"{"name":"Bad Name","role":"admin"}"#,
        )
        .error(422, "invalid_request");
    server
        .post("/api/tokens", &admin, r#"{"name":"x","role":"root"}"#)
        .error(422, "invalid_request");
    server
        .post(
            "/api/tokens",
            &admin,
            r#"{"name":"x","role":"viewer","envs":["prod"]}"#,
        )
        .error(422, "invalid_request");

    // Nothing was stored: no command, no event but the admin token's creation.
    assert_eq!(
        server.get("/api/commands", &admin).status(200).json(),
        serde_json::json!([])
    );
    let events = server.get("/api/events", &admin).status(200).json();
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["token.created"]);
    let tokens = server.get("/api/tokens", &admin).status(200).json();
    assert_eq!(tokens.as_array().unwrap().len(), 1);
}

#[test]
fn cancel_and_reschedule_only_while_scheduled() {
    let t = two_env_test();
    let admin = token(&t, "ops", "admin", &[]);
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let created = server
        .post("/api/commands", &admin, &deploy("dev"))
        .status(202)
        .json();
    let id = created["command"]["id"].as_i64().unwrap();

    let moved = server
        .post(
            &format!("/api/commands/{id}/reschedule"),
            &admin,
            r#"{"at":"2099-02-01T00:00:00Z","start_within":"1h"}"#,
        )
        .status(200)
        .json();
    assert_eq!(moved["execute_at"], "2099-02-01T00:00:00Z");
    assert_eq!(moved["expires_at"], "2099-02-01T01:00:00Z");
    let shown = server
        .get(&format!("/api/commands/{id}"), &viewer)
        .status(200)
        .json();
    assert_eq!(shown["execute_at"], "2099-02-01T00:00:00Z");
    assert!(shown["steps"].is_array(), "with its step log: {shown}");

    let reschedule = format!("/api/commands/{id}/reschedule");
    server
        .post(&reschedule, &admin, r#"{"at":"2001-01-01T00:00:00Z"}"#)
        .error(422, "invalid_request");
    server
        .post(
            &reschedule,
            &admin,
            r#"{"at":"2099-01-01T00:00:00Z","in":"5m"}"#,
        )
        .error(422, "invalid_request");
    server
        .post(&reschedule, &viewer, r#"{"in":"5m"}"#)
        .error(403, "forbidden");
    server
        .post(&format!("/api/commands/{id}/cancel"), &viewer, "{}")
        .error(403, "forbidden");
    server
        .post("/api/commands/4242/cancel", &admin, "{}")
        .error(404, "not_found");

    let cancelled = server
        .post(&format!("/api/commands/{id}/cancel"), &admin, "{}")
        .status(200)
        .json();
    assert_eq!(cancelled["status"], "cancelled");
    server
        .post(&format!("/api/commands/{id}/cancel"), &admin, "{}")
        .error(409, "conflict");
    server
        .post(&reschedule, &admin, r#"{"in":"5m"}"#)
        .error(409, "conflict");
    let after = server
        .get(&format!("/api/commands/{id}"), &admin)
        .status(200)
        .json();
    assert_eq!(after["status"], "cancelled");
    assert_eq!(
        after["execute_at"], "2099-02-01T00:00:00Z",
        "the refused reschedule changed nothing"
    );
}

#[test]
fn the_api_serves_a_postgres_store_the_same_way() {
    let url = TestServer::shared().fresh_database();
    let state = [("HOIST_STATE", url.as_str())];
    let t = two_env_test();
    let viewer = token_with(&t, &state, "watcher", "viewer", &[]);
    let deployer = token_with(&t, &state, "ci", "deployer", &[]);
    let server = Server::start(&t, &state);

    server
        .post("/api/commands", &viewer, &deploy("dev"))
        .error(403, "forbidden");
    let created = server
        .post("/api/commands", &deployer, &deploy("dev"))
        .status(202)
        .json();
    assert_eq!(created["command"]["requested_by"], "token:ci");
    let listed = server.get("/api/commands", &viewer).status(200).json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert!(
        !t.project.join(".hoist").join("state.db").exists(),
        "nothing in SQLite"
    );

    // Revoked from the CLI while the server runs: refused at the next call.
    let tokens = t
        .hoist_with(&["tokens", "list", "--json"], &state)
        .success()
        .json();
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap()["id"]
        .to_string();
    t.hoist_with(&["tokens", "revoke", &id], &state).success();
    server
        .get("/api/commands", &deployer)
        .error(401, "unauthorized");
}
