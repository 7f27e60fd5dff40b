//! The OpenAPI document of `hoist serve`: valid against the official OpenAPI 3.1
//! meta-schema, and true of the real server — every route it lists called over a real local
//! deploy, each answer (successes and errors) matching the schema declared for its status,
//! every query parameter the server takes documented, no undocumented method served.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api_server::{Server, token};
use crate::harness::{SPEC, Test};
use crate::openapi_contract::{Contract, meta_schema_errors};

const LATER: &str = "2099-01-01T09:00:00Z";

/// The harness's `dev` (a real service) and a `staging` that is never deployed.
fn served_app() -> Test {
    let t = Test::new();
    let staging = t.temp.path().join("hosts").join("staging");
    let spec = format!(
        "{SPEC}\n[env.staging]\nhosts = [\"local:{}\"]\n",
        staging.display()
    );
    t.spec(&spec)
}

#[test]
fn the_document_is_valid_openapi_3_1_and_the_meta_schema_can_refuse() {
    let t = served_app();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let document = server.get("/api/openapi.json", &viewer).status(200).json();
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "hoist");
    let errors = meta_schema_errors(&document);
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // The check is not vacuous: a broken operation and a broken Schema Object are refused.
    let mut broken = document.clone();
    broken["paths"]["/api/commands"]["get"]["responses"] = json!("none");
    assert!(!meta_schema_errors(&broken).is_empty());
    let mut broken = document.clone();
    broken["components"]["schemas"]["CommandRecord"]["type"] = json!(5);
    assert!(!meta_schema_errors(&broken).is_empty());
}

/// Polls a command until it is no longer scheduled or running; every answer is checked.
fn settled(contract: &Contract, server: &Server, token: &str, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    let concrete = format!("/api/commands/{id}");
    loop {
        let command = contract
            .call(
                server,
                "GET",
                ("/api/commands/{id}", &concrete),
                Some(token),
                None,
            )
            .status(200)
            .json();
        if !matches!(command["status"].as_str(), Some("scheduled" | "running")) {
            return command;
        }
        assert!(Instant::now() < deadline, "command {id} did not finish");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_route_answers_what_the_document_says() {
    let t = served_app();
    t.hoist(&["deploy", "dev"]).success();
    let admin = token(&t, "ops", "admin", &[]);
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let contract = Contract::new(server.get("/api/openapi.json", &viewer).status(200).json());
    let call = |method: &str, path: &str, concrete: &str, token: &str, body: Option<&str>| {
        contract.call(&server, method, (path, concrete), Some(token), body)
    };

    // A real deploy through the API, run by the daemon's scheduler.
    t.write("message.txt", "v2\n");
    let body = r#"{"kind":"deploy","env":"dev"}"#;
    assert_eq!(
        contract.request_errors("/api/commands", "POST", body),
        Vec::<String>::new()
    );
    let deploy = call("POST", "/api/commands", "/api/commands", &admin, Some(body))
        .status(202)
        .json();
    let deploy_id = deploy["command"]["id"].as_i64().unwrap();
    let finished = settled(&contract, &server, &viewer, deploy_id);
    assert_eq!(finished["status"], "succeeded", "{finished:#}");
    assert!(
        finished["steps"]
            .as_array()
            .is_some_and(|steps| !steps.is_empty())
    );

    call(
        "GET",
        "/api/openapi.json",
        "/api/openapi.json",
        &viewer,
        None,
    )
    .status(200);
    let envs = call(
        "GET",
        "/api/environments",
        "/api/environments",
        &viewer,
        None,
    )
    .status(200)
    .json();
    assert_eq!(envs.as_array().map(Vec::len), Some(2), "{envs:#}");
    let dev = call(
        "GET",
        "/api/environments/{env}",
        "/api/environments/dev",
        &viewer,
        None,
    )
    .status(200)
    .json();
    assert!(dev["hosts"][0]["instance"]["alive"] == true, "{dev:#}");
    assert!(
        dev["releases"].as_array().is_some_and(|r| r.len() == 2),
        "{dev:#}"
    );
    let staging = "/api/environments/staging";
    let never = call("GET", "/api/environments/{env}", staging, &viewer, None)
        .status(200)
        .json();
    assert_eq!(never["state"], Value::Null, "{never:#}");

    // A command for later: listed, moved, cancelled.
    let later =
        format!(r#"{{"kind":"deploy","env":"staging","at":"{LATER}","start_within":"1h"}}"#);
    assert_eq!(
        contract.request_errors("/api/commands", "POST", &later),
        Vec::<String>::new()
    );
    let scheduled = call(
        "POST",
        "/api/commands",
        "/api/commands",
        &admin,
        Some(&later),
    )
    .status(202)
    .json();
    let id = scheduled["command"]["id"].as_i64().unwrap();
    let filtered = "/api/commands?env=staging&status=scheduled&limit=5";
    let listed = call("GET", "/api/commands", filtered, &viewer, None)
        .status(200)
        .json();
    assert_eq!(listed[0]["id"], id, "{listed:#}");
    let reschedule = format!("/api/commands/{id}/reschedule");
    let path = "/api/commands/{id}/reschedule";
    let moved = r#"{"in":"2h","start_within":"30m"}"#;
    assert_eq!(
        contract.request_errors(path, "POST", moved),
        Vec::<String>::new()
    );
    call("POST", path, &reschedule, &admin, Some(moved)).status(200);
    let both = format!(r#"{{"in":"2h","at":"{LATER}"}}"#);
    call("POST", path, &reschedule, &admin, Some(&both)).error(422, "invalid_request");
    let cancel = format!("/api/commands/{id}/cancel");
    let path = "/api/commands/{id}/cancel";
    call("POST", path, &cancel, &admin, None).status(200);
    call("POST", path, &cancel, &admin, None).error(409, "conflict");
    call(
        "POST",
        "/api/commands/{id}/reschedule",
        &reschedule,
        &admin,
        Some(moved),
    )
    .error(409, "conflict");

    let events = format!("/api/events?env=dev&command={deploy_id}&after=0&limit=500");
    let timeline = call("GET", "/api/events", &events, &viewer, None)
        .status(200)
        .json();
    assert!(
        timeline.as_array().is_some_and(|events| events.len() > 3),
        "{timeline:#}"
    );
    contract.check_stream(&server, &viewer, 5);
    let bad_resume = b"GET /api/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ";
    let mut request = bad_resume.to_vec();
    request.extend_from_slice(
        format!("{viewer}\r\nLast-Event-ID: x\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    let reply = server.raw(&request).error(400, "bad_request");
    contract.check("GET", "/api/events/stream", &reply);

    // Tokens: list, make one, revoke it (twice: a conflict).
    call("GET", "/api/tokens", "/api/tokens", &admin, None).status(200);
    let new = r#"{"name":"ci-dev","role":"deployer","envs":["dev"]}"#;
    assert_eq!(
        contract.request_errors("/api/tokens", "POST", new),
        Vec::<String>::new()
    );
    let created = call("POST", "/api/tokens", "/api/tokens", &admin, Some(new))
        .status(201)
        .json();
    assert!(
        created["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("hoist_"))
    );
    let revoke = format!("/api/tokens/{}", created["token"]["id"]);
    call("DELETE", "/api/tokens/{id}", &revoke, &admin, None).status(200);
    call("DELETE", "/api/tokens/{id}", &revoke, &admin, None).error(409, "conflict");

    // Errors, each checked against the status's declared schema.
    call(
        "GET",
        "/api/environments/{env}",
        "/api/environments/nowhere",
        &viewer,
        None,
    )
    .error(404, "not_found");
    call(
        "GET",
        "/api/environments/{env}",
        "/api/environments/No!",
        &viewer,
        None,
    )
    .error(400, "bad_request");
    call(
        "GET",
        "/api/commands/{id}",
        "/api/commands/abc",
        &viewer,
        None,
    )
    .error(400, "bad_request");
    call(
        "GET",
        "/api/commands/{id}",
        "/api/commands/999999",
        &viewer,
        None,
    )
    .error(404, "not_found");
    call(
        "GET",
        "/api/commands",
        "/api/commands?limit=0",
        &viewer,
        None,
    )
    .error(400, "bad_request");
    call(
        "POST",
        "/api/commands",
        "/api/commands",
        &viewer,
        Some(body),
    )
    .error(403, "forbidden");
    call("GET", "/api/tokens", "/api/tokens", &viewer, None).error(403, "forbidden");
    let unknown_field = r#"{"kind":"deploy","env":"dev","bogus":1}"#;
    assert!(
        !contract
            .request_errors("/api/commands", "POST", unknown_field)
            .is_empty()
    );
    call(
        "POST",
        "/api/commands",
        "/api/commands",
        &admin,
        Some(unknown_field),
    )
    .error(422, "invalid_request");
    call(
        "POST",
        "/api/commands",
        "/api/commands",
        &admin,
        Some("{not json"),
    )
    .error(400, "bad_request");
    let bad_name = r#"{"name":"Not A Name","role":"viewer"}"#;
    assert!(
        !contract
            .request_errors("/api/tokens", "POST", bad_name)
            .is_empty()
    );
    call("POST", "/api/tokens", "/api/tokens", &admin, Some(bad_name))
        .error(422, "invalid_request");
    let plain = format!(
        "POST /api/tokens HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    );
    let reply = server
        .raw(plain.as_bytes())
        .error(415, "unsupported_media_type");
    contract.check("POST", "/api/tokens", &reply);
    let huge = format!(
        r#"{{"kind":"deploy","env":"dev","at":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    call(
        "POST",
        "/api/commands",
        "/api/commands",
        &admin,
        Some(&huge),
    )
    .error(413, "payload_too_large");

    // Every route: refused without a token, and answered with its success status above.
    contract.check_refused_without_token(&server);
    contract.assert_every_operation_answered();
}

#[test]
fn the_server_takes_exactly_the_documented_parameters_and_methods() {
    let t = served_app();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let contract = Contract::new(server.get("/api/openapi.json", &viewer).status(200).json());
    let mut paths = BTreeSet::new();
    for (path, method) in contract.operations() {
        paths.insert(path.clone());
        let documented = contract.parameters(&path, &method, "query");
        if documented.is_empty() {
            continue;
        }
        // An unknown parameter is refused, and the refusal names the ones the route takes.
        let concrete = path.replace("{env}", "dev").replace("{id}", "1");
        let reply = contract
            .call(
                &server,
                &method,
                (&path, &format!("{concrete}?zz-unknown=1")),
                Some(&viewer),
                None,
            )
            .error(400, "bad_request");
        let hint = reply.json()["error"]["hint"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let taken: BTreeSet<String> = hint
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        assert_eq!(taken, documented, "{method} {path}: {hint}");
    }
    // No method the document does not list is served on a documented path.
    for path in &paths {
        let concrete = path.replace("{env}", "dev").replace("{id}", "1");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            if contract.document["paths"][path][method.to_lowercase()].is_object() {
                continue;
            }
            server
                .call(method, &concrete, Some(&viewer), None)
                .error(405, "method_not_allowed");
        }
    }
}

#[test]
fn an_answer_outside_its_schema_is_caught() {
    let t = served_app();
    let viewer = token(&t, "watcher", "viewer", &[]);
    let server = Server::start(&t, &[]);
    let contract = Contract::new(server.get("/api/openapi.json", &viewer).status(200).json());
    let tokens = server
        .get("/api/tokens", &token(&t, "ops", "admin", &[]))
        .status(200)
        .json();
    let schema = &contract.operation("/api/tokens", "GET")["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(contract.errors(schema, &tokens), Vec::<String>::new());
    let mut extra = tokens.clone();
    extra[0]["surprise"] = json!(1);
    assert!(
        !contract.errors(schema, &extra).is_empty(),
        "an undocumented field"
    );
    let mut missing = tokens.clone();
    missing[0].as_object_mut().unwrap().remove("role");
    assert!(
        !contract.errors(schema, &missing).is_empty(),
        "a missing field"
    );
    let mut wrong = tokens;
    wrong[0]["created_at"] = json!("yesterday");
    assert!(
        !contract.errors(schema, &wrong).is_empty(),
        "not a date-time"
    );
}
