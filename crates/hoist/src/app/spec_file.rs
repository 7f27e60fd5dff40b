//! Finding, reading and validating `Hoist.toml`: the spec every command and the daemon
//! start from.

use std::path::{Path, PathBuf};

use hoist_core::Spec;

use crate::error::{Error, Result};

pub const SPEC_FILE: &str = "Hoist.toml";

/// The spec as loaded: its path, its directory and the parsed value.
#[derive(Debug)]
pub struct LoadedSpec {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub spec: Spec,
}

/// How a spec's problems are put in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecProblems {
    /// Each with its line and caret, for a terminal.
    Rendered,
    /// All on the error's first line, for a record that keeps one line (a command's error).
    OneLine,
}

/// Reads and validates the spec at `given`, or finds `Hoist.toml` from the current directory up.
pub fn load_spec(given: Option<&Path>) -> Result<LoadedSpec> {
    load_spec_reporting(given, SpecProblems::Rendered)
}

/// `load_spec`, with its problems reported as `problems` says.
pub fn load_spec_reporting(given: Option<&Path>, problems: SpecProblems) -> Result<LoadedSpec> {
    let path = match given {
        Some(path) => path.to_path_buf(),
        None => find_spec()?,
    };
    let text = std::fs::read_to_string(&path).map_err(|error| {
        Error::failed(format!("cannot read the spec `{}`", path.display()))
            .cause(error)
            .hint("give the spec with `-f PATH`, or create one with `hoist init`")
    })?;
    let spec = Spec::parse(&text).map_err(|errors| {
        let count = errors.0.len();
        let shown = path.display().to_string();
        let error = Error::failed(format!(
            "the spec `{shown}` has {count} problem{}",
            if count == 1 { "" } else { "s" }
        ));
        match problems {
            SpecProblems::Rendered => {
                error.cause(format!("\n{}", errors.render(&shown, &text).trim_end()))
            }
            SpecProblems::OneLine => error.cause(errors.summary(&shown, &text)),
        }
    })?;
    let absolute = std::path::absolute(&path).map_err(|e| Error::io("resolve", &path, e))?;
    let dir = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(LoadedSpec { path, dir, spec })
}

fn find_spec() -> Result<PathBuf> {
    let cwd = std::env::current_dir()
        .map_err(|e| Error::internal("cannot read the current directory").cause(e))?;
    for dir in cwd.ancestors() {
        let candidate = dir.join(SPEC_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(Error::failed(format!(
        "no `{SPEC_FILE}` in `{}` or any parent directory",
        cwd.display()
    ))
    .hint("create one with `hoist init`, or give one with `-f PATH`"))
}
