//! The hosts of an `[env.NAME]` table and the deploy root of its SSH hosts. A host is a
//! string (`"deploy@web1"`, `"local:/srv/app"`) or a table `{ host = "…", jump = "…" }`;
//! every address is checked strictly so that nothing in it can reach ssh as an option.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml_edit::Value;

use super::HostSpec;
use super::problems::Problems;
use super::section::{Field, Section, Text};
use crate::{HostAddress, SshDestination, deploy_root};

const HOST_ENTRY_KEYS: &[&str] = &["host", "jump"];

const HOST_ENTRY_HINT: &str = "write a host as a string like `\"deploy@web1\"`, or as a table like `{ host = \"deploy@web3\", jump = \"bastion\" }`";

const JUMP_HINT: &str = "write a jump host as `bastion`, `ops@bastion` or `ops@bastion:2222`";

/// One entry of `hosts` as written.
enum Entry<'doc> {
    Plain(Text<'doc>),
    Table(Section<'doc>),
}

/// Every host of `hosts`, in order. Hosts that are refused or listed twice are reported and
/// left out.
pub(super) fn read_hosts(
    section: &Section<'_>,
    app_name: &str,
    problems: &mut Problems,
) -> Vec<HostSpec> {
    let Some(field) = section.required("hosts", "hosts = [\"local:/srv/my-app\"]", problems) else {
        return Vec::new();
    };
    let entries = entries(section, &field, problems);
    let mut hosts: Vec<HostSpec> = Vec::with_capacity(entries.len());
    for entry in &entries {
        let Some((host, span)) = read_entry(entry, app_name, problems) else {
            continue;
        };
        if hosts.iter().any(|known| known.address == host.address) {
            problems.error(
                span,
                format!(
                    "host `{}` is listed twice in {}",
                    host.address,
                    section.name()
                ),
            );
        } else {
            hosts.push(host);
        }
    }
    hosts
}

/// The entries of `hosts = [ … ]` or of `[[env.NAME.hosts]]` tables.
fn entries<'doc>(
    section: &Section<'doc>,
    field: &Field<'doc>,
    problems: &mut Problems,
) -> Vec<Entry<'doc>> {
    if let Some(tables) = field.item.as_array_of_tables() {
        return tables
            .iter()
            .map(|table| Entry::Table(section.list_item("hosts", table, table.span())))
            .collect();
    }
    let Some(array) = field.item.as_array() else {
        problems.error_with_hint(
            field.span(),
            "`hosts` must be a list of hosts",
            HOST_ENTRY_HINT,
        );
        return Vec::new();
    };
    if array.is_empty() {
        problems.error_with_hint(
            field.span(),
            format!("`hosts` in {} must list at least one host", section.name()),
            "add a host like `\"deploy@web1\"` or `\"local:/srv/my-app\"`",
        );
    }
    let mut entries = Vec::with_capacity(array.len());
    for value in array.iter() {
        match value {
            Value::String(text) => entries.push(Entry::Plain(Text {
                value: text.value(),
                span: value.span(),
            })),
            Value::InlineTable(table) => {
                entries.push(Entry::Table(section.list_item(
                    "hosts",
                    table,
                    value.span(),
                )));
            }
            _ => problems.error_with_hint(
                value.span(),
                "a host must be a string or a table",
                HOST_ENTRY_HINT,
            ),
        }
    }
    entries
}

/// One host and where its address is written, or `None` when it was refused.
fn read_entry(
    entry: &Entry<'_>,
    app_name: &str,
    problems: &mut Problems,
) -> Option<(HostSpec, Option<Range<usize>>)> {
    let table = match entry {
        Entry::Plain(text) => {
            let address = host_address(text, app_name, problems)?;
            return Some((
                HostSpec {
                    address,
                    jump: None,
                },
                text.span.clone(),
            ));
        }
        Entry::Table(table) => table,
    };
    table.check_keys_with_hints(
        HOST_ENTRY_KEYS,
        |key| {
            matches!(key, "user" | "port").then(|| {
                "write the user and port in `host`, like `host = \"deploy@web3:2222\"`".to_owned()
            })
        },
        problems,
    );
    let host = table
        .required("host", "host = \"deploy@web3\"", problems)
        .and_then(|field| field.string(problems));
    let address = host
        .as_ref()
        .and_then(|text| host_address(text, app_name, problems));
    let jump_text = table.field("jump").and_then(|field| field.string(problems));
    let jump = jump_text
        .as_ref()
        .and_then(|text| jump_host(text, problems));
    if let (Some(address @ HostAddress::Local { .. }), Some(jump_text)) = (&address, &jump_text) {
        problems.error_with_hint(
            jump_text.span.clone(),
            format!("`jump` does not apply to `{address}`, a host on this machine"),
            "remove `jump`, or make the host an SSH host like `deploy@web3`",
        );
        return None;
    }
    if jump_text.is_some() && jump.is_none() {
        return None;
    }
    Some((
        HostSpec {
            address: address?,
            jump,
        },
        host?.span,
    ))
}

/// A host's address; a `local:` one whose root cannot be a deploy root is refused.
fn host_address(text: &Text<'_>, app_name: &str, problems: &mut Problems) -> Option<HostAddress> {
    match text.value.parse::<HostAddress>() {
        Ok(address) => match address.local_root().and_then(deploy_root::refusal) {
            Some(refusal) => {
                problems.error_with_hint(
                    text.span.clone(),
                    format!("host `{address}`: {refusal}"),
                    refusal.hint(app_name),
                );
                None
            }
            None => Some(address),
        },
        Err(error) => {
            problems.error_with_hint(text.span.clone(), error.to_string(), error.hint());
            None
        }
    }
}

/// A `jump` host, for the environment or for one host: an SSH destination, never `local:`.
pub(super) fn jump_host(text: &Text<'_>, problems: &mut Problems) -> Option<SshDestination> {
    if text.value.starts_with("local:") {
        problems.error_with_hint(
            text.span.clone(),
            format!("jump host `{}` must be an SSH host", text.value),
            JUMP_HINT,
        );
        return None;
    }
    match text.value.parse::<SshDestination>() {
        Ok(destination) => Some(destination),
        Err(error) => {
            problems.error_with_hint(text.span.clone(), error.to_string(), JUMP_HINT);
            None
        }
    }
}

/// `root`, which every SSH host deploys into (`local:` hosts carry their own), so it must be
/// there when any host is an SSH host.
pub(super) fn read_root(
    section: &Section<'_>,
    hosts: &[HostSpec],
    app_name: &str,
    problems: &mut Problems,
) -> Option<PathBuf> {
    let field = section.field("root");
    let has_ssh_hosts = hosts
        .iter()
        .any(|host| matches!(host.address, HostAddress::Ssh(_)));
    if field.is_none() && has_ssh_hosts {
        let app_name = if app_name.is_empty() {
            "my-app"
        } else {
            app_name
        };
        problems.error_with_hint(
            section.span(),
            format!(
                "missing `root` in {}: its SSH hosts need a deploy root",
                section.name()
            ),
            format!(
                "add `root = \"/srv/{app_name}\"`, the directory hoist deploys into on each SSH host"
            ),
        );
    }
    let text = field?.string(problems)?;
    match deploy_root_problem(text.value) {
        Some(reason) => {
            problems.error_with_hint(
                text.span,
                format!("invalid deploy root `{}`: {reason}", text.value),
                "write the directory hoist deploys into on each SSH host as an absolute path, like `/srv/hello`",
            );
            None
        }
        None => match deploy_root::refusal(Path::new(text.value)) {
            Some(refusal) => {
                problems.error_with_hint(text.span, refusal.to_string(), refusal.hint(app_name));
                None
            }
            None => Some(PathBuf::from(text.value)),
        },
    }
}

/// Why `root` cannot be a deploy root. Segments are checked as written: `Path` would
/// quietly drop a `.` in the middle.
fn deploy_root_problem(root: &str) -> Option<&'static str> {
    if !root.starts_with('/') {
        return Some("it must be an absolute path");
    }
    if root.chars().any(char::is_control) {
        return Some("it contains a control character");
    }
    if root
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Some("it must not contain `.` or `..`");
    }
    if root.split('/').all(str::is_empty) {
        return Some("it cannot be `/`");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_roots_are_absolute_plain_directories() {
        for ok in ["/srv/hello", "/srv/hello/", "//srv", "/opt/my app", "/a"] {
            assert_eq!(deploy_root_problem(ok), None, "{ok:?}");
        }
        for (bad, reason) in [
            ("relative", "it must be an absolute path"),
            ("~/srv", "it must be an absolute path"),
            ("", "it must be an absolute path"),
            ("/srv/../etc", "it must not contain `.` or `..`"),
            ("/srv/./hello", "it must not contain `.` or `..`"),
            ("/srv/..", "it must not contain `.` or `..`"),
            ("/", "it cannot be `/`"),
            ("//", "it cannot be `/`"),
            ("/srv/\nhello", "it contains a control character"),
            ("/srv/\0", "it contains a control character"),
        ] {
            assert_eq!(deploy_root_problem(bad), Some(reason), "{bad:?}");
        }
    }
}
