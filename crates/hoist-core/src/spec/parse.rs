//! Text → validated `Spec`: parse the TOML keeping spans, then read each table, reporting
//! every problem found rather than stopping at the first.

use super::environments::read_environments;
use super::names::{APP_NAME_HINT, PathKind, app_name_problem, relative_path, relative_paths};
use super::problems::Problems;
use super::section::Section;
use super::{
    App, Build, ConfigTemplates, Hooks, Proxy, Service, Spec, SpecDiagnostic, SpecErrors, Workload,
    defaults, read_workload,
};

const TOP_LEVEL_KEYS: &[&str] = &["app", "build", "hooks", "service", "config", "env"];
const APP_KEYS: &[&str] = &["name"];
const BUILD_KEYS: &[&str] = &[
    "steps",
    "upload",
    "upload_version",
    "exclude",
    "pass_env",
    "containerfile",
    "context",
];
const HOOK_KEYS: &[&str] = &["post_upload", "stop", "start", "refresh"];
const SERVICE_KEYS: &[&str] = &[
    "runtime",
    "command",
    "image",
    "container_port",
    "volumes",
    "user",
    "memory",
    "cpus",
    "engine",
    "compose",
    "static",
    "port",
    "strategy",
    "stop_grace",
    "health",
    "proxy",
    "drain",
    "nginx",
    "restart",
    "log_max",
    "log_keep",
];
const CONFIG_KEYS: &[&str] = &["templates"];

pub(super) fn parse(text: &str) -> Result<Spec, SpecErrors> {
    let document = toml_edit::Document::parse(text).map_err(|error| {
        SpecErrors(vec![SpecDiagnostic {
            message: format!("invalid TOML: {}", error.message().trim_end()),
            hint: None,
            span: error.span(),
        }])
    })?;
    let mut problems = Problems::default();
    let root = Section::root(document.as_table());
    root.check_keys(TOP_LEVEL_KEYS, &mut problems);

    let app = read_app(&root, &mut problems);
    let build_section = root.section("build", &mut problems);
    let build = match &build_section {
        Some(section) => read_build(section, &mut problems),
        None => Build {
            steps: Vec::new(),
            upload: vec![defaults::UPLOAD.into()],
            upload_version: None,
            exclude: Vec::new(),
            pass_env: Vec::new(),
        },
    };
    let hooks = root
        .section("hooks", &mut problems)
        .map(|section| read_hooks(&section, &mut problems))
        .unwrap_or_default();
    let service = root
        .section("service", &mut problems)
        .map(|section| read_service(&section, build_section.as_ref(), &app.name, &mut problems));
    if service.is_none() {
        read_workload::refuse_container_build_keys(build_section.as_ref(), &mut problems);
    }
    let config = root
        .section("config", &mut problems)
        .map(|section| read_config(&section, &mut problems))
        .unwrap_or_default();
    let envs = read_environments(&root, &app.name, &mut problems);

    if !problems.is_empty() {
        return Err(problems.into_errors());
    }
    Ok(Spec {
        app,
        build,
        hooks,
        service,
        config,
        envs,
    })
}

fn read_app(root: &Section<'_>, problems: &mut Problems) -> App {
    let Some(field) = root.field("app") else {
        problems.error_with_hint(
            None,
            "missing `[app]`",
            "add `[app]` with a line `name = \"my-app\"`",
        );
        return App {
            name: String::new(),
        };
    };
    let Some(section) = field.section(None, problems) else {
        return App {
            name: String::new(),
        };
    };
    section.check_keys(APP_KEYS, problems);
    let name = section
        .required("name", "name = \"my-app\"", problems)
        .and_then(|field| field.string(problems));
    let name = match name {
        Some(name) => match app_name_problem(name.value) {
            Some(reason) => {
                problems.error_with_hint(
                    name.span,
                    format!("invalid app name `{}`: {reason}", name.value),
                    APP_NAME_HINT,
                );
                String::new()
            }
            None => name.value.to_owned(),
        },
        None => String::new(),
    };
    App { name }
}

fn read_build(section: &Section<'_>, problems: &mut Problems) -> Build {
    section.check_keys(BUILD_KEYS, problems);
    let steps = section
        .field("steps")
        .and_then(|field| field.commands(problems))
        .unwrap_or_default();
    let upload_field = section.field("upload");
    let mut upload = upload_field
        .as_ref()
        .and_then(|field| {
            let texts = field.strings(problems)?;
            if texts.is_empty() {
                problems.error_with_hint(
                    field.span(),
                    "`upload` must list at least one path",
                    "leave `upload` out to upload the whole spec directory",
                );
            }
            relative_paths(&texts, "upload", PathKind::Any, problems)
        })
        .unwrap_or_default();
    let upload_version = section.field("upload_version").and_then(|field| {
        if upload_field.is_some() {
            problems.error_with_hint(
                field.key_span.clone(),
                "`upload` and `upload_version` cannot both be set",
                "use `upload` to list the paths to send, or `upload_version` to send one built directory's contents",
            );
        }
        let text = field.string(problems)?;
        relative_path(&text, "upload_version", PathKind::Any, problems)
    });
    if upload_field.is_none() && upload_version.is_none() {
        upload = vec![defaults::UPLOAD.into()];
    }
    let exclude = section
        .field("exclude")
        .and_then(|field| field.strings(problems))
        .map(|texts| texts.iter().map(|text| text.value.to_owned()).collect())
        .unwrap_or_default();
    let pass_env = super::names::pass_env(section, problems);
    Build {
        steps,
        upload,
        upload_version,
        exclude,
        pass_env,
    }
}

fn read_hooks(section: &Section<'_>, problems: &mut Problems) -> Hooks {
    section.check_keys(HOOK_KEYS, problems);
    let mut commands = |key| {
        section
            .field(key)
            .and_then(|field| field.commands(problems))
            .unwrap_or_default()
    };
    Hooks {
        post_upload: commands("post_upload"),
        stop: commands("stop"),
        start: commands("start"),
        refresh: commands("refresh"),
    }
}

fn read_service(
    section: &Section<'_>,
    build: Option<&Section<'_>>,
    app: &str,
    problems: &mut Problems,
) -> Service {
    section.check_keys(SERVICE_KEYS, problems);
    let written = read_workload::read_strategy(section, problems);
    let workload = read_workload::read_workload(section, build, written.as_ref(), problems);
    let port = section
        .required("port", "port = 8080", problems)
        .and_then(|field| field.integer(1, 65535, problems))
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or_default();
    let strategy = written.map_or_else(|| defaults::strategy_for(&workload), |w| w.strategy);
    if let Workload::Static { .. } = workload {
        // Nothing runs: the keys that tune a process were refused in `read_workload`.
        return Service {
            workload,
            port,
            strategy,
            stop_grace: defaults::STOP_GRACE,
            health: None,
            proxy: Proxy::Builtin,
            drain: defaults::DRAIN,
            restart: super::restart::default_restart(),
            liveness: super::health::read_liveness(None, problems),
            log_max: defaults::LOG_MAX,
            log_keep: defaults::LOG_KEEP,
        };
    }
    let stop_grace = section
        .field("stop_grace")
        .and_then(|field| field.duration(true, problems))
        .unwrap_or(defaults::STOP_GRACE);
    let health_section = section.section("health", problems);
    let health = health_section
        .as_ref()
        .map(|health| super::health::read_health(health, problems));
    let liveness = super::health::read_liveness(health_section.as_ref(), problems);
    let (proxy, drain) = super::traffic::read_traffic(section, app, strategy, problems);
    let restart = section
        .section("restart", problems)
        .map(|restart| super::restart::read_restart(&restart, problems))
        .unwrap_or_else(super::restart::default_restart);
    let (log_max, log_keep) = super::service_logs::read_log_settings(section, problems);
    Service {
        workload,
        port,
        strategy,
        stop_grace,
        health,
        proxy,
        drain,
        restart,
        liveness,
        log_max,
        log_keep,
    }
}

fn read_config(section: &Section<'_>, problems: &mut Problems) -> ConfigTemplates {
    section.check_keys(CONFIG_KEYS, problems);
    let templates = section
        .field("templates")
        .and_then(|field| field.strings(problems))
        .and_then(|texts| relative_paths(&texts, "templates", PathKind::Inside, problems))
        .unwrap_or_default();
    ConfigTemplates { templates }
}
