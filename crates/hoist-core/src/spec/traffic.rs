//! `[service] proxy`, `drain` and `[service.nginx]`: what stands in front of a blue-green
//! service and how long the old instance gets to finish its requests.

use std::path::PathBuf;
use std::time::Duration;

use super::problems::Problems;
use super::section::Section;
use super::{Strategy, defaults, suggest};

const NGINX_KEYS: &[&str] = &["upstream_file", "upstream_name", "command"];
const PROXIES: &[&str] = &["builtin", "nginx"];

/// The proxy in front of a blue-green service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// `hoist proxy`, one per host, listening on the service's `port`.
    Builtin,
    /// The host's nginx, through an upstream file hoist writes.
    Nginx(NginxProxy),
}

/// `[service.nginx]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NginxProxy {
    /// The include file hoist owns (absolute).
    pub upstream_file: PathBuf,
    /// The `upstream NAME {}` the user's `proxy_pass http://NAME;` names.
    pub upstream_name: String,
    /// How to call nginx, as words; `-t` and `-s reload` are added.
    pub command: Vec<String>,
}

impl Proxy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Builtin => "builtin",
            Self::Nginx(_) => "nginx",
        }
    }
}

/// The default upstream name: `hoist_` and the app name with `-` made `_`.
pub fn default_upstream_name(app: &str) -> String {
    format!("hoist_{}", app.replace('-', "_"))
}

/// The default upstream file: nginx's `conf.d`, named after the app.
pub fn default_upstream_file(app: &str) -> PathBuf {
    PathBuf::from(format!("/etc/nginx/conf.d/hoist-{app}.conf"))
}

/// Reads `proxy`, `drain` and `[service.nginx]` of `[service]`.
pub(super) fn read_traffic(
    service: &Section<'_>,
    app: &str,
    strategy: Strategy,
    problems: &mut Problems,
) -> (Proxy, Duration) {
    let drain = service
        .field("drain")
        .and_then(|field| field.duration(true, problems))
        .unwrap_or(defaults::DRAIN);
    let nginx = service.section("nginx", problems);
    let proxy_field = service.field("proxy");
    let proxy = proxy_field.as_ref().and_then(|field| {
        let text = field.text();
        let proxy = text.as_ref().map(|text| text.value);
        if !matches!(proxy, Some("builtin" | "nginx")) {
            let hint = match text.and_then(|text| suggest::closest(text.value, PROXIES)) {
                Some(close) => format!("did you mean `{close}`?"),
                None => {
                    "`builtin` runs `hoist proxy` on each host; `nginx` drives the host's nginx"
                        .to_owned()
                }
            };
            problems.error_with_hint(
                field.span(),
                "`proxy` must be `\"builtin\"` or `\"nginx\"`",
                hint,
            );
        }
        proxy
    });
    if strategy == Strategy::Recreate
        && let Some(field) = &proxy_field
    {
        problems.error_with_hint(
            field.span(),
            "`proxy` applies to `strategy = \"blue-green\"` only",
            "with `recreate` the service binds `port` itself; remove `proxy` or use blue-green",
        );
    }
    let proxy = match (proxy, nginx) {
        (Some("nginx"), nginx) => Proxy::Nginx(read_nginx(nginx.as_ref(), app, problems)),
        (_, Some(nginx)) => {
            problems.error_with_hint(
                nginx.span(),
                "`[service.nginx]` is set but `proxy` is not `\"nginx\"`",
                "add `proxy = \"nginx\"` to `[service]`, or remove `[service.nginx]`",
            );
            Proxy::Builtin
        }
        _ => Proxy::Builtin,
    };
    (proxy, drain)
}

fn read_nginx(section: Option<&Section<'_>>, app: &str, problems: &mut Problems) -> NginxProxy {
    let mut nginx = NginxProxy {
        upstream_file: default_upstream_file(app),
        upstream_name: default_upstream_name(app),
        command: vec!["nginx".to_owned()],
    };
    let Some(section) = section else {
        return nginx;
    };
    section.check_keys(NGINX_KEYS, problems);
    if let Some(field) = section.field("upstream_file")
        && let Some(text) = field.string(problems)
    {
        let path = PathBuf::from(text.value);
        match path.is_absolute() {
            true => nginx.upstream_file = path,
            false => problems.error_with_hint(
                text.span,
                "`upstream_file` must be an absolute path",
                "e.g. upstream_file = \"/etc/nginx/conf.d/hoist-web.conf\"",
            ),
        }
    }
    if let Some(field) = section.field("upstream_name")
        && let Some(text) = field.string(problems)
    {
        let valid = !text.value.is_empty()
            && text
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        match valid {
            true => nginx.upstream_name = text.value.to_owned(),
            false => problems.error_with_hint(
                text.span,
                "`upstream_name` must be letters, digits and `_`",
                "it is the NAME of `upstream NAME {}` and `proxy_pass http://NAME;`",
            ),
        }
    }
    if let Some(field) = section.field("command")
        && let Some(text) = field.string(problems)
    {
        let words: Vec<String> = text.value.split_whitespace().map(str::to_owned).collect();
        match words.is_empty() {
            true => problems.error(text.span, "`command` must not be empty"),
            false => nginx.command = words,
        }
    }
    nginx
}
