//! The one integration-test binary: real `hoist` processes on real temp directories, the
//! real example service, real SQLite files and a real PostgreSQL server.

#![expect(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests and their harness panic on a failed setup step, with the reason"
)]

mod api_server;
mod browser;
mod chromedriver;
mod dashboard_client;
mod harness;
mod http_client;
mod load_loop;
mod openapi_contract;
mod root_processes;
// The PostgreSQL store's own test server, shared rather than copied.
#[path = "../src/adapters/postgres_store/test_server.rs"]
#[expect(
    dead_code,
    reason = "the store's unit tests use more of the fixture than these do"
)]
mod postgres_server;
mod test_registry;
mod testbed;
// The TLS test parts (a CA made at test time, its certificates), shared with the unit tests.
#[path = "../src/adapters/http_client/test_tls.rs"]
#[expect(
    dead_code,
    reason = "the client's unit tests use more of the fixture than these do"
)]
mod test_tls;
mod tls_forwarder;
mod webhook_receiver;

mod api;
mod api_stream;
mod bad_input;
mod blue_green;
mod blue_green_crash;
mod blue_green_fleet;
mod blue_green_nginx;
mod browser_harness;
mod compose;
mod config_rollback;
mod containers;
mod containers_crash;
mod containers_fleet;
mod containers_images;
mod continuation_hints;
mod crash;
mod daemon_log;
mod dashboard;
mod dashboard_admin;
mod dashboard_browser;
mod dashboard_pages;
mod deploy;
mod deploy_roots;
mod events;
mod exec;
mod failures;
mod fleet;
mod health_kinds;
mod honest_health;
mod honest_records;
mod hooks_and_config;
mod infrastructure;
mod locking;
mod logs;
mod openapi;
mod operate;
mod operate_fleet;
mod postgres_state;
mod proxy;
mod proxy_framing;
mod proxy_static;
mod proxy_static_switch;
mod remote_cli;
mod remote_protocol;
mod scheduling;
mod scheduling_postgres;
mod secrets;
mod spec_commands;
mod ssh_shared_masters;
mod ssh_transport;
mod static_site;
mod supervision;
mod supervision_deploys;
mod supervision_fleet;
mod tls_clients;
mod tokens;
mod warm_connections;
mod webhooks;
