//! `spec check [--explain]` and `spec schema`.

use hoist_core::Spec;

use crate::app::load_spec;
use crate::cli::args::{GlobalArgs, SpecCommand};
use crate::cli::printer::Printer;
use crate::error::Result;

pub fn exec(global: &GlobalArgs, command: &SpecCommand, printer: Printer) -> Result<()> {
    match command {
        SpecCommand::Schema => printer.print(&Spec::json_schema(), |schema| format!("{schema:#}")),
        SpecCommand::Check { explain } => {
            let loaded = load_spec(global.spec.as_deref())?;
            let envs: Vec<String> = loaded.spec.envs.keys().map(ToString::to_string).collect();
            let defaults = if *explain {
                hoist_core::spec::explain_defaults()
            } else {
                Vec::new()
            };
            let report = serde_json::json!({
                "spec": loaded.path,
                "valid": true,
                "app": loaded.spec.app.name,
                "environments": envs,
                "defaults": defaults.iter().map(|(k, v)| serde_json::json!({"key": k, "default": v})).collect::<Vec<_>>(),
            });
            printer.print(&report, |_| {
                let mut text = format!(
                    "{} is valid: app `{}`, environments: {}\n",
                    loaded.path.display(),
                    loaded.spec.app.name,
                    envs.join(", ")
                );
                if !defaults.is_empty() {
                    text.push_str("\ndefaults (used when a key is left out):\n");
                    for (key, value) in &defaults {
                        text.push_str(&format!("  {key} = {value}\n"));
                    }
                }
                text
            })
        }
    }
}
