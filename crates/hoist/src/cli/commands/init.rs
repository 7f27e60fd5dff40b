//! `init [--name NAME] [--force]`: write a commented starter Hoist.toml here.

use hoist_core::Spec;

use crate::app::SPEC_FILE;
use crate::cli::args::{GlobalArgs, InitArgs};
use crate::cli::printer::Printer;
use crate::error::{Error, Result};

pub fn exec(global: &GlobalArgs, args: &InitArgs, printer: Printer) -> Result<()> {
    let path = global.spec.clone().unwrap_or_else(|| SPEC_FILE.into());
    if path.exists() && !args.force {
        return Err(
            Error::failed(format!("`{}` already exists", path.display()))
                .hint("edit it, or pass `--force` to overwrite it"),
        );
    }
    let absolute = std::path::absolute(&path).map_err(|e| Error::io("resolve", &path, e))?;
    let name = args.name.clone().unwrap_or_else(|| {
        absolute
            .parent()
            .and_then(|dir| dir.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or("app")
            .to_owned()
    });
    std::fs::write(&path, Spec::starter(&name)).map_err(|e| Error::io("write", &path, e))?;
    let report = serde_json::json!({ "spec": path, "app": name });
    printer.print(&report, |_| {
        format!("wrote {}; next: `hoist deploy dev`", path.display())
    })
}
