//! TODO(spec helper): the starter spec `hoist init` writes.

pub(super) fn starter(app_name: &str) -> String {
    format!("[app]\nname = \"{app_name}\"\n")
}
