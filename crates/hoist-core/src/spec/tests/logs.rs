//! `[service] log_max` and `log_keep`: defaults, sizes with units, what is refused and where.

use super::super::Service;
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
fn logs_rotate_at_ten_megabytes_keeping_three_by_default() {
    let service = service("");
    assert_eq!(service.log_max, 10 * 1024 * 1024);
    assert_eq!(service.log_keep, 3);
}

#[test]
fn sizes_take_units_or_bytes() {
    assert_eq!(service("log_max = \"512KB\"").log_max, 512 * 1024);
    assert_eq!(service("log_max = \"1GiB\"").log_max, 1 << 30);
    assert_eq!(service("log_max = 4096").log_max, 4096);
    assert_eq!(service("log_keep = 10").log_keep, 10);
}

#[test]
fn bad_sizes_and_counts_are_refused_where_they_are() {
    let text = with_service("log_max = \"10 parsecs\"");
    let (diagnostic, at) = problem(&text, "`log_max` must be a size like `\"10MB\"`");
    assert_eq!(at, "\"10 parsecs\"");
    assert!(diagnostic.hint.unwrap_or_default().contains("`512KB`"));

    let text = with_service("log_max = \"100B\"");
    let (_, at) = problem(&text, "`log_max` must be at least `1KB`");
    assert_eq!(at, "\"100B\"");

    let text = with_service("log_max = -5");
    let (_, at) = problem(&text, "`log_max` must be a size like `\"10MB\"`");
    assert_eq!(at, "-5");

    let text = with_service("log_keep = 0");
    let (_, at) = problem(&text, "`log_keep` must be an integer from 1 to 100");
    assert_eq!(at, "0");
}

#[test]
fn explain_lists_the_log_defaults() {
    let defaults = super::super::explain_defaults();
    assert!(defaults.contains(&("service.log_max", "\"10MB\"".to_owned())));
    assert!(defaults.contains(&("service.log_keep", "3".to_owned())));
}
