//! TODO(spec helper): the JSON Schema of `Hoist.toml`.

pub(super) fn json_schema() -> serde_json::Value {
    serde_json::Value::Null
}
