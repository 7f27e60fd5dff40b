//! Checks on the words and paths a spec names: the app, variables, and the paths it
//! uploads, renders or shares, which must stay inside the directory they are relative to.

use std::path::{Component, Path, PathBuf};

use super::problems::Problems;
use super::section::{Section, Text};

pub(super) const APP_NAME_HINT: &str = "use 1-63 lowercase letters, digits, `-`, `_` or `.`, starting with a letter or digit (e.g. `hello`)";

pub(super) const VARIABLE_NAME_HINT: &str =
    "use letters, digits and `_`, not starting with a digit (e.g. `API_TOKEN`)";

/// Why `name` is not a valid app name: the environment name rules, plus `.`.
pub(super) fn app_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("it is empty");
    }
    if name.len() > 63 {
        return Some("it is longer than 63 characters");
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Some("it must start with a lowercase letter or a digit");
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    if !name.chars().all(allowed) {
        return Some("only lowercase letters, digits, `-`, `_` and `.` are allowed");
    }
    None
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name a shell and an env file both take as is.
pub(super) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `pass_env = ["NPM_TOKEN"]` of `section`: variable names, each once. `HOIST_*` names are
/// refused: hoist's own variables (its token, its key) never reach a controller-side command.
pub(super) fn pass_env(section: &Section<'_>, problems: &mut Problems) -> Vec<String> {
    let Some(texts) = section
        .field("pass_env")
        .and_then(|field| field.strings(problems))
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::with_capacity(texts.len());
    for text in texts {
        let name = text.value;
        if !is_variable_name(name) {
            problems.error_with_hint(
                text.span,
                format!("invalid variable name `{name}` in `pass_env`"),
                VARIABLE_NAME_HINT,
            );
        } else if name.starts_with("HOIST_") {
            problems.error_with_hint(
                text.span,
                format!("`{name}` cannot be passed: `HOIST_*` variables are hoist's own"),
                "hoist sets the `HOIST_*` variables a command needs (e.g. `HOIST_ENV`)",
            );
        } else if names.iter().any(|known| known == name) {
            problems.error(text.span, format!("`{name}` is listed twice in `pass_env`"));
        } else {
            names.push(name.to_owned());
        }
    }
    names
}

/// What a path must name besides staying inside its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathKind {
    /// May be `.`, the directory itself.
    Any,
    /// Must name something inside the directory, not the directory itself.
    Inside,
}

/// A relative path without `..`, or a reported problem; `field` names the key it came from.
pub(super) fn relative_path(
    text: &Text<'_>,
    field: &str,
    kind: PathKind,
    problems: &mut Problems,
) -> Option<PathBuf> {
    let value = text.value;
    let path = Path::new(value);
    let problem = if value.is_empty() {
        Some(format!("`{field}` has an empty path"))
    } else if value.contains('\0') {
        Some(format!("a path in `{field}` contains a NUL character"))
    } else if path.has_root() || value.starts_with('~') {
        Some(format!("path `{value}` in `{field}` must be relative"))
    } else if path.components().any(|c| c == Component::ParentDir) {
        Some(format!("path `{value}` in `{field}` must not contain `..`"))
    } else if kind == PathKind::Inside && path.components().all(|c| c == Component::CurDir) {
        Some(format!(
            "path `{value}` in `{field}` must name a directory, not `.`"
        ))
    } else {
        None
    };
    match problem {
        Some(message) => {
            problems.error_with_hint(
                text.span.clone(),
                message,
                "write a relative path without `..`, like `static` or `deploy/app.ini.j2`",
            );
            None
        }
        None => Some(path.to_path_buf()),
    }
}

/// Every path of a list, or `None` when any is refused (all are reported).
pub(super) fn relative_paths(
    texts: &[Text<'_>],
    field: &str,
    kind: PathKind,
    problems: &mut Problems,
) -> Option<Vec<PathBuf>> {
    let paths: Vec<Option<PathBuf>> = texts
        .iter()
        .map(|text| relative_path(text, field, kind, problems))
        .collect();
    paths.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_follow_env_rules_plus_dots() {
        for ok in ["hello", "my.app", "a-b_c.d", "1st"] {
            assert_eq!(app_name_problem(ok), None, "{ok}");
        }
        for bad in ["", ".hidden", "-rf", "a b", "Hello", "a/b", &"a".repeat(64)] {
            assert!(app_name_problem(bad).is_some(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn variable_names_are_shell_words() {
        for ok in ["A", "_x", "API_TOKEN", "a1"] {
            assert!(is_variable_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "É"] {
            assert!(!is_variable_name(bad), "{bad:?} was accepted");
        }
    }
}
