//! `runtime = "container"`: the image (pulled, or built from `[build] containerfile`), the
//! port inside, the argv override, volumes, user and limits — each checked so that nothing
//! written here reaches an engine's command line as one of its options.

use std::path::PathBuf;

use super::container_values::{
    IMAGE_HINT, USER_HINT, VOLUME_HINT, image_problem, parse_volume, user_problem,
};
use super::names::{PathKind, relative_path};
use super::problems::Problems;
use super::section::{Field, Section};
use super::{Container, Engine, ImageSource, Volume};

/// The smallest `memory`: podman refuses a lower limit.
pub(super) const MIN_MEMORY: u64 = 6 * 1024 * 1024;
/// The most `cpus`: a bound that catches typos, far above any host.
pub(super) const MAX_CPUS: i64 = 1024;

/// The container of `[service]`; `blue_green` is whether `strategy = "blue-green"` was
/// written, which a writable volume refuses.
pub(super) fn read_container(
    service: &Section<'_>,
    build: Option<&Section<'_>>,
    engine: Option<Engine>,
    blue_green: bool,
    problems: &mut Problems,
) -> Container {
    let image = read_image(service, build, problems);
    let container_port = service
        .required("container_port", "container_port = 8080", problems)
        .and_then(|field| field.integer(1, 65535, problems))
        .and_then(|port| u16::try_from(port).ok())
        .unwrap_or_default();
    let command = service
        .field("command")
        .and_then(|field| read_argv(&field, problems));
    let volumes = service
        .field("volumes")
        .map(|field| read_volumes(&field, blue_green, problems))
        .unwrap_or_default();
    let user = service.field("user").and_then(|field| {
        let text = field.string(problems)?;
        match user_problem(text.value) {
            None => Some(text.value.to_owned()),
            Some(reason) => {
                problems.error_with_hint(
                    text.span,
                    format!("invalid `user` `{}`: {reason}", text.value.escape_debug()),
                    USER_HINT,
                );
                None
            }
        }
    });
    let memory = service.field("memory").and_then(|field| {
        let bytes = field.byte_size("512MB", problems)?;
        if bytes < MIN_MEMORY {
            problems.error_with_hint(
                field.span(),
                "`memory` must be at least `6MB`",
                "podman refuses a smaller limit; e.g. `memory = \"512MB\"`",
            );
            return None;
        }
        Some(bytes)
    });
    let millicpus = service
        .field("cpus")
        .and_then(|field| read_millicpus(&field, problems));
    Container {
        image: image.unwrap_or(ImageSource::Pull(String::new())),
        engine,
        container_port,
        command,
        volumes,
        user,
        memory,
        millicpus,
    }
}

/// `image`, or `[build] containerfile` and `context`: exactly one way to get the image.
fn read_image(
    service: &Section<'_>,
    build: Option<&Section<'_>>,
    problems: &mut Problems,
) -> Option<ImageSource> {
    let build_field = |key| build.and_then(|build| build.field(key));
    let context = build_field("context");
    match (service.field("image"), build_field("containerfile")) {
        (Some(_), Some(containerfile)) => {
            problems.error_with_hint(
                containerfile.key_span,
                "`image` and `[build] containerfile` cannot both be set",
                "use `image` to run an image from a registry, or `[build] containerfile` to build one from your files",
            );
            None
        }
        (None, None) => {
            problems.error_with_hint(
                service.span(),
                "a container needs `image` or `[build] containerfile`",
                "add `image = \"registry.example.com/app:1.2\"` to `[service]`, or `containerfile = \"Containerfile\"` to `[build]`",
            );
            None
        }
        (Some(image), None) => {
            if let Some(context) = context {
                problems.error_with_hint(
                    context.key_span,
                    "`[build] context` applies to `[build] containerfile` only",
                    "remove `context`: an `image` is pulled, not built",
                );
            }
            let text = image.string(problems)?;
            match image_problem(text.value) {
                None => Some(ImageSource::Pull(text.value.to_owned())),
                Some(reason) => {
                    problems.error_with_hint(
                        text.span,
                        format!("invalid `image` `{}`: {reason}", text.value.escape_debug()),
                        IMAGE_HINT,
                    );
                    None
                }
            }
        }
        (None, Some(containerfile)) => {
            let containerfile = engine_path(&containerfile, PathKind::Inside, problems);
            let context = match context {
                Some(context) => engine_path(&context, PathKind::Any, problems),
                None => Some(PathBuf::from(".")),
            };
            Some(ImageSource::Build {
                containerfile: containerfile?,
                context: context?,
            })
        }
    }
}

/// A relative path handed to an engine (`containerfile`, `context`, `compose`): without
/// `..`, and not starting with `-`, which the engine would take for an option.
pub(super) fn engine_path(
    field: &Field<'_>,
    kind: PathKind,
    problems: &mut Problems,
) -> Option<PathBuf> {
    let text = field.string(problems)?;
    let path = relative_path(&text, field.key, kind, problems)?;
    if text.value.starts_with('-') {
        problems.error_with_hint(
            text.span,
            format!(
                "path `{}` in `{}` must not start with `-`: the engine would read it as an option",
                text.value, field.key
            ),
            format!("write it as `./{}`", text.value),
        );
        return None;
    }
    Some(path)
}

/// `command = ["./server", "--port", "8080"]`: the argv that replaces the image's command.
/// Words may start with `-`: they follow the image on the engine's command line, where
/// podman and docker stop reading options, and an image's entrypoint may take them.
fn read_argv(field: &Field<'_>, problems: &mut Problems) -> Option<Vec<String>> {
    if field.item.is_str() {
        problems.error_with_hint(
            field.span(),
            "a container's `command` must be a list of words, not a string",
            "write `command = [\"./server\", \"--port\", \"8080\"]`: it runs without a shell",
        );
        return None;
    }
    let words = field.strings(problems)?;
    if words.is_empty() {
        problems.error_with_hint(
            field.span(),
            "`command` must list at least the program to run",
            "leave `command` out to run the image's own command",
        );
        return None;
    }
    if let Some(word) = words.iter().find(|word| word.value.contains('\0')) {
        problems.error(
            word.span.clone(),
            "`command` has a word with a NUL character",
        );
        return None;
    }
    Some(words.iter().map(|word| word.value.to_owned()).collect())
}

/// Every entry of `volumes`, each target once; a writable one refused under blue-green.
fn read_volumes(field: &Field<'_>, blue_green: bool, problems: &mut Problems) -> Vec<Volume> {
    let Some(entries) = field.strings(problems) else {
        return Vec::new();
    };
    let mut volumes: Vec<Volume> = Vec::with_capacity(entries.len());
    for entry in entries {
        let volume = match parse_volume(entry.value) {
            Ok(volume) => volume,
            Err(reason) => {
                problems.error_with_hint(
                    entry.span,
                    format!("invalid volume `{}`: {reason}", entry.value.escape_debug()),
                    VOLUME_HINT,
                );
                continue;
            }
        };
        if volumes.iter().any(|known| known.target == volume.target) {
            problems.error_with_hint(
                entry.span,
                format!("two volumes mount at `{}`", volume.target.display()),
                "give each volume its own target",
            );
            continue;
        }
        if blue_green && volume.blocks_blue_green() {
            let source = entry.value.split(':').next().unwrap_or_default();
            problems.error_with_hint(
                entry.span,
                format!("blue-green would run two copies writing volume `{source}` at once"),
                "use `strategy = \"recreate\"`, mount it `:ro`, or mark it `:shared` when two copies may write it",
            );
        }
        volumes.push(volume);
    }
    volumes
}

/// `cpus = 1.5` → 1500: more than 0, at most `MAX_CPUS`, in thousandths.
fn read_millicpus(field: &Field<'_>, problems: &mut Problems) -> Option<u32> {
    // Any i64 converts to a float near enough for a bound check.
    let cpus = match (field.item.as_integer(), field.item.as_float()) {
        (Some(whole), _) => whole as f64,
        (None, Some(cpus)) => cpus,
        (None, None) => {
            problems.error_with_hint(
                field.span(),
                "`cpus` must be a number",
                "e.g. `cpus = 1.5` for one and a half CPUs",
            );
            return None;
        }
    };
    if cpus.is_nan() || cpus <= 0.0 || cpus > MAX_CPUS as f64 {
        problems.error_with_hint(
            field.span(),
            format!("`cpus` must be more than 0 and at most {MAX_CPUS}"),
            "e.g. `cpus = 1.5` for one and a half CPUs; leave `cpus` out for no limit",
        );
        return None;
    }
    let millicpus = (cpus * 1000.0).round();
    if millicpus < 1.0 {
        problems.error_with_hint(
            field.span(),
            "`cpus` rounds to 0: it counts in thousandths of a CPU",
            "the smallest limit is `cpus = 0.001`",
        );
        return None;
    }
    // In 1..=1_024_000 after the check above, so the conversion is exact.
    Some(millicpus as u32)
}
